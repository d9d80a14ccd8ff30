"""The report: built from bad stores without failing, and from Online Retail opened in Chromium."""

from __future__ import annotations

import json
import re
import struct
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT, need_module, need_program, run_xsell, shared_file
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


def test_header_names_the_store_file_and_the_summary_keeps_its_path(tmp_path: Path) -> None:
    need_module("plotly")
    store = _store_from_csv(
        tmp_path, "basket_id,item_id,time\no1,a,2024-01-02 10:00\no2,b,2024-03-04 11:00\n"
    )
    page = build_report(store, tmp_path / "r.html").path.read_text()
    header = re.search(r"<header>(.*?)</header>", page, re.S)
    assert header is not None
    text = re.sub(r"<[^>]+>", " ", header.group(1))
    assert "Store shop.duckdb, orders 2024-01-02 .. 2024-03-04" in text
    assert str(tmp_path) not in text
    assert f"<td>store file</td><td>{tmp_path / 'shop.duckdb'}</td>" in page


def test_markdown_report_links_valid_pngs_of_every_chart(tmp_path: Path) -> None:
    need_module("plotly")
    need_module("sklearn")
    need_module("kaleido")
    need_program("chromium")  # kaleido draws the PNGs with the system Chromium
    from xsell.data.ingest import ingest_catalog

    paths = make_shop(n_users=120, n_items=40, seed=3).write(tmp_path / "shop")
    store = Store(tmp_path / "shop.duckdb")
    ingest_lines(store, paths["orders"])
    ingest_lines(store, paths["events"], preset="events")
    ingest_catalog(store, paths["catalog"])
    result = build_report(store, tmp_path / "out" / "report.md", fmt="md")
    text = result.path.read_text()
    assert text.startswith("# xsell shop report\n\nStore shop.duckdb, orders ")
    figures = [p for s in result.content.sections for p in s.parts if p.figure is not None]
    assert result.charts == len(figures) >= 12
    links = re.findall(r"^!\[(.+)\]\((.+\.png)\)$", text, re.M)
    assert [title for title, _ in links] == [p.title for p in figures]
    assert [result.path.parent / link for _, link in links] == result.images
    for part, image in zip(figures, result.images, strict=True):
        assert f"### {part.title}\n" in text
        data = image.read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n", image
        width, height = struct.unpack(">II", data[16:24])  # the IHDR chunk
        assert (width, height) == (900, part.figure.layout.height), image
        assert len(data) > 5_000  # a drawn chart, not a blank image


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
        return run_xsell(*args, "--store", str(store), cwd=tmp_path)

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


#: Every chart of a report page as page rectangles ``[left, right, width]``: its grid cell,
#: the drawn SVG, the plot area, the x tick labels and the data points. A chart drawn
#: wider than its cell overflows it, and the right part of its x range is cut off.
MEASURE_CHARTS = """
Array.from(document.querySelectorAll('div.js-plotly-plot')).map(plot => {
  const cell = plot.closest('.grid > *') || plot.parentElement;
  const box = e => { const r = e.getBoundingClientRect(); return [r.left, r.right, r.width]; };
  const svg = plot.querySelector('svg.main-svg');
  const area = plot.querySelector('.nsewdrag');
  const heading = cell.querySelector('h3');
  return {
    title: heading ? heading.textContent : plot.id,
    cell: box(cell),
    svg: svg ? box(svg) : null,
    area: area ? box(area) : null,
    ticks: Array.from(plot.querySelectorAll('g.xtick text')).map(t => [t.textContent, ...box(t)]),
    points: Array.from(plot.querySelectorAll('.trace .point')).map(box),
    drawn: plot.querySelectorAll(
      'svg.main-svg g.trace, svg.main-svg .heatmaplayer image').length,
  };
})
"""


