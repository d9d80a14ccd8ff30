"""What the report says: sections of charts, tables and notes, computed from a store.

Each part of a section is computed on its own; a part the data cannot answer
(:class:`~xsell.analytics.common.Unavailable`, or any other xsell error) becomes
a note saying why, and the rest of the report goes on.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from xsell.analytics import baskets, bundles, paths, sales
from xsell.analytics.clusters import kmeans_segments
from xsell.analytics.report import figures as F
from xsell.analytics.rfm import rfm_segments
from xsell.analytics.segment_rules import segment_rule_contrasts
from xsell.analytics.segments import segment_profiles
from xsell.data.groups import MIN_CUSTOMERS, check_min_customers
from xsell.data.shopdata import ShopData
from xsell.data.store import Store
from xsell.errors import XsellError
from xsell.progress import Reporter, SilentReporter


@dataclass
class Part:
    """One chart or table of a section (``figure`` or ``table``), or why it is missing."""

    title: str
    figure: Any = None
    table: pd.DataFrame | None = None
    caption: str = ""
    missing: str = ""


@dataclass
class Section:
    key: str
    title: str
    intro: str = ""
    parts: list[Part] = field(default_factory=list)

    def compute(self, title: str, build: Callable[[], Any]) -> Any:
        """Run ``build`` and return its value, or note why it could not be computed (None)."""
        try:
            return build()
        except XsellError as exc:
            self.parts.append(Part(title, missing=str(exc)))
            return None

    def add(self, title: str, build: Callable[[], Any], caption: str = "") -> Any:
        """Run ``build``; keep its figure or table, or note why it could not be computed."""
        value = self.compute(title, build)
        if isinstance(value, pd.DataFrame):
            self.parts.append(Part(title, table=_drop_empty(value), caption=caption))
        elif value is not None:
            self.parts.append(Part(title, figure=value, caption=caption))
        return value

    def missing(self) -> list[Part]:
        return [p for p in self.parts if p.missing]


@dataclass
class ReportContent:
    """Everything the report shows; ``store`` is the store's full path."""

    title: str
    store: str
    summary: list[tuple[str, str]]
    notes: list[str]
    sections: list[Section]

    @property
    def store_name(self) -> str:
        """The store's file name: what the page header shows (the full path is in the summary)."""
        return Path(self.store).name

    @property
    def heading(self) -> str:
        """The line under the title: the store's file name and the period of its orders."""
        period = dict(self.summary).get("period")
        return f"Store {self.store_name}" + (f", orders {period}" if period else "")

    @property
    def figures(self) -> list[Any]:
        return [p.figure for s in self.sections for p in s.parts if p.figure is not None]

    def missing(self) -> list[tuple[str, Part]]:
        return [(s.title, p) for s in self.sections for p in s.missing()]


#: Steps the progress bar counts (one per section plus loading).
STEPS = 11


def collect(
    store: Store | str | Path,
    reporter: Reporter | None = None,
    min_customers: int = MIN_CUSTOMERS,
) -> ReportContent:
    """Compute every section of the report from ``store``.

    Items, pairs, bundles, categories and segments bought by fewer than
    ``min_customers`` distinct customers are not shown (the report says so).
    """
    store = store if isinstance(store, Store) else Store(store)
    reporter = reporter or SilentReporter()
    floor = check_min_customers(min_customers)
    reporter.step("loading the store", 0)
    data, summary, notes, why_no_data = _load(store)
    reporter.step("overview", 1)
    summary.append(
        (
            "minimum group size",
            f"{floor:,} distinct customers: items, pairs, bundles, categories and segments "
            "bought by fewer are not shown",
        )
    )
    sections: list[Section] = []
    builders: list[tuple[str, Callable[..., Section]]] = [
        ("sales", _sales),
        ("RFM segments", _rfm),
        ("clusters", _clusters),
        ("baskets", _baskets),
        ("time patterns", _time),
        ("shopping paths", _paths),
        ("segment-aware rules", _segment_rules),
        ("bundles", _bundles),
    ]
    state: dict[str, Any] = {"min_customers": floor}
    for name, build in builders:
        reporter.step(name, 0)
        if data is None:
            sections.append(
                Section(name, name.capitalize(), parts=[Part(name, missing=why_no_data)])
            )
        else:
            sections.append(build(data, store, state))
        reporter.step(name, 1)
    sections.append(_rules_and_leaderboard(store, data, state))
    reporter.step("done", 1)
    return ReportContent(
        title="xsell shop report",
        store=str(store.path),
        summary=summary,
        notes=notes,
        sections=sections,
    )


