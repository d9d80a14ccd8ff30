"""serve --experiment, simulate and experiment report, run as a user runs them."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest

from tests.conftest import run_xsell
from tests.serving.server import Server
from xsell.data.synthetic import make_shop
from xsell.models import make_model

KEY = "sim-key-0123"


@pytest.fixture(scope="module")
def arms(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Popularity and co-occurrence bundles of the shop `xsell simulate --users 300` replays."""
    folder = tmp_path_factory.mktemp("arms")
    data = make_shop(n_users=300, seed=0).to_shopdata()
    pop, cooc = folder / "pop", folder / "cooc"
    make_model("popularity").fit(data).save(pop)
    make_model("cooccurrence").fit(data).save(cooc)
    return pop, cooc


def test_simulated_traffic_is_split_attributed_and_reported(
    arms: tuple[Path, Path], tmp_path: Path
) -> None:
    pop, cooc = arms
    log = tmp_path / "events.jsonl"
    server = Server(
        pop, "--experiment", "e1", "--arm", f"pop={pop}:50", "--arm", f"cooc={cooc}:50",
        "--api-key", KEY, "--rate-limit", "0", "--events-log", str(log),
    )  # fmt: skip
    with server:
        simulated = run_xsell(
            "simulate", "--url", server.url, "--api-key", KEY, "--sessions", "120",
            "--users", "300", "--json", cwd=tmp_path,
        )  # fmt: skip
        assert simulated.returncode == 0, simulated.stderr
    result = json.loads(simulated.stdout)
    assert result["sessions"] == 120
    live = result["report"]
    assert [a["arm"] for a in live["arms"]] == ["pop", "cooc"]
    assert sum(a["sessions"] for a in live["arms"]) == 120
    # every carted suggestion was ordered: attributed orders are at most the orders
    assert all(a["attached_orders"] <= a["orders"] == a["sessions"] for a in live["arms"])
    page = tmp_path / "report.html"
    store = tmp_path / "x.duckdb"
    offline = run_xsell(
        "experiment", "report", "e1", "--events-log", str(log), "--json", "--out", str(page),
        "--store", str(store), cwd=tmp_path,
    )  # fmt: skip
    assert offline.returncode == 0, offline.stderr
    report = json.loads(offline.stdout)
    assert report["arms"] == live["arms"]  # the same log, read again after the server stopped
    assert "plotly" in page.read_text()
    with duckdb.connect(str(store), read_only=True) as con:
        per_arm = dict(
            con.execute(
                "SELECT arm, count(DISTINCT unit) FROM experiment_events "
                "WHERE experiment = 'e1' AND type = 'recommendation' GROUP BY arm"
            ).fetchall()
        )
        orders = con.execute(
            "SELECT count(DISTINCT recommendation_id) FROM experiment_events WHERE type = 'order'"
        ).fetchone()
    assert per_arm == {a["arm"]: a["sessions"] for a in live["arms"]}
    assert orders == (120,)  # each simulated session orders once, after its one answer


def test_offline_a_a_runs_report_their_share_of_significant_results(
    arms: tuple[Path, Path], tmp_path: Path
) -> None:
    _, cooc = arms
    got = run_xsell(
        "simulate", "--offline", f"a={cooc}:50", "--offline", f"b={cooc}:50",
        "--sessions", "300", "--runs", "3", "--users", "300", "--json", cwd=tmp_path,
    )  # fmt: skip
    assert got.returncode == 0, got.stderr
    result = json.loads(got.stdout)
    assert result["runs"] == 3
    assert result["significant_share"] == result["significant_runs"] / 3
    assert sum(a["sessions"] for a in result["report"]["arms"]) == 300


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["serve", "--arm", "a=x:1"], "--arm needs --experiment NAME"),
        (["serve"], "give --bundle BUNDLE (or --experiment with --arm)"),
        (["simulate"], "give --url URL of a running server, or --offline arms"),
        (["simulate", "--offline", "a=x"], "an experiment needs at least 2 arms, got 1"),
    ],
)
def test_bad_experiment_options_get_one_line_and_exit_2(
    args: list[str], message: str, tmp_path: Path
) -> None:
    got = run_xsell(*args, cwd=tmp_path)
    assert got.returncode == 2
    assert message in got.stderr
    assert "Traceback" not in got.stderr


def test_report_of_an_experiment_the_log_never_started(tmp_path: Path) -> None:
    log = tmp_path / "events.jsonl"
    log.write_text('{"id": "1", "type": "order", "items": ["a"], "received": 1.0}\n')
    got = run_xsell("experiment", "report", "nope", "--events-log", str(log), cwd=tmp_path)
    assert got.returncode == 2
    assert "never started an experiment 'nope'; it holds none" in got.stderr
