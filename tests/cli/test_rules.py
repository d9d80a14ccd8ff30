"""``xsell rules`` and the rules model at a budget stop: the advice names options that exist
on the command, and following it works."""

from __future__ import annotations

import re
from pathlib import Path

from tests.cli.test_errors import xsell
from tests.conftest import shared_file


def test_top_k_budget_stop_names_a_flag_of_rules_that_works(tmp_path: Path) -> None:
    retail = str(shared_file("fimi/retail.dat"))
    base = ["rules", "--baskets", retail, "--preset", "fimi", "--min-count", "2",
            "--memory-budget", "1MB", "--json"]  # fmt: skip
    done = xsell(*base, "--max-len", "8", cwd=tmp_path)
    assert done.returncode == 2
    (line,) = done.stderr.splitlines()
    assert line.startswith("error: top-k search stopped: finding the 1,000 best rules by lift")
    found = re.search(r"; --max-len (\d+) fits, or raise --memory-budget$", line)
    assert found, line
    followed = xsell(*base, "--max-len", found.group(1), cwd=tmp_path)
    assert followed.returncode == 0, followed.stderr
    assert '"n_rules": 1000' in followed.stdout


def test_itemsets_budget_stop_names_min_support_that_works(tmp_path: Path) -> None:
    chess = str(shared_file("fimi/chess.dat"))
    base = ["rules", "--baskets", chess, "--preset", "fimi", "--itemsets-only", "--json"]
    done = xsell(*base, "--min-support", "0.01", "--memory-budget", "64MB", cwd=tmp_path)
    assert done.returncode == 2
    (line,) = done.stderr.splitlines()
    found = re.search(r"; --min-support ([0-9.]+) \([\d,]+ baskets\) fits, or raise "
                      r"--memory-budget$", line)  # fmt: skip
    assert found, line
    followed = xsell(*base, "--min-support", found.group(1), "--memory-budget", "64MB",
                     cwd=tmp_path)  # fmt: skip
    assert followed.returncode == 0, followed.stderr


def test_train_rules_budget_stop_names_params_that_work(tmp_path: Path) -> None:
    groceries = shared_file("groceries/groceries.csv")
    store = str(tmp_path / "shop.duckdb")
    done = xsell("--quiet", "ingest", str(groceries), "--preset", "baskets", "--store", store,
                 cwd=tmp_path)  # fmt: skip
    assert done.returncode == 0, done.stderr
    base = ["--quiet", "train", "rules", "--out", str(tmp_path / "bundle"), "--store", store,
            "--param", "memory_budget=256KB"]  # fmt: skip
    done = xsell(*base, "--param", "min_support=0.001", cwd=tmp_path)
    assert done.returncode == 2
    (line,) = done.stderr.splitlines()
    found = re.search(r"; --param min_support=([0-9.]+) \([\d,]+ baskets\) fits, or ", line)
    assert found, line
    followed = xsell(*base, "--param", f"min_support={found.group(1)}", cwd=tmp_path)
    assert followed.returncode == 0, followed.stderr


def test_train_rules_with_its_defaults_on_online_retail(tmp_path: Path) -> None:
    orders = shared_file("online_retail/online_retail.csv")
    store = str(tmp_path / "shop.duckdb")
    done = xsell("--quiet", "ingest", str(orders), "--preset", "online-retail", "--store", store,
                 cwd=tmp_path)  # fmt: skip
    assert done.returncode == 0, done.stderr
    done = xsell("--quiet", "train", "rules", "--out", str(tmp_path / "bundle"), "--store", store,
                 cwd=tmp_path)  # fmt: skip
    assert done.returncode == 0, done.stderr
    done = xsell("--quiet", "rules", "--store", store, "--no-save", "--json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert '"n_rules": 1000' in done.stdout
