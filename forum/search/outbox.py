"""Keeping the index equal to the database: outbox rows at flush, drains after commit."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from sqlalchemy import delete, event, func, insert, inspect, select, update
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import ORMExecuteState, Session, sessionmaker

from forum import aftercommit
from forum.db import first_listen, utcnow, writer_options
from forum.models import Comment, Post, SearchOutbox
from forum.search import vectors
from forum.search.backends import get_backend
from forum.search.base import Backend, Busy, ProgressFn, Writer
from forum.search.documents import affected_ids, build_documents, iter_all_documents

log = logging.getLogger(__name__)

#: Post attributes a search document is made of; other changes (views) do not re-index.
POST_FIELDS = (
    "title",
    "body_md",
    "deleted_at",
    "score",
    "accepted_answer_id",
    "is_anonymous",
    "author_id",
    "article_type",
    "parent_id",
    "answer_count",
    "tags",
    "created_at",
)
COMMENT_FIELDS = ("body_md", "deleted_at", "post_id")
PENDING_KEY = "search_pending"
CONFIG_KEY = "search"
BATCH = 200
#: A request waits this long for the writer; after that its rows wait for the next drain.
REQUEST_LOCK_TIMEOUT = 0.25
SQLITE_CLAIM_TIMEOUT_MS = 2000
#: Seconds a drain may start new batches for, unless its caller asks for no limit (the CLI):
#: what is left waits for the next drain.
DRAIN_BUDGET = 1.0
#: Failed drains of one row after which it is quarantined: kept, reported, no longer retried.
MAX_ATTEMPTS = 3


class _RowsFailed(Exception):
    """Applying these outbox rows raised; the cause is chained."""

    def __init__(self, ids: list[int]) -> None:
        super().__init__(f"outbox rows {ids} failed")
        self.ids = ids


def _changed(obj: Any, names: Sequence[str]) -> bool:
    state = inspect(obj)
    return any(state.attrs[name].history.has_changes() for name in names)


def _post_ids(session: Session) -> set[int]:
    ids: set[int] = set()
    for obj in session.new:
        if isinstance(obj, Post):
            ids.update(i for i in (obj.id, obj.parent_id) if i)
        elif isinstance(obj, Comment) and obj.post_id:
            ids.add(obj.post_id)
    for obj in session.dirty:
        if isinstance(obj, Post) and _changed(obj, POST_FIELDS):
            ids.update(i for i in (obj.id, obj.parent_id) if i)
            # A moved answer (parent changed) leaves its old thread too.
            ids.update(i for i in inspect(obj).attrs.parent_id.history.deleted if i)
        elif isinstance(obj, Comment) and _changed(obj, COMMENT_FIELDS):
            ids.add(obj.post_id)
            ids.update(i for i in inspect(obj).attrs.post_id.history.deleted if i)
    for obj in session.deleted:
        if isinstance(obj, Post):
            ids.update(i for i in (obj.id, obj.parent_id) if i)
        elif isinstance(obj, Comment) and obj.post_id:
            ids.add(obj.post_id)
    return ids


def _after_flush(session: Session, _context: Any) -> None:
    ids = _post_ids(session)
    if not ids:
        return
    # Core insert on the flush's connection: same transaction, no nested flush.
    session.connection().execute(
        insert(SearchOutbox.__table__),  # type: ignore[arg-type]
        [{"post_id": post_id} for post_id in sorted(ids)],
    )
    session.info[PENDING_KEY] = True


def _on_execute(state: ORMExecuteState) -> None:
    """Bulk ``update(Post)``/``update(Comment)`` (votes, counters) bypass flush: catch them."""
    if not state.is_update:
        return
    mapper = state.bind_arguments.get("mapper")
    entity = getattr(mapper, "class_", None)
    if entity is None or not issubclass(entity, Post | Comment):
        return
    statement: Any = state.statement
    names = {getattr(key, "key", key) for key in getattr(statement, "_values", {}) or {}}
    watched = POST_FIELDS if issubclass(entity, Post) else COMMENT_FIELDS
    if not names & set(watched):
        return
    target = Post.id if issubclass(entity, Post) else Comment.post_id
    query = select(target)
    if statement.whereclause is not None:
        query = query.where(statement.whereclause)
    # Read before the update runs: its WHERE may name the values it changes.
    ids = set(state.session.execute(query.limit(1000)).scalars().all())
    if ids:
        state.session.connection().execute(
            insert(SearchOutbox.__table__),  # type: ignore[arg-type]
            [{"post_id": post_id} for post_id in sorted(ids)],
        )
        state.session.info[PENDING_KEY] = True


def _after_commit(session: Session) -> None:
    if session.in_nested_transaction():
        # A SAVEPOINT was released; the real transaction (and its write lock) is still open.
        return
    if not session.info.pop(PENDING_KEY, False):
        return
    config = session.info.get(CONFIG_KEY)
    if not config:
        return  # sessions outside the app (scripts) leave rows for `forum search sync`
    # The drain opens sessions of its own: not while this one still holds its connection.
    # One drain applies every committed row, so concurrent commits share one: the others
    # hand over and return instead of each waiting for the index writer.
    engine = session.get_bind()
    if isinstance(engine, Engine):
        key = ("search-drain", engine.pool, config.get("index_dir"))
        job = partial(_drain_merged, engine, config)
        aftercommit.defer_merged(session, key, [True], job)
    else:
        aftercommit.defer(session, partial(_drain_after_commit, engine, config))


def _drain_merged(engine: Engine, config: dict[str, str], _signals: set[bool]) -> None:
    _drain_after_commit(engine, config)


def _drain_after_commit(engine: Engine | Connection, config: dict[str, str]) -> None:
    """Apply what a commit queued, briefly: rows left over wait for the next drain."""
    try:
        assert isinstance(engine, Engine)
        drain(
            engine,
            get_backend(config),
            timeout=REQUEST_LOCK_TIMEOUT,
            max_batches=5,
            indexed=partial(vectors.enqueue, engine, config),
        )
    except Exception:  # noqa: BLE001 - indexing must never fail the request
        log.exception("search drain failed; the outbox keeps the changes for the next drain")


def _after_rollback(session: Session) -> None:
    if session.in_nested_transaction():
        return  # only a SAVEPOINT was undone; rows written before it still wait for commit
    session.info.pop(PENDING_KEY, None)


def follow(sessions: sessionmaker[Session]) -> None:
    """Queue and drain the post changes of the sessions this factory makes (idempotent)."""
    if first_listen(sessions, __name__):
        event.listen(sessions, "after_flush", _after_flush)
        event.listen(sessions, "after_commit", _after_commit)
        event.listen(sessions, "after_rollback", _after_rollback)
        event.listen(sessions, "do_orm_execute", _on_execute)
    aftercommit.attach(sessions)


def _apply_batch(
    session: Session,
    writer: Writer,
    batch: int,
    *,
    commit_empty: bool = False,
    skip: Collection[int] = (),
    indexed: Callable[[set[int]], None] | None = None,
) -> int:
    """Apply up to ``batch`` outbox rows through ``writer``; commit both; return rows applied.

    Quarantined rows and those in ``skip`` are left alone; a failure raises _RowsFailed.
    ``indexed`` is told the post ids applied, after the commit (their vectors follow).

    On SQLite the rows and documents are read in a transaction that only reads, which ends
    before the index is written; the applied rows are then removed in a short writing
    transaction. SQLite has one write lock for the whole database: held while the index
    commits, it would keep every member's vote and post waiting. A post changed meanwhile
    has a newer outbox row, which the next drain applies (the index writer, which this drain
    holds throughout, keeps drains from overtaking each other).
    """
    apart = session.connection().dialect.name == "sqlite"
    tried: list[int] = []
    index_done = False
    try:
        query = select(SearchOutbox.id, SearchOutbox.post_id).where(
            SearchOutbox.quarantined_at.is_(None)
        )
        if skip:
            query = query.where(SearchOutbox.id.not_in(sorted(skip)))
        rows = session.execute(query.order_by(SearchOutbox.id).limit(batch)).all()
        tried = [r.id for r in rows]
        if not rows:
            index_done = True
            if commit_empty:
                writer.commit()
                session.commit()
            else:
                writer.cancel()
                session.rollback()
            return 0
        ids = affected_ids(session, {r.post_id for r in rows})
        docs = build_documents(session, sorted(ids))
        if apart:
            session.rollback()
        writer.update(list(docs.values()))
        writer.delete(sorted(ids - docs.keys()))
        index_done = True
        writer.commit()
        if apart:
            try:
                session.connection(execution_options=writer_options(SQLITE_CLAIM_TIMEOUT_MS))
            except OperationalError:
                # The index has them; the rows are applied again by the next drain.
                session.rollback()
                log.warning("search outbox rows %s stay for the next drain: database busy", tried)
                return 0
        # Rows are removed only after the index has them: a crash in between replays them.
        session.execute(delete(SearchOutbox).where(SearchOutbox.id.in_(tried)))
        session.commit()
        if indexed is not None:
            indexed(ids)
        return len(rows)
    except BaseException as exc:
        if not index_done:
            writer.cancel()
        session.rollback()
        if tried and isinstance(exc, Exception) and not isinstance(exc, Busy):
            raise _RowsFailed(tried) from exc
        raise


def drain(
    engine: Engine,
    backend: Backend,
    *,
    timeout: float,
    batch: int = BATCH,
    max_batches: int = 1000,
    budget: float | None = DRAIN_BUDGET,
    indexed: Callable[[set[int]], None] | None = None,
) -> int:
    """Apply pending outbox rows in batches while the writer is ours; return rows applied.

    ``indexed`` is told the post ids of each applied batch (to embed them next).

    No batch starts after ``budget`` seconds (None: no limit). When a batch fails, its rows are
    retried one at a time; a row that fails on its own counts an attempt and is skipped for the
    rest of the drain, and is quarantined after MAX_ATTEMPTS.
    """
    deadline = None if budget is None else _clock() + budget
    applied = 0
    size = batch
    failed: set[int] = set()
    for _ in range(max_batches):
        if deadline is not None and _clock() >= deadline:
            break
        with Session(engine) as session:
            try:
                writer = backend.writer(session, timeout=timeout)
            except Busy:
                return applied
            try:
                done = _apply_batch(session, writer, size, skip=failed, indexed=indexed)
            except _RowsFailed as exc:
                if len(exc.ids) > 1:
                    size = 1  # find the row at fault: the others are applied one by one
                    continue
                failed.update(exc.ids)
                _count_failure(engine, exc.ids[0], exc.__cause__)
                continue
        if done == 0:
            break
        applied += done
    return applied


def _clock() -> float:
    """The drain budget's clock (a function, so tests can step it)."""
    return time.monotonic()


