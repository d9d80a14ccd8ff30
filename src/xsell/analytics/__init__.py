"""Analytics a merchandiser reads: segments, baskets, sales, paths, bundles and the report.

Public API::

    rfm_segments(data, now=None)                      -> DataFrame (one row per customer)
    kmeans_segments(data, k_range=range(2, 9), seed=0) -> DataFrame
    segment_profiles(data, segments)                  -> DataFrame (one row per segment)
    save_segments(store, segments, method) / load_segments(store, method)
    basket_sizes, top_items, top_pairs, category_affinity, attach_rates,
    time_patterns, repurchase_intervals               (xsell.analytics.baskets)
    revenue_over_time, top_products, top_categories, order_figures,
    return_rates                                      (xsell.analytics.sales)
    funnel, transitions                               (xsell.analytics.paths)
    segment_rule_contrasts(data, segments)            (xsell.analytics.segment_rules)
    bundle_candidates(data, k=20)                     (xsell.analytics.bundles)
    build_report(store, out, fmt="html")              (xsell.analytics.report)

Every function raises :class:`Unavailable` (an :class:`~xsell.errors.XsellError`)
naming the missing input when the data cannot answer it (no prices, no customer
ids, no categories, no browsing events); the report turns that into a note.
"""

from xsell.analytics.clusters import kmeans_segments
from xsell.analytics.common import Unavailable
from xsell.analytics.rfm import rfm_segments
from xsell.analytics.segments import (
    SEGMENT_METHODS,
    compute_segments,
    load_segments,
    save_segments,
    segment_profiles,
)

__all__ = [
    "SEGMENT_METHODS",
    "Unavailable",
    "compute_segments",
    "kmeans_segments",
    "load_segments",
    "rfm_segments",
    "save_segments",
    "segment_profiles",
]
