"""Net cancellations against the purchases they cancel.

A cancellation line (an order whose id starts with the cancel prefix, e.g. Online
Retail's ``C581484``) undoes an earlier purchase: same customer, same item, the
same quantity (negated) and price, at an earlier time. Such a purchase is not a
sale, so it leaves the kept lines (it is recorded as rejected, reason
``cancelled``, naming the cancellation) and sales, segments, rules and models
never see it. Each cancellation nets at most one purchase: the latest earlier one
not netted yet. Cancellations that match nothing are counted.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb
import numpy as np
import pandas as pd


@dataclass
class NettingResult:
    """How many cancellations netted a purchase of this file or of earlier ingests, or none."""

    netted_here: int = 0
    netted_earlier: int = 0
    unmatched: int = 0

    @property
    def netted(self) -> int:
        return self.netted_here + self.netted_earlier


def net_cancellations(
    con: duckdb.DuckDBPyConnection, ingest_id: int, price_is_line_total: bool
) -> NettingResult:
    """Net the ``cancellation`` rows of the temp table ``cleaned`` (in the ingest's transaction).

    Purchases of this ingest (kept rows of ``cleaned``) get reason ``cancelled``;
    purchases of earlier ingests move from ``lines`` to ``rejected`` with that reason.
    """
    unit = (
        "abs(price_value) / NULLIF(abs(quantity_value), 0)"
        if price_is_line_total
        else "price_value"
    )
    cancels = con.execute(
        f"""
        SELECT source_line, user_id, item, -quantity_value AS quantity, {unit} AS price,
               time_value AS time, basket
        FROM cleaned
        WHERE reason = 'cancellation' AND user_id IS NOT NULL AND quantity_value < 0
        """
    ).df()
    total = int(
        con.execute("SELECT count(*) FROM cleaned WHERE reason = 'cancellation'").fetchall()[0][0]
    )
    if cancels.empty:
        return NettingResult(unmatched=total)
    con.register("cancels", cancels)
    kept_unit = (
        "price_value / NULLIF(COALESCE(quantity_value, 1.0), 0)"
        if price_is_line_total
        else "price_value"
    )
    candidates = con.execute(
        f"""
        WITH purchases AS (
            SELECT 0 AS earlier, ? AS ingest_id, source_line, user_id, item,
                   COALESCE(quantity_value, 1.0) AS quantity, {kept_unit} AS price,
                   time_value AS time
            FROM cleaned WHERE reason IS NULL AND event = 'purchase'
            UNION ALL
            SELECT 1, ingest_id, source_line, user_id, item_id, quantity, price, time
            FROM lines WHERE event = 'purchase'
                AND user_id IN (SELECT user_id FROM cancels)
        )
        SELECT c.source_line AS cancel_line, p.earlier, p.ingest_id, p.source_line, p.time
        FROM cancels c JOIN purchases p
          ON p.user_id = c.user_id AND p.item = c.item AND p.quantity = c.quantity
         AND p.price IS NOT DISTINCT FROM c.price
        WHERE (p.time IS NULL OR c.time IS NULL OR p.time <= c.time)
          AND (p.earlier = 1 OR c.time IS NOT NULL OR p.source_line < c.source_line)
        """,
        [ingest_id],
    ).df()
    con.unregister("cancels")
    matches = greedy_matches(cancels, candidates)
    result = NettingResult(unmatched=total - len(matches))
    if not matches:
        return result
    chosen = pd.DataFrame(
        matches, columns=["cancel_line", "earlier", "ingest_id", "source_line"]
    ).merge(cancels[["source_line", "basket"]].rename(columns={"source_line": "cancel_line"}))
    here = chosen[chosen["earlier"] == 0]
    earlier = chosen[chosen["earlier"] == 1]
    result.netted_here, result.netted_earlier = len(here), len(earlier)
    if len(here):
        con.register("netted", here)
        con.execute(
            """
            UPDATE cleaned SET reason = 'cancelled',
                   detail = 'cancelled by ' || n.basket || ' (line ' || n.cancel_line || ')'
            FROM netted n WHERE cleaned.source_line = n.source_line
            """
        )
        con.unregister("netted")
    if len(earlier):
        con.register("netted", earlier)
        con.execute(
            """
            INSERT INTO rejected (ingest_id, path, source_line, reason, detail, raw,
                                  source_key, user_id)
            SELECT l.ingest_id, i.path, l.source_line, 'cancelled',
                   'cancelled by ' || n.basket || ' (ingest ' || ? || ', line ' ||
                   n.cancel_line || ')',
                   to_json({basket_id: l.basket_id, user_id: l.user_id, item_id: l.item_id,
                            time: l.time, quantity: l.quantity, price: l.price}),
                   l.source_key, l.user_id
            FROM lines l JOIN netted n USING (ingest_id, source_line)
            LEFT JOIN ingests i USING (ingest_id)
            """,
            [ingest_id],
        )
        con.execute(
            "DELETE FROM lines USING netted n "
            "WHERE lines.ingest_id = n.ingest_id AND lines.source_line = n.source_line"
        )
        con.unregister("netted")
    return result


def greedy_matches(
    cancels: pd.DataFrame,
    candidates: pd.DataFrame,
    taken: set[tuple[int, int]] | None = None,
) -> list[tuple[int, int, int, int]]:
    """Each cancellation, in time order, takes the latest earlier purchase no other one took.

    ``cancels`` has ``source_line`` and ``time``; ``candidates`` one row per
    (cancellation, purchase it may cancel): ``cancel_line, earlier, ingest_id,
    source_line, time``. Returns ``(cancel_line, earlier, ingest_id, source_line)``
    per match. ``taken`` holds the ``(ingest_id, source_line)`` of purchases netted
    already (by an earlier file's cancellations) and gains the new ones. Only
    purchases of the same customer, item, quantity and price compete, so any
    partition of the data by customer and item gives the same matches.
    """
    if candidates.empty:
        return []
    ranked = candidates.sort_values(
        ["cancel_line", "time", "earlier", "ingest_id", "source_line"],
        # Among equal times this source's purchases (later than earlier ingests') come first.
        ascending=[True, False, True, False, False],
        kind="stable",
        na_position="last",
    )
    lines = ranked["cancel_line"].to_numpy()
    earlier = ranked["earlier"].to_numpy().tolist()
    keys = list(
        zip(
            ranked["ingest_id"].to_numpy().tolist(),
            ranked["source_line"].to_numpy().tolist(),
            strict=True,
        )
    )
    starts = np.flatnonzero(np.r_[True, lines[1:] != lines[:-1]])
    ends = np.r_[starts[1:], len(lines)]
    span = {int(lines[a]): (int(a), int(b)) for a, b in zip(starts, ends, strict=True)}
    order = cancels.sort_values(["time", "source_line"], kind="stable", na_position="first")
    taken = set() if taken is None else taken
    out: list[tuple[int, int, int, int]] = []
    for line in order["source_line"].to_numpy().tolist():
        if line not in span:
            continue
        a, b = span[line]
        for at in range(a, b):
            key = keys[at]
            if key not in taken:
                taken.add(key)
                out.append((int(line), int(earlier[at]), int(key[0]), int(key[1])))
                break
    return out