def _count_failure(engine: Engine, row_id: int, error: BaseException | None) -> None:
    """One more failed attempt for an outbox row; quarantine it at MAX_ATTEMPTS."""
    log.error("search outbox row %s failed", row_id, exc_info=error)
    with Session(engine) as session:
        row = session.get(SearchOutbox, row_id)
        if row is None:
            return
        row.attempts = (row.attempts or 0) + 1
        row.last_error = f"{type(error).__name__}: {error}"[:500]
        if row.attempts >= MAX_ATTEMPTS:
            row.quarantined_at = utcnow()
            log.error("search outbox row %s (post %s) is quarantined", row_id, row.post_id)
        session.commit()


@dataclass(frozen=True)
class Quarantined:
    """An outbox row set aside after failing MAX_ATTEMPTS times."""

    id: int
    post_id: int
    attempts: int
    last_error: str


def quarantined(engine: Engine, limit: int = 100) -> tuple[int, list[Quarantined]]:
    """How many outbox rows are quarantined, and the oldest ``limit`` of them."""
    with Session(engine) as session:
        where = SearchOutbox.quarantined_at.is_not(None)
        count = session.scalar(select(func.count(SearchOutbox.id)).where(where)) or 0
        rows = session.execute(
            select(
                SearchOutbox.id,
                SearchOutbox.post_id,
                SearchOutbox.attempts,
                SearchOutbox.last_error,
            )
            .where(where)
            .order_by(SearchOutbox.id)
            .limit(limit)
        ).all()
        return int(count), [
            Quarantined(r.id, r.post_id, int(r.attempts), r.last_error or "") for r in rows
        ]


