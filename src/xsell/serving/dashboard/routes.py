"""Routes of ``/dashboard``: the page, sign-in, its static files and its JSON helpers.

The page is rendered by Jinja2; its script (plain ``fetch``) and stylesheet ship in
this package, Plotly's script comes from the installed ``plotly`` package: the
page loads nothing from the network. The dashboard only reads: nothing on it
changes the server's state.
"""

from __future__ import annotations

import time
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import anyio
import orjson
from fastapi import APIRouter, Cookie, Depends, Form, HTTPException, Query, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import Field, StrictBool, StrictInt

from xsell.errors import XsellError
from xsell.models import MODES
from xsell.serving import answers
from xsell.serving.dashboard.access import COOKIE, CSRF_COOKIE, SESSION_S, DashboardAccess
from xsell.serving.schemas import MAX_K, CustomerId, ItemId, RuleOptions

if TYPE_CHECKING:
    from xsell.serving.app import Service
    from xsell.serving.state import ServedModel

PACKAGE = "xsell.serving.dashboard"
#: Static files the page loads, and their media types.
STATIC = {
    "dashboard.js": "text/javascript",
    "dashboard.css": "text/css",
    "plotly.min.js": "text/javascript",
}
#: The name the served model goes by in the dashboard's model choice.
SERVED = "served"


class TryBasket(RuleOptions):
    """A basket tried on the dashboard, answered by one of the loaded models."""

    items: list[ItemId] = Field(..., min_length=1, max_length=100)
    customer: CustomerId | None = None
    k: StrictInt = Field(10, ge=1, le=MAX_K)
    mode: str = Field("mixed", description=f"One of {', '.join(MODES)}.")
    model: str = Field(SERVED, description="'served' or a name of /dashboard/api/models.")
    fallback: StrictBool = True


def _templates() -> Any:
    import jinja2

    return jinja2.Environment(
        loader=jinja2.PackageLoader(PACKAGE, "templates"),
        autoescape=jinja2.select_autoescape(["html"]),
    )


def dashboard_router(service: Service) -> APIRouter:
    """The dashboard of ``service`` (signed-in access when keys are configured)."""
    settings = service.settings
    access = DashboardAccess(settings.api_keys, settings.admin_keys)
    templates = _templates()
    static: dict[str, bytes] = {}
    router = APIRouter(prefix="/dashboard", include_in_schema=False)

    def signed_in(cookie: str | None) -> bool:
        return not access.required or access.session_role(cookie) is not None

    async def need_session(
        xsell_dashboard: Annotated[str | None, Cookie()] = None,
    ) -> None:
        if not signed_in(xsell_dashboard):
            raise HTTPException(
                status.HTTP_401_UNAUTHORIZED, "sign in on /dashboard first (an API key)"
            )

    def page(name: str, **values: Any) -> HTMLResponse:
        return HTMLResponse(templates.get_template(name).render(**values))

    def login_page(error: str | None = None, code: int = 200) -> HTMLResponse:
        token = access.new_token()
        response = page("login.html", csrf=token, error=error)
        response.status_code = code
        response.set_cookie(CSRF_COOKIE, token, httponly=True, samesite="strict", max_age=3600)
        return response

    @router.get("", response_class=HTMLResponse)
    async def dashboard(xsell_dashboard: Annotated[str | None, Cookie()] = None) -> Response:
        if not signed_in(xsell_dashboard):
            return login_page()
        served = service.model_state.current
        return page(
            "dashboard.html",
            model=served.model.name,
            experiment=settings.experiment,
            models=[SERVED, *service.others],
            modes=MODES,
            signed_in=access.required,
            csrf=access.csrf_for(xsell_dashboard) if xsell_dashboard else "",
        )

    @router.post("/login")
    async def login(
        key: Annotated[str, Form(max_length=500)],
        csrf: Annotated[str, Form(max_length=200)],
        xsell_csrf: Annotated[str | None, Cookie()] = None,
    ) -> Response:
        if not xsell_csrf or csrf != xsell_csrf:
            return login_page("the form expired; sign in again", status.HTTP_403_FORBIDDEN)
        role = access.role_of_key(key)
        if role is None:
            return login_page("unknown key", status.HTTP_401_UNAUTHORIZED)
        response = RedirectResponse("/dashboard", status.HTTP_303_SEE_OTHER)
        response.set_cookie(
            COOKIE, access.session_cookie(role), httponly=True, samesite="strict",
            max_age=SESSION_S,
        )  # fmt: skip
        response.delete_cookie(CSRF_COOKIE)
        return response

    @router.post("/logout")
    async def logout(
        csrf: Annotated[str, Form(max_length=200)],
        xsell_dashboard: Annotated[str | None, Cookie()] = None,
    ) -> Response:
        if not xsell_dashboard or csrf != access.csrf_for(xsell_dashboard):
            raise HTTPException(status.HTTP_403_FORBIDDEN, "invalid CSRF token")
        response = RedirectResponse("/dashboard", status.HTTP_303_SEE_OTHER)
        response.delete_cookie(COOKIE)
        return response

    @router.get("/static/{name}")
    async def static_file(name: str) -> Response:
        kind = STATIC.get(name)
        if kind is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"no dashboard file {name!r}")
        if name not in static:
            if name == "plotly.min.js":
                from plotly.offline import get_plotlyjs

                static[name] = get_plotlyjs().encode()
            else:
                static[name] = resources.files(PACKAGE).joinpath("static", name).read_bytes()
        return Response(static[name], media_type=kind, headers={"Cache-Control": "max-age=3600"})

    api = APIRouter(prefix="/api", dependencies=[Depends(need_session)])

    @api.get("/items")
    async def find_items(
        q: Annotated[str, Query(min_length=1, max_length=200)],
        limit: Annotated[int, Query(ge=1, le=50)] = 12,
    ) -> Response:
        table = service.model_state.current.model.require_fitted()
        return _json({"items": search_items(table, q, limit)})

    def model_named(name: str) -> ServedModel:
        if name == SERVED:
            return service.model_state.current
        found = service.others.get(name)
        if found is None:
            raise XsellError(
                f"unknown model {name!r}; choose one of {[SERVED, *sorted(service.others)]}"
            )
        return found

    @api.post("/basket")
    async def try_basket(body: TryBasket) -> Response:
        if body.mode not in MODES:
            raise XsellError(f"unknown mode {body.mode!r}; choose one of {list(MODES)}")
        served = model_named(body.model)
        customer = service.customer_id(body.customer)
        started = time.perf_counter()
        answer = answers.basket_answer(
            served.model, body.items, body.k, body.business_rules(), customer=customer,
            explain=True, fallback=body.fallback, mode=body.mode,
        )  # fmt: skip
        table = served.model.require_fitted()
        history = _history(served, customer)
        for item in answer["items"]:
            item["repeat"] = item["item_id"] in history
        indices = [table.ids.index_of(x) for x in body.items]
        return _json(
            {
                "model": served.model.name,
                "model_version": served.version,
                "basket": [answers.item_json(table, i) for i in indices if i >= 0],
                "server_ms": round(1000 * (time.perf_counter() - started), 2),
                **answer,
            }
        )

    @api.get("/models")
    async def models() -> Response:
        out = []
        for name in [SERVED, *service.others]:
            served = model_named(name)
            meta = served.meta
            out.append(
                {
                    "name": name,
                    "model": served.model.name,
                    "model_version": served.version,
                    "bundle": Path(served.bundle).name,
                    "params": meta.get("params", {}),
                    "fitted_on": meta.get("fitted_on"),
                    "saved_at": meta.get("saved_at"),
                    "metrics": meta.get("metrics", {}),
                    "n_items": served.model.n_items,
                    "events_applied": served.events_applied,
                }
            )
        store = settings.store or settings.rules_store
        return _json(
            {
                "models": out,
                "leaderboard": await anyio.to_thread.run_sync(_leaderboard, store),
                "headline": await anyio.to_thread.run_sync(_headline, store),
            }
        )

    @api.get("/live")
    async def live() -> Response:
        return _json({"time": time.time(), **service.metrics.snapshot()})

    router.include_router(api)
    return router


