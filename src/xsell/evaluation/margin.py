"""The margin trade-off: one model, one split, its answers ranked at several margin sensitivities.

A sensitivity of 0 is the model's own order; 1 orders by expected margin (see
:mod:`xsell.models.objective`). :func:`margin_sweep` fits the model once, asks
the same held-out queries at every sensitivity, and reports recall, margin and
revenue of the hits next to each other, so a shop sees what each extra unit of
margin costs in relevance.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import numpy as np
import pandas as pd

from xsell.data.splits import Split
from xsell.errors import ValidationError, require
from xsell.evaluation.protocols import make_queries
from xsell.evaluation.runner import recommend_queries, score_recommendations
from xsell.files import write_atomically
from xsell.models import BusinessRules, Recommender
from xsell.progress import progress_bar

DEFAULT_SENSITIVITIES: Final = (0.0, 0.25, 0.5, 0.75, 1.0)
#: Metric families reported at the sweep's k.
FAMILIES: Final = ("recall", "precision", "ndcg", "hit_rate", "margin", "revenue")


@dataclass
class MarginSweep:
    """Metrics at each sensitivity, with changes against sensitivity 0 (the model's order)."""

    model: str
    protocol: str
    split: str
    k: int
    overstock_boost: float
    n_queries: int
    table: pd.DataFrame
    details: dict[str, Any] = field(default_factory=dict)

    def at(self, sensitivity: float) -> dict[str, float]:
        """The row of one sensitivity."""
        rows = self.table[np.isclose(self.table["sensitivity"], sensitivity)]
        if rows.empty:
            swept = self.table["sensitivity"].tolist()
            raise ValidationError(f"sensitivity {sensitivity} was not swept; swept {swept}")
        return {str(k): float(v) for k, v in rows.iloc[0].items()}

    def title(self) -> str:
        return (
            f"{self.model}: margin@{self.k} against recall@{self.k} "
            f"({self.protocol}, split {self.split}, {self.n_queries:,} queries)"
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "protocol": self.protocol,
            "split": self.split,
            "k": self.k,
            "overstock_boost": self.overstock_boost,
            "n_queries": self.n_queries,
            "details": self.details,
            "rows": self.table.to_dict(orient="records"),
        }

    def to_markdown(self) -> str:
        k = self.k
        lines = [
            f"### {self.title()}",
            "",
            f"| sensitivity | recall@{k} | change | margin@{k} | change | revenue@{k} | change |",
            "| ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
        ]
        for values in self.table.to_dict(orient="records"):
            lines.append(
                f"| {values['sensitivity']:.2f} | {values[f'recall@{k}']:.4f} | "
                f"{values['recall_change']:+.1%} | {values[f'margin@{k}']:.4f} | "
                f"{values['margin_change']:+.1%} | {values[f'revenue@{k}']:.4f} | "
                f"{values['revenue_change']:+.1%} |"
            )
        return "\n".join(lines) + "\n"

    def figure(self) -> Any:
        """The trade-off curve: margin@k against recall@k, one point per sensitivity (Plotly)."""
        go: Any = require("plotly.graph_objects", "report")
        k = self.k
        fig = go.Figure(
            go.Scatter(
                x=self.table[f"recall@{k}"],
                y=self.table[f"margin@{k}"],
                mode="lines+markers+text",
                text=[f"s={s:g}" for s in self.table["sensitivity"]],
                textposition="top center",
                hovertemplate="recall %{x:.4f}<br>margin %{y:.4f}<extra>%{text}</extra>",
            )
        )
        fig.update_layout(
            title=self.title(),
            xaxis_title=f"recall@{k}",
            yaxis_title=f"margin of the hits per query (margin@{k})",
            template="plotly_white",
        )
        return fig

    def write(self, folder: str | Path) -> dict[str, Path]:
        """``sweep.json``, ``sweep.md`` and a self-contained ``sweep.html`` chart in ``folder``."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        paths = {
            "json": folder / "sweep.json",
            "markdown": folder / "sweep.md",
            "html": folder / "sweep.html",
        }
        write_atomically(paths["json"], json.dumps(self.to_dict(), indent=2, default=float))
        write_atomically(paths["markdown"], self.to_markdown())
        write_atomically(paths["html"], self.figure().to_html(include_plotlyjs=True))
        return paths


def margin_sweep(
    model: Recommender,
    split: Split,
    protocol: str = "basket-completion",
    sensitivities: Sequence[float] = DEFAULT_SENSITIVITIES,
    k: int = 10,
    *,
    overstock_boost: float = 0.0,
    split_name: str = "",
    max_queries: int | None = 10_000,
    seed: int = 0,
    quiet: bool = True,
) -> MarginSweep:
    """Fit ``model`` on ``split.train`` once and score its answers at every sensitivity.

    Parameters
    ----------
    model:
        An unfitted (or fitted: it is refitted) recommender.
    sensitivities:
        Margin sensitivities from 0 to 1; 0 is always added (the reference).
    k:
        The cut-off of every metric.
    overstock_boost:
        Also boost overstocked items (the same at every sensitivity).

    Returns
    -------
    MarginSweep
        One row per sensitivity: every metric of :data:`FAMILIES` at ``k`` and
        ``recall_change``, ``margin_change``, ``revenue_change`` relative to 0.
    """
    chosen = sorted({0.0, *(float(s) for s in sensitivities)})
    for s in chosen:
        BusinessRules(objective="margin", margin_sensitivity=s)  # one clear error per bad value
    if not np.isfinite(split.train.item_margins()).any():
        raise ValidationError(
            "a margin sweep needs item margins: the catalog has no cost or margin column "
            "(ingest a catalog mapping cost=COLUMN or margin=COLUMN)"
        )
    queries = make_queries(protocol, split, max_queries=max_queries, seed=seed)
    started = time.perf_counter()
    with progress_bar("margin sweep", total=len(chosen) + 1, quiet=quiet) as bar:
        bar.step(f"{model.name}: fitting", 0)
        model.fit(split.train)
        bar.step(f"{model.name}: fitted", 1)
        rows = []
        for s in chosen:
            rules = BusinessRules(
                objective="margin", margin_sensitivity=s, overstock_boost=overstock_boost
            )
            recs = recommend_queries(model, queries, k, rules=rules)
            metrics = score_recommendations(recs, queries, split.train, [k])
            rows.append({"sensitivity": s, **{f"{f}@{k}": metrics[f"{f}@{k}"] for f in FAMILIES}})
            bar.step(f"sensitivity {s:g}", 1)
    table = pd.DataFrame(rows)
    for family in ("recall", "margin", "revenue"):
        base = float(table[f"{family}@{k}"].iloc[0])
        table[f"{family}_change"] = (
            table[f"{family}@{k}"] / base - 1.0 if base else np.full(len(table), np.nan)
        )
    return MarginSweep(
        model=model.name,
        protocol=protocol,
        split=split_name,
        k=k,
        overstock_boost=overstock_boost,
        n_queries=len(queries),
        table=table,
        details={
            "train_baskets": split.train.n_baskets,
            "test_baskets": split.test.n_baskets,
            "seed": seed,
            "seconds": round(time.perf_counter() - started, 2),
        },
    )
