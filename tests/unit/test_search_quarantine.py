"""Indexing stays bounded: capped fields, a drain budget, and quarantined outbox rows."""

from __future__ import annotations

import json
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from forum import search
from forum.models import SearchOutbox
from forum.search import documents, outbox
from tests.factories import make_user, search_answer, search_question
from tests.unit.test_search_backends import (  # noqa: F401 - fixtures
    SEARCH_SETUPS,
    _close_search_backends,
    app_config,
    database_url,
    search_setup,
)


def _ids(session: Session, text: str) -> list[int]:
    return [h.id for h in search.search(session, text).results.hits]


def _poison(monkeypatch: pytest.MonkeyPatch, bad_post_id: int) -> None:
    """Make building the document of one post raise, as a bug in the indexer would."""
    real = documents.build_documents

    def build(session: Session, post_ids: Any) -> Any:
        if bad_post_id in set(post_ids):
            raise ValueError("cannot index this post")
        return real(session, post_ids)

    monkeypatch.setattr(outbox, "build_documents", build)


def _rows(session: Session) -> list[SearchOutbox]:
    session.expire_all()
    rows = list(session.scalars(select(SearchOutbox).order_by(SearchOutbox.id)))
    session.rollback()
    return rows


def _queue(app: Flask, session: Session, titles: list[str]) -> list[Any]:
    """Questions committed with their outbox rows left for a later drain."""
    author = make_user(session)
    session.commit()
    config = session.info.pop("search")
    posts = [search_question(session, author, title, "Body text.") for title in titles]
    session.commit()
    session.info["search"] = config
    return posts


