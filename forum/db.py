"""The database layer: declarative base, one engine per app, one session per request."""

from __future__ import annotations

import datetime as dt
import enum
import random
import sqlite3
import threading
import time
import weakref
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any

from flask import Flask, current_app, g, has_request_context, request
from sqlalchemy import Connection, DateTime, Engine, Enum, MetaData, create_engine, event, func
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import DeclarativeBase, Session, mapped_column, sessionmaker

from forum.files import private_sqlite_file

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Base class of every model; constraint names follow NAMING_CONVENTION."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def utcnow() -> dt.datetime:
    """The current time in UTC, timezone-aware."""
    return dt.datetime.now(dt.UTC)


IntPK = Annotated[int, mapped_column(primary_key=True)]
CreatedAt = Annotated[
    dt.datetime,
    mapped_column(DateTime(timezone=True), default=utcnow, server_default=func.now()),
]
UpdatedAt = Annotated[
    dt.datetime,
    mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow, server_default=func.now()
    ),
]


def value_enum(cls: type[enum.Enum], length: int) -> Enum:
    """A portable VARCHAR-backed enum column type storing the members' values (not names)."""
    return Enum(
        cls, native_enum=False, length=length, values_callable=lambda e: [m.value for m in e]
    )


_EXTENSION_KEY = "forum.db"
_WRITER_KEY = "forum.db.writer"
_INFO_KEY = "forum.db.info"
#: Execution option marking a bind whose transactions will write (SQLite: BEGIN IMMEDIATE).
WRITE_OPTION = "forum_writes"
#: Execution option: how long (ms) such a transaction waits for the write lock, if not the
#: engine's busy timeout.
WRITE_TIMEOUT_OPTION = "forum_write_timeout_ms"
#: Request methods that change state: their sessions begin as writers.
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


@dataclass(frozen=True)
class PoolSettings:
    """The connection pool of one process: kept connections, extra ones, and the wait for one."""

    size: int = 5
    max_overflow: int = 10
    timeout: float = 30.0


def pool_settings(config: Mapping[str, Any]) -> PoolSettings:
    """The pool ``config`` asks for; unset sizes follow the server's threads per process.

    Each request needs one connection at a time (work after a commit waits until the
    request's connection is back), so a connection per thread never waits; two more serve
    health checks and metrics. Under the development server (a thread per connection,
    ``THREADS`` unset) the pool bounds how many requests use the database at once.
    """
    threads = int(config.get("THREADS") or 0)
    size = config.get("DB_POOL_SIZE")
    overflow = config.get("DB_MAX_OVERFLOW")
    return PoolSettings(
        size=int(size) if size is not None else (threads + 2 if threads else 10),
        max_overflow=int(overflow) if overflow is not None else (threads if threads else 10),
        timeout=float(config["DB_POOL_TIMEOUT"]),
    )


