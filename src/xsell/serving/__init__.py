"""The real-time HTTP API: FastAPI app, schemas, live events, hot swap, cache, access, metrics.

Public API::

    create_app(settings: ServeSettings) -> FastAPI
    ServeSettings(bundle, events_log=None, api_keys=(), rate_limit=100.0, ...)
"""

from xsell.serving.app import create_app
from xsell.serving.settings import ServeSettings

__all__ = ["ServeSettings", "create_app"]
