"""The FastAPI application: ``create_app(settings)`` builds it, ``lifespan`` loads the model.

Routes stay thin: they check input and access, then ask :mod:`xsell.serving.answers`.
Handlers are ``async`` and compute on the event loop (a request takes about a
millisecond). Slow work runs in worker threads: loading a bundle, the fsync of
the events log, and learning from events, which a background applier does in
batches on a copy of the model before swapping it in (see :mod:`.state`).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import math
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import anyio
import orjson
from fastapi import (
    APIRouter,
    Body,
    Depends,
    FastAPI,
    Header,
    HTTPException,
    Query,
    Request,
    status,
)
from fastapi import Path as PathParam
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.routing import APIRoute
from fastapi_offline import FastAPIOffline
from starlette.exceptions import HTTPException as StarletteHTTPException

from xsell import __version__
from xsell.data.privacy import pseudonymize, read_key
from xsell.errors import InputFileError, XsellError
from xsell.evaluation.experiment import Arm, assign
from xsell.models import BusinessRules
from xsell.serving import answers
from xsell.serving.bundles import describe
from xsell.serving.cache import AnswerCache
from xsell.serving.dashboard.routes import dashboard_router
from xsell.serving.events import EventLog, LoggedEvent, new_event_id
from xsell.serving.experiments import experiment_report, start_event
from xsell.serving.limits import BodyLimit
from xsell.serving.metrics import Metrics, MetricsMiddleware
from xsell.serving.page_cache import PageCache
from xsell.serving.schemas import (
    MAX_K,
    AnswerOut,
    BasketRequest,
    BundlesOut,
    ErrorOut,
    EventBatchIn,
    EventsAcceptedOut,
    EventsBody,
    ExperimentOut,
    HealthOut,
    Mode,
    ModelOut,
    ReloadIn,
    ReloadOut,
)
from xsell.serving.security import Gatekeeper, add_cors, api_key_header
from xsell.serving.settings import ServeSettings
from xsell.serving.shared import RedisLink
from xsell.serving.state import ModelState, ServedModel, advance

log = logging.getLogger("xsell.serving")

ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorOut, "description": "Missing or invalid API key"},
    429: {"model": ErrorOut, "description": "Rate limit of the API key exceeded"},
}
NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorOut, "description": "Unknown item or customer (its id is in the message)"},
}

ItemPath = Annotated[str, PathParam(min_length=1, max_length=200, description="Item id.")]
CustomerPath = Annotated[str, PathParam(min_length=1, max_length=200, description="Customer id.")]
KQuery = Annotated[int, Query(ge=1, le=MAX_K, description="How many suggestions.")]
Flag = Annotated[bool, Query()]


@dataclass
class Service:
    """Everything the routes share (one per worker process)."""

    settings: ServeSettings
    metrics: Metrics
    gate: Gatekeeper
    cache: AnswerCache | None = None
    redis: RedisLink | None = None
    events: EventLog | None = None
    state: ModelState | None = None
    #: held while a new model is built from the current one (applying events, reloading)
    model_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    #: set when this worker logged events: the applier learns them without waiting
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    follower: asyncio.Task[None] | None = None
    #: a reload another worker announced: its token and the load under way
    preparing: tuple[str, asyncio.Task[ServedModel | None]] | None = None
    #: the token of the reload this worker is doing (the others prepare it, not this one)
    announcing: str | None = None
    #: with --pseudonymize: raw customer ids from clients become keyed pseudonyms on arrival
    pseudonym_key: bytes | None = None

    def customer_id(self, raw: str | None) -> str | None:
        """The id the model knows a client's customer by (its pseudonym when keyed)."""
        if raw is None or self.pseudonym_key is None:
            return raw
        return pseudonymize(raw, self.pseudonym_key)

    #: the other arms of the experiment and the dashboard's comparison bundles, by name
    others: dict[str, ServedModel] = field(default_factory=dict)

    def pick(self, customer: str | None, session: str | None) -> tuple[str | None, ServedModel]:
        """The arm of a request's customer (or guest session) and the model that answers it.

        Without an experiment, or a request that names neither, the served model answers.
        """
        settings = self.settings
        served = self.model_state.current
        unit = customer or session
        if settings.experiment is None or unit is None:
            return None, served
        arm = assign(settings.experiment, unit, settings.arms)
        if arm == settings.arms[0].name:
            return arm, served
        return arm, self.others[arm]

    async def answered(
        self,
        served: ServedModel,
        arm: str | None,
        answer: dict[str, Any],
        customer: str | None,
        session: str | None,
    ) -> dict[str, Any]:
        """``answer`` with its id and arm; an experiment's answer is logged durably first."""
        recommendation_id = new_event_id()
        if arm is not None and self.events is not None:
            items = tuple(item["item_id"] for item in answer["items"])
            prices = tuple(item["price"] for item in answer["items"])
            event = LoggedEvent(
                recommendation_id,
                "recommendation",
                items,
                customer,
                None,
                time.time(),
                session=None if customer else session,
                recommendation_id=recommendation_id,
                experiment=self.settings.experiment,
                arm=arm,
                prices=prices,
            )
            await anyio.to_thread.run_sync(self.events.append, [event])
        return {
            "model": served.model.name,
            "model_version": served.version,
            "recommendation_id": recommendation_id,
            "arm": arm,
            **answer,
        }

    @property
    def model_state(self) -> ModelState:
        if self.state is None:
            raise XsellError("the service is starting; no model is loaded yet")
        return self.state

    async def apply_new_events(self) -> int:
        """Learn every event logged since the last apply, in one batch; returns how many.

        The update runs in a worker thread on a copy of the served model; the
        event loop then swaps the copy in and drops the cache entries of the
        items it touched, so requests never wait for it and never see half of it.
        """
        state = self.model_state
        async with self.model_lock:
            current = state.current
            learned = await anyio.to_thread.run_sync(advance, current, state.events)
            if learned is None:
                return 0
            served, touched = learned
            state.swap(served)
            for name, other in list(self.others.items()):
                also = await anyio.to_thread.run_sync(advance, other, state.events)
                if also is not None:
                    self.others[name] = also[0]
                    touched = touched | also[1]
        if touched and self.cache is not None:
            self.cache.invalidate(touched)
        self.metrics.events_applied.set(served.events_applied)
        return served.events_applied - current.events_applied

    async def swap_in(
        self, bundle: Path, announce: bool, ready: ServedModel | None = None
    ) -> tuple[ServedModel, ServedModel | None]:
        """Load ``bundle`` (or take ``ready``, loaded already) and serve it.

        With ``announce`` (a reload asked of this worker) the other workers are told
        before the load starts, so they load it meanwhile, and told again once it
        is served (or that it failed).
        """
        state = self.model_state
        token = state.prepare(bundle) if announce else None
        self.announcing = token
        async with self.model_lock:
            try:
                served = ready
                if served is None:
                    served = await anyio.to_thread.run_sync(state.load, bundle)
            except OSError as exc:
                if token is not None:
                    state.abort(token)
                raise InputFileError(f"{bundle}: cannot read the bundle: {exc.strerror}") from exc
            except BaseException:
                if token is not None:
                    state.abort(token)
                raise
            old = state.swap(served)
            state.reloads += 1
            if token is not None:
                state.commit(bundle, token)
            if self.cache is not None:
                self.cache.clear()
            settle_memory()
            self.metrics.reloads.inc()
            self.metrics.events_applied.set(served.events_applied)
        self.wake.set()  # events logged while it loaded
        return served, old

    async def _prepare(self, bundle: Path) -> ServedModel | None:
        """Load the bundle of a reload another worker is doing (``None`` if it fails)."""
        try:
            return await anyio.to_thread.run_sync(self.model_state.load, bundle)
        except Exception:
            log.exception("loading %s for a reload failed", bundle)
            return None

    async def follow_reloads(self) -> None:
        """Start loading a reload another worker announced; serve it once it is committed."""
        state = self.model_state
        coming = state.coming()
        if (
            coming is not None
            and coming[1] not in (state.control_token, self.announcing)
            and (self.preparing is None or self.preparing[0] != coming[1])
        ):
            self.preparing = (coming[1], asyncio.create_task(self._prepare(coming[0])))
        news = state.announced()
        if news is not None:
            bundle, token = news
            ready = None
            if self.preparing is not None and self.preparing[0] == token:
                ready = await self.preparing[1]
                self.preparing = None
            state.control_token = token
            await self.swap_in(bundle, announce=False, ready=ready)
        elif self.preparing is not None and (coming is None or coming[1] != self.preparing[0]):
            self.preparing[1].cancel()  # that reload failed or was replaced: drop its model
            self.preparing = None

    async def follow(self) -> None:
        """Learn new events (in batches at most every ``apply_interval_s``) and reloads."""
        loop = asyncio.get_running_loop()
        next_apply = loop.time()
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wake.wait(), self.settings.poll_interval_s)
            if self.wake.is_set() and loop.time() < next_apply:
                # Events came in: learn them as one batch once the interval is over.
                await asyncio.sleep(next_apply - loop.time())
            self.wake.clear()
            try:
                if self.redis is not None:
                    if not self.redis.up:
                        await anyio.to_thread.run_sync(self.redis.probe)
                    self.metrics.redis_up.set(int(self.redis.up))
                await self.follow_reloads()
                if loop.time() >= next_apply and await self.apply_new_events():
                    next_apply = loop.time() + self.settings.apply_interval_s
            except asyncio.CancelledError:
                raise
            except Exception:  # keep following; the error is in the log
                log.exception("background sync failed")