def _open_in_chromium(
    page: Path, charts: int, screenshot: Path, resize_to: int | None = None
) -> tuple[list[str], list[Any], list[Any]]:
    """Open ``page`` offline in headless Chromium, 1400 px wide.

    Returns the JavaScript errors, the chart measurements, and the measurements
    after the window is resized to ``resize_to`` px (empty when not asked).
    """
    chromium = need_program("chromium")
    playwright = need_module("playwright.sync_api")
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
        tab.goto(page.as_uri())
        tab.wait_for_function(
            f"document.querySelectorAll('div.plot-container.plotly').length >= {charts}",
            timeout=60_000,
        )
        measures = tab.evaluate(MEASURE_CHARTS)
        ARTIFACTS.mkdir(exist_ok=True)
        tab.screenshot(path=str(screenshot), full_page=True)
        resized: list[Any] = []
        if resize_to is not None:
            tab.set_viewport_size({"width": resize_to, "height": 900})
            # Plotly redraws on the resize event; wait until every chart has its cell's width.
            tab.wait_for_function(
                "Array.from(document.querySelectorAll('div.js-plotly-plot')).every(d => "
                "Math.abs(d.querySelector('svg.main-svg').getBoundingClientRect().width - "
                "d.closest('.grid > *').getBoundingClientRect().width) <= 1)",
                timeout=10_000,
            )
            resized = tab.evaluate(MEASURE_CHARTS)
        browser.close()
    return errors, measures, resized


def _assert_charts_drawn_inside_their_cells(measures: list[Any]) -> None:
    """Each chart is non-empty and lies inside its grid cell: SVG, plot area, ticks, points."""
    for m in measures:
        title = m["title"]
        left, right, width = m["cell"]
        assert m["drawn"] > 0, f"{title}: nothing drawn"
        assert m["svg"] is not None, f"{title}: no SVG"
        # Not wider (cut off) and not narrower (drawn for an old layout) than its cell.
        assert abs(m["svg"][2] - width) <= 1, (
            f"{title}: SVG {m['svg'][2]:.0f} px in a {width:.0f} px cell"
        )
        assert left - 1 <= m["svg"][0] and m["svg"][1] <= right + 1, f"{title}: SVG outside cell"
        if m["area"] is not None:
            assert left - 1 <= m["area"][0] and m["area"][1] <= right + 1, (
                f"{title}: plot area {m['area'][:2]} outside the cell {m['cell'][:2]}"
            )
        for text, t_left, t_right, _ in m["ticks"]:
            assert left - 1 <= t_left and t_right <= right + 1, f"{title}: tick {text!r} cut off"
        for p_left, p_right, p_width in m["points"]:
            if p_width > 0:
                assert left - 1 <= p_left and p_right <= right + 1, f"{title}: data point cut off"
                if m["area"] is not None:
                    assert p_right <= m["area"][1] + 1, f"{title}: data point beyond the x axis"