def headline(store: Store | str | Path) -> tuple[list[tuple[str, str]], list[str]]:
    """The report's headline figures of ``store`` (its summary rows) and its notes."""
    _, summary, notes, _ = _load(store if isinstance(store, Store) else Store(store))
    return summary, notes


def _load(store: Store) -> tuple[ShopData | None, list[tuple[str, str]], list[str], str]:
    """The store's data (``None`` with the reason when it has none), summary rows and notes."""
    summary: list[tuple[str, str]] = [("store file", str(store.path))]
    notes: list[str] = []
    why_no_data = ""
    try:
        data: ShopData | None = ShopData.from_store(store)
    except XsellError as exc:
        data = None
        why_no_data = str(exc)
        notes.append(f"No analysis of orders: {exc}")
    _overview(data, _ingests(store), summary, notes)
    return data, summary, notes, why_no_data


# ---------------------------------------------------------------------------- sections


def _ingests(store: Store) -> list[dict[str, Any]]:
    """Every ingest's report (catalog and customers ingests too: they may drop columns)."""
    with store.connect() as con:
        rows = con.execute("SELECT report FROM ingests ORDER BY ingest_id").fetchall()
    return [json.loads(r[0]) for r in rows if r[0]]


def _overview(
    data: ShopData | None,
    ingests: list[dict[str, Any]],
    summary: list[tuple[str, str]],
    notes: list[str],
) -> None:
    """Fill the summary rows and notes: what was read, kept, and the headline figures."""
    for ingest in ingests:
        dropped = ingest.get("dropped_columns") or {}
        if ingest.get("kind") != "lines" and dropped and not ingest.get("skipped"):
            notes.append(
                f"{Path(ingest['path']).name}: personal-data columns left out at ingest: "
                + ", ".join(f"{c} ({why})" for c, why in dropped.items())
                + "."
            )
        if ingest.get("kind") != "lines" or ingest.get("skipped"):
            continue
        raw = ingest.get("raw_profile", {})
        kept = ingest.get("kept_profile", {})
        reasons = ", ".join(f"{r} {n:,}" for r, n in ingest.get("reasons", {}).items())
        summary.append(
            (
                f"file {Path(ingest['path']).name}",
                f"{ingest['rows_in']:,} rows read, {ingest['rows_kept']:,} kept"
                + (f" (rejected: {reasons})" if reasons else ""),
            )
        )
        netting = ingest.get("netting") or {}
        if netting:
            notes.append(
                f"{Path(ingest['path']).name}: {netting.get('netted', 0):,} cancellations netted "
                "against the purchases they cancel (same customer, item, quantity and price, "
                f"earlier): those purchases are not counted as sales; "
                f"{netting.get('unmatched', 0):,} cancellations matched no purchase."
            )
        dropped = ingest.get("dropped_columns") or {}
        if dropped:
            notes.append(
                f"{Path(ingest['path']).name}: personal-data columns left out at ingest: "
                + ", ".join(f"{c} ({why})" for c, why in dropped.items())
                + "."
            )
        if raw.get("customers") is not None and kept.get("customers") is not None:
            dropped = int(raw["customers"]) - int(kept["customers"])
            notes.append(
                f"{Path(ingest['path']).name}: {raw['customers']:,} customer ids in the file; "
                f"{kept['customers']:,} have at least one kept order and are the customers "
                "segmented here"
                + (
                    f" ({dropped:,} had only rejected lines: cancellations, returns, "
                    "fees or bad prices)."
                    if dropped > 0
                    else "."
                )
            )
    if data is None:
        return
    figures = sales.order_figures(data)
    summary.extend(
        [
            ("orders", f"{figures['orders']:,.0f} ({figures['anonymous_orders']:,.0f} anonymous)"),
            ("customers with orders", f"{figures['customers']:,.0f}"),
            ("items sold", f"{figures['items']:,.0f}"),
            ("revenue", _money(figures["revenue"])),
            ("average order value", _money(figures["average_order_value"])),
            ("distinct items per order", f"{figures['items_per_order']:.1f}"),
            ("units per order", f"{figures['units_per_order']:.1f}"),
        ]
    )
    times = data.basket_time
    if not np.isnat(times).all():
        summary.append(
            (
                "period",
                f"{pd.Timestamp(np.nanmin(times)):%Y-%m-%d} .. "
                f"{pd.Timestamp(np.nanmax(times)):%Y-%m-%d}",
            )
        )


def _money(value: float) -> str:
    return "unknown (no prices)" if not np.isfinite(value) else f"{value:,.2f}"