def make_engine(
    url: str,
    *,
    echo: bool = False,
    busy_timeout_ms: int = 10_000,
    pool: PoolSettings | None = None,
) -> Engine:
    """Create an engine; SQLite gets WAL, a busy timeout, foreign keys and real transactions."""
    parsed = make_url(url)
    pool_args: dict[str, Any] = {}
    if pool is not None:
        pool_args = {
            "pool_size": pool.size,
            "max_overflow": pool.max_overflow,
            "pool_timeout": pool.timeout,
        }
    if parsed.get_backend_name() != "sqlite":
        return create_engine(url, echo=echo, pool_pre_ping=True, **pool_args)

    private_sqlite_file(parsed.database)
    in_memory = not parsed.database or parsed.database == ":memory:"
    engine = create_engine(
        url,
        echo=echo,
        connect_args={"timeout": busy_timeout_ms / 1000, "check_same_thread": False},
        # An in-memory database lives in one connection: no queue of connections to size.
        **({} if in_memory else pool_args),
    )
    writers = WriterQueue()

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the sqlite3 module, decide when transactions begin, so that
        # SAVEPOINTs and BEGIN work as documented (SQLAlchemy's pysqlite recipe).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
        cursor.execute("PRAGMA foreign_keys = ON")
        if parsed.database and parsed.database != ":memory:":
            cursor.execute("PRAGMA journal_mode = WAL")
            cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        # BEGIN IMMEDIATE takes the write lock up front (waiting up to the busy timeout). A
        # plain BEGIN that reads and then writes fails at once, without waiting, when another
        # process committed in between: SQLite cannot upgrade a stale snapshot.
        options = connection.get_execution_options()
        if not options.get(WRITE_OPTION):
            connection.exec_driver_sql("BEGIN")
            return
        # Writers of this process queue in order for their turn, so that only one of them
        # at a time contends for SQLite's lock with other processes: none starves while the
        # lock passes from one writer to the next.
        wait = options.get(WRITE_TIMEOUT_OPTION, busy_timeout_ms) / 1000
        deadline = time.monotonic() + wait
        if not writers.acquire(wait):
            raise _locked()
        connection.info[_HOLDS_WRITER_TURN] = True
        try:
            _begin_immediate(connection.connection.dbapi_connection, deadline, busy_timeout_ms)
        except BaseException:
            _end_turn(connection.info)
            raise

    def _end_turn(info: dict[Any, Any]) -> None:
        if info.pop(_HOLDS_WRITER_TURN, False):
            writers.release()

    @event.listens_for(engine, "commit")
    @event.listens_for(engine, "rollback")
    def _on_end(connection: Any) -> None:
        # Before the COMMIT or ROLLBACK itself: SQLite's own lock, still held for a moment,
        # keeps the next writer waiting in its busy handler only that long. An invalidated
        # connection has no info left (and gave its turn back when it was invalidated).
        if not connection.invalidated:
            _end_turn(connection.info)

    @event.listens_for(engine, "checkin")
    def _on_checkin(_dbapi_connection: Any, record: Any) -> None:
        # A connection returned mid-transaction (an error) gives up its turn too.
        _end_turn(record.info)

    @event.listens_for(engine, "invalidate")
    def _on_invalidate(_dbapi_connection: Any, record: Any, _exc: Any) -> None:
        # So does one thrown away after an error, which is never checked in.
        _end_turn(record.info)

    return engine


_HOLDS_WRITER_TURN = "forum.db.writer_turn"
#: Seconds between two tries for SQLite's write lock held by another process.
LOCK_POLL_SECONDS = (0.0005, 0.002)


def _locked() -> OperationalError:
    return OperationalError("BEGIN IMMEDIATE", None, sqlite3.OperationalError("database is locked"))


def _begin_immediate(dbapi_connection: Any, deadline: float, busy_timeout_ms: int) -> None:
    """BEGIN IMMEDIATE, trying every millisecond or so until ``deadline``.

    SQLite's own busy handler sleeps ever longer between tries (up to 100 ms), so a writer of
    one process that has waited a while loses the lock to every newcomer of another process,
    and can wait out its whole busy timeout. Trying at a short, even pace keeps the processes'
    chances equal.
    """
    dbapi_connection.execute("PRAGMA busy_timeout = 0")
    try:
        while True:
            try:
                dbapi_connection.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) and "busy" not in str(exc):
                    raise
                if time.monotonic() >= deadline:
                    raise _locked() from exc
            time.sleep(random.uniform(*LOCK_POLL_SECONDS))
    finally:
        dbapi_connection.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")


