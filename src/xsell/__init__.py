"""xsell: a cross-selling engine for e-commerce.

Ingest a shop's orders into an embedded DuckDB store, mine association rules,
fit and evaluate cross-sell recommenders, and serve them over HTTP.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from xsell.data.shopdata import ShopData

__all__ = ["ShopData", "__version__", "load_model", "make_model"]


def __getattr__(name: str) -> Any:
    # Lazy so that ``import xsell`` stays cheap (the CLI imports it on every call).
    if name == "ShopData":
        from xsell.data.shopdata import ShopData

        return ShopData
    if name in ("make_model", "load_model"):
        from xsell import models

        return getattr(models, name)
    raise AttributeError(f"module 'xsell' has no attribute {name!r}")
