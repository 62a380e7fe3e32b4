"""Sending webhook deliveries: signed POSTs after the commit, retried with backoff for a day.

``forum.services.webhooks`` writes a delivery row per webhook in the transaction of the action.
Here, once such a transaction has committed, a background thread of the process
(:class:`Dispatcher`) sends what is due: never the request, which returns at once. Each
attempt is logged (status code or error, duration); a failure is tried again after 30 s, 1 min,
2 min, ... (at most an hour apart) until a day has passed. Several processes may send at once:
each claims its rows first (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, the write lock on
SQLite) and leases them for the time a send may take. ``forum webhooks deliver`` does one
pass for a worker or cron job (``FORUM_WEBHOOKS_DELIVER_IN_APP=0`` leaves it all to them).

Each POST carries ``X-Forum-Event``, ``X-Forum-Delivery`` (the delivery's id, the same on
every attempt) and ``X-Forum-Signature-256: sha256=<hex HMAC-SHA256 of the body>``; it
follows no redirect (a 3xx counts as a failure) and gives up after a few seconds.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any
from urllib.parse import urlsplit

import urllib3
from flask import Flask
from sqlalchemy import event, func, select
from sqlalchemy.orm import Session

from forum import aftercommit, db
from forum.db import utcnow
from forum.models import Webhook, WebhookAttempt, WebhookDelivery
from forum.services import webhooks as service

log = logging.getLogger(__name__)

_EXTENSION_KEY = "forum.webhooks"
#: ``Session.info`` key of the process's dispatcher (absent: deliveries wait for a worker).
DISPATCHER_KEY = "webhook_dispatcher"
USER_AGENT = "forum-webhooks/1"
#: The longest a dispatcher sleeps before looking for due retries again.
MAX_SLEEP = 300.0

OpenSession = Callable[[], Session]


@dataclass(frozen=True)
class Settings:
    """How deliveries are sent and retried."""

    #: Seconds to connect and, again, to read the answer.
    timeout: float = 5.0
    #: Seconds before the first retry; each later one waits twice as long as the one before.
    retry_base: float = 30.0
    #: The longest wait between two attempts.
    retry_max: float = 3600.0
    #: Deliveries claimed at a time.
    batch: int = 20

    @property
    def lease(self) -> dt.timedelta:
        """How long a claimed delivery is left to its sender before others may try it."""
        return dt.timedelta(seconds=2 * self.timeout + 60)


def sign(secret: str, body: bytes) -> str:
    """The ``X-Forum-Signature-256`` header of ``body``."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def backoff(attempts: int, settings: Settings) -> dt.timedelta:
    """The wait after the ``attempts``-th failed attempt."""
    seconds = settings.retry_base * 2 ** max(0, min(attempts - 1, 30))
    return dt.timedelta(seconds=min(seconds, settings.retry_max))


@dataclass(frozen=True)
class Outcome:
    """What one attempt got: a status code, or an error."""

    status_code: int | None
    error: str | None
    duration_ms: int

    @property
    def ok(self) -> bool:
        """A 2xx answer."""
        return self.status_code is not None and 200 <= self.status_code < 300


_POOL = urllib3.PoolManager(num_pools=20)


def post(url: str, body: bytes, headers: dict[str, str], timeout: float) -> Outcome:
    """POST ``body``; no redirect followed, no retry here (the outbox retries)."""
    started = time.monotonic()
    try:
        response = _POOL.request(
            "POST",
            url,
            body=body,
            headers=headers,
            redirect=False,
            retries=False,
            timeout=urllib3.Timeout(connect=timeout, read=timeout),
            preload_content=False,
        )
        try:
            # The answer's body is not needed: read a little so the connection can be reused.
            response.read(4096)
        finally:
            response.release_conn()
        status: int | None = response.status
        error = None if 200 <= response.status < 300 else f"HTTP {response.status}"
    except Exception as exc:  # noqa: BLE001 - every failure is an attempt's outcome
        status, error = None, f"{type(exc).__name__}: {exc}"[:500]
    return Outcome(status, error, int((time.monotonic() - started) * 1000))


@dataclass(frozen=True)
class _Job:
    delivery_id: int
    uuid: str
    event: str
    body: str
    url: str
    secret: str