class WriterQueue:
    """A first-come, first-served lock: the order in which a process's writers take turns."""

    def __init__(self) -> None:
        self._mutex = threading.Lock()
        self._waiting: deque[threading.Lock] = deque()
        self._held = False

    def acquire(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for this thread's turn; False if it did not come."""
        with self._mutex:
            if not self._held:
                self._held = True
                return True
            turn = threading.Lock()
            turn.acquire()
            self._waiting.append(turn)
        if turn.acquire(timeout=timeout):
            return True
        with self._mutex:
            if turn in self._waiting:
                self._waiting.remove(turn)
                return False
        # The turn was handed over just as the wait ended: it is ours.
        return True

    def release(self) -> None:
        """Hand the turn to the longest-waiting writer, or free it."""
        with self._mutex:
            if self._waiting:
                self._waiting.popleft().release()
            else:
                self._held = False

    @property
    def waiting(self) -> int:
        """How many writers wait for their turn."""
        with self._mutex:
            return len(self._waiting)


def init_app(app: Flask) -> None:
    """Create the app's engine and session factory; close the request's session at teardown."""
    engine = make_engine(
        app.config["DATABASE_URL"],
        echo=app.config["SQL_ECHO"],
        busy_timeout_ms=app.config["SQLITE_BUSY_TIMEOUT_MS"],
        pool=pool_settings(app.config),
    )
    # What every session of the app carries (``carry``): the event bus, the reputation rules,
    # the search settings. sessionmaker keeps this very dict and copies it into each session.
    info: dict[str, Any] = {}
    factory = sessionmaker(bind=engine, expire_on_commit=False, info=info)
    app.extensions[_EXTENSION_KEY] = (engine, factory)
    app.extensions[_INFO_KEY] = info
    app.extensions[_WRITER_KEY] = writing(engine)
    app.teardown_appcontext(_close_session)


_LISTENING: dict[str, weakref.WeakSet[sessionmaker[Session]]] = {}
_LISTENING_LOCK = threading.Lock()


def first_listen(sessions: sessionmaker[Session], name: str) -> bool:
    """True the first time ``name`` asks for ``sessions``: its listeners are to be attached.

    SQLAlchemy's ``event.contains`` cannot tell: it knows listeners by the ``id()`` of the
    factory's session class, so a factory whose class took the address of a collected one
    is taken for it, and would never get its listeners.
    """
    with _LISTENING_LOCK:
        seen = _LISTENING.setdefault(name, weakref.WeakSet())
        if sessions in seen:
            return False
        seen.add(sessions)
        return True


def session_factory(app: Flask | None = None) -> sessionmaker[Session]:
    """The app's session factory: subsystems attach their session listeners to it."""
    _engine, factory = (app or current_app).extensions[_EXTENSION_KEY]
    return factory  # type: ignore[no-any-return]


def carry(app: Flask, key: str, value: Any) -> None:
    """Every session ``app`` makes from now on has ``value`` in ``Session.info[key]``."""
    app.extensions[_INFO_KEY][key] = value


def get_engine(app: Flask | None = None) -> Engine:
    """The engine of ``app`` (or the current app)."""
    engine, _factory = (app or current_app).extensions[_EXTENSION_KEY]
    return engine  # type: ignore[no-any-return]


def writing(bind: Engine | Connection) -> Engine | Connection:
    """``bind`` for transactions that will write: on SQLite they take the write lock first.

    A connection is returned as it is (its transaction, if any, has begun already).
    """
    if isinstance(bind, Connection):
        return bind
    return bind.execution_options(**{WRITE_OPTION: True})


def writer_options(timeout_ms: int | None = None) -> dict[str, Any]:
    """Execution options that make a transaction a writer from its start.

    For ``session.connection(execution_options=...)`` before a transaction's first statement,
    when a session that only reads is about to write: on SQLite the transaction then queues
    with the other writers (giving up after ``timeout_ms``) instead of contending for the
    lock outside their queue.
    """
    options: dict[str, Any] = {WRITE_OPTION: True}
    if timeout_ms is not None:
        options[WRITE_TIMEOUT_OPTION] = timeout_ms
    return options


def begin_writing(session: Session, timeout_ms: int | None = None) -> None:
    """End ``session``'s transaction, which only read, and begin one that will write.

    For a request that reads (GET) and then writes: on SQLite, a transaction that read
    cannot write once another connection has committed since its first read ("database is
    locked" at once, whatever the busy timeout). A new transaction that is a writer from
    its start waits for its turn instead. The session's loaded objects stay usable.
    """
    session.commit()
    session.connection(execution_options=writer_options(timeout_ms))


def new_session(
    app: Flask | None = None, *, writes: bool = False, bind: Engine | Connection | None = None
) -> Session:
    """A new session the caller must close (CLI commands, background work).

    ``writes``: its transactions will write, so on SQLite they wait for the write lock at
    the start instead of failing when another process writes between a read and a write.
    ``bind``: another engine or connection than the app's (tools, tests), with the app's
    listeners and ``info`` all the same.
    """
    extensions = (app or current_app).extensions
    _engine, factory = extensions[_EXTENSION_KEY]
    if bind is not None:
        return factory(bind=writing(bind) if writes else bind)  # type: ignore[no-any-return]
    if writes:
        return factory(bind=extensions[_WRITER_KEY])  # type: ignore[no-any-return]
    return factory()  # type: ignore[no-any-return]


def get_session() -> Session:
    """The session of the current request or app context, created on first use.

    A state-changing request's session is a writer (see ``new_session``).
    """
    if "db_session" not in g:
        g.db_session = new_session(writes=has_request_context() and request.method in WRITE_METHODS)
    return g.db_session  # type: ignore[no-any-return]


def _close_session(_exc: BaseException | None) -> None:
    session: Session | None = g.pop("db_session", None)
    if session is not None:
        session.close()
