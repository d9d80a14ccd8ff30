"""Everything ``xsell serve`` can be told, in one object passed to :func:`create_app`."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from xsell.errors import ValidationError
from xsell.evaluation.experiment import Arm, check_arms

#: Header that carries an API key.
API_KEY_HEADER = "X-API-Key"


@dataclass(frozen=True)
class ServeSettings:
    """Configuration of the HTTP service.

    Parameters
    ----------
    bundle:
        Model bundle directory written by ``xsell train`` / ``Recommender.save``.
    events_log:
        Append-only JSON-lines file of live events; default ``<bundle>.events.jsonl``
        next to the bundle. Replayed into the model on start and on reload.
    api_keys:
        Keys that may post events (``/v1/events``); reads accept none, but a wrong
        key is refused.
    admin_keys:
        Keys for ``/admin/*`` (reloading a bundle), distinct from ``api_keys`` so
        that a client that posts events cannot swap the model.
    bundle_root:
        ``/admin/reload`` loads only bundles inside this folder (default: the
        served bundle's parent folder).
    rate_limit:
        Requests per second allowed per API key, and per client address for
        requests without a key (token buckets of ``2 x`` that size); ``None``
        turns the limits off.
    failed_key_rate:
        Wrong API keys allowed per second per client address (then ``429``), so
        that keys cannot be guessed quickly.
    cors_origins:
        Origins a browser may call from (``*`` for any); empty turns CORS off.
    redis_url:
        Optional Redis shared by the workers (``redis://host:port/db``): the cache of
        item-page answers and the rate-limit counts. While it is unreachable (at
        start or later) each worker serves with its own, and reconnects when it can.
    cache_size:
        Entries in the in-process LRU of item-page answers; 0 turns it off.
    cache_ttl_s:
        Lifetime of Redis cache entries.
    max_basket:
        Most items a basket request may carry.
    max_events:
        Most events one ``POST /v1/events`` may carry.
    max_body:
        Largest request body in bytes; a larger one is answered ``413`` as soon as
        that is known (from its ``Content-Length``, or while it streams in).
    rules_store:
        Optional DuckDB store whose saved association rules feed ``/bundles``;
        otherwise ``rules.parquet`` in the bundle, else rules derived from the
        model's complements.
    store:
        The store the bundle was trained from: the dashboard's Models panel shows its
        headline figures (those of ``xsell report``) and its latest leaderboard.
    pseudonymize:
        Customer ids from clients are raw; the model knows keyed pseudonyms (it was
        trained on a store ingested with ``--pseudonymize``): each id is hashed with
        the key on arrival, so answers and the events log never hold a raw id.
    pseudonym_key_file:
        The key's file; without it ``$XSELL_PSEUDONYM_KEY`` (each worker reads the
        key itself: it is never passed in these settings).
    poll_interval_s:
        How often every worker looks for events written by the others and for a
        reload asked of another worker.
    apply_interval_s:
        Least time between two batches of events learned (each batch is one
        ``update`` of a copy of the model: on a large model most of its cost is
        copying the learned matrices, whatever the batch size). Events wait at
        most about this long plus one update before they are learned.
    experiment, arms:
        An online experiment: its name and two or more arms (name, bundle, weight).
        The first arm is the control and serves ``bundle``; each customer (or guest
        session) is assigned an arm by a hash of its id, and every answer is logged.
    compare_bundles:
        Bundles the dashboard can show side by side with the served one (name, path).
    """

    bundle: Path
    events_log: Path | None = None
    api_keys: tuple[str, ...] = ()
    admin_keys: tuple[str, ...] = ()
    bundle_root: Path | None = None
    rate_limit: float | None = 100.0
    failed_key_rate: float = 5.0
    cors_origins: tuple[str, ...] = ()
    redis_url: str | None = None
    cache_size: int = 10_000
    cache_ttl_s: int = 3600
    max_basket: int = 100
    max_events: int = 1000
    max_body: int = 1024 * 1024
    rules_store: Path | None = None
    store: Path | None = None
    pseudonymize: bool = False
    pseudonym_key_file: Path | None = None
    poll_interval_s: float = 0.05
    apply_interval_s: float = 0.2
    experiment: str | None = None
    arms: tuple[Arm, ...] = ()
    compare_bundles: tuple[tuple[str, Path], ...] = ()

    def __post_init__(self) -> None:
        if self.experiment is not None:
            check_arms(self.arms)
        elif self.arms:
            raise ValidationError("arms were given without an experiment name (--experiment)")
        if self.rate_limit is not None and self.rate_limit <= 0:
            raise ValidationError(f"rate_limit must be positive or None, got {self.rate_limit}")
        if self.failed_key_rate <= 0:
            raise ValidationError(f"failed_key_rate must be positive, got {self.failed_key_rate}")
        if self.cache_size < 0:
            raise ValidationError(f"cache_size must be 0 or more, got {self.cache_size}")
        if self.max_basket < 1:
            raise ValidationError(f"max_basket must be at least 1, got {self.max_basket}")
        if self.apply_interval_s < 0:
            raise ValidationError(
                f"apply_interval_s must be 0 or more, got {self.apply_interval_s}"
            )
        if self.max_body < 1:
            raise ValidationError(f"max_body must be at least 1 byte, got {self.max_body}")
        if self.max_events < 1:
            raise ValidationError(f"max_events must be at least 1, got {self.max_events}")
        for key in (*self.api_keys, *self.admin_keys):
            if len(key) < 8:
                raise ValidationError("every API key needs at least 8 characters")
        if set(self.api_keys) & set(self.admin_keys):
            raise ValidationError(
                "an admin key must differ from every API key (events keys cannot reload models)"
            )

    @property
    def root(self) -> Path:
        """The folder whose bundles ``/admin/reload`` may load (resolved)."""
        root = self.bundle_root if self.bundle_root is not None else Path(self.bundle).parent
        return Path(root).resolve()

    @property
    def events_path(self) -> Path:
        """Where live events are written."""
        if self.events_log is not None:
            return Path(self.events_log)
        bundle = Path(self.bundle)
        return bundle.with_name(bundle.name + ".events.jsonl")

    @property
    def control_path(self) -> Path:
        """File naming the bundle every worker should serve (written by ``/admin/reload``)."""
        events = self.events_path
        return events.with_name(events.name + ".bundle")
