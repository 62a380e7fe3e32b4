"""Request ids, request metrics and the Prometheus ``/metrics`` endpoint."""

from __future__ import annotations

import hmac
import ipaddress
import logging
import os
import re
import time
import uuid
from collections.abc import Iterator
from typing import Any

from flask import Blueprint, Flask, Response, abort, current_app, g, has_request_context, request
from flask.logging import default_handler
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector
from sqlalchemy import Engine, MetaData, Table, func, inspect, select

from forum.db import get_engine
from forum.extensions import limiter

#: The header a proxy or client may send to name a request; forum echoes it on the response.
REQUEST_ID_HEADER = "X-Request-ID"
# Ids from outside end up in log lines: accept only short, plain tokens (no spaces, no newlines).
_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:@/+=-]{1,128}$")
#: The table the search outbox keeps its pending changes in (when the search area has one).
OUTBOX_TABLE = "search_outbox"
# Columns an outbox may use to mark a row as applied (pending rows have NULL there).
_OUTBOX_DONE_COLUMNS = ("processed_at", "applied_at", "done_at", "indexed_at")
LOG_FORMAT = "[%(asctime)s] %(levelname)s request_id=%(request_id)s in %(module)s: %(message)s"

# Defined once per process. Under gunicorn, PROMETHEUS_MULTIPROC_DIR (set by gunicorn.conf.py
# before the workers import forum) makes these write to files that /metrics sums over workers.
REQUESTS = Counter(
    "forum_http_requests",
    "HTTP requests served, by endpoint, method and status.",
    ["endpoint", "method", "status"],
)
LATENCY = Histogram(
    "forum_http_request_duration_seconds",
    "Time spent serving a request, by endpoint.",
    ["endpoint"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)

bp = Blueprint("observability", __name__)


def current_request_id() -> str:
    """The id of the request being served, or ``-`` outside a request."""
    if has_request_context():
        return str(g.get("request_id", "-"))
    return "-"


class RequestIdFilter(logging.Filter):
    """Adds ``request_id`` to every log record so handlers can print it."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Attach the current request id; never drops a record."""
        record.request_id = current_request_id()
        return True


def _begin_request() -> None:
    incoming = request.headers.get(REQUEST_ID_HEADER, "")
    g.request_id = incoming if _VALID_REQUEST_ID.match(incoming) else uuid.uuid4().hex
    g.request_started = time.perf_counter()


def _finish_request(response: Response) -> Response:
    response.headers[REQUEST_ID_HEADER] = current_request_id()
    started = g.get("request_started")
    if started is not None:
        # The rule's endpoint, never the raw path: unknown URLs must not create new series.
        endpoint = request.url_rule.endpoint if request.url_rule is not None else "unmatched"
        LATENCY.labels(endpoint).observe(time.perf_counter() - started)
        REQUESTS.labels(endpoint, request.method, str(response.status_code)).inc()
    return response


def _is_loopback(address: str | None) -> bool:
    try:
        return address is not None and ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


#: Forwarding headers: their presence means a proxy relayed the request from somewhere else.
_FORWARDING_HEADERS = (
    "Forwarded",
    "X-Forwarded-For",
    "X-Forwarded-Host",
    "X-Forwarded-Proto",
    "X-Forwarded-Port",
    "X-Forwarded-Prefix",
    "X-Real-IP",
    "Via",
)


def metrics_allowed() -> bool:
    """True for a request with the configured token, or from this host to the development server.

    Without a token, only ``forum run`` (Werkzeug's development server) answers loopback
    requests. Under gunicorn or any other server, behind TRUSTED_PROXIES, when
    METRICS_REQUIRE_TOKEN is set, or when the request carries a forwarding header, the token is
    required: a proxy on this host relays outside requests from loopback, with or without
    forwarding headers.
    """
    token = current_app.config.get("METRICS_TOKEN")
    if token:
        sent = request.headers.get("Authorization", "")
        if hmac.compare_digest(sent.encode(), f"Bearer {token}".encode()):
            return True
    return _loopback_may_scrape()


def _loopback_may_scrape() -> bool:
    config = current_app.config
    if config.get("METRICS_REQUIRE_TOKEN") or config.get("TRUSTED_PROXIES"):
        return False
    if any(h in request.headers for h in _FORWARDING_HEADERS):
        return False
    if not str(request.environ.get("SERVER_SOFTWARE", "")).startswith("Werkzeug/"):
        return False
    return _is_loopback(request.remote_addr)


class DatabaseCollector(Collector):
    """Counts read from the database at scrape time: members, posts, search outbox backlog."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def collect(self) -> Iterator[GaugeMetricFamily]:
        """Yield one gauge family per figure."""
        from forum.models import Post, User

        users = GaugeMetricFamily("forum_users", "Member accounts, active or not.")
        posts = GaugeMetricFamily("forum_posts", "Posts not deleted, by kind.", labels=["kind"])
        with self.engine.connect() as conn:
            users.add_metric([], conn.scalar(select(func.count()).select_from(User)) or 0)
            rows = conn.execute(
                select(Post.kind, func.count()).where(Post.deleted_at.is_(None)).group_by(Post.kind)
            ).all()
            for kind, count in rows:
                posts.add_metric([getattr(kind, "value", str(kind))], count)
            yield users
            yield posts
            yield from _outbox_metrics(conn)


def _outbox_metrics(conn: Any) -> Iterator[GaugeMetricFamily]:
    """Pending search outbox rows and the age of the oldest, when the outbox table exists."""
    if not inspect(conn).has_table(OUTBOX_TABLE):
        return
    outbox = Table(OUTBOX_TABLE, MetaData(), autoload_with=conn)
    pending = select(func.count()).select_from(outbox)
    oldest = None
    done = next((outbox.c[c] for c in _OUTBOX_DONE_COLUMNS if c in outbox.c), None)
    condition = done.is_(None) if done is not None else None
    if condition is not None:
        pending = pending.where(condition)
    if "created_at" in outbox.c:
        query = select(func.min(outbox.c.created_at))
        oldest = conn.scalar(query.where(condition) if condition is not None else query)
    backlog = GaugeMetricFamily(
        "forum_search_outbox_pending", "Search index changes written but not yet applied."
    )
    backlog.add_metric([], conn.scalar(pending) or 0)
    yield backlog
    age = GaugeMetricFamily(
        "forum_search_outbox_oldest_age_seconds",
        "Age of the oldest pending search index change (0 when none is pending).",
    )
    age.add_metric([], _age_seconds(oldest))
    yield age


def _age_seconds(value: Any) -> float:
    import datetime as dt

    if value is None:
        return 0.0
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return max(0.0, float((dt.datetime.now(dt.UTC) - value).total_seconds()))


def render_metrics(engine: Engine) -> bytes:
    """The Prometheus text exposition: request metrics (all workers) and database gauges."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        workers = CollectorRegistry()
        MultiProcessCollector(workers)  # type: ignore[no-untyped-call]
        requests_text = generate_latest(workers)
    else:
        requests_text = generate_latest(REGISTRY)
    database = CollectorRegistry(auto_describe=False)
    database.register(DatabaseCollector(engine))
    return requests_text + generate_latest(database)


@bp.get("/metrics")
@limiter.exempt
def metrics() -> Response:
    """Prometheus metrics, for a request bearing METRICS_TOKEN (or this host, in development)."""
    if not metrics_allowed():
        abort(403)
    return Response(render_metrics(get_engine()), mimetype=CONTENT_TYPE_LATEST)


def init_app(app: Flask) -> None:
    """Give every request an id (logged and returned) and count it; serve /metrics."""
    app.config.setdefault("METRICS_TOKEN", None)
    app.config.setdefault("METRICS_REQUIRE_TOKEN", False)
    app.before_request(_begin_request)
    app.after_request(_finish_request)
    app.register_blueprint(bp)
    if not any(isinstance(f, RequestIdFilter) for f in default_handler.filters):
        default_handler.addFilter(RequestIdFilter())
        default_handler.setFormatter(logging.Formatter(LOG_FORMAT))
