"""``xsell rules`` as a user runs it: a real process over a basket file and over a store; at a
budget stop the advice names options that exist on the command, and following it works."""

from __future__ import annotations

import json
import re
from pathlib import Path

from tests.conftest import run_xsell as xsell
from tests.conftest import shared_file
from xsell.mining import load_rules


def test_rules_from_a_basket_file_as_json(tmp_path: Path) -> None:
    groceries = shared_file("groceries/groceries.csv")
    done = xsell(
        "rules",
        "--baskets",
        str(groceries),
        "--preset",
        "baskets",
        "--min-support",
        "0.01",
        "--min-lift",
        "1.5",
        "--top",
        "5",
        "--json",
        "--out",
        str(tmp_path / "r.csv"),
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    payload = json.loads(done.stdout)
    assert payload["baskets"] == 9835 and payload["itemsets"] == 333 and payload["n_rules"] == 5
    lifts = [r["lift"] for r in payload["rules"]]
    assert lifts == sorted(lifts, reverse=True) and min(lifts) >= 1.5
    assert (tmp_path / "r.csv").exists() and payload["saved_version"] is None


def test_rules_from_the_store_table_with_names_and_saved(tmp_path: Path) -> None:
    orders = tmp_path / "orders.csv"
    lines = ["basket_id,item_id"] + [
        f"{b},{i}" for b in range(60) for i in (["A", "B"] if b % 2 else ["A", "C"])
    ]
    orders.write_text("\n".join(lines) + "\n")
    catalog = tmp_path / "catalog.csv"
    catalog.write_text("item_id,name\nA,Phone\nB,Case\nC,Charger\n")
    store = tmp_path / "shop.duckdb"
    assert (
        xsell(
            "ingest",
            str(orders),
            "--catalog",
            str(catalog),
            "--store",
            str(store),
            "-q",
            cwd=tmp_path,
        ).returncode
        == 0
    )
    done = xsell("rules", "--store", str(store), "--min-support", "10", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert (
        "Phone" in done.stdout
        and "Case" in done.stdout
        and "saved as rules version 1" in done.stdout
    )
    saved = load_rules(store)
    assert set(saved.consequent_names) == {("Phone",), ("Case",), ("Charger",)}


def test_bad_min_support_is_one_red_line(tmp_path: Path) -> None:
    groceries = shared_file("groceries/groceries.csv")
    done = xsell("rules", "--baskets", str(groceries), "--min-support", "1.5", cwd=tmp_path)
    assert done.returncode == 2
    assert (
        "min_support must be a fraction in (0, 1] or a whole number of baskets >= 1, got 1.5"
        in done.stderr
    )


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
