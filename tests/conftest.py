"""Shared fixtures and helpers, and the rule that missing components fail under CI.

The shops themselves live in :mod:`tests.shops`; the fixtures below hand them out.
"""

from __future__ import annotations

import importlib
import os
import shutil
import struct
import subprocess
import sys
import time
import zlib
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

import numpy as np
import pytest

if TYPE_CHECKING:
    from xsell.data.shopdata import ShopData
    from xsell.data.synthetic import SyntheticShop

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


def wait_until(condition: Callable[[], bool], what: str, deadline_s: float = 120.0) -> None:
    """Poll ``condition`` until it holds; fail naming ``what`` after a generous deadline.

    Tests wait for observable state this way, never for a fixed time, so they pass on
    a loaded machine and finish as soon as the state is reached.
    """
    end = time.monotonic() + deadline_s
    while not condition():
        if time.monotonic() > end:
            pytest.fail(f"waited {deadline_s:.0f} s for {what}")
        time.sleep(0.02)


def run_xsell(
    *args: str, cwd: Path, timeout: float = 300, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``xsell ARGS`` as a user does (a new process), capturing its output."""
    return subprocess.run(
        [sys.executable, "-m", "xsell.cli.main", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )


def dead_pid() -> int:
    """The id of a process that has ended (and been waited for)."""
    finished = subprocess.Popen([sys.executable, "-c", "pass"])
    finished.wait()
    return finished.pid


@pytest.fixture
def store_path(tmp_path: Path) -> Path:
    """A fresh store path in a temporary folder."""
    return tmp_path / "shop.duckdb"


@pytest.fixture(scope="session")
def shop() -> SyntheticShop:
    """The standard synthetic shop (see :mod:`tests.shops`)."""
    from tests.shops import standard

    return standard()


@pytest.fixture(scope="session")
def shop_data() -> ShopData:
    """The standard synthetic shop as ShopData."""
    from tests.shops import standard_data

    return standard_data()


@pytest.fixture(scope="session")
def tiny() -> ShopData:
    """The four hand-checkable baskets :data:`tests.shops.TINY`."""
    from tests.shops import TINY
    from xsell.data.shopdata import ShopData

    return ShopData.from_baskets(TINY)


@pytest.fixture(scope="session")
def grocery_baskets() -> list[list[str]]:
    """The first 1,500 baskets of arules' Groceries."""
    from tests.shops import grocery_baskets

    return grocery_baskets()


@pytest.fixture(scope="session")
def grocery_data(grocery_baskets: list[list[str]]) -> ShopData:
    from xsell.data.shopdata import ShopData

    return ShopData.from_baskets(grocery_baskets)


@pytest.fixture(scope="session")
def retail_data(tmp_path_factory: pytest.TempPathFactory) -> ShopData:
    """The real Online Retail orders, ingested once per session."""
    from tests.shops import retail

    return retail(tmp_path_factory.mktemp("retail"))


def png_pixels(data: bytes) -> np.ndarray:
    """Decode an 8-bit RGB or RGBA, non-interlaced PNG into a ``height x width x channels`` array.

    Just enough PNG for tests to look at what a chart drew (no imaging library needed).
    """
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    position, chunks, header = 8, [], b""
    while position < len(data):
        (length,) = struct.unpack(">I", data[position : position + 4])
        kind = data[position + 4 : position + 8]
        body = data[position + 8 : position + 8 + length]
        if kind == b"IHDR":
            header = body
        elif kind == b"IDAT":
            chunks.append(body)
        position += 12 + length
    width, height, depth, color, _, _, interlace = struct.unpack(">IIBBBBB", header)
    assert depth == 8 and color in (2, 6) and interlace == 0, (depth, color, interlace)
    channels = 3 if color == 2 else 4
    raw = zlib.decompress(b"".join(chunks))
    stride = width * channels
    out = np.zeros((height, stride), dtype=np.int64)
    previous = np.zeros(stride, dtype=np.int64)
    for y in range(height):
        start = y * (stride + 1)
        kind, line = raw[start], np.frombuffer(raw, np.uint8, stride, start + 1).astype(np.int64)
        row = np.zeros(stride, dtype=np.int64)
        if kind in (0, 2):
            row = (line + (previous if kind == 2 else 0)) % 256
        else:
            for x in range(stride):
                left = row[x - channels] if x >= channels else 0
                up, corner = previous[x], previous[x - channels] if x >= channels else 0
                if kind == 1:
                    guess = left
                elif kind == 3:
                    guess = (left + up) // 2
                else:
                    p = left + up - corner
                    pa, pb, pc = abs(p - left), abs(p - up), abs(p - corner)
                    guess = left if pa <= pb and pa <= pc else up if pb <= pc else corner
                row[x] = (line[x] + guess) % 256
        out[y] = row
        previous = row
    return out.reshape(height, width, channels).astype(np.uint8)


def colored_pixels(data: bytes) -> int:
    """How many pixels of a PNG are strongly colored (chart marks, not white or gray)."""
    pixels = png_pixels(data)[:, :, :3].astype(np.int64)
    return int(((pixels.max(axis=2) - pixels.min(axis=2)) > 60).sum())