def _sales(data: ShopData, store: Store, state: dict[str, Any]) -> Section:
    s = Section(
        "sales", "Sales", "Revenue over time, best sellers, and what was cancelled or returned."
    )
    s.add("Revenue per week", lambda: F.revenue_line(sales.revenue_over_time(data, "W")))
    s.add(
        "Top products by revenue",
        lambda: F.hbar(sales.top_products(data, 15, state["min_customers"]), "revenue", "name"),
    )
    s.add(
        "Top categories by revenue",
        lambda: F.hbar(
            sales.top_categories(data, 15, state["min_customers"]), "revenue", "category"
        ),
    )
    s.add(
        "Cancellations and returns",
        lambda: sales.return_rates(store, data),
        "Lines rejected at ingest as cancellations (cancel-prefixed orders) or returns "
        "(negative quantities), against the kept lines. Value is |quantity| x the recorded "
        "price; lines recorded at price 0 or without a price (in Online Retail every return "
        "line: stock write-offs such as damaged or lost goods, not refunds) are valued at the "
        "item's usual price (repriced lines), and lines of items never sold at a price are "
        "left out (unvalued lines).",
    )
    return s


def _rfm(data: ShopData, store: Store, state: dict[str, Any]) -> Section:
    s = Section(
        "rfm",
        "Customer segments (RFM)",
        "Each customer scores 1-5 on recency (R), frequency (F) and monetary value (M) by "
        "quintile; R and F place them in a named segment.",
    )
    table = s.compute("RFM scores", lambda: rfm_segments(data))
    if table is None:
        return s
    state["rfm"] = table
    profiles = s.compute(
        "Segment profiles",
        lambda: segment_profiles(data, table, min_customers=state["min_customers"]),
    )
    if profiles is not None:
        state["rfm_profiles"] = profiles
        s.add("Customers and revenue by segment", lambda: F.segment_bars(profiles))
        s.add("R x F grid (customers)", lambda: F.rf_grid(table))
        s.add(
            "Segment profiles",
            lambda: profiles,
            f"{len(table):,} customers with orders (sizes add up to this).",
        )
    return s


def _clusters(data: ShopData, store: Store, state: dict[str, Any]) -> Section:
    s = Section(
        "clusters",
        "Behavioural clusters (KMeans)",
        "KMeans on log-scaled, standardized recency, frequency, spend, basket size and range; "
        "the number of clusters is the one with the best silhouette.",
    )
    table = s.compute("Clusters", lambda: kmeans_segments(data))
    if table is None:
        return s
    s.add("Silhouette by number of clusters", lambda: F.silhouette_line(table.attrs["silhouette"]))
    profiles = segment_profiles(data, table, min_customers=state["min_customers"])
    s.add("Customers and revenue by cluster", lambda: F.segment_bars(profiles))
    means = table.groupby("segment").mean(numeric_only=True).drop(columns="cluster")
    s.add("Cluster centres (means)", lambda: means.reset_index())
    s.add("Cluster profiles", lambda: profiles)
    return s


def _baskets(data: ShopData, store: Store, state: dict[str, Any]) -> Section:
    s = Section("baskets", "Basket analysis", "What goes together, and how big baskets are.")
    s.add("Basket size (distinct items)", lambda: F.size_histogram(baskets.basket_sizes(data)))
    s.add(
        "Items in the most baskets",
        lambda: F.hbar(baskets.top_items(data, 15, state["min_customers"]), "baskets", "name"),
    )
    pairs = s.add(
        "Top pairs by lift",
        lambda: _pair_table(baskets.top_pairs(data, 20, min_customers=state["min_customers"])),
        f"Pairs in at least {baskets.pair_min_count(data.n_baskets):,} baskets, bought "
        f"together by at least {state['min_customers']:,} customers; "
        "p: one-sided Fisher exact test, q: Benjamini-Hochberg over all frequent pairs.",
    )
    state["pairs"] = pairs
    s.add("Category affinity (lift)", lambda: F.heatmap(baskets.category_affinity(data), "lift"))
    s.add(
        "Cross-category attach rate",
        lambda: F.heatmap(baskets.attach_rates(data), "attach rate"),
        "Row: the category in the basket; column: the share of those baskets also holding it.",
    )
    repeat = s.add(
        "Repurchase intervals",
        lambda: baskets.repurchase_intervals(data, k=20, min_customers=state["min_customers"]),
        "Days until the same customer buys the same item again (orders on one day "
        "count once): the timing for replenishment reminders.",
    )
    if repeat is not None:
        s.add("Median days to repurchase", lambda: F.repurchase_bars(repeat))
    return s


def _time(data: ShopData, store: Store, state: dict[str, Any]) -> Section:
    s = Section("time", "When people buy", "Orders by hour of day, weekday and month.")
    patterns = s.compute("Orders by time", lambda: baskets.time_patterns(data))
    if patterns is None:
        return s
    for key, frame in patterns.items():
        s.add(f"Orders by {key}", partial(F.time_bars, frame, key))
    return s


