"""The report: built from bad stores without failing, and from Online Retail opened in Chromium."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT, need_module, need_program, shared_file
from xsell.analytics.report import build_report
from xsell.data.ingest import ingest_lines
from xsell.data.store import Store
from xsell.data.synthetic import make_shop
from xsell.errors import ValidationError

ARTIFACTS = ROOT / "artifacts"


def _store_from_csv(tmp_path: Path, text: str) -> Store:
    path = tmp_path / "orders.csv"
    path.write_text(text)
    store = Store(tmp_path / "shop.duckdb")
    ingest_lines(store, path)
    return store


def _missing(result: object) -> dict[str, str]:
    return {f"{s}: {p.title}": p.missing for s, p in result.content.missing()}  # type: ignore[attr-defined]


def test_empty_store_gives_a_report_saying_why(tmp_path: Path) -> None:
    need_module("plotly")
    store = Store(tmp_path / "empty.duckdb")
    with store.transaction():
        pass
    result = build_report(store, tmp_path / "r.html")
    page = result.path.read_text()
    assert result.charts == 0
    assert "the store holds no order lines yet" in page
    assert "no evaluation run yet" in page
    assert all("no order lines" in why for key, why in _missing(result).items() if "Sales" in key)


def test_store_without_customers_or_prices(tmp_path: Path) -> None:
    need_module("plotly")
    need_module("sklearn")
    store = _store_from_csv(
        tmp_path,
        "basket_id,item_id,time\n"
        + "".join(
            f"o{i},{item},2024-01-{1 + i % 28:02d} 10:00\n"
            for i in range(60)
            for item in "abc"[: 1 + i % 3]
        ),
    )
    result = build_report(store, tmp_path / "r.html")
    missing = _missing(result)
    page = result.path.read_text()
    assert "RFM segments needs customer ids, and every order is anonymous" in page
    assert missing["Sales: Revenue per week"] == (
        "revenue over time needs prices, and no order line has a price"
    )
    assert (
        "KMeans segments needs customer ids" in missing["Behavioural clusters (KMeans): Clusters"]
    )
    # What needs neither still works.
    assert result.charts >= 4
    assert "Basket size (distinct items)" in page


def test_synthetic_shop_fills_every_section(tmp_path: Path) -> None:
    need_module("plotly")
    need_module("sklearn")
    paths = make_shop(n_users=300, n_items=80, seed=4).write(tmp_path / "shop")
    store = Store(tmp_path / "shop.duckdb")
    ingest_lines(store, paths["orders"])
    ingest_lines(store, paths["events"], preset="events")
    from xsell.data.ingest import ingest_catalog

    ingest_catalog(store, paths["catalog"])
    result = build_report(store, tmp_path / "r.html")
    missing = _missing(result)
    # Only the rules and leaderboard wait for other commands.
    assert set(missing) == {
        "Strongest rules and the evaluation leaderboard: Saved rules (latest version)",
        "Strongest rules and the evaluation leaderboard: Latest leaderboard",
    }
    assert missing["Strongest rules and the evaluation leaderboard: Latest leaderboard"] == (
        "no evaluation run yet; run `xsell evaluate`"
    )
    titles = [p.title for s in result.content.sections for p in s.parts]
    assert {"Funnel (all items)", "Category affinity (lift)", "Bundles"} <= set(titles)


def test_unknown_format_is_named(tmp_path: Path) -> None:
    with pytest.raises(
        ValidationError, match=r"unknown report format 'pdf'; choose one of \['html', 'md'\]"
    ):
        build_report(tmp_path / "x.duckdb", tmp_path / "r.pdf", fmt="pdf")


def test_cli_segments_and_report(tmp_path: Path) -> None:
    need_module("plotly")
    paths = make_shop(n_users=200, n_items=60, seed=6).write(tmp_path / "shop")
    store = tmp_path / "shop.duckdb"
    ingest_lines(Store(store), paths["orders"])

    def xsell(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "xsell.cli.main", *args, "--store", str(store)],
            capture_output=True,
            text=True,
            timeout=300,
            cwd=tmp_path,
        )

    done = xsell("segments", "--method", "rfm", "--json", "--out", str(tmp_path / "seg.csv"))
    assert done.returncode == 0, done.stderr
    payload = json.loads(done.stdout)
    assert sum(s["customers"] for s in payload["segments"]) == payload["customers"] == 200
    assert (tmp_path / "seg.csv").read_text().count("\n") == 201
    bad = xsell("segments", "--method", "dbscan")
    assert bad.returncode == 2
    assert "unknown --method 'dbscan'; choose one of ['kmeans', 'rfm']" in bad.stdout + bad.stderr
    done = xsell("report", "--out", str(tmp_path / "r.html"), "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["charts"] > 5
    assert (tmp_path / "r.html").stat().st_size > 1_000_000  # Plotly inlined


@pytest.mark.slow
def test_online_retail_report_renders_in_chromium(tmp_path: Path) -> None:
    need_module("plotly")
    need_module("sklearn")
    chromium = need_program("chromium")
    playwright = need_module("playwright.sync_api")
    csv = shared_file("online_retail/online_retail.csv")
    store = Store(tmp_path / "retail.duckdb")
    ingest_lines(store, csv, preset="online-retail")
    result = build_report(store, tmp_path / "report.html")
    # Segment sizes add up to the customers with a kept order, and the report says why
    # that is fewer than the 4,372 customer ids in the file.
    rfm = next(s for s in result.content.sections if s.key == "rfm")
    profiles = next(p.table for p in rfm.parts if p.title == "Segment profiles")
    assert profiles["customers"].sum() == 4334
    page = result.path.read_text()
    assert "4,372 customer ids in the file; 4,334 have at least one kept order" in page
    assert result.charts >= 12

    ARTIFACTS.mkdir(exist_ok=True)
    errors: list[str] = []
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=chromium,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--no-first-run",
            ],
        )
        tab = browser.new_page(viewport={"width": 1400, "height": 900})
        tab.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        tab.on("pageerror", lambda e: errors.append(str(e)))
        tab.route(
            "**/*",
            lambda route: (
                route.abort() if not route.request.url.startswith("file:") else route.continue_()
            ),
        )
        tab.goto(result.path.as_uri())
        tab.wait_for_function(
            f"document.querySelectorAll('div.plot-container.plotly').length >= {result.charts}",
            timeout=60_000,
        )
        drawn = tab.evaluate(
            "Array.from(document.querySelectorAll('div.plot-container.plotly')).map(d => "
            "d.querySelectorAll('svg.main-svg g.trace, svg.main-svg .heatmaplayer image').length)"
        )
        tab.screenshot(path=str(ARTIFACTS / "online_retail_report.png"), full_page=True)
        browser.close()
    assert errors == []
    assert len(drawn) == result.charts
    assert all(n > 0 for n in drawn), drawn
