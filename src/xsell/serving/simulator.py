"""A shop simulator: synthetic-shop customers who react to suggestions by the known truth.

Each simulated session is a guest with a cart drawn from the shop's real orders.
It asks for suggestions, sees them (an ``impression``), clicks a suggested item
with a high probability when the item is a *planted* complement of something in
the cart (the synthetic shop's known truth) and a low one otherwise, adds some
clicked items to the cart and orders the cart. A model that finds the planted
complements therefore earns more cross-sell revenue than one that does not.

The same sessions run against a live server over HTTP (:class:`HttpShop`) or
offline, in process, through the same assignment and attribution code
(:func:`offline_experiment`), which makes many repeated runs (an A/A check) cheap.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np

from xsell.data.synthetic import SyntheticShop
from xsell.evaluation.experiment import Arm, ExperimentEvent, assign, attribute
from xsell.evaluation.uplift import summarize
from xsell.models import BusinessRules, Recommender
from xsell.serving import answers

#: ``ask(session, cart) -> answer``: an API answer (``items`` with ``item_id`` and ``price``).
Ask = Callable[[str, list[str]], dict[str, Any]]


@dataclass(frozen=True)
class Behaviour:
    """How simulated shoppers react to a suggestion."""

    #: probability of clicking a suggested planted complement of an item in the cart
    click_complement: float = 0.35
    #: probability of clicking any other suggestion
    click_other: float = 0.03
    #: probability that a click ends in the cart (and so in the order)
    cart_after_click: float = 0.6


def complements_of(shop: SyntheticShop) -> dict[str, set[str]]:
    """Item -> its planted complements (pairs and triples, both ways)."""
    partners: dict[str, set[str]] = {}
    for pair in shop.planted_pairs:
        partners.setdefault(pair.anchor, set()).add(pair.partner)
        partners.setdefault(pair.partner, set()).add(pair.anchor)
    for triple in shop.planted_triples:
        for item in triple.items:
            partners.setdefault(item, set()).update(set(triple.items) - {item})
    return partners


@dataclass(frozen=True)
class Session:
    """One simulated guest: its id and the cart it brings."""

    id: str
    cart: list[str]
    draws: np.ndarray  # uniform draws for its clicks and carts (2 per suggestion)


def sessions(shop: SyntheticShop, n: int, seed: int, k: int = 10) -> Iterator[Session]:
    """``n`` sessions whose carts are the organic items of the shop's orders (at most 3)."""
    baskets = shop.lines.groupby("basket_id", sort=True)["item_id"].agg(list).tolist()
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, len(baskets), n)
    for i, pick in enumerate(picks):
        cart = list(dict.fromkeys(str(x) for x in baskets[pick]))[:3]
        yield Session(f"sim-{seed}-{i}", cart, rng.random(2 * k))


def react(
    session: Session, answer: dict[str, Any], partners: dict[str, set[str]], behaviour: Behaviour
) -> list[dict[str, Any]]:
    """The events a session posts after seeing ``answer``: impression, clicks, carts, order."""
    suggested = [item["item_id"] for item in answer["items"]]
    wanted = set().union(*(partners.get(i, set()) for i in session.cart))
    clicked, carted = [], []
    for n, item in enumerate(suggested):
        p = behaviour.click_complement if item in wanted else behaviour.click_other
        if session.draws[2 * n] < p:
            clicked.append(item)
            if session.draws[2 * n + 1] < behaviour.cart_after_click:
                carted.append(item)
    follow = {"session": session.id, "recommendation_id": answer["recommendation_id"]}
    events = [{"type": "impression", "items": suggested, **follow}] if suggested else []
    if clicked:
        events.append({"type": "click", "items": clicked, **follow})
    if carted:
        events.append({"type": "cart", "items": carted, **follow})
    events.append({"type": "order", "items": session.cart + carted, **follow})
    return events


