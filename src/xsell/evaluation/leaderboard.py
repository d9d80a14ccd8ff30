"""The leaderboard: models ranked by one metric; Rich table, JSON, markdown, chart, store row."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from rich.table import Table

from xsell.data.store import Store
from xsell.errors import StoreError, ValidationError, require
from xsell.files import write_atomically

LEADERBOARD_TABLE = """CREATE TABLE IF NOT EXISTS leaderboards (
    run_id VARCHAR PRIMARY KEY, created_at TIMESTAMP, protocol VARCHAR, split VARCHAR,
    dataset VARCHAR, payload JSON)"""

#: Metric families shown in a terminal (narrow) and in markdown/HTML (wide).
TERMINAL_METRICS = ("recall", "ndcg", "hit_rate")
#: Short column labels for the terminal table.
SHORT = {
    "recall": "R",
    "ndcg": "NDCG",
    "hit_rate": "HR",
    "coverage": "Cov",
    "recall_repeat": "Rrep",
    "recall_new": "Rnew",
    "precision": "P",
    "map": "MAP",
    "mrr": "MRR",
}
TABLE_METRICS = (
    "recall",
    "precision",
    "ndcg",
    "map",
    "mrr",
    "hit_rate",
    "attach_rate",
    "coverage",
    "novelty",
    "diversity",
    "revenue",
    "margin",
)


@dataclass
class Leaderboard:
    """Models' results on one protocol and split, best first by ``rank_by``.

    ``rows`` hold one dict per model: ``model``, ``params``, ``fit_s``,
    ``recommend_s``, ``queries_per_s``, ``n_queries`` and every metric as
    ``"name@k"``.
    """

    protocol: str
    split: str
    ks: list[int]
    rows: list[dict[str, Any]]
    dataset: str = ""
    n_queries: int = 0
    rank_by: str = ""
    details: dict[str, Any] = field(default_factory=dict)
    created_at: str = ""
    run_id: str = ""
    #: Why the last :meth:`write` drew no PNG (``None`` when it did).
    png_error: str | None = field(default=None, compare=False, repr=False)

    @classmethod
    def from_runs(
        cls,
        rows: Sequence[dict[str, Any]],
        *,
        protocol: str,
        split: str,
        ks: Sequence[int],
        dataset: str = "",
        n_queries: int = 0,
        rank_by: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> Leaderboard:
        """Rank rows by ``rank_by`` (default ``recall@10``, or recall at the middle k)."""
        ks = list(ks)
        key = rank_by or ("recall@10" if 10 in ks else f"recall@{ks[len(ks) // 2]}")
        ranked = sorted(rows, key=lambda r: -float(r.get(key, float("-inf"))))
        return cls(
            protocol=protocol,
            split=split,
            ks=ks,
            rows=list(ranked),
            dataset=dataset,
            n_queries=n_queries,
            rank_by=key,
            details=dict(details or {}),
            created_at=time.strftime("%Y-%m-%dT%H:%M:%S"),
            run_id=uuid.uuid4().hex[:12],
        )

    # ------------------------------------------------------------ views

    def metric_columns(self, families: Sequence[str] = TABLE_METRICS) -> list[str]:
        """Columns to show: recall at every k, then each other family at the ranking k.

        Next-basket boards also get repeat-item and new-item recall at the ranking k.
        """
        present = set().union(*(r.keys() for r in self.rows)) if self.rows else set()
        _, _, at = self.rank_by.partition("@")
        columns = [f"recall@{k}" for k in self.ks]
        columns += [f"{f}@{at}" for f in families if f != "recall"]
        columns += [f"recall_repeat@{at}", f"recall_new@{at}"]
        return [c for c in columns if c in present]

    def title(self) -> str:
        where = f"{self.dataset}, " if self.dataset else ""
        return f"{self.protocol} ({where}split {self.split or '?'}, {self.n_queries:,} queries)"

    def to_rich(self, families: Sequence[str] = TERMINAL_METRICS) -> Table:
        """A compact Rich table, best model first, the ranking metric's column bold."""
        table = Table(
            title=self.title(),
            caption="R recall, HR hit rate; best first",
            padding=(0, 1),
        )
        longest = max((len(str(r["model"])) for r in self.rows), default=5)
        table.add_column("model", no_wrap=True, min_width=longest)
        columns = self.metric_columns(families)
        for column in columns:
            style = "bold" if column == self.rank_by else None
            family, _, at = column.partition("@")
            table.add_column(
                f"{SHORT.get(family, family)}@{at}", justify="right", style=style, no_wrap=True
            )
        table.add_column("fit s", justify="right", no_wrap=True)
        table.add_column("q/s", justify="right", no_wrap=True)
        for row in self.rows:
            table.add_row(
                str(row["model"]),
                *(_fmt(row.get(c), 3) for c in columns),
                f"{row.get('fit_s', 0):.2f}",
                f"{row.get('queries_per_s', 0):.0f}",
            )
        return table

    def to_markdown(self, families: Sequence[str] = TABLE_METRICS) -> str:
        """A GitHub markdown table, best model first."""
        columns = self.metric_columns(families)
        head = ["#", "model", *columns, "fit s", "queries/s"]
        lines = [
            f"**{self.title()}** — ranked by {self.rank_by}",
            "",
            "| " + " | ".join(head) + " |",
            "|" + "|".join(["---:", "---", *["---:"] * (len(columns) + 2)]) + "|",
        ]
        for rank, row in enumerate(self.rows, start=1):
            cells = [
                str(rank),
                str(row["model"]),
                *(_fmt(row.get(c)) for c in columns),
                f"{row.get('fit_s', 0):.2f}",
                f"{row.get('queries_per_s', 0):,.0f}",
            ]
            lines.append("| " + " | ".join(cells) + " |")
        return "\n".join(lines) + "\n"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, default=str)

    @classmethod
    def from_dict(cls, payload: dict[str, Any]) -> Leaderboard:
        return cls(**payload)

    def figure(self, metric_family: str = "recall") -> Any:
        """A Plotly grouped bar chart of ``metric_family`` at every k per model."""
        go: Any = require("plotly.graph_objects", "report")
        figure = go.Figure()
        for k in self.ks:
            column = f"{metric_family}@{k}"
            figure.add_bar(
                name=column,
                x=[str(r["model"]) for r in self.rows],
                y=[float(r.get(column, 0.0)) for r in self.rows],
            )
        figure.update_layout(
            title=self.title(), barmode="group", yaxis_title=metric_family, xaxis_title="model"
        )
        return figure

    def write(self, folder: str | Path, png: bool = True) -> dict[str, Path | None]:
        """Write ``leaderboard.json``, ``.md``, ``.html`` (self-contained chart) and maybe ``.png``.

        The PNG needs Plotly's ``kaleido`` engine and a browser it can drive; when
        that fails the returned ``png`` entry is ``None`` and the HTML chart stands.
        """
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        written: dict[str, Path | None] = {
            "json": write_atomically(folder / "leaderboard.json", self.to_json()),
            "markdown": write_atomically(folder / "leaderboard.md", self.to_markdown()),
        }
        figure = self.figure()
        written["html"] = write_atomically(
            folder / "leaderboard.html", figure.to_html(include_plotlyjs=True, full_html=True)
        )
        written["png"] = None
        self.png_error = None
        if png:
            image = None
            # A browser that starts slowly on a busy machine gets a second chance.
            for _ in range(2):
                try:
                    image = figure.to_image(format="png")
                    break
                except Exception as exc:  # kaleido missing, or no browser for it offline
                    self.png_error = f"{type(exc).__name__}: {exc}"
            if image:
                written["png"] = write_atomically(folder / "leaderboard.png", image)
        return written

    # ------------------------------------------------------------ store

    def save_to_store(self, store: Store | str | Path) -> str:
        """Record this leaderboard in the store's ``leaderboards`` table; returns its run id."""
        store = store if isinstance(store, Store) else Store(store)
        with store.transaction() as con:
            con.execute(LEADERBOARD_TABLE)
            con.execute(
                "INSERT OR REPLACE INTO leaderboards VALUES (?, ?, ?, ?, ?, ?)",
                [
                    self.run_id,
                    self.created_at,
                    self.protocol,
                    self.split,
                    self.dataset,
                    self.to_json(),
                ],
            )
        return self.run_id