def release_quarantined(engine: Engine) -> int:
    """Put every quarantined row back in line with no attempts counted; return how many."""
    with Session(engine) as session:
        result = session.execute(
            update(SearchOutbox)
            .where(SearchOutbox.quarantined_at.is_not(None))
            .values(quarantined_at=None, attempts=0)
        )
        session.commit()
        return int(getattr(result, "rowcount", 0) or 0)


def pending(engine: Engine) -> tuple[int, float | None]:
    """How many outbox rows wait (quarantined ones aside), and the age in seconds of the oldest."""
    with Session(engine) as session:
        count, oldest = session.execute(
            select(func.count(SearchOutbox.id), func.min(SearchOutbox.created_at)).where(
                SearchOutbox.quarantined_at.is_(None)
            )
        ).one()
        age = None
        if oldest is not None:
            if oldest.tzinfo is None:
                import datetime as dt

                oldest = oldest.replace(tzinfo=dt.UTC)
            age = max(0.0, (utcnow() - oldest).total_seconds())
        return int(count), age


def rebuild(engine: Engine, backend: Backend, progress: ProgressFn | None = None) -> int:
    """Build a fresh index, swap it in, then replay the outbox; return documents written."""
    with Session(engine) as session:
        count, writer = backend.rebuild(session, progress)
        # The first replay runs under the rebuild's lock (and, on PostgreSQL, its transaction).
        _apply_batch(session, writer, BATCH, commit_empty=True)
    drain(engine, backend, timeout=30.0, budget=None)
    return count


@dataclass
class Drift:
    """Differences between the index and the database."""

    missing: list[int] = field(default_factory=list)
    stale: list[int] = field(default_factory=list)
    extra: list[int] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """No difference at all."""
        return not (self.missing or self.stale or self.extra)


def verify(
    engine: Engine,
    backend: Backend,
    *,
    fix: bool = False,
    progress: Callable[[int], None] | None = None,
) -> Drift:
    """Compare every document's version in the index with the database (and repair)."""
    with Session(engine) as session:
        indexed = backend.versions(session)
        expected: dict[int, str] = {}
        for n, doc in enumerate(iter_all_documents(session), start=1):
            expected[doc.id] = doc.version
            if progress is not None and n % 1000 == 0:
                progress(n)
    drift = Drift(
        missing=sorted(expected.keys() - indexed.keys()),
        stale=sorted(i for i in expected.keys() & indexed.keys() if expected[i] != indexed[i]),
        extra=sorted(indexed.keys() - expected.keys()),
    )
    if fix and not drift.ok:
        with Session(engine) as session:
            writer = backend.writer(session, timeout=30.0)
            try:
                docs = build_documents(session, drift.missing + drift.stale)
                writer.update(list(docs.values()))
                writer.delete(drift.extra)
                writer.commit()
            except BaseException:
                writer.cancel()
                raise
            session.commit()
    return drift
