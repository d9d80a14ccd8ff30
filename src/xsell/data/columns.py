"""Canonical column names, the single home for the words used across xsell.

A *basket* is the set of items in one order (or session); a *line* is one
item of one basket; an *interaction* is (user, item, time, weight).
"""

from __future__ import annotations

from typing import Final

BASKET: Final = "basket_id"
USER: Final = "user_id"
ITEM: Final = "item_id"
TIME: Final = "time"
QUANTITY: Final = "quantity"
PRICE: Final = "price"
EVENT: Final = "event"
NAME: Final = "name"
CATEGORY: Final = "category"
BRAND: Final = "brand"
IN_STOCK: Final = "in_stock"
#: Units on hand (a catalog column); an item with 0 is out of stock.
STOCK: Final = "stock"
#: What one unit costs the shop, or what it earns on one unit (price - cost).
COST: Final = "cost"
MARGIN: Final = "margin"

#: Roles a source column can be mapped to for order lines (``--map role=Column``).
LINE_ROLES: Final = (BASKET, USER, ITEM, TIME, QUANTITY, PRICE, EVENT, NAME, CATEGORY)

#: Short role names accepted in ``--map`` (``user=CustomerID``).
ROLE_ALIASES: Final = {
    "basket": BASKET,
    "order": BASKET,
    "invoice": BASKET,
    "user": USER,
    "customer": USER,
    "item": ITEM,
    "product": ITEM,
    "time": TIME,
    "date": TIME,
    "quantity": QUANTITY,
    "qty": QUANTITY,
    "price": PRICE,
    "event": EVENT,
    "name": NAME,
    "description": NAME,
    "category": CATEGORY,
    "brand": BRAND,
    "in_stock": IN_STOCK,
    "available": IN_STOCK,
    "stock": STOCK,
    "cost": COST,
    "margin": MARGIN,
}

PURCHASE: Final = "purchase"
#: Event types the store knows; purchases make baskets, the others are browsing.
EVENT_TYPES: Final = (PURCHASE, "view", "cart")
