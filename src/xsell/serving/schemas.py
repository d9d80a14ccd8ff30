"""Request and response bodies of the HTTP API (pydantic), documented in the OpenAPI schema."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    StringConstraints,
    Tag,
    model_validator,
)

from xsell.models import BusinessRules

#: Largest ``k`` an API caller may ask for.
MAX_K = 100

ItemId = Annotated[str, StringConstraints(min_length=1, max_length=200)]
CustomerId = Annotated[str, StringConstraints(min_length=1, max_length=200)]
#: What a personalized answer holds: mixed (as ranked), explore (only items the customer
#: never bought) or repeat (only items they bought); the values of ``xsell.models.MODES``.
Mode = Literal["mixed", "explore", "repeat"]
Category = Annotated[str, StringConstraints(min_length=1, max_length=200)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class RuleOptions(_Strict):
    """The business rules of a request; each maps to a :class:`BusinessRules` field."""

    exclude_bought: StrictBool = Field(
        False, description="Leave out what the customer bought before."
    )
    in_stock_only: StrictBool = Field(False, description="Leave out items marked out of stock.")
    categories: list[Category] | None = Field(
        None, max_length=500, description="Only items of these categories."
    )
    exclude_categories: list[Category] = Field(
        default_factory=list, max_length=500, description="Never items of these categories."
    )
    complements_only: StrictBool = Field(
        False, description="Never items of the categories already in the basket."
    )
    # Strict: a JSON boolean is not a price (lax pydantic reads false as 0.0).
    min_price: StrictFloat | None = Field(None, description="Lowest price (inclusive).")
    max_price: StrictFloat | None = Field(None, description="Highest price (inclusive).")
    max_per_category: StrictInt | None = Field(
        None, ge=1, le=1000, description="At most this many suggestions of one category."
    )
    allow: list[ItemId] | None = Field(None, max_length=10_000, description="Only these items.")
    deny: list[ItemId] = Field(default_factory=list, max_length=10_000, description="Never these.")
    objective: Literal["relevance", "margin"] = Field(
        "relevance",
        description="'margin': rank by expected margin (relevance x margin ** sensitivity).",
    )
    margin_sensitivity: StrictFloat = Field(
        0.5, ge=0.0, le=1.0, description="With objective 'margin': 0 relevance only, 1 margin."
    )
    overstock_boost: StrictFloat = Field(
        0.0, ge=0.0, le=100.0, description="Up to this much more score for overstocked items."
    )

    @model_validator(mode="after")
    def _price_band(self) -> RuleOptions:
        low, high = self.min_price, self.max_price
        if low is not None and high is not None and low > high:
            raise ValueError(f"min_price {low} is above max_price {high}")
        return self

    def business_rules(self) -> BusinessRules:
        return BusinessRules(
            exclude_bought=self.exclude_bought,
            in_stock_only=self.in_stock_only,
            categories=None if self.categories is None else tuple(self.categories),
            exclude_categories=tuple(self.exclude_categories),
            complements_only=self.complements_only,
            min_price=self.min_price,
            max_price=self.max_price,
            max_per_category=self.max_per_category,
            allow=None if self.allow is None else tuple(self.allow),
            deny=tuple(self.deny),
            objective=self.objective,
            margin_sensitivity=self.margin_sensitivity,
            overstock_boost=self.overstock_boost,
        )


class BasketRequest(RuleOptions):
    """Complete a cart: the items in it, optionally who is buying, and the rules."""

    items: list[ItemId] = Field(
        ..., min_length=1, description="Item ids in the cart (at most the server's max_basket)."
    )
    customer: CustomerId | None = Field(None, description="Customer id, when signed in.")
    session: CustomerId | None = Field(
        None, description="A guest's session id: what an experiment assigns without a customer."
    )
    k: StrictInt = Field(10, ge=1, le=MAX_K, description="How many suggestions.")
    explain: StrictBool = Field(
        False, description="Add the business-rule trace and a learned ranker's contributions."
    )
    fallback: StrictBool = Field(
        False, description="Answer unknown items with best sellers instead of 404."
    )
    mode: Mode = Field(
        "mixed",
        description="For a known customer: mixed, explore (only items they never bought) "
        "or repeat (only items they bought).",
    )


class ContributionOut(BaseModel):
    """How much one feature group moved a learned ranker's score, and what it says."""

    feature: str
    contribution: float
    words: str


class ContributionsOut(BaseModel):
    """A learned ranker's raw score of one suggestion as ``base`` plus the contributions."""

    base: float = Field(description="The ranker's expected score (SHAP base value).")
    score: float = Field(description="base plus every contribution: the raw score.")
    contributions: list[ContributionOut] = Field(description="Largest effect first.")


class SuggestionOut(BaseModel):
    """One suggested item and why."""

    item_id: str
    name: str | None
    category: str | None
    price: float | None
    score: float
    reasons: list[str] = Field(description="Why, in words a merchandiser understands.")
    source: Literal["model", "fallback"] = Field(
        description="'model', or 'fallback' (best sellers) where the model had no evidence."
    )
    contributions: ContributionsOut | None = Field(
        None,
        description="With explain=true, for learned rankers: SHAP contributions of the score.",
    )