def _json(payload: Any) -> Response:
    from xsell.serving.app import json_safe

    return Response(orjson.dumps(json_safe(payload)), media_type="application/json")


def search_items(table: Any, query: str, limit: int) -> list[dict[str, Any]]:
    """Items whose id starts with ``query`` or whose name contains it (case-insensitive);
    ids first, then names, each in catalog order."""
    wanted = query.casefold()
    by_id, by_name = [], []
    for index, (item_id, name) in enumerate(zip(table.ids.ids, table.names, strict=True)):
        if str(item_id).casefold().startswith(wanted):
            by_id.append(index)
        elif isinstance(name, str) and wanted in name.casefold():
            by_name.append(index)
        if len(by_id) >= limit:
            break
    return [answers.item_json(table, i) for i in (by_id + by_name)[:limit]]


def _history(served: ServedModel, customer: str | None) -> set[str]:
    """Items the customer bought before (for "repeat or new"), empty for guests."""
    if customer is None:
        return set()
    model = served.model
    index = model.customer_index(customer)
    if index < 0:
        return set()
    table = model.require_fitted()
    return {str(table.ids.ids[i]) for i in model.history_items(index)}


#: Headline figures by store file, with the file's modification time they were read at.
_HEADLINES: dict[Path, tuple[float, dict[str, Any]]] = {}


def _headline(store: Path | None) -> dict[str, Any] | None:
    """The report's headline figures of ``store`` (read again only when the file changes)."""
    if store is None or not Path(store).is_file():
        return None
    from xsell.analytics.report.content import headline

    path = Path(store)
    changed = path.stat().st_mtime
    known = _HEADLINES.get(path)
    if known is None or known[0] != changed:
        summary, notes = headline(path)
        rows = [{"figure": name, "value": value} for name, value in summary if name != "store file"]
        known = _HEADLINES[path] = (changed, {"store": path.name, "rows": rows, "notes": notes})
    return known[1]


def _leaderboard(store: Path | None) -> dict[str, Any] | None:
    """The latest leaderboard saved in the store (``--rules-store``), as a bar chart's data."""
    if store is None or not Path(store).is_file():
        return None
    from xsell.evaluation import latest_leaderboard

    board = latest_leaderboard(store)
    if board is None:
        return None
    metric = board.rank_by or next(
        (k for k in board.rows[0] if "@" in k), ""
    ) if board.rows else ""  # fmt: skip
    return {
        "protocol": board.protocol,
        "metric": metric,
        "created_at": board.created_at,
        "models": [row["model"] for row in board.rows],
        "values": [row.get(metric) for row in board.rows],
    }