def _claim(
    open_session: OpenSession, settings: Settings, now: dt.datetime, skip: set[int]
) -> list[_Job]:
    """Take up to a batch of due deliveries, leased to this sender."""
    with open_session() as session:
        query = (
            select(WebhookDelivery)
            .join(Webhook, Webhook.id == WebhookDelivery.webhook_id)
            .where(
                WebhookDelivery.status == service.PENDING,
                WebhookDelivery.next_attempt_at <= now,
                Webhook.active.is_(True),
            )
            .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id)
            .limit(settings.batch)
            .with_for_update(skip_locked=True, of=WebhookDelivery)
        )
        if skip:
            query = query.where(WebhookDelivery.id.not_in(sorted(skip)))
        rows = list(session.scalars(query))
        jobs = []
        for delivery in rows:
            webhook = session.get(Webhook, delivery.webhook_id)
            assert webhook is not None
            delivery.next_attempt_at = now + settings.lease
            jobs.append(
                _Job(
                    delivery.id,
                    delivery.uuid,
                    delivery.event,
                    delivery.body,
                    webhook.url,
                    webhook.secret,
                )
            )
        session.commit()
    return jobs


def _record(
    open_session: OpenSession, settings: Settings, job: _Job, outcome: Outcome, now: dt.datetime
) -> None:
    with open_session() as session:
        delivery = session.get(WebhookDelivery, job.delivery_id)
        if delivery is None:
            return  # the webhook was removed meanwhile
        session.add(
            WebhookAttempt(
                delivery_id=delivery.id,
                attempted_at=now,
                status_code=outcome.status_code,
                error=outcome.error,
                duration_ms=outcome.duration_ms,
            )
        )
        delivery.attempts += 1
        delivery.last_status_code = outcome.status_code
        delivery.last_error = outcome.error
        if outcome.ok:
            delivery.status = service.DELIVERED
            delivery.delivered_at = now
            delivery.next_attempt_at = None
        else:
            retry_at = now + backoff(delivery.attempts, settings)
            give_up_at = delivery.give_up_at
            if give_up_at.tzinfo is None:
                give_up_at = give_up_at.replace(tzinfo=dt.UTC)
            if retry_at > give_up_at:
                delivery.status = service.FAILED
                delivery.next_attempt_at = None
            else:
                delivery.next_attempt_at = retry_at
        session.commit()


def send(job: _Job, settings: Settings) -> Outcome:
    """One attempt at a delivery."""
    body = job.body.encode()
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "X-Forum-Event": job.event,
        "X-Forum-Delivery": job.uuid,
        "X-Forum-Signature-256": sign(job.secret, body),
    }
    return post(job.url, body, headers, settings.timeout)


def deliver_due(
    open_session: OpenSession, settings: Settings, *, now: dt.datetime | None = None
) -> int:
    """Try every delivery due at ``now`` (default: the clock) once; how many were tried."""
    tried: set[int] = set()
    while True:
        moment = now or utcnow()
        jobs = _claim(open_session, settings, moment, tried)
        if not jobs:
            return len(tried)
        for job in jobs:
            tried.add(job.delivery_id)
            outcome = send(job, settings)
            _record(open_session, settings, job, outcome, now or utcnow())


def next_due(open_session: OpenSession) -> dt.datetime | None:
    """When the next pending delivery of an active webhook is due; None when none waits."""
    with open_session() as session:
        found = session.scalar(
            select(func.min(WebhookDelivery.next_attempt_at))
            .join(Webhook, Webhook.id == WebhookDelivery.webhook_id)
            .where(WebhookDelivery.status == service.PENDING, Webhook.active.is_(True))
        )
    if found is not None and found.tzinfo is None:
        found = found.replace(tzinfo=dt.UTC)
    return found


