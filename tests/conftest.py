"""Shared fixtures and the rule that missing components fail under CI."""

from __future__ import annotations

import importlib
import os
import shutil
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def need_module(name: str) -> ModuleType:
    """Import a module a test needs; skip locally if absent, fail under CI=true."""
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        if IN_CI:
            pytest.fail(f"CI needs the Python module {name!r}: {exc}")
        pytest.skip(f"{name} not installed")
        raise  # unreachable


def need_program(name: str) -> str:
    """Locate an executable a test needs; skip locally if absent, fail under CI=true."""
    path = shutil.which(name)
    if path is None:
        if IN_CI:
            pytest.fail(f"CI needs the program {name!r} on PATH")
        pytest.skip(f"{name} not on PATH")
    assert path is not None
    return path


def shared_file(relative: str) -> Path:
    """A file of ../shared/data; skip locally if absent, fail under CI=true."""
    path = SHARED_DATA / relative
    if not path.exists():
        if IN_CI:
            pytest.fail(f"CI needs the shared data file {path}")
        pytest.skip(f"{path} not present")
    return path


@pytest.fixture
def store_path(tmp_path: Path) -> Path:
    """A fresh store path in a temporary folder."""
    return tmp_path / "shop.duckdb"