@pytest.mark.slow
def test_online_retail_report_renders_in_chromium(tmp_path: Path) -> None:
    need_module("plotly")
    need_module("sklearn")
    need_program("chromium")
    need_module("playwright.sync_api")
    csv = shared_file("online_retail/online_retail.csv")
    store = Store(tmp_path / "retail.duckdb")
    ingest_lines(store, csv, preset="online-retail")
    result = build_report(store, tmp_path / "report.html")
    # Segment sizes add up to the customers with a kept order, and the report says why
    # that is fewer than the 4,372 customer ids in the file.
    rfm = next(s for s in result.content.sections if s.key == "rfm")
    profiles = next(p.table for p in rfm.parts if p.title == "Segment profiles")
    # 4,334 customers have a kept line before netting; 10 of them bought only what they
    # cancelled later, so their purchases are netted away.
    assert profiles["customers"].sum() == 4324
    page = result.path.read_text()
    assert "4,372 customer ids in the file; 4,324 have at least one kept order" in page
    assert "minimum group size" in page and "5 distinct customers" in page
    assert "2,730 cancellations netted against the purchases they cancel" in page
    assert "6,558 cancellations matched no purchase" in page
    # The 80,995-unit line cancelled by C581484 is no longer a best seller by revenue.
    sales_section = next(s for s in result.content.sections if s.key == "sales")
    assert "PAPER CRAFT , LITTLE BIRDIE" not in str(sales_section.parts[1].figure.to_dict())
    assert result.charts >= 12

    errors, measures, _ = _open_in_chromium(
        result.path, result.charts, ARTIFACTS / "online_retail_report.png"
    )
    assert errors == []
    assert len(measures) == result.charts
    _assert_charts_drawn_inside_their_cells(measures)
    charts = {m["title"]: m for m in measures}
    # The whole day and the whole year are on the axes, up to the last hour and week.
    hours = [t[0] for t in charts["Orders by hour"]["ticks"]]
    assert hours[0] == "00" and hours[-1] == "23", hours
    weeks = charts["Revenue per week"]
    sales = next(s for s in result.content.sections if s.key == "sales")
    n_weeks = len(next(p.figure for p in sales.parts if p.title == "Revenue per week").data[0].x)
    assert len(weeks["points"]) == 2 * n_weeks  # a revenue marker and an orders bar each
    # The last week (December 2011) is drawn at the right end of the x axis, not cut off.
    assert max(p[1] for p in weeks["points"]) > weeks["area"][1] - 40


def _synthetic_store_with_rules_and_leaderboard(folder: Path) -> Store:
    """A synthetic shop with categories, browsing events, saved rules and a leaderboard."""
    from xsell.data.ingest import ingest_catalog, ingest_customers
    from xsell.data.shopdata import ShopData
    from xsell.evaluation import evaluate, make_split
    from xsell.mining import save_rules, top_k_rules

    paths = make_shop(n_users=300, n_items=80, seed=4).write(folder / "shop")
    store = Store(folder / "shop.duckdb")
    ingest_lines(store, paths["orders"])
    ingest_lines(store, paths["events"], preset="events")
    ingest_catalog(store, paths["catalog"])
    ingest_customers(store, paths["customers"])
    data = ShopData.from_store(store)
    save_rules(store, top_k_rules(data, 50, min_count=10, max_len=3), params={"min_count": 10})
    split = make_split(data, "2025-12-01")
    board = evaluate(
        ["popularity", "cooccurrence"],
        split,
        "basket-completion",
        ks=(5, 10),
        split_name="2025-12-01",
        dataset="synthetic",
        max_queries=300,
    )
    board.save_to_store(store)
    return store


def test_synthetic_report_with_every_section_renders_in_chromium(tmp_path: Path) -> None:
    need_module("plotly")
    need_module("sklearn")
    need_program("chromium")
    need_module("playwright.sync_api")
    store = _synthetic_store_with_rules_and_leaderboard(tmp_path)
    result = build_report(store, tmp_path / "report.html")
    assert result.content.missing() == []
    titles = {p.title for s in result.content.sections for p in s.parts if p.figure is not None}
    wanted = {
        "Top categories by revenue",
        "Category affinity (lift)",
        "Cross-category attach rate",
        "Funnel (all items)",
        "Lift by segment",
        "Leaderboard",
    }
    assert wanted <= titles
    page = result.path.read_text()
    assert "Saved rules (latest version)" in page and "Latest leaderboard" in page
    assert "cooccurrence" in page

    # At 1000 px the grid has room for one chart a row: every chart must widen to it.
    errors, measures, resized = _open_in_chromium(
        result.path, result.charts, ARTIFACTS / "synthetic_report.png", resize_to=1000
    )
    assert errors == []
    assert [m["title"] for m in measures] == [
        p.title for s in result.content.sections for p in s.parts if p.figure is not None
    ]
    _assert_charts_drawn_inside_their_cells(measures)
    _assert_charts_drawn_inside_their_cells(resized)
    assert min(m["cell"][2] for m in resized) > max(m["cell"][2] for m in measures[:2])