class AnswerOut(BaseModel):
    """Suggestions for one request."""

    model: str = Field(description="Registry name of the model that answered.")
    model_version: str = Field(description="Id of the loaded bundle.")
    recommendation_id: str = Field(
        description="Id of this answer: send it with the impression, click, cart and order "
        "events that follow it."
    )
    arm: str | None = Field(
        description="The experiment arm that answered (null when no experiment runs, or the "
        "request named no customer or session)."
    )
    items: list[SuggestionOut]
    unknown_items: list[str] = Field(description="Request ids the model does not know.")
    trace: dict[str, list[str]] | None = Field(
        description="With explain=true: each business rule and the item ids it removed."
    )


class BundleItemOut(BaseModel):
    item_id: str
    name: str | None
    category: str | None
    price: float | None


class BundlePriceOut(BaseModel):
    """The suggested bundle discount and what it assumes."""

    list_price: float
    margin: float = Field(description="What the bundle earns at list price (sum of unit margins).")
    discount: float = Field(description="Suggested discount, a share of the list price.")
    price: float = Field(description="The bundle's price after the discount.")
    margin_share_after: float = Field(description="Margin as a share of the discounted price.")
    extra_margin_per_sale: float = Field(
        description="Expected extra margin, per sale the bundle made at list price."
    )
    limited_by: str = Field(
        description="optimum, margin floor, demand (no discount pays) or largest discount."
    )
    assumptions: str


class BundleOut(BaseModel):
    items: list[BundleItemOut]
    combined_price: float | None = Field(description="Sum of the prices (null if one is unknown).")
    strength: dict[str, float] = Field(description="lift/confidence/support/count, or score.")
    pricing: BundlePriceOut | None = Field(
        None, description="Suggested discount (null when an item's price or margin is unknown)."
    )


class BundlesOut(BaseModel):
    item_id: str
    model_version: str
    source: Literal["association_rules", "model_complements"]
    note: str
    bundles: list[BundleOut]


EventType = Literal["order", "cart", "view", "impression", "click"]


class EventIn(_Strict):
    """A live event: an order (its basket), a cart (items added to it), a product view, or
    an impression / click of suggested items (orders alone teach the model)."""

    type: EventType
    items: list[ItemId] = Field(..., min_length=1, max_length=1000)
    customer: CustomerId | None = None
    session: CustomerId | None = Field(None, description="A guest's session id.")
    recommendation_id: Annotated[str, StringConstraints(min_length=1, max_length=64)] | None = (
        Field(None, description="The answer this event follows up (its recommendation_id).")
    )
    prices: list[StrictFloat | None] | None = Field(
        None,
        max_length=1000,
        description="Prices paid, one per item (an order's cross-sell revenue); default: the "
        "prices the suggestions showed.",
    )
    time: Annotated[str, StringConstraints(max_length=64)] | None = Field(
        None, description="When it happened at the client (ISO 8601), kept as given."
    )
    idempotency_key: Annotated[str, StringConstraints(min_length=1, max_length=200)] | None = Field(
        None,
        description="A retried post with the same key is logged and learned once "
        "(across workers, and on replay); the answer gives the first post's id.",
    )

    @model_validator(mode="after")
    def _prices_match(self) -> EventIn:
        if self.prices is not None and len(self.prices) != len(self.items):
            raise ValueError(
                f"prices holds {len(self.prices)} values for {len(self.items)} items; "
                "give one price per item (null where unknown)"
            )
        return self


class EventBatchIn(_Strict):
    """Several events in one request."""

    events: list[EventIn] = Field(..., min_length=1)


def _event_shape(value: Any) -> str:
    return "batch" if isinstance(value, dict) and "events" in value else "event"


#: A request body of ``POST /v1/events``: one event, or ``{"events": [...]}``. The shape is
#: told by the ``events`` key, so a 422 lists the errors of that shape only.
EventsBody = Annotated[
    Annotated[EventIn, Tag("event")] | Annotated[EventBatchIn, Tag("batch")],
    Discriminator(_event_shape),
]


class EventsAcceptedOut(BaseModel):
    accepted: int = Field(description="Events written now (repeats of a known key are not).")
    duplicates: int = Field(description="Events whose idempotency key was already logged.")
    ids: list[str] = Field(description="Ids of the events, in request order; all are durable.")


class ArmOut(BaseModel):
    arm: str
    bundle: str
    weight: float
    model: str
    model_version: str


class ExperimentOut(BaseModel):
    experiment: str | None = Field(description="The experiment running (null: none).")
    arms: list[ArmOut]


class ModelOut(BaseModel):
    model: str
    model_version: str
    bundle: str
    params: dict[str, Any]
    fitted_on: str | None
    saved_at: str | None
    metrics: dict[str, Any]
    n_items: int
    n_customers: int
    loaded_at: float
    reloads: int
    live_updates: bool
    events_applied: int
    orders_learned: int
    warm_up_seconds: float = Field(description="First answer and update at load (compiling).")
    bundles_source: str


class ReloadIn(_Strict):
    bundle: Annotated[str, StringConstraints(min_length=1, max_length=4096)] | None = Field(
        None,
        description="Bundle folder to serve, relative to the server's bundle root (or an "
        "absolute path inside it); default: the one being served.",
    )


class ReloadOut(BaseModel):
    model: str
    model_version: str
    previous_version: str
    bundle: str
    seconds: float


class HealthOut(BaseModel):
    status: str


class ErrorOut(BaseModel):
    detail: Any
