"""The search interface: index, delete, search, suggest, similar; the backend is configured."""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flask import Flask
from sqlalchemy import insert
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from forum.db import carry, get_engine, session_factory, utcnow
from forum.models import SearchOutbox, ZeroResultQuery
from forum.search import outbox
from forum.search import words as word_forms
from forum.search.backends import close_backends, get_backend, search_config
from forum.search.base import SORTS, TIME_LIMIT, Backend, Hit, Results
from forum.search.query import Query, QueryRefused, parse
from forum.services.visibility import visible_post_ids

__all__ = [
    "ASK_KINDS",
    "SORTS",
    "Hit",
    "Page",
    "QueryRefused",
    "Results",
    "backend_status",
    "close_backends",
    "delete",
    "get_backend",
    "index",
    "init_app",
    "live_hits",
    "related",
    "search",
    "search_config",
    "similar",
    "suggest",
]


def init_app(app: Flask) -> None:
    """Keep the app's index equal to its database: every session of the app queues the posts
    its flushes change (the outbox) and drains the queue after its commit."""
    carry(app, outbox.CONFIG_KEY, search_config(app.config))
    outbox.follow(session_factory(app))


def session_backend(session: Session) -> Backend:
    """The backend configured on ``session`` (through the app's sessionmaker)."""
    config = session.info.get(outbox.CONFIG_KEY)
    if not config:
        raise RuntimeError("this session was not made by the app: it has no search config")
    return get_backend(config)


def _time_limit(session: Session) -> float:
    """Seconds a search on ``session`` may run (the app's SEARCH_TIME_LIMIT)."""
    config = session.info.get(outbox.CONFIG_KEY) or {}
    return float(config.get("time_limit", TIME_LIMIT))


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
    member_id: int | None = None,
) -> Page:
    """Run the query language ``text``: results, facets, did-you-mean.

    A member's search that finds nothing is recorded (once per member, query and day);
    visitors' searches are not.
    """
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
            time_limit=_time_limit(session),
        )
        result.results = _without_removed(session, result.results)
    if result.results.total == 0 or result.results.complete == 0:
        result.suggestion = suggest(session, text, parsed=parsed)
    if result.results.total == 0 and record_zero and page == 1 and member_id is not None:
        record_zero_result(session, member_id, text)
    return result


def normalize_query(text: str) -> str:
    """How zero-result searches are grouped: lower case, single spaces."""
    return " ".join(text.lower().split())[:500]


def query_stems(text: str) -> str:
    """How the gaps page groups zero-result searches: the content words stemmed, without
    repeats, sorted ("docker deploy" for "Deploying Docker deployments"); the normalised
    query when no content word is left."""
    stems = sorted({word_forms.stem(w) for w in word_forms.content_words(text)})
    return " ".join(stems)[:500] or normalize_query(text)


def record_zero_result(session: Session, member_id: int, text: str) -> None:
    """Record a member's search that found nothing: one row per member, query and day, whose
    time is that of the latest such search (one statement, an upsert)."""
    now = utcnow()
    values = {
        "query": text[:500],
        "normalized": normalize_query(text),
        "stems": query_stems(text),
        "user_id": member_id,
        "day": now.date(),
        "created_at": now,
    }
    from sqlalchemy.dialects import postgresql, sqlite

    dialect = session.get_bind().dialect.name
    insert_into = postgresql.insert if dialect == "postgresql" else sqlite.insert
    session.execute(
        insert_into(ZeroResultQuery)
        .values(**values)
        .on_conflict_do_update(
            index_elements=["user_id", "normalized", "day"], set_={"created_at": now}
        )
    )


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


#: What the ask page's similar-posts box lists: questions and articles.
ASK_KINDS = ("question", "article")


def similar(
    session: Session, title: str, limit: int = 5, kinds: Sequence[str] = ("question",)
) -> list[Hit]:
    """Posts of ``kinds`` resembling a title being typed: those sharing the most content
    words with it (question words and stop words such as "how do" do not count)."""
    title = title.strip()[:300]
    if len(title) < 3:
        return []
    return live_hits(session, session_backend(session).similar(session, title, limit, kinds))


def live_hits(session: Session, hits: list[Hit]) -> list[Hit]:
    """``hits`` without posts removed since they were indexed (the index may lag a drain)."""
    live = visible_post_ids(session, None, {hit.id for hit in hits})
    return [hit for hit in hits if hit.id in live]


def _without_removed(session: Session, results: Results) -> Results:
    """One page of results without removed posts, its counts lowered by those dropped."""
    hits = live_hits(session, results.hits)
    dropped = len(results.hits) - len(hits)
    if dropped:
        results.hits = hits
        results.total = max(0, results.total - dropped)
        results.complete = min(results.complete, results.total)
    return results


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
            engine = get_engine()
        count, age = outbox.pending(engine)
        status["pending"] = count
        status["oldest_pending_seconds"] = None if age is None else round(age, 1)
        status["quarantined"] = outbox.quarantined(engine, limit=0)[0]
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