def settle_memory() -> None:
    """Leave what is loaded now out of every later garbage collection.

    A loaded model's object arrays (ids, names, categories) are most of what the
    collector tracks, and every full collection walked them all (95 ms with an
    Instacart model loaded), stalling the requests waiting meanwhile. Frozen after
    one collection, they are still freed by reference counting once unused.
    """
    gc.collect()
    gc.freeze()


def create_app(settings: ServeSettings) -> FastAPI:
    """The xsell HTTP API for ``settings`` (the model loads when the app starts)."""
    metrics = Metrics()
    service = Service(
        settings=settings,
        metrics=metrics,
        gate=Gatekeeper(
            settings.api_keys, settings.rate_limit, settings.admin_keys, settings.failed_key_rate
        ),
        pseudonym_key=read_key(settings.pseudonym_key_file) if settings.pseudonymize else None,
    )

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        service.events = EventLog(settings.events_path)
        if settings.redis_url:
            # Reachable or not: a Redis that is down at start is handled as one that dies later.
            service.redis = RedisLink(settings.redis_url)
            await anyio.to_thread.run_sync(service.redis.probe)
            metrics.redis_up.set(int(service.redis.up))
            service.gate.shared = service.redis
        service.cache = AnswerCache(settings.cache_size, service.redis, settings.cache_ttl_s)
        state = service.state = ModelState(
            service.events, settings.control_path, settings.rules_store
        )
        bundle = Path(settings.bundle)
        news = state.announced()
        if news is not None:  # a worker restarted after a reload: serve what the others serve
            bundle, state.control_token = news
        served = await anyio.to_thread.run_sync(state.load, bundle)
        state.swap(served)
        metrics.events_applied.set(served.events_applied)
        if settings.experiment is not None:
            for arm in settings.arms[1:]:
                path = Path(arm.bundle)
                service.others[arm.name] = await anyio.to_thread.run_sync(state.load, path)
            start = start_event(new_event_id(), settings.experiment, settings.arms, time.time())
            await anyio.to_thread.run_sync(service.events.append, [start])
        for name, path in settings.compare_bundles:
            service.others[name] = await anyio.to_thread.run_sync(state.load, Path(path))
        settle_memory()
        service.follower = asyncio.create_task(service.follow())
        try:
            yield
        finally:
            service.follower.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await service.follower
            if service.preparing is not None:
                service.preparing[1].cancel()
            service.events.close()
            if service.redis is not None:
                service.redis.close()

    # Swagger UI and ReDoc from the assets fastapi-offline ships (FastAPI's defaults load
    # them from a CDN: /docs would be blank on a closed network).
    app = FastAPIOffline(
        title="xsell",
        version=__version__,
        summary="Real-time cross-sell recommendations with reasons.",
        lifespan=lifespan,
    )
    app.state.service = service
    _error_handlers(app)
    app.include_router(_health_router(service))
    app.include_router(_items_router(service))
    app.include_router(_basket_router(service))
    app.include_router(_events_router(service))
    app.include_router(_admin_router(service))
    app.include_router(dashboard_router(service))
    app.add_middleware(PageCache, service=service)
    add_cors(app, settings)
    app.add_middleware(BodyLimit, limit=settings.max_body)
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    return app


