"""Files and folders written aside and renamed into place; leftovers of dead writers swept."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.conftest import dead_pid
from xsell.files import atomic_file, atomic_folder, pid_alive, sweep_leftovers


def test_pid_alive() -> None:
    assert pid_alive(os.getpid()) and pid_alive(os.getppid())
    assert not pid_alive(dead_pid())


def test_atomic_file_replaces_the_target_in_one_step(tmp_path: Path) -> None:
    target = tmp_path / "out.csv"
    target.write_text("old")
    with atomic_file(target) as tmp:
        assert tmp.name == f".out.csv.writing-{os.getpid()}" and tmp.parent == tmp_path
        tmp.write_text("new")
        assert target.read_text() == "old"  # nothing changes before the rename
    assert target.read_text() == "new"
    assert [p.name for p in tmp_path.iterdir()] == ["out.csv"]


def test_a_failed_file_write_keeps_the_old_file(tmp_path: Path) -> None:
    target = tmp_path / "out.csv"
    target.write_text("old")
    with pytest.raises(RuntimeError, match="crash"), atomic_file(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("crash")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.csv"]


def test_atomic_folder_replaces_a_folder_whole(tmp_path: Path) -> None:
    target = tmp_path / "bundle"
    target.mkdir()
    (target / "stale.txt").write_text("old")
    with atomic_folder(target) as folder:
        assert folder.name.startswith(f".bundle.tmp-{os.getpid()}-")
        (folder / "fresh.txt").write_text("new")
    assert [p.name for p in target.iterdir()] == ["fresh.txt"]
    assert [p.name for p in tmp_path.iterdir()] == ["bundle"]
    # A new target (and its parent folders) is created.
    with atomic_folder(tmp_path / "deep" / "er") as folder:
        (folder / "x").write_text("x")
    assert (tmp_path / "deep" / "er" / "x").read_text() == "x"


def test_a_failed_folder_write_keeps_the_old_folder(tmp_path: Path) -> None:
    target = tmp_path / "bundle"
    target.mkdir()
    (target / "model.json").write_text("old")
    with pytest.raises(RuntimeError, match="crash"), atomic_folder(target) as folder:
        (folder / "model.json").write_text("half")
        raise RuntimeError("crash")
    assert (target / "model.json").read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["bundle"]


def test_leftovers_of_dead_writers_are_swept_and_live_ones_kept(tmp_path: Path) -> None:
    dead, live = dead_pid(), os.getppid()
    target = tmp_path / "out.csv"
    gone = [f".out.csv.tmp-{dead}-ab12", f".out.csv.old-{dead}", f".out.csv.writing-{dead}"]
    kept = [
        f".out.csv.tmp-{live}-cd34",
        f".out.csv.writing-{live}",
        f".other.csv.writing-{dead}",  # another target's
        f".out.csv.backup-{dead}",  # not a name a writer leaves
    ]
    for name in gone[:2] + kept[:1]:
        (tmp_path / name).mkdir()
        (tmp_path / name / "part").write_text("x")
    for name in gone[2:] + kept[1:]:
        (tmp_path / name).write_text("x")
    removed = sweep_leftovers(target)
    assert sorted(p.name for p in removed) == sorted(gone)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(kept)
    # The next write sweeps too.
    (tmp_path / f".out.csv.writing-{dead}").write_text("x")
    with atomic_file(target) as tmp:
        tmp.write_text("new")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([*kept, "out.csv"])
    assert sweep_leftovers(tmp_path / "nowhere" / "x") == []
