"""Format presets: how the exports of known shops and public data sets map to xsell's columns."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Final

from xsell.data import columns as C
from xsell.errors import ValidationError

#: Codes of postage, fees and adjustments that are not products (Online Retail and the like).
DEFAULT_NON_PRODUCT_CODES: Final = (
    "POST",
    "DOT",
    "M",
    "m",
    "C2",
    "D",
    "S",
    "B",
    "CRUK",
    "PADS",
    "BANK CHARGES",
    "AMAZONFEE",
    "ADJUST",
    "ADJUST2",
    "TEST001",
    "TEST002",
)


@dataclass(frozen=True)
class Preset:
    """How to read one kind of file.

    Attributes
    ----------
    name:
        Registry key, as given to ``--preset``.
    layout:
        ``"table"`` (one line per row) or ``"baskets"`` (one basket per line).
    mapping:
        xsell role -> source column name.
    delimiter:
        Field separator for CSV and basket files (``None``: sniff for CSV).
    time_format:
        ``strptime`` format of the time column (``None``: ISO 8601).
    cancel_prefix:
        Basket ids starting with it are cancellations.
    non_product_codes:
        Item ids that are fees, postage or adjustments, not products.
    price_is_line_total:
        The price column holds the line total (divide by quantity).
    catalog_mapping:
        Role -> column of the matching catalog file, if the data set has one.
    """

    name: str
    layout: str = "table"
    mapping: dict[str, str] = field(default_factory=dict)
    delimiter: str | None = None
    time_format: str | None = None
    cancel_prefix: str | None = None
    non_product_codes: tuple[str, ...] = ()
    price_is_line_total: bool = False
    catalog_mapping: dict[str, str] = field(default_factory=dict)
    description: str = ""

    def with_mapping(self, extra: dict[str, str]) -> Preset:
        """A copy whose mapping is updated by ``extra`` (explicit ``--map`` wins)."""
        return replace(self, mapping={**self.mapping, **extra})


PRESETS: Final[dict[str, Preset]] = {
    p.name: p
    for p in (
        Preset(
            name="generic",
            description="any table; map columns with --map",
        ),
        Preset(
            name="online-retail",
            description="UCI Online Retail CSV (InvoiceNo, StockCode, ... CustomerID)",
            mapping={
                C.BASKET: "InvoiceNo",
                C.ITEM: "StockCode",
                C.NAME: "Description",
                C.QUANTITY: "Quantity",
                C.TIME: "InvoiceDate",
                C.PRICE: "UnitPrice",
                C.USER: "CustomerID",
            },
            cancel_prefix="C",
            non_product_codes=DEFAULT_NON_PRODUCT_CODES,
        ),
        Preset(
            name="online-retail-ii",
            description="UCI Online Retail II (Invoice, StockCode, ... Customer ID)",
            mapping={
                C.BASKET: "Invoice",
                C.ITEM: "StockCode",
                C.NAME: "Description",
                C.QUANTITY: "Quantity",
                C.TIME: "InvoiceDate",
                C.PRICE: "Price",
                C.USER: "Customer ID",
            },
            cancel_prefix="C",
            non_product_codes=DEFAULT_NON_PRODUCT_CODES,
        ),
        Preset(
            name="instacart",
            description="Instacart order_products lines (order_id, product_id, ...) + products.csv",
            mapping={C.BASKET: "order_id", C.ITEM: "product_id"},
            catalog_mapping={C.ITEM: "product_id", C.NAME: "product_name"},
        ),
        Preset(
            name="complete-journey",
            description="84.51 Complete Journey transactions (household_id, basket_id, ...)",
            mapping={
                C.BASKET: "basket_id",
                C.USER: "household_id",
                C.ITEM: "product_id",
                C.QUANTITY: "quantity",
                C.PRICE: "sales_value",
                C.TIME: "transaction_timestamp",
            },
            price_is_line_total=True,
            catalog_mapping={
                C.ITEM: "product_id",
                C.CATEGORY: "product_category",
                C.BRAND: "brand",
                C.NAME: "product_type",
            },
        ),
        Preset(
            name="events",
            description="browsing events: user_id, item_id, time, event (view or cart)",
            mapping={C.USER: "user_id", C.ITEM: "item_id", C.TIME: "time", C.EVENT: "event"},
        ),
        Preset(
            name="baskets",
            layout="baskets",
            delimiter=",",
            description="one basket per line, items separated by commas (groceries.csv)",
        ),
        Preset(
            name="fimi",
            layout="baskets",
            delimiter=" ",
            description="one basket per line, integer item ids separated by spaces (FIMI .dat)",
        ),
    )
}

#: A catalog file of the generic shape: the usual column names map themselves.
CATALOG_GUESSES: Final = {
    C.ITEM: ("item_id", "product_id", "sku", "id", "StockCode"),
    C.NAME: ("name", "product_name", "title", "Description", "description"),
    C.CATEGORY: ("category", "department", "product_category", "aisle"),
    C.BRAND: ("brand", "manufacturer"),
    C.PRICE: ("price", "unit_price", "UnitPrice", "Price"),
    C.IN_STOCK: ("in_stock", "available"),
    C.STOCK: ("stock", "stock_level", "on_hand", "inventory"),
    C.COST: ("cost", "unit_cost", "cost_price"),
    C.MARGIN: ("margin", "unit_margin"),
}


def get_preset(name: str) -> Preset:
    """Look a preset up by name; the error lists the known ones."""
    try:
        return PRESETS[name]
    except KeyError:
        raise ValidationError(f"unknown preset {name!r}; choose one of {sorted(PRESETS)}") from None


def parse_mapping(text: str | None) -> dict[str, str]:
    """Parse ``user=CustomerID,item=StockCode`` into ``{"user_id": "CustomerID", ...}``."""
    if not text:
        return {}
    mapping: dict[str, str] = {}
    for part in text.split(","):
        if not part.strip():
            continue
        role, sep, column = part.partition("=")
        role = role.strip().lower()
        if not sep or not column.strip():
            raise ValidationError(
                f"--map entry {part.strip()!r} is not of the form role=Column "
                f"(e.g. user=CustomerID,item=StockCode)"
            )
        if role not in C.ROLE_ALIASES:
            raise ValidationError(
                f"--map role {role!r} is unknown; choose one of {sorted(C.ROLE_ALIASES)}"
            )
        mapping[C.ROLE_ALIASES[role]] = column.strip()
    return mapping
