"""A shop's data: readers, cleaning, the DuckDB store, ShopData, splits, a synthetic shop.

``pseudonymize(customer_id, key)`` gives the keyed pseudonym an ingest with
``--pseudonymize`` stores for a customer id (see :mod:`xsell.data.privacy`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from xsell.data.privacy import pseudonymize
    from xsell.data.shopdata import ShopData
    from xsell.data.store import Store

__all__ = ["ShopData", "Store", "pseudonymize"]


def __getattr__(name: str) -> Any:
    # Lazy so that importing a small module of this package stays cheap.
    if name == "ShopData":
        from xsell.data.shopdata import ShopData

        return ShopData
    if name == "Store":
        from xsell.data.store import Store

        return Store
    if name == "pseudonymize":
        from xsell.data.privacy import pseudonymize

        return pseudonymize
    raise AttributeError(f"module 'xsell.data' has no attribute {name!r}")
