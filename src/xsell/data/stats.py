"""Figures about a store: sizes, date range, basket-size distribution, best sellers."""

from __future__ import annotations

from typing import Any

from xsell.data.store import Store

SIZE_BUCKETS = ((1, 1), (2, 2), (3, 3), (4, 5), (6, 10), (11, 20), (21, 50), (51, None))


def store_stats(store: Store, top: int = 10) -> dict[str, Any]:
    """Everything ``xsell stats`` prints, as a JSON-ready dict."""
    with store.connect() as con:
        row = con.execute(
            """
            SELECT count(*) FILTER (WHERE event = 'purchase'),
                   count(DISTINCT basket_id) FILTER (WHERE event = 'purchase'),
                   count(DISTINCT user_id),
                   count(DISTINCT item_id),
                   count(DISTINCT basket_id) FILTER (WHERE event = 'purchase' AND user_id IS NULL),
                   count(*) FILTER (WHERE event <> 'purchase'),
                   CAST(min(time) AS VARCHAR), CAST(max(time) AS VARCHAR)
            FROM lines
            """
        ).fetchall()[0]
        sizes = con.execute(
            """
            WITH s AS (SELECT count(DISTINCT item_id) AS n FROM lines WHERE event = 'purchase'
                       GROUP BY basket_id)
            SELECT avg(n), median(n), quantile_cont(n, 0.9), max(n) FROM s
            """
        ).fetchall()[0]
        histogram = dict(
            con.execute(
                """
                WITH s AS (SELECT count(DISTINCT item_id) AS n FROM lines
                           WHERE event = 'purchase' GROUP BY basket_id)
                SELECT n, count(*) FROM s GROUP BY n
                """
            ).fetchall()
        )
        best = con.execute(
            """
            SELECT l.item_id, any_value(i.name), count(DISTINCT l.basket_id), sum(l.quantity)
            FROM lines l LEFT JOIN items i USING (item_id)
            WHERE l.event = 'purchase'
            GROUP BY l.item_id ORDER BY 3 DESC, 1 LIMIT ?
            """,
            [top],
        ).fetchall()
        rejected = con.execute("SELECT count(*) FROM rejected").fetchall()[0][0]
        ingests = con.execute(
            "SELECT ingest_id, path, kind, rows_in, rows_kept, rows_rejected, "
            "CAST(finished_at AS VARCHAR) FROM ingests ORDER BY ingest_id"
        ).fetchall()
    buckets: dict[str, int] = {}
    for low, high in SIZE_BUCKETS:
        label = f"{low}" if low == high else (f"{low}-{high}" if high else f"{low}+")
        buckets[label] = sum(
            int(c) for n, c in histogram.items() if n >= low and (high is None or n <= high)
        )
    return {
        "lines": int(row[0]),
        "baskets": int(row[1]),
        "customers": int(row[2]),
        "items": int(row[3]),
        "anonymous_baskets": int(row[4]),
        "events": int(row[5]),
        "first_time": row[6],
        "last_time": row[7],
        "rejected": int(rejected),
        "basket_size": {
            "mean": float(sizes[0] or 0),
            "median": float(sizes[1] or 0),
            "p90": float(sizes[2] or 0),
            "max": float(sizes[3] or 0),
            "histogram": buckets,
        },
        "top_items": [
            {"item_id": r[0], "name": r[1], "baskets": int(r[2]), "quantity": float(r[3] or 0)}
            for r in best
        ],
        "ingests": [
            {
                "id": r[0],
                "path": r[1],
                "kind": r[2],
                "rows_in": r[3],
                "rows_kept": r[4],
                "rows_rejected": r[5],
                "finished_at": r[6],
            }
            for r in ingests
        ],
    }