def latest_leaderboard(
    store: Store | str | Path, protocol: str | None = None
) -> Leaderboard | None:
    """The most recently saved leaderboard (of ``protocol`` when given), or ``None``."""
    store = store if isinstance(store, Store) else Store(store)
    with store.connect() as con:
        tables = {r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
        if "leaderboards" not in tables:
            return None
        sql = "SELECT payload FROM leaderboards"
        args: list[Any] = []
        if protocol is not None:
            sql += " WHERE protocol = ?"
            args.append(protocol)
        row = con.execute(sql + " ORDER BY created_at DESC, rowid DESC LIMIT 1", args).fetchone()
    if row is None:
        return None
    try:
        return Leaderboard.from_dict(json.loads(row[0]))
    except (TypeError, ValueError) as exc:
        raise StoreError(
            f"{store.path}: leaderboards table holds an unreadable payload: {exc}"
        ) from exc


def _fmt(value: Any, digits: int = 4) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def check_rank_metric(name: str, ks: Sequence[int]) -> None:
    """Fail clearly when a ranking metric is not one that will be computed."""
    families = {"precision", "recall", "f1", "hit_rate", "ndcg", "map", "mrr"}
    family, _, k = name.partition("@")
    if family not in families or not k.isdigit() or int(k) not in ks:
        raise ValidationError(
            f"rank metric must be one of {sorted(families)} at one of k={list(ks)} "
            f"(like recall@{ks[0]}), got {name!r}"
        )
