"""Prometheus metrics: requests, latency, cache, events, reloads.

With several workers the serve command sets ``PROMETHEUS_MULTIPROC_DIR`` and
``/metrics`` adds up every worker's numbers (prometheus-client's multiprocess mode).
"""

from __future__ import annotations

import os
import time
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from starlette.types import ASGIApp, Message, Receive, Scope, Send

LATENCY_BUCKETS = (0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


class Metrics:
    """The service's metrics, in their own registry (one per app)."""

    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.multiprocess = bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))
        kw: dict[str, Any] = {"registry": self.registry}
        self.requests = Counter(
            "xsell_http_requests", "HTTP requests answered", ["method", "route", "status"], **kw
        )
        self.latency = Histogram(
            "xsell_http_request_seconds",
            "Time to answer, by route",
            ["route"],
            buckets=LATENCY_BUCKETS,
            **kw,
        )
        cache = Counter("xsell_cache_lookups", "Item-page cache lookups", ["result"], **kw)
        self.cache_hits = cache.labels("hit")
        self.cache_misses = cache.labels("miss")
        self.events = Counter("xsell_events_accepted", "Live events made durable", ["type"], **kw)
        self.reloads = Counter("xsell_model_reloads", "Models swapped in", **kw)
        self.redis_up = Gauge(
            "xsell_redis_up",
            "1 while the shared Redis is reachable (0: each worker serves on its own)",
            multiprocess_mode="min",
            **kw,
        )
        self.events_applied = Gauge(
            "xsell_events_applied",
            "Events the current model has learned from",
            multiprocess_mode="max",
            **kw,
        )

    def _source(self) -> CollectorRegistry:
        if self.multiprocess:
            from prometheus_client import multiprocess

            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)
            return registry
        return self.registry

    def render(self) -> bytes:
        return generate_latest(self._source())

    def snapshot(self, prefix: str = "/v1/") -> dict[str, Any]:
        """Totals for the dashboard: requests, errors, latency percentiles of the API
        routes (``prefix``), cache lookups, events (what ``/metrics`` shows, summed)."""
        requests = errors = client_errors = 0.0
        buckets: dict[float, float] = {}
        cache: dict[str, float] = {"hit": 0.0, "miss": 0.0}
        out: dict[str, Any] = {"events_accepted": 0.0, "events_applied": 0.0, "reloads": 0.0}
        for family in self._source().collect():
            for sample in family.samples:
                labels, value = sample.labels, sample.value
                if sample.name == "xsell_http_requests_total":
                    if not labels.get("route", "").startswith(prefix):
                        continue
                    requests += value
                    errors += value if labels["status"].startswith("5") else 0.0
                    client_errors += value if labels["status"].startswith("4") else 0.0
                elif sample.name == "xsell_http_request_seconds_bucket":
                    if labels.get("route", "").startswith(prefix):
                        edge = float(labels["le"])
                        buckets[edge] = buckets.get(edge, 0.0) + value
                elif sample.name == "xsell_cache_lookups_total":
                    cache[labels["result"]] = cache.get(labels["result"], 0.0) + value
                elif sample.name == "xsell_events_accepted_total":
                    out["events_accepted"] += value
                elif sample.name == "xsell_events_applied":
                    out["events_applied"] = max(out["events_applied"], value)
                elif sample.name == "xsell_model_reloads_total":
                    out["reloads"] += value
        looked = cache["hit"] + cache["miss"]
        out.update(
            requests=requests,
            server_errors=errors,
            client_errors=client_errors,
            cache_hit_rate=cache["hit"] / looked if looked else None,
            latency_s={f"p{q}": _quantile(buckets, q / 100) for q in (50, 95, 99)},
        )
        return out


class MetricsMiddleware:
    """Counts and times every request by its route template (pure ASGI, cheap)."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics
        self.children: dict[tuple[str, str, int], tuple[Any, Any]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        code = 500

        async def send_wrapper(message: Message) -> None:
            nonlocal code
            if message["type"] == "http.response.start":
                code = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            route = scope.get("route")
            name = getattr(route, "path", None) or "unmatched"
            labels = (scope["method"], name, code)
            children = self.children.get(labels)
            if children is None:  # a labelled child is looked up once per route and status
                children = self.children[labels] = (
                    self.metrics.requests.labels(scope["method"], name, str(code)),
                    self.metrics.latency.labels(name),
                )
            children[0].inc()
            children[1].observe(time.perf_counter() - started)


def _quantile(buckets: dict[float, float], q: float) -> float | None:
    """The upper edge of the histogram bucket holding quantile ``q`` (cumulative counts)."""
    edges = sorted(buckets)
    if not edges or buckets[edges[-1]] == 0:
        return None
    wanted = q * buckets[edges[-1]]
    for edge in edges:
        if buckets[edge] >= wanted:
            return edge
    return edges[-1]