def _json(payload: Any, status_code: int = 200) -> Response:
    return Response(orjson.dumps(payload), status_code=status_code, media_type="application/json")


#: The integers orjson writes (64 bits, signed or not).
_INT64, _UINT64 = -(2**63), 2**64


def json_safe(value: Any) -> Any:
    """``value`` with every float finite, every integer within 64 bits (else their text)
    and every string valid UTF-8."""
    if isinstance(value, dict):
        return {json_safe(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return repr(value)
    if isinstance(value, int) and not isinstance(value, bool) and not _INT64 <= value < _UINT64:
        return str(value)  # JSON allows it, orjson does not write it
    if isinstance(value, str):
        return value.encode("utf-8", "backslashreplace").decode("utf-8")
    return value


def _validation_error(location: tuple[str | int, ...], message: str) -> RequestValidationError:
    return RequestValidationError(
        [{"type": "value_error", "loc": location, "msg": message, "input": None}]
    )


def _error_handlers(app: FastAPI) -> None:
    async def not_found(request: Request, exc: Exception) -> Response:
        return JSONResponse({"detail": str(exc)}, status_code=status.HTTP_404_NOT_FOUND)

    async def user_error(request: Request, exc: Exception) -> Response:
        detail = [{"type": "value_error", "loc": [], "msg": str(exc)}]
        return JSONResponse({"detail": detail}, status_code=status.HTTP_422_UNPROCESSABLE_CONTENT)

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        if exc.status_code == status.HTTP_400_BAD_REQUEST:
            # FastAPI's "error parsing the body" (e.g. bytes that are not UTF-8): malformed input
            detail = [{"type": "json_invalid", "loc": ["body"], "msg": str(exc.detail)}]
            return JSONResponse(
                {"detail": detail}, status_code=status.HTTP_422_UNPROCESSABLE_CONTENT
            )
        return JSONResponse(
            {"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers
        )

    async def invalid_input(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        # The echoed input may be what made the request invalid (1e400, a lone surrogate):
        # it is made JSON-safe so that the 422 itself can always be written.
        detail = [json_safe(jsonable_encoder(error, exclude={"url"})) for error in exc.errors()]
        return _json({"detail": detail}, status.HTTP_422_UNPROCESSABLE_CONTENT)

    app.add_exception_handler(RequestValidationError, invalid_input)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(answers.UnknownItemsError, not_found)
    app.add_exception_handler(answers.UnknownCustomerError, not_found)
    app.add_exception_handler(XsellError, user_error)


def _health_router(service: Service) -> APIRouter:
    router = APIRouter(tags=["health"])

    @router.get("/healthz", response_model=HealthOut, summary="The process is alive")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @router.get(
        "/readyz",
        response_model=HealthOut,
        summary="A model is loaded and the events log is open",
        responses={503: {"model": HealthOut, "description": "Not ready yet"}},
    )
    async def readyz() -> Response:
        ready = service.state is not None and service.state.ready and service.events is not None
        return _json({"status": "ready" if ready else "starting"}, 200 if ready else 503)

    @router.get(
        "/metrics",
        summary="Prometheus metrics",
        response_class=Response,
        responses={200: {"content": {"text/plain": {}}, "description": "Prometheus text format"}},
    )
    async def metrics() -> Response:
        return Response(service.metrics.render(), media_type=service.metrics.content_type)

    @router.get("/v1/model", response_model=ModelOut, summary="The model being served")
    async def model_info() -> dict[str, Any]:
        state = service.model_state
        served = state.current
        model = served.model
        meta = served.meta
        return {
            "model": model.name,
            "model_version": served.version,
            "bundle": bundle_name(service.settings.root, served.bundle),
            "params": meta.get("params", {}),
            "fitted_on": meta.get("fitted_on"),
            "saved_at": meta.get("saved_at"),
            "metrics": meta.get("metrics", {}),
            "n_items": model.n_items,
            "n_customers": 0 if model.users_ is None else len(model.users_),
            "loaded_at": served.loaded_at,
            "reloads": state.reloads,
            "live_updates": served.live_updates,
            "events_applied": served.events_applied,
            "orders_learned": served.orders_learned,
            "warm_up_seconds": round(served.warm_up_s, 3),
            "bundles_source": served.bundles.source,
        }

    return router


class _OptionalKeyRoute(APIRoute):
    """A read route: the schema says the API key may be left out (``security: [key, {}]``)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs["openapi_extra"] = {"security": [{}], **(kwargs.get("openapi_extra") or {})}
        super().__init__(*args, **kwargs)


def _access(service: Service, role: str) -> Any:
    """A dependency checking the request's key for ``role`` (read, write or admin)."""

    async def check(
        request: Request, key: Annotated[str | None, Depends(api_key_header)]
    ) -> str | None:
        client = request.client.host if request.client is not None else "unknown"
        return service.gate.check(key, role, client)

    return check


def _items_router(service: Service) -> APIRouter:
    router = APIRouter(
        prefix="/v1",
        tags=["recommendations"],
        dependencies=[Depends(_access(service, "read"))],
        route_class=_OptionalKeyRoute,
    )

    @router.get(
        "/items/{item_id}/complements",
        response_model=AnswerOut,
        summary="Frequently bought together with an item (item page)",
        responses={**NOT_FOUND, **ERRORS},
    )
    async def complements(
        item_id: ItemPath,
        k: KQuery = 10,
        in_stock_only: Flag = False,
        complements_only: Flag = False,
        explain: Flag = False,
        fallback: Flag = False,
        customer: Annotated[
            str | None, Query(min_length=1, max_length=200, description="Who is looking.")
        ] = None,
        session: Annotated[
            str | None,
            Query(min_length=1, max_length=200, description="A guest's session id."),
        ] = None,
    ) -> Response:
        # Repeated pages are answered by the cache in front of the app (serving.page_cache).
        customer = service.customer_id(customer)
        arm, served = service.pick(customer, session)
        rules = BusinessRules(in_stock_only=in_stock_only, complements_only=complements_only)
        answer = answers.basket_answer(
            served.model, [item_id], k, rules, explain=explain, fallback=fallback
        )
        return _json(await service.answered(served, arm, answer, customer, session))

    @router.get(
        "/items/{item_id}/bundles",
        response_model=BundlesOut,
        summary="The strongest 2-3 item sets with an item, and their combined price",
        responses={**NOT_FOUND, **ERRORS},
    )
    async def bundles(
        item_id: ItemPath,
        k: Annotated[int, Query(ge=1, le=20, description="How many bundles.")] = 5,
        margin_floor: Annotated[
            float,
            Query(ge=0.0, lt=1.0, description="Least margin share a discounted bundle keeps."),
        ] = 0.2,
        elasticity: Annotated[
            float | None,
            Query(ge=0.0, le=100.0, description="Price elasticity of the bundle's sales."),
        ] = None,
    ) -> Response:
        from xsell.analytics.bundle_prices import DEFAULT_ELASTICITY, Elasticity, suggest_discount

        assumed = (
            Elasticity(DEFAULT_ELASTICITY, "assumed")
            if elasticity is None
            else Elasticity(elasticity, "user")
        )
        served = service.model_state.current
        model = served.model
        table = model.require_fitted()
        index = table.ids.index_of(item_id)
        if index < 0:
            raise answers.UnknownItemsError([item_id], len(table))
        found = served.bundles.find(
            item_id,
            index,
            k,
            lambda i, depth: answers.complement_scores(model, i, depth),
            table.ids.index_of,
        )
        out = []
        for bundle in found:
            items = [answers.item_json(table, i) for i in bundle.items]
            prices = [item["price"] for item in items]
            known = [p for p in prices if p is not None]
            combined = round(sum(known), 2) if len(known) == len(prices) else None
            chosen = list(bundle.items)
            pricing = suggest_discount(
                table.prices[chosen], table.margins[chosen], assumed, margin_floor
            )
            out.append(
                {
                    "items": items,
                    "combined_price": combined,
                    "strength": describe(bundle),
                    "pricing": None if pricing is None else pricing.to_dict(),
                }
            )
        return _json(
            {
                "item_id": item_id,
                "model_version": served.version,
                "source": served.bundles.source,
                "note": served.bundles.note,
                "bundles": out,
            }
        )

    @router.get(
        "/customers/{customer_id}/recommendations",
        response_model=AnswerOut,
        summary="Personal add-ons for a customer, from their purchase history",
        responses={**NOT_FOUND, **ERRORS},
    )
    async def customer(
        customer_id: CustomerPath,
        k: KQuery = 10,
        exclude_seen: Annotated[bool, Query(description="Leave out what they bought.")] = True,
        in_stock_only: Flag = False,
        explain: Flag = False,
        fallback: Flag = False,
        mode: Annotated[
            Mode,
            Query(
                description="mixed, explore (only items they never bought) or repeat (only "
                "items they bought; exclude_seen then does not apply)."
            ),
        ] = "mixed",
    ) -> Response:
        # experiments assign and log the id the model and the events log know (a pseudonym)
        known = service.customer_id(customer_id) or customer_id
        arm, served = service.pick(known, None)
        # exclude_seen is the mixed mode's switch; explore and repeat decide it themselves.
        exclude = exclude_seen and mode == "mixed"
        answer = answers.customer_answer(
            served.model,
            known,
            k,
            BusinessRules(in_stock_only=in_stock_only, exclude_bought=exclude),
            explain=explain,
            fallback=fallback,
            mode=mode,
        )
        return _json(await service.answered(served, arm, answer, known, None))

    return router


def _basket_router(service: Service) -> APIRouter:
    router = APIRouter(
        prefix="/v1",
        tags=["recommendations"],
        dependencies=[Depends(_access(service, "read"))],
        route_class=_OptionalKeyRoute,
    )

    @router.post(
        "/recommendations/basket",
        response_model=AnswerOut,
        summary="Complete a cart: suggestions for the items in it, under business rules",
        responses={**NOT_FOUND, **ERRORS},
    )
    async def basket(request: BasketRequest) -> Response:
        limit = service.settings.max_basket
        if len(request.items) > limit:
            raise _validation_error(
                ("body", "items"),
                f"the basket holds {len(request.items)} items; at most {limit} are allowed",
            )
        customer = service.customer_id(request.customer)
        arm, served = service.pick(customer, request.session)
        answer = answers.basket_answer(
            served.model,
            request.items,
            request.k,
            request.business_rules(),
            customer=customer,
            explain=request.explain,
            fallback=request.fallback,
            mode=request.mode,
        )
        return _json(await service.answered(served, arm, answer, customer, request.session))

    @router.get(
        "/experiment",
        response_model=ExperimentOut,
        summary="The experiment running: its arms and the models they serve",
        responses=ERRORS,
    )
    async def experiment() -> dict[str, Any]:
        settings = service.settings
        arms = []
        for n, arm in enumerate(settings.arms):
            served = service.model_state.current if n == 0 else service.others[arm.name]
            arms.append(
                {
                    "arm": arm.name,
                    "bundle": bundle_name(settings.root, Path(arm.bundle)),
                    "weight": arm.weight,
                    "model": served.model.name,
                    "model_version": served.version,
                }
            )
        return {"experiment": settings.experiment, "arms": arms}

    @router.get(
        "/experiment/report",
        summary="Per-arm metrics and uplift against control (95 % intervals, delta method)",
        responses={404: {"model": ErrorOut, "description": "No experiment runs"}, **ERRORS},
    )
    async def experiment_results(
        window_h: Annotated[float, Query(gt=0, le=24 * 365, description="Hours.")] = 24.0,
    ) -> Response:
        name = service.settings.experiment
        if name is None:
            raise HTTPException(
                status.HTTP_404_NOT_FOUND,
                "no experiment runs on this server (xsell serve --experiment NAME --arm ...)",
            )
        path = service.settings.events_path
        report = await anyio.to_thread.run_sync(experiment_report, path, name, window_h * 3600)
        return _json(json_safe(report))

    return router


def _events_router(service: Service) -> APIRouter:
    router = APIRouter(
        prefix="/v1", tags=["events"], dependencies=[Depends(_access(service, "write"))]
    )

    @router.post(
        "/events",
        status_code=status.HTTP_202_ACCEPTED,
        response_model=EventsAcceptedOut,
        summary="Record orders, carts and views; durable before the answer, learned right after",
        responses=ERRORS,
    )
    async def events(
        body: Annotated[EventsBody, Body()],
        idempotency_key: Annotated[
            str | None,
            Header(
                min_length=1,
                max_length=200,
                description="Makes a retried post count once: a single event takes the key, "
                "event i of a batch the key + '#i' (an event's own idempotency_key wins).",
            ),
        ] = None,
    ) -> Response:
        incoming = body.events if isinstance(body, EventBatchIn) else [body]
        limit = service.settings.max_events
        if len(incoming) > limit:
            raise _validation_error(
                ("body", "events"),
                f"{len(incoming)} events in one request; at most {limit} are allowed",
            )
        now = time.time()
        keys: list[str | None] = [e.idempotency_key for e in incoming]
        if idempotency_key is not None:
            batch = isinstance(body, EventBatchIn)
            header = idempotency_key
            named = [f"{header}#{n}" if batch else header for n in range(len(keys))]
            keys = [own or given for own, given in zip(keys, named, strict=True)]
        logged = [
            LoggedEvent(
                new_event_id(),
                e.type,
                tuple(e.items),
                service.customer_id(e.customer),
                e.time,
                now,
                key,
                session=e.session,
                recommendation_id=e.recommendation_id,
                prices=tuple(e.prices or ()),
            )
            for e, key in zip(incoming, keys, strict=True)
        ]
        log_file = service.events
        assert log_file is not None
        ids, written = await anyio.to_thread.run_sync(log_file.append, logged)
        fresh = set(ids)
        for event in logged:
            if event.id in fresh:
                service.metrics.events.labels(event.type).inc()
        service.wake.set()  # the applier learns them off the request path
        return _json({"accepted": written, "duplicates": len(logged) - written, "ids": ids}, 202)

    return router


def _admin_router(service: Service) -> APIRouter:
    router = APIRouter(
        prefix="/admin", tags=["admin"], dependencies=[Depends(_access(service, "admin"))]
    )

    @router.post(
        "/reload",
        response_model=ReloadOut,
        summary="Load a bundle and swap it in; requests in flight finish on the old model",
        responses={
            403: {"model": ErrorOut, "description": "Not an admin key, or outside the bundle root"},
            404: {"model": ErrorOut, "description": "No model bundle at that path"},
            422: {"model": ErrorOut, "description": "A damaged or unreadable bundle (file named)"},
            **ERRORS,
        },
    )
    async def reload(body: Annotated[ReloadIn | None, Body()] = None) -> dict[str, Any]:
        state = service.model_state
        previous = state.current
        asked = body.bundle if body is not None and body.bundle else None
        bundle = inside_root(service.settings.root, asked) if asked else previous.bundle
        started = time.perf_counter()
        try:
            served, _ = await service.swap_in(bundle, announce=True)
        except InputFileError as exc:
            code = status.HTTP_422_UNPROCESSABLE_CONTENT
            if "not an xsell model bundle" in str(exc):
                code = status.HTTP_404_NOT_FOUND
            raise HTTPException(code, str(exc)) from exc
        return {
            "model": served.model.name,
            "model_version": served.version,
            "previous_version": previous.version,
            "bundle": bundle_name(service.settings.root, served.bundle),
            "seconds": round(time.perf_counter() - started, 3),
        }

    return router


def inside_root(root: Path, asked: str) -> Path:
    """The bundle ``asked`` for (relative to ``root``, or absolute), refused outside ``root``."""
    path = Path(asked)
    resolved = (path if path.is_absolute() else root / path).resolve()
    if resolved != root and root not in resolved.parents:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            f"bundle {asked!r} is outside the bundle root; this server loads bundles from "
            "its --bundle-root folder only",
        )
    return resolved


def bundle_name(root: Path, bundle: Path) -> str:
    """A bundle as its clients see it: its path inside the bundle root, never the full path."""
    resolved = Path(bundle).resolve()
    try:
        return str(resolved.relative_to(root))
    except ValueError:
        return resolved.name


#: Environment variable through which ``xsell serve --workers N`` hands settings to workers.
SETTINGS_ENV = "XSELL_SERVE_SETTINGS"


def settings_to_env(settings: ServeSettings) -> str:
    """JSON of ``settings`` for :func:`app_from_env` in worker processes."""
    values = {
        name: (str(value) if isinstance(value, Path) else value)
        for name, value in vars(settings).items()
    }
    values["compare_bundles"] = [[name, str(path)] for name, path in settings.compare_bundles]
    return orjson.dumps(values).decode()


def app_from_env() -> FastAPI:
    """Build the app from ``$XSELL_SERVE_SETTINGS`` (uvicorn factory for several workers)."""
    import os

    values = orjson.loads(os.environ[SETTINGS_ENV])
    paths = ("bundle", "events_log", "rules_store", "store", "bundle_root", "pseudonym_key_file")
    for name in paths:
        if values.get(name) is not None:
            values[name] = Path(values[name])
    for name in ("api_keys", "admin_keys", "cors_origins"):
        values[name] = tuple(values.get(name) or ())
    values["arms"] = tuple(Arm(**arm) for arm in values.get("arms") or ())
    values["compare_bundles"] = tuple(
        (name, Path(path)) for name, path in values.get("compare_bundles") or ()
    )
    return create_app(ServeSettings(**values))
