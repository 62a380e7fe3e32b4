"""Work that follows a commit, run once the session has handed its connection back to the pool.

Listeners of ``after_commit`` run while the committing session still holds its pooled
connection. Work that opens a session of its own there (badge awarding, the search drain)
needs a second connection at the same moment: with as many busy threads as the pool holds,
every thread holds one connection and waits for another until the pool times out. So such
listeners only ``defer`` their work; it runs when the root transaction has ended and its
connection is back in the pool, one job after another, each with at most one connection.

Inside a web request the jobs wait a little longer: until the response has been sent
(``init_app``). The member who voted or posted gets the answer without waiting for badges, the
search index or mail; the request's worker does that work next. Outside a request (commands,
threads of their own) they run when the transaction ends.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Hashable, Iterable
from functools import partial
from typing import Any

from flask import Flask, Response, has_request_context, request
from flask.testing import FlaskClient
from sqlalchemy import event
from sqlalchemy.orm import Session, SessionTransaction, sessionmaker

from forum.db import first_listen

log = logging.getLogger(__name__)

#: ``session.info`` key of the jobs waiting for the end of the committed transaction.
JOBS_KEY = "after_commit_jobs"
_COMMITTED_KEY = "after_commit_committed"

Job = Callable[[], None]
#: Rounds of merged work a request runs before a thread of its own takes over.
MAX_ROUNDS = 2

_MERGE_LOCK = threading.Lock()
#: Pending items of each key whose work a thread is running.
_MERGING: dict[Hashable, set[Any]] = {}
#: The thread running each key's rounds.
_RUNNERS: dict[Hashable, threading.Thread] = {}
#: Threads that took over merged work from a request.
_BACKGROUND: set[threading.Thread] = set()


def defer(session: Session, job: Job) -> None:
    """Run ``job`` once the current transaction has committed and released its connection.

    Typically called from an ``after_commit`` listener (``attach`` must have run on the
    session's factory). The job runs still inside ``session.commit()``, so callers see its
    effects; a transaction rolled back or closed without a commit drops it.
    """
    session.info.setdefault(JOBS_KEY, []).append(job)


def defer_merged(
    session: Session, key: Hashable, items: Iterable[Hashable], run: Callable[[set[Any]], None]
) -> None:
    """Like ``defer``, but jobs of one ``key`` merge: one thread at a time runs them.

    After the commit, the items join the key's pending set. When another thread is already
    running that key's work, it takes them in its next round and this request goes on; else
    this thread runs rounds until nothing is pending. Work whose cost hardly depends on how
    many items it covers (awarding badges, draining the search outbox) is then done a few
    times per burst of commits instead of once per commit, each time by one writer.
    """
    batch = set(items)
    session.info.setdefault(JOBS_KEY, []).append(partial(_run_merged, key, batch, run))


def _run_merged(key: Hashable, items: set[Any], run: Callable[[set[Any]], None]) -> None:
    with _MERGE_LOCK:
        work = _MERGING.get(key)
        runner = _RUNNERS.get(key)
        if work is not None and runner is not None and runner.is_alive():
            work |= items
            return
        # Nobody runs this key's work (or its runner ended without finishing it): this
        # thread takes it over, with whatever was left.
        _MERGING[key] = (work or set()) | items
        _RUNNERS[key] = threading.current_thread()
    _rounds(key, run, MAX_ROUNDS)


def _rounds(key: Hashable, run: Callable[[set[Any]], None], limit: int | None) -> None:
    """Run the key's pending items round after round until none are left."""
    done = 0
    while True:
        with _MERGE_LOCK:
            batch = _MERGING[key]
            if not batch:
                del _MERGING[key]
                del _RUNNERS[key]
                return
            if limit is not None and done >= limit:
                break
            _MERGING[key] = set()
        try:
            run(batch)
        except Exception:  # noqa: BLE001 - the commits have happened; report and go on
            log.exception("Work after commit failed: %r", run)
        done += 1
    # Commits keep coming: a request has waited long enough for others' work. A thread of
    # its own finishes the rounds (a submitter meanwhile still only hands its items over);
    # not a daemon, so that a server shutting down finishes it before the process ends.
    thread = threading.Thread(target=_rounds, args=(key, run, None), name="forum-after-commit")
    with _MERGE_LOCK:
        _BACKGROUND.add(thread)
        _RUNNERS[key] = thread
        # Started under the lock: no submitter sees the new runner before it is alive.
        thread.start()


def wait_idle(timeout: float) -> bool:
    """Wait up to ``timeout`` seconds for merged work running in threads of its own.

    For callers about to dispose of an engine that such work may still use (tests, tools).
    """
    deadline = time.monotonic() + timeout
    while True:
        with _MERGE_LOCK:
            threads = [t for t in _BACKGROUND if t.is_alive()]
            _BACKGROUND.intersection_update(threads)
        if not threads:
            return True
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return False
        threads[0].join(remaining)


def pending_jobs(session: Session) -> int:
    """How many deferred jobs wait on ``session`` (none once its commit has returned)."""
    return len(session.info.get(JOBS_KEY, ()))


def _committed(session: Session) -> None:
    """The root transaction committed (a released SAVEPOINT is not a commit)."""
    if not session.in_nested_transaction():
        session.info[_COMMITTED_KEY] = True


def _run_jobs(session: Session, transaction: SessionTransaction) -> None:
    """At the end of a root transaction (connection released): run the jobs if it committed."""
    if transaction.parent is not None or transaction.nested:
        return
    committed = session.info.pop(_COMMITTED_KEY, False)
    # Taken first, so that a job deferring on this session again cannot loop; a rolled
    # back or closed transaction drops its jobs.
    jobs: list[Job] = session.info.pop(JOBS_KEY, [])
    if not committed or not jobs:
        return
    if (
        has_request_context()
        and not request.environ.get(_RESPONDED, False)
        and closes_when_written(request.environ)
    ):
        request.environ.setdefault(_RESPONSE_JOBS, []).extend(jobs)
        return
    _run(jobs)


def _run(jobs: Iterable[Job]) -> None:
    for job in jobs:
        try:
            job()
        except Exception:  # noqa: BLE001 - the commit stands; a failed follow-up is only logged
            log.exception("Work after commit failed: %r", job)


#: WSGI environ keys: the jobs of a request's commits, and whether its response is on its way.
_RESPONSE_JOBS = "forum.after_response_jobs"
_RESPONDED = "forum.after_response_sent"


def init_app(app: Flask) -> None:
    """Run the jobs of a request's commits once its response has been sent: a WSGI server
    closes the response after writing it, so the client has it while the worker goes on.
    Register before other ``after_request`` hooks: Flask runs the first registered last, so
    commits made by the others are handed over too. The app's test client reads responses
    whole (:class:`WholeResponseClient`), so a test's call returns after that work as well."""

    @app.after_request
    def _hand_over(response: Response) -> Response:
        request.environ[_RESPONDED] = True  # later commits (teardown) run their jobs at once
        jobs: list[Job] = request.environ.pop(_RESPONSE_JOBS, [])
        if jobs:
            response.call_on_close(partial(_run, jobs))
        return response

    @app.teardown_request
    def _leftovers(_error: BaseException | None) -> None:
        # Response processing failed before handing the jobs over: run them now.
        _run(request.environ.pop(_RESPONSE_JOBS, []))

    app.test_client_class = WholeResponseClient


def closes_when_written(environ: dict[str, Any]) -> bool:
    """Whether the WSGI server closes a response as soon as it has written it (gunicorn,
    and the test client). Werkzeug's development server (``forum run``) first reads what the
    client may still send on the connection, which can wait on a browser keeping it open:
    there the work runs when the transaction ends, as outside a request."""
    return not str(environ.get("SERVER_SOFTWARE", "")).startswith("Werkzeug/")


class WholeResponseClient(FlaskClient):
    """Flask's test client, reading every response whole (``buffered``) and closing it, as
    an HTTP client receives it: what runs after a response has run when a call returns."""

    def open(self, *args: Any, buffered: bool = True, **kwargs: Any) -> Any:
        return super().open(*args, buffered=buffered, **kwargs)


def attach(sessions: sessionmaker[Session]) -> None:
    """Run deferred jobs for the sessions this factory makes (idempotent)."""
    if not first_listen(sessions, __name__):
        return
    event.listen(sessions, "after_commit", _committed)
    event.listen(sessions, "after_transaction_end", _run_jobs)
