"""Writing files and folders so that a crash never leaves a half-written one in place.

Everything is written under a temporary name next to its target that holds the
writer's process id (``.NAME.tmp-PID-XXXX`` for folders, ``.NAME.writing-PID``
for files), then renamed over the target in one step. A process killed half-way
leaves only that temporary name behind; the next write of the same target removes
it once its process is gone (never a live writer's).
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

_LEFTOVER = re.compile(
    r"^\.(?P<name>.+)\.(?:tmp-(?P<tmp>\d+)-.+|old-(?P<old>\d+)|writing-(?P<w>\d+))$"
)


def pid_alive(pid: int) -> bool:
    """Whether a process with this id runs (ours counts as running)."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def sweep_leftovers(target: Path) -> list[Path]:
    """Remove what killed writers of ``target`` left next to it; returns what was removed."""
    removed: list[Path] = []
    folder = target.parent
    if not folder.is_dir():
        return removed
    for entry in folder.iterdir():
        match = _LEFTOVER.match(entry.name)
        if match is None or match["name"] != target.name:
            continue
        pid = int(match["tmp"] or match["old"] or match["w"])
        if pid_alive(pid):
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)
        removed.append(entry)
    return removed


def umask_mode(mode: int) -> int:
    """``mode`` as the process's umask leaves it (``0o777`` -> ``0o755`` under umask 022)."""
    current = os.umask(0)
    os.umask(current)
    return mode & ~current


@contextmanager
def atomic_folder(target: Path) -> Iterator[Path]:
    """A fresh folder to fill; on success it replaces ``target`` (a folder) in one rename.

    The folder gets the permissions a plain ``mkdir`` would (``mkdtemp`` makes it
    private, which would hide a bundle from the server's user).
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    sweep_leftovers(target)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-{os.getpid()}-", dir=target.parent))
    tmp.chmod(umask_mode(0o777))
    try:
        yield tmp
        old = None
        if target.exists():
            old = target.with_name(f".{target.name}.old-{os.getpid()}")
            if old.exists():
                shutil.rmtree(old, ignore_errors=True)
            os.replace(target, old)
        os.replace(tmp, target)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


@contextmanager
def atomic_file(target: Path) -> Iterator[Path]:
    """A temporary path to write; on success it replaces ``target`` in one rename."""
    target.parent.mkdir(parents=True, exist_ok=True)
    sweep_leftovers(target)
    tmp = target.with_name(f".{target.name}.writing-{os.getpid()}")
    try:
        yield tmp
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_atomically(target: Path, content: str | bytes) -> Path:
    """Write ``content`` to ``target`` through :func:`atomic_file` (text as UTF-8)."""
    data = content.encode("utf-8") if isinstance(content, str) else content
    with atomic_file(target) as tmp:
        tmp.write_bytes(data)
    return target
