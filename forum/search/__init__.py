"""The search interface: index, delete, search, suggest, similar; the backend is configured."""

from __future__ import annotations

import atexit
import os
import threading
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import insert
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from forum.models import SearchOutbox, ZeroResultQuery
from forum.search import outbox
from forum.search.base import SORTS, Backend, Hit, Results
from forum.search.query import Query, QueryRefused, parse

__all__ = [
    "SORTS",
    "Hit",
    "Page",
    "QueryRefused",
    "Results",
    "backend_status",
    "delete",
    "get_backend",
    "index",
    "related",
    "search",
    "search_config",
    "similar",
    "suggest",
]

outbox.install()

_BACKENDS: OrderedDict[tuple[str, str], Backend] = OrderedDict()
_BACKENDS_LOCK = threading.Lock()
#: Open backends kept per process (tests make many apps; old ones are closed).
_MAX_BACKENDS = 4


def search_config(config: Mapping[str, Any]) -> dict[str, str]:
    """The part of the app's configuration sessions carry for search (sessionmaker info)."""
    return {
        "backend": str(config["SEARCH_BACKEND"]),
        "index_dir": str(config["SEARCH_INDEX_DIR"]),
        "database_url": str(config["DATABASE_URL"]),
    }


def get_backend(config: Mapping[str, str]) -> Backend:
    """The process's backend for ``config`` (one searcher per process, reused)."""
    name = config["backend"]
    key = (name, config["database_url"] if name == "postgres" else config["index_dir"])
    with _BACKENDS_LOCK:
        backend = _BACKENDS.get(key)
        if backend is not None:
            _BACKENDS.move_to_end(key)
            return backend
        if name == "postgres":
            from forum.search.postgres_backend import PostgresBackend

            backend = PostgresBackend()
        else:
            from forum.search.whoosh_backend import WhooshBackend

            backend = WhooshBackend(config["index_dir"])
        _BACKENDS[key] = backend
        while len(_BACKENDS) > _MAX_BACKENDS:
            _key, old = _BACKENDS.popitem(last=False)
            old.close()
        return backend


def close_backends() -> None:
    """Close every open backend (at exit, and between tests)."""
    with _BACKENDS_LOCK:
        while _BACKENDS:
            _key, backend = _BACKENDS.popitem()
            backend.close()


atexit.register(close_backends)


def session_backend(session: Session) -> Backend:
    """The backend configured on ``session`` (through the app's sessionmaker)."""
    config = session.info.get(outbox.CONFIG_KEY)
    if not config:
        raise RuntimeError("this session was not made by the app: it has no search config")
    return get_backend(config)


def index(session: Session, post_ids: Iterable[int]) -> None:
    """Queue posts for (re)indexing in the session's transaction."""
    rows = [{"post_id": int(i)} for i in post_ids]
    if rows:
        session.execute(insert(SearchOutbox), rows)
        session.info[outbox.PENDING_KEY] = True


def delete(session: Session, post_ids: Iterable[int]) -> None:
    """Queue posts for removal: a drain deletes documents whose posts are gone or deleted."""
    index(session, post_ids)


@dataclass
class Page:
    """What the results page shows."""

    text: str
    query: Query | None = None
    results: Results = field(default_factory=Results)
    page: int = 1
    per_page: int = 20
    sort: str = "relevance"
    refused: str | None = None
    suggestion: str | None = None

    @property
    def pages(self) -> int:
        """Number of pages."""
        return max(1, -(-self.results.total // self.per_page))


def search(
    session: Session,
    text: str,
    *,
    sort: str = "relevance",
    page: int = 1,
    per_page: int = 20,
    record_zero: bool = True,
) -> Page:
    """Run the query language ``text``: results, facets, did-you-mean; record zero results."""
    text = text.strip()
    result = Page(
        text=text, page=page, per_page=per_page, sort=sort if sort in SORTS else "relevance"
    )
    if not text:
        return result
    try:
        parsed = parse(text)
    except QueryRefused as exc:
        result.refused = str(exc)
        return result
    result.query = parsed
    backend = session_backend(session)
    if not parsed.is_empty:
        result.results = backend.search(
            session,
            parsed,
            sort=result.sort,
            offset=(page - 1) * per_page,
            limit=per_page,
        )
    if result.results.total == 0 or result.results.complete == 0:
        result.suggestion = suggest(session, text, parsed=parsed)
    if result.results.total == 0 and record_zero and page == 1:
        session.add(ZeroResultQuery(query=text[:500]))
    return result


def suggest(session: Session, text: str, *, parsed: Query | None = None) -> str | None:
    """ "Did you mean": ``text`` with unknown or rare words replaced by common close ones."""
    try:
        parsed = parsed or parse(text)
    except QueryRefused:
        return None
    words = parsed.words()
    if not words:
        return None
    corrections = session_backend(session).correct(session, words)
    if not corrections:
        return None
    import re

    def replace(match: re.Match[str]) -> str:
        word = match.group(0)
        return corrections.get(word.lower(), word)

    corrected = re.sub(r"(?<![:\w])[^\W\d_]+(?![:\w])", replace, text)
    return corrected if corrected != text else None


def similar(session: Session, title: str, limit: int = 5) -> list[Hit]:
    """Questions resembling a title being typed (duplicate hints on the ask page)."""
    title = title.strip()[:300]
    if len(title) < 3:
        return []
    return session_backend(session).similar(session, title, limit)


def related(session: Session, question_id: int, title: str, limit: int = 5) -> list[Hit]:
    """Questions like ``question_id`` (itself left out), for the question page's sidebar.

    Titles and answer counts come from the index's stored fields: no database query on
    Whoosh, one on PostgreSQL.
    """
    hits = similar(session, title, limit=limit + 1)
    return [hit for hit in hits if hit.id != question_id][:limit]


def backend_status(config: dict[str, Any] | Any, engine: Engine | None = None) -> dict[str, Any]:
    """What /healthz reports about search: the backend, its storage, and the outbox backlog."""
    status = _storage_status(config)
    try:
        if engine is None:
            from forum.db import get_engine

            engine = get_engine()
        count, age = outbox.pending(engine)
        status["pending"] = count
        status["oldest_pending_seconds"] = None if age is None else round(age, 1)
    except Exception as exc:  # noqa: BLE001 - a health check reports, it does not raise
        status["pending_error"] = type(exc).__name__
    return status


def _storage_status(config: dict[str, Any] | Any) -> dict[str, Any]:
    backend = config["SEARCH_BACKEND"]
    if backend == "postgres":
        ok = str(config["DATABASE_URL"]).startswith("postgresql")
        return {
            "backend": backend,
            "ok": ok,
            **({} if ok else {"error": "the postgres backend needs a PostgreSQL database"}),
        }
    index_dir = Path(config["SEARCH_INDEX_DIR"])
    try:
        index_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        return {"backend": backend, "ok": False, "error": f"index directory: {exc.strerror}"}
    writable = os.access(index_dir, os.W_OK)
    return {
        "backend": backend,
        "ok": writable,
        **({} if writable else {"error": "index directory is not writable"}),
    }
