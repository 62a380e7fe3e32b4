"""Keeping the index equal to the database: outbox rows at flush, drains after commit."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import delete, event, false, func, insert, inspect, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import ORMExecuteState, Session

from forum.models import Comment, Post, SearchOutbox
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
    try:
        from forum.search import get_backend

        engine = session.get_bind()
        assert isinstance(engine, Engine)
        drain(engine, get_backend(config), timeout=REQUEST_LOCK_TIMEOUT, max_batches=5)
    except Exception:  # noqa: BLE001 - indexing must never fail the request
        log.exception("search drain failed; the outbox keeps the changes for the next drain")


def _after_rollback(session: Session) -> None:
    if session.in_nested_transaction():
        return  # only a SAVEPOINT was undone; rows written before it still wait for commit
    session.info.pop(PENDING_KEY, None)


def install() -> None:
    """Listen to every ORM session (idempotent)."""
    if not event.contains(Session, "after_flush", _after_flush):
        event.listen(Session, "after_flush", _after_flush)
        event.listen(Session, "after_commit", _after_commit)
        event.listen(Session, "after_rollback", _after_rollback)
        event.listen(Session, "do_orm_execute", _on_execute)


def _apply_batch(
    session: Session, writer: Writer, batch: int, *, commit_empty: bool = False
) -> int:
    """Apply up to ``batch`` outbox rows through ``writer``; commit both; return rows applied."""
    conn = session.connection()
    previous: Any = None
    index_done = False

    def restore() -> None:
        if previous is not None:
            conn.exec_driver_sql(f"PRAGMA busy_timeout = {int(previous)}")

    try:
        if conn.dialect.name == "sqlite":
            # Take SQLite's write lock first: a transaction that reads and then writes fails
            # at once if another process wrote in between. Wait briefly, not a request's 10 s.
            previous = conn.exec_driver_sql("PRAGMA busy_timeout").scalar()
            conn.exec_driver_sql(f"PRAGMA busy_timeout = {SQLITE_CLAIM_TIMEOUT_MS}")
            session.execute(delete(SearchOutbox).where(false()))
        rows = session.execute(
            select(SearchOutbox.id, SearchOutbox.post_id).order_by(SearchOutbox.id).limit(batch)
        ).all()
        if not rows:
            restore()
            if commit_empty:
                index_done = True
                writer.commit()
                session.commit()
            else:
                index_done = True
                writer.cancel()
                session.rollback()
            return 0
        ids = affected_ids(session, {r.post_id for r in rows})
        docs = build_documents(session, sorted(ids))
        writer.update(list(docs.values()))
        writer.delete(sorted(ids - docs.keys()))
        index_done = True
        writer.commit()
        # Rows are removed only after the index has them: a crash in between replays them.
        session.execute(delete(SearchOutbox).where(SearchOutbox.id.in_([r.id for r in rows])))
        restore()
        session.commit()
        return len(rows)
    except BaseException:
        if not index_done:
            writer.cancel()
        try:
            restore()
        finally:
            session.rollback()
        raise


def drain(
    engine: Engine,
    backend: Backend,
    *,
    timeout: float,
    batch: int = BATCH,
    max_batches: int = 1000,
) -> int:
    """Apply pending outbox rows in batches while the writer is ours; return rows applied."""
    applied = 0
    for _ in range(max_batches):
        with Session(engine) as session:
            try:
                writer = backend.writer(session, timeout=timeout)
            except Busy:
                return applied
            done = _apply_batch(session, writer, batch)
        if done == 0:
            break
        applied += done
    return applied


def pending(engine: Engine) -> tuple[int, float | None]:
    """How many outbox rows wait, and the age in seconds of the oldest."""
    with Session(engine) as session:
        count, oldest = session.execute(
            select(func.count(SearchOutbox.id), func.min(SearchOutbox.created_at))
        ).one()
        age = None
        if oldest is not None:
            from forum.db import utcnow

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
    drain(engine, backend, timeout=30.0)
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
