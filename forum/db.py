"""The database layer: declarative base, one engine per app, one session per request."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from flask import Flask, current_app, g, has_request_context, request
from sqlalchemy import Connection, DateTime, Engine, MetaData, create_engine, event, func
from sqlalchemy.engine import make_url
from sqlalchemy.orm import DeclarativeBase, Session, mapped_column, sessionmaker

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

_EXTENSION_KEY = "forum.db"
_WRITER_KEY = "forum.db.writer"
#: Execution option marking a bind whose transactions will write (SQLite: BEGIN IMMEDIATE).
WRITE_OPTION = "forum_writes"
#: Request methods that change state: their sessions begin as writers.
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def make_engine(url: str, *, echo: bool = False, busy_timeout_ms: int = 10_000) -> Engine:
    """Create an engine; SQLite gets WAL, a busy timeout, foreign keys and real transactions."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return create_engine(url, echo=echo, pool_pre_ping=True)

    engine = create_engine(
        url, echo=echo, connect_args={"timeout": busy_timeout_ms / 1000, "check_same_thread": False}
    )

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
        immediate = connection.get_execution_options().get(WRITE_OPTION)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


def init_app(app: Flask) -> None:
    """Create the app's engine and session factory; close the request's session at teardown."""
    engine = make_engine(
        app.config["DATABASE_URL"],
        echo=app.config["SQL_ECHO"],
        busy_timeout_ms=app.config["SQLITE_BUSY_TIMEOUT_MS"],
    )
    # Sessions carry the search settings so their after-commit drain finds the index.
    from forum.search import search_config

    factory = sessionmaker(
        bind=engine, expire_on_commit=False, info={"search": search_config(app.config)}
    )
    app.extensions[_EXTENSION_KEY] = (engine, factory)
    app.extensions[_WRITER_KEY] = writing(engine)
    app.teardown_appcontext(_close_session)


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


def new_session(app: Flask | None = None, *, writes: bool = False) -> Session:
    """A new session the caller must close (CLI commands, background work).

    ``writes``: its transactions will write, so on SQLite they wait for the write lock at
    the start instead of failing when another process writes between a read and a write.
    """
    extensions = (app or current_app).extensions
    _engine, factory = extensions[_EXTENSION_KEY]
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