def _paths(data: ShopData, store: Store, state: dict[str, Any]) -> Section:
    s = Section("paths", "Shopping paths", "From browsing events: view -> cart -> purchase.")
    table = s.add(
        "Funnel per category",
        lambda: paths.funnel(data),
        "Distinct (customer, item) pairs reaching each stage.",
    )
    if table is not None:
        s.add("Funnel (all items)", lambda: F.funnel(table))
    s.add(
        "Most common item-to-item moves",
        lambda: paths.transitions(data, 20, min_customers=state["min_customers"]),
        "Consecutive items viewed or carted in one session (30-minute gap).",
    )
    return s


def _segment_rules(data: ShopData, store: Store, state: dict[str, Any]) -> Section:
    s = Section(
        "segment_rules",
        "Segment-aware rules",
        "Pairs mined within each RFM segment: where their lift differs most between segments.",
    )
    if "rfm" not in state:
        s.parts.append(Part("contrasts", missing="no RFM segments (see above)"))
        return s
    table = s.add(
        "Pairs whose lift differs most",
        lambda: segment_rule_contrasts(data, state["rfm"], min_customers=state["min_customers"]),
    )
    if table is not None:
        s.add("Lift by segment", lambda: F.contrast_heatmap(table))
    return s


def _bundles(data: ShopData, store: Store, state: dict[str, Any]) -> Section:
    s = Section(
        "bundles",
        "Bundle candidates",
        "Sets of 2-3 items bought together far above chance (lift >= 2), across categories when "
        "the catalog has them, ranked by the share of the best seller's orders holding the set.",
    )
    table = s.compute(
        "Bundles",
        lambda: bundles.bundle_candidates(data, k=10, min_customers=state["min_customers"]),
    )
    if table is not None:
        s.add(
            "Bundles",
            lambda: table.drop(columns=["items"])[
                [
                    "names",
                    "size",
                    "count",
                    "lift",
                    "all_confidence",
                    "price",
                    "categories",
                    "evidence",
                ]
            ],
            f"Sets in at least {bundles.bundle_min_count(data.n_baskets):,} orders, bought by "
            f"at least {state['min_customers']:,} customers.",
        )
    return s


def _rules_and_leaderboard(store: Store, data: ShopData | None, state: dict[str, Any]) -> Section:
    from xsell.evaluation.leaderboard import latest_leaderboard
    from xsell.mining import load_rules

    s = Section("rules", "Strongest rules and the evaluation leaderboard")

    def rules() -> pd.DataFrame:
        shown = load_rules(store).head(20)
        name = "antecedent_names" if "antecedent_names" in shown.columns else "antecedent"
        cname = "consequent_names" if "consequent_names" in shown.columns else "consequent"
        return pd.DataFrame(
            {
                "if bought": [" + ".join(map(str, v)) for v in shown[name]],
                "then": [" + ".join(map(str, v)) for v in shown[cname]],
                "count": shown["count"],
                "confidence": shown["confidence"],
                "lift": shown["lift"],
                "q_value": shown.get("q_value", np.nan),
            }
        )

    s.add("Saved rules (latest version)", rules)

    def leaderboard() -> pd.DataFrame:
        board = latest_leaderboard(store)
        if board is None:
            raise XsellError("no evaluation run yet; run `xsell evaluate`")
        columns = board.metric_columns()
        rows = [
            {"model": r.get("model"), **{c: r.get(c) for c in columns}, "fit_s": r.get("fit_s")}
            for r in board.rows
        ]
        state["leaderboard"] = board
        return pd.DataFrame(rows)

    s.add("Latest leaderboard", leaderboard)
    if "leaderboard" in state:
        board = state["leaderboard"]
        s.add("Leaderboard", lambda: F.leaderboard_bars(board), board.title())
    return s


# ---------------------------------------------------------------------------- helpers


def _pair_table(pairs: pd.DataFrame) -> pd.DataFrame:
    return pairs[
        [
            "name_a",
            "name_b",
            "count",
            "lift",
            "confidence_ab",
            "confidence_ba",
            "p_value",
            "q_value",
        ]
    ].rename(
        columns={
            "name_a": "item A",
            "name_b": "item B",
            "confidence_ab": "P(B|A)",
            "confidence_ba": "P(A|B)",
        }
    )


def _drop_empty(frame: pd.DataFrame) -> pd.DataFrame:
    if frame.empty:
        return frame
    empty = [
        c
        for c in frame.columns
        if frame[c].astype(str).str.strip().isin(["", "nan", "None", "<NA>"]).all()
    ]
    return frame.drop(columns=empty)
