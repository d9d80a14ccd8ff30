"""Time the full Online Retail report (HTML) against the 30 s goal, stage by stage.

Run: ``.venv/bin/python benchmarks/report.py [--csv PATH]``; prints a markdown table.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from xsell.analytics.report import build_report
from xsell.analytics.report.content import collect
from xsell.analytics.report.html import render_html
from xsell.data.ingest import ingest_lines
from xsell.data.shopdata import ShopData
from xsell.data.store import Store

DEFAULT = (
    Path(__file__).resolve().parents[2] / "shared" / "data" / "online_retail" / "online_retail.csv"
)
GOAL_S = 30.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--csv", type=Path, default=DEFAULT)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        store = Store(Path(folder) / "retail.duckdb")
        t = time.perf_counter()
        ingest_lines(store, args.csv, preset="online-retail")
        ingest_s = time.perf_counter() - t
        t = time.perf_counter()
        data = ShopData.from_store(store)
        load_s = time.perf_counter() - t
        t = time.perf_counter()
        content = collect(store)
        collect_s = time.perf_counter() - t
        t = time.perf_counter()
        _page, charts = render_html(content)
        render_s = time.perf_counter() - t
        t = time.perf_counter()
        result = build_report(store, Path(folder) / "report.html")
        total_s = time.perf_counter() - t
        size = result.path.stat().st_size
    print(f"Online Retail: {data}; {charts} charts, {size / 1e6:.1f} MB HTML\n")
    print("| stage | seconds |")
    print("| --- | ---: |")
    for name, value in (
        ("ingest CSV (not part of the report)", ingest_s),
        ("load ShopData", load_s),
        ("compute every section", collect_s),
        ("render HTML (Plotly inlined)", render_s),
        ("**build_report end to end**", total_s),
    ):
        print(f"| {name} | {value:.2f} |")
    print(f"\nend to end / {GOAL_S:.0f} s goal = {total_s / GOAL_S:.2f}")


if __name__ == "__main__":
    main()