class Dispatcher:
    """The process's sender: a thread woken after each commit that queued deliveries.

    It sends what is due, then sleeps until the next retry is due (or it is woken again);
    with nothing left to send it ends, and the next commit starts another.
    """

    def __init__(self, open_session: OpenSession, settings: Settings) -> None:
        self.open_session = open_session
        self.settings = settings
        self._lock = threading.Lock()
        self._woken = threading.Event()
        self._stopped = False
        self._thread: threading.Thread | None = None

    def wake(self) -> None:
        """Send what is due soon, in the dispatcher's thread (started when needed)."""
        with self._lock:
            if self._stopped:
                return
            self._woken.set()
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._run, name="forum-webhooks", daemon=True
                )
                self._thread.start()

    def _run(self) -> None:
        while True:
            with self._lock:
                if self._stopped:
                    self._thread = None
                    return
                self._woken.clear()
            wait: float | None = None
            try:
                deliver_due(self.open_session, self.settings)
                due = next_due(self.open_session)
                if due is not None:
                    wait = min(MAX_SLEEP, max(0.5, (due - utcnow()).total_seconds()))
            except Exception:  # noqa: BLE001 - the rows stay; the next wake tries again
                log.exception("Sending webhook deliveries failed; they wait for the next try")
                wait = MAX_SLEEP
            if wait is None:
                with self._lock:
                    if self._stopped or not self._woken.is_set():
                        self._thread = None
                        return
                continue
            self._woken.wait(wait)

    def stop(self, timeout: float) -> bool:
        """Send nothing more (deliveries stay queued) and wait for the thread to end.

        For an app that is going away, such as a test's: a thread sleeping until a retry
        would otherwise outlive it and wake on a database that is gone.
        """
        with self._lock:
            self._stopped = True
            self._woken.set()
        return self.wait_idle(timeout)

    def wait_idle(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for the thread to end (tests, tools)."""
        with self._lock:
            thread = self._thread
        if thread is not None:
            thread.join(timeout)
            return not thread.is_alive()
        return True


def settings_of(config: dict[str, Any] | Any) -> Settings:
    """The delivery settings of an app's configuration."""
    return Settings(
        timeout=float(config["WEBHOOK_TIMEOUT"]),
        retry_base=float(config["WEBHOOK_RETRY_BASE"]),
        retry_max=float(config["WEBHOOK_RETRY_MAX"]),
    )


def absolute_links(app: Flask) -> service.Links:
    """``(endpoint, params) -> URL`` on the site's address (``SITE_URL``), outside requests."""
    site = urlsplit(str(app.config["SITE_URL"]))
    script = site.path.rstrip("/") or "/"

    def link(endpoint: str, params: dict[str, Any]) -> str:
        values = dict(params)
        anchor = values.pop("_anchor", None)
        adapter = app.url_map.bind(site.netloc, script_name=script, url_scheme=site.scheme)
        url = adapter.build(endpoint, values, force_external=True)
        return f"{url}#{anchor}" if anchor else url

    return link


def links(app: Flask) -> service.Links:
    """The app's absolute link builder (feeds use it too, so ids stay stable)."""
    found: service.Links = app.extensions[_EXTENSION_KEY]["links"]
    return found


def dispatcher(app: Flask) -> Dispatcher:
    """The app's dispatcher."""
    found: Dispatcher = app.extensions[_EXTENSION_KEY]["dispatcher"]
    return found


def open_writer(app: Flask) -> OpenSession:
    """Sessions for the senders: writers (on SQLite they take the write lock first)."""
    return partial(db.new_session, app, writes=True)


def _after_commit(session: Session) -> None:
    if session.in_nested_transaction():
        return
    if not session.info.pop(service.PENDING_KEY, False):
        return
    found = session.info.get(DISPATCHER_KEY)
    if isinstance(found, Dispatcher):
        aftercommit.defer(session, found.wake)


def _after_rollback(session: Session) -> None:
    if not session.in_nested_transaction():
        session.info.pop(service.PENDING_KEY, None)


def init_app(app: Flask) -> None:
    """Links for payloads, and sending after each commit that queued deliveries."""
    link = absolute_links(app)
    sender = Dispatcher(open_writer(app), settings_of(app.config))
    app.extensions[_EXTENSION_KEY] = {"links": link, "dispatcher": sender}
    db.carry(app, service.LINKS_KEY, link)
    if app.config["WEBHOOKS_DELIVER_IN_APP"]:
        db.carry(app, DISPATCHER_KEY, sender)
    sessions = db.session_factory(app)
    if db.first_listen(sessions, __name__):
        event.listen(sessions, "after_commit", _after_commit)
        event.listen(sessions, "after_rollback", _after_rollback)
    aftercommit.attach(sessions)