def test_a_failing_row_is_quarantined_and_the_others_are_applied(
    app: Flask, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    bad, good = _queue(app, session, ["Pangolin scales", "Numbat diet"])
    engine: Any = session.get_bind()
    backend = search.session_backend(session)
    _poison(monkeypatch, bad.id)
    for attempt in range(1, outbox.MAX_ATTEMPTS + 1):
        outbox.drain(engine, backend, timeout=5)
        rows = _rows(session)
        assert [(r.post_id, r.attempts) for r in rows] == [(bad.id, attempt)]
        assert "cannot index this post" in (rows[0].last_error or "")
    assert rows[0].quarantined_at is not None
    assert outbox.pending(engine)[0] == 0
    assert outbox.quarantined(engine)[0] == 1
    # The good post was applied on the first drain; later drains leave the bad row alone.
    assert _ids(session, "numbat") == [good.id]
    assert outbox.drain(engine, backend, timeout=5) == 0
    assert _rows(session)[0].attempts == outbox.MAX_ATTEMPTS


def test_quarantined_rows_show_in_verify_and_healthz_and_retry_applies_them(
    app: Flask, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    (bad,) = _queue(app, session, ["Quoll habits"])
    engine: Any = session.get_bind()
    backend = search.session_backend(session)
    _poison(monkeypatch, bad.id)
    for _ in range(outbox.MAX_ATTEMPTS):
        outbox.drain(engine, backend, timeout=5)
    runner = app.test_cli_runner()
    result = runner.invoke(args=["search", "verify"])
    assert result.exit_code == 1
    assert "quarantined in the outbox: 1" in result.output
    assert f"post {bad.id}: ValueError: cannot index this post" in result.output
    health = json.loads(app.test_client().get("/healthz").get_data(as_text=True))
    assert health["search"]["quarantined"] == 1 and health["search"]["pending"] == 0
    monkeypatch.undo()  # the indexer is fixed
    result = runner.invoke(args=["search", "retry"])
    assert result.exit_code == 0, result.output
    assert "Released 1 quarantined change(s)." in result.output
    assert "Applied 1 pending change(s); 0 left." in result.output
    assert _rows(session) == [] and _ids(session, "quoll") == [bad.id]


def test_a_drain_starts_no_batch_after_its_budget(
    app: Flask, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    _queue(app, session, ["Tenrec one", "Tenrec two", "Tenrec three"])
    engine: Any = session.get_bind()
    backend = search.session_backend(session)
    clock = iter(range(100))
    monkeypatch.setattr(outbox, "_clock", lambda: float(next(clock)))
    # The clock moves one second per look: started at 0, a 2.5 s budget lets two batches start.
    assert outbox.drain(engine, backend, timeout=5, batch=1, budget=2.5) == 2
    assert len(_rows(session)) == 1
    assert outbox.drain(engine, backend, timeout=5, batch=1, budget=None) == 1


def test_a_threads_answers_and_comments_are_capped_per_field(
    app: Flask, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(documents, "MAX_FIELD_CHARS", 1000)
    author = make_user(session)
    question = search_question(session, author, "Aardvark burrows", "x " * 2000)
    for _ in range(5):
        search_answer(session, question, author, "Dig deeper. " * 100)
    session.commit()
    calls: list[str] = []
    real = documents.plain_text
    monkeypatch.setattr(documents, "plain_text", lambda text: calls.append(text) or real(text))
    doc = documents.build_documents(session, [question.id])[question.id]
    assert len(doc.body) <= 1000 and len(doc.answers) <= 1000
    # Answers past the cap are not even reduced to plain text.
    assert len([c for c in calls if c.startswith("Dig deeper.")]) == 1


@pytest.mark.parametrize("search_setup", [SEARCH_SETUPS[0]], indirect=True)
def test_on_sqlite_the_write_lock_is_free_while_the_index_commits(
    app: Flask, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Members' writes never wait for a drain's index commit: SQLite has one write lock."""
    import sqlite3

    from forum.search import whoosh_backend

    posts = _queue(app, session, ["Pangolin scales", "Numbat diet"])
    engine: Any = session.get_bind()
    backend = search.session_backend(session)
    path = engine.url.database
    took_the_lock: list[bool] = []
    real_commit = whoosh_backend._WhooshWriter.commit

    def commit(self: Any) -> None:
        # Another process writing now gets the lock at once (no busy wait).
        other = sqlite3.connect(path, timeout=0, isolation_level=None)
        try:
            other.execute("BEGIN IMMEDIATE")
            other.execute("ROLLBACK")
            took_the_lock.append(True)
        except sqlite3.OperationalError:
            took_the_lock.append(False)
        finally:
            other.close()
        real_commit(self)

    monkeypatch.setattr(whoosh_backend._WhooshWriter, "commit", commit)
    assert outbox.drain(engine, backend, timeout=5) == len(posts)
    assert took_the_lock == [True]
    assert _rows(session) == []
    assert set(_ids(session, "pangolin OR numbat")) == {p.id for p in posts}


@pytest.mark.parametrize("search_setup", [SEARCH_SETUPS[0]], indirect=True)
def test_a_drain_never_deletes_a_row_written_after_it_read_its_own(
    app: Flask, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    """While a drain writes the index, another drain may apply and delete its rows, and a new
    change add one: the new row has an id of its own, so the first drain leaves it."""
    import sqlite3

    from forum.search import whoosh_backend

    posts = _queue(app, session, ["Pangolin scales", "Numbat diet"])
    read = [r.id for r in _rows(session)]
    assert read == [1, 2]  # a new table: a plain rowid would start again at 1
    engine: Any = session.get_bind()
    backend = search.session_backend(session)
    real_commit = whoosh_backend._WhooshWriter.commit
    added: list[int] = []

    def commit(self: Any) -> None:
        real_commit(self)
        if added:
            return
        other = sqlite3.connect(engine.url.database, isolation_level=None)
        try:
            other.execute("DELETE FROM search_outbox")  # applied by another drain
            cursor = other.execute(
                "INSERT INTO search_outbox (post_id, created_at, attempts)"
                " VALUES (?, CURRENT_TIMESTAMP, 0)",
                (posts[0].id,),
            )
            added.append(int(cursor.lastrowid or 0))
        finally:
            other.close()

    monkeypatch.setattr(whoosh_backend._WhooshWriter, "commit", commit)
    outbox.drain(engine, backend, timeout=5, max_batches=1)
    assert added and added[0] not in read
    session.rollback()
    left = session.execute(select(SearchOutbox.id, SearchOutbox.post_id)).all()
    assert [tuple(row) for row in left] == [(added[0], posts[0].id)]
