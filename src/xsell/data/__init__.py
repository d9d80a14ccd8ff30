"""A shop's data: readers, cleaning, the DuckDB store, ShopData, splits, a synthetic shop."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from xsell.data.shopdata import ShopData
    from xsell.data.store import Store

__all__ = ["ShopData", "Store"]


def __getattr__(name: str) -> Any:
    # Lazy so that importing a small module of this package stays cheap.
    if name == "ShopData":
        from xsell.data.shopdata import ShopData

        return ShopData
    if name == "Store":
        from xsell.data.store import Store

        return Store
    raise AttributeError(f"module 'xsell.data' has no attribute {name!r}")
