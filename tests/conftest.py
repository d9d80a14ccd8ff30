"""Shared fixtures and the rule that missing components fail under CI."""

from __future__ import annotations

import importlib
import os
import shutil
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _shared_data() -> Path:
    # The public data sets live next to the checkout; XSELL_SHARED_DATA points elsewhere.
    candidates = [
        os.environ.get("XSELL_SHARED_DATA"),
        ROOT.parent / "shared" / "data",
        "/work/shared/data",
    ]
    for candidate in candidates:
        if candidate and Path(candidate).is_dir():
            return Path(candidate)
    return ROOT.parent / "shared" / "data"


SHARED_DATA = _shared_data()
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