class HttpShop:
    """Sessions against a running ``xsell serve`` (``/v1/recommendations/basket``, events)."""

    def __init__(self, url: str, api_key: str | None = None, k: int = 10) -> None:
        import httpx

        headers = {"X-API-Key": api_key} if api_key else {}
        self.client = httpx.Client(base_url=url.rstrip("/"), headers=headers, timeout=30.0)
        self.k = k

    def close(self) -> None:
        self.client.close()

    def _check(self, response: Any) -> Any:
        from xsell.errors import XsellError

        if response.status_code >= 400:
            raise XsellError(
                f"{response.request.method} {response.request.url} answered "
                f"{response.status_code}: {response.text[:300]}"
            )
        return response.json()

    def ask(self, session: str, cart: list[str]) -> dict[str, Any]:
        body = {"items": cart, "session": session, "k": self.k, "fallback": True}
        return dict(self._check(self.client.post("/v1/recommendations/basket", json=body)))

    def send(self, events: list[dict[str, Any]]) -> None:
        self._check(self.client.post("/v1/events", json={"events": events}))

    def report(self) -> dict[str, Any] | None:
        """The server's experiment report (``None`` when no experiment runs)."""
        response = self.client.get("/v1/experiment/report")
        if response.status_code == 404:
            return None
        return dict(self._check(response))


def run_http(
    shop: SyntheticShop,
    target: HttpShop,
    n: int,
    seed: int,
    behaviour: Behaviour | None = None,
    threads: int = 4,
    step: Callable[[], None] | None = None,
) -> dict[str, int]:
    """Replay ``n`` sessions against the server; returns counts of what they did."""
    behaviour = behaviour or Behaviour()
    partners = complements_of(shop)
    totals = {"sessions": 0, "suggested": 0, "clicked": 0, "carted": 0}

    def one(session: Session) -> list[dict[str, Any]]:
        answer = target.ask(session.id, session.cart)
        events = react(session, answer, partners, behaviour)
        target.send(events)
        return events

    with ThreadPoolExecutor(threads) as pool:
        for events in pool.map(one, sessions(shop, n, seed, target.k)):
            _count(totals, events)
            if step is not None:
                step()
    return totals


def _count(totals: dict[str, int], events: list[dict[str, Any]]) -> None:
    totals["sessions"] += 1
    for event in events:
        name = {"impression": "suggested", "click": "clicked", "cart": "carted"}.get(event["type"])
        if name is not None:
            totals[name] += len(event["items"])


class LocalArms:
    """Answers of the arms' models in process, as the server gives them (memoised by cart)."""

    def __init__(self, models: dict[str, Recommender], k: int = 10) -> None:
        self.models = models
        self.k = k
        self._memo: dict[tuple[str, tuple[str, ...]], dict[str, Any]] = {}

    def answer(self, arm: str, cart: Sequence[str]) -> dict[str, Any]:
        key = (arm, tuple(cart))
        found = self._memo.get(key)
        if found is None:
            found = answers.basket_answer(
                self.models[arm], list(cart), self.k, BusinessRules(), fallback=True
            )
            self._memo[key] = found
        return found


def offline_experiment(
    shop: SyntheticShop,
    arms: Sequence[Arm],
    local: LocalArms,
    n: int,
    seed: int,
    name: str = "offline",
    behaviour: Behaviour | None = None,
) -> dict[str, Any]:
    """One experiment of ``n`` sessions in process: assigned, answered, attributed, summarised.

    Session ``i`` happens at second ``i`` of the run; everything else is as on the server.
    """
    behaviour = behaviour or Behaviour()
    partners = complements_of(shop)
    events: list[ExperimentEvent] = []
    for t, session in enumerate(sessions(shop, n, seed, local.k)):
        arm = assign(name, session.id, arms)
        found = local.answer(arm, session.cart)
        rec_id = f"{session.id}-r"
        items = tuple(item["item_id"] for item in found["items"])
        prices = tuple(item["price"] for item in found["items"])
        events.append(ExperimentEvent("recommendation", session.id, t, items, arm, rec_id, prices))
        for event in react(session, {**found, "recommendation_id": rec_id}, partners, behaviour):
            events.append(
                ExperimentEvent(event["type"], session.id, t + 0.5, tuple(event["items"]))
            )
    return summarize(name, attribute(events), arms)
