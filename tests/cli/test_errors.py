"""Usage errors and unreadable files: one line on stderr, exit code 2, never a traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import run_xsell as xsell
from xsell import __version__
from xsell.cli.main import COMMANDS, run


def test_version(tmp_path: Path) -> None:
    done = xsell("--version", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"xsell {__version__}\n"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["ingest"], "error: Missing argument 'paths'. (see 'xsell ingest --help')"),
        (["stats", "--bogus"], "error: No such option: --bogus (see 'xsell stats --help')"),
        (
            ["ingset"],
            "error: No such command 'ingset'. Did you mean 'ingest'? (see 'xsell --help')",
        ),
        (["--bogus"], "error: No such option: --bogus (see 'xsell --help')"),
        (
            ["rules", "--top", "many"],
            "error: Invalid value for '--top' / '-k': 'many' is not a valid int. "
            "(see 'xsell rules --help')",
        ),
    ],
)
def test_a_usage_error_is_one_line_and_exit_2(
    args: list[str], message: str, tmp_path: Path
) -> None:
    done = xsell(*args, cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.splitlines() == [message]
    assert done.stdout == ""


def test_a_missing_basket_file_names_it(tmp_path: Path) -> None:
    done = xsell("rules", "--baskets", "nowhere.dat", "--preset", "fimi", cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.splitlines() == ["error: nowhere.dat: no such file"]


def test_a_fifo_is_refused_not_read_forever(tmp_path: Path) -> None:
    fifo = tmp_path / "baskets.dat"
    import os

    os.mkfifo(fifo)
    done = xsell("rules", "--baskets", str(fifo), "--preset", "fimi", cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.splitlines() == [f"error: {fifo}: is not a regular file"]


def test_an_unreadable_file_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    baskets = tmp_path / "baskets.dat"
    baskets.write_text("1 2\n2 3\n")

    def refuse(self: Path) -> bytes:
        # What the operating system raises for a file without read permission (root
        # reads every file, so the test cannot rely on chmod).
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "read_bytes", refuse)
    with pytest.raises(SystemExit) as stopped:
        run(["rules", "--baskets", str(baskets), "--preset", "fimi", "--min-support", "1"])
    assert stopped.value.code == 2
    assert capsys.readouterr().err.splitlines() == [f"error: {baskets}: Permission denied"]


def test_an_unwritable_output_is_one_line(tmp_path: Path) -> None:
    baskets = tmp_path / "baskets.dat"
    baskets.write_text("1 2\n2 3\n1 2 3\n")
    out = tmp_path / "missing-folder" / "itemsets.csv"
    done = xsell(
        "rules", "--baskets", str(baskets), "--preset", "fimi", "--min-support", "1",
        "--itemsets-only", "--out", str(out), cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 2
    (line,) = done.stderr.splitlines()
    assert line.startswith(f"error: {out.parent}/.itemsets.csv.writing-")
    assert line.endswith(": No such file or directory")


def test_help_and_version_import_no_heavy_library(tmp_path: Path) -> None:
    probe = (
        "import sys, io, contextlib\n"
        "from xsell.cli.main import run\n"
        "for args in (['--help'], ['--version']):\n"
        "    with contextlib.redirect_stdout(io.StringIO()) as out:\n"
        "        try:\n"
        "            run(args)\n"
        "        except SystemExit as exc:\n"
        "            assert not exc.code, exc.code\n"
        "    assert out.getvalue(), args\n"
        "heavy = ('pandas', 'scipy', 'sklearn', 'numpy', 'numba', 'duckdb', 'pyarrow', 'polars')\n"
        "print(' '.join(m for m in heavy if m in sys.modules))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == ""


def test_the_help_lists_every_command_as_its_own_module_describes_it(tmp_path: Path) -> None:
    from xsell.cli.main import app

    real = {
        (info.name or info.callback.__name__): (info.callback.__doc__ or "").strip().splitlines()[0]
        for info in app.registered_commands
        if info.callback is not None and info.callback.__name__ != "_unloaded"
    }
    for group in app.registered_groups:
        assert group.name is not None and group.typer_instance is not None
        real[group.name] = str(group.typer_instance.info.help).strip().splitlines()[0]
    assert real == {name: text for name, (_, text) in COMMANDS.items()}
    done = xsell("--help", cwd=tmp_path)
    assert done.returncode == 0
    for name in COMMANDS:
        assert f" {name} " in done.stdout
