"""``forum search sync|rebuild|verify`` on both backends."""

from __future__ import annotations

from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from forum import search
from forum.models import SearchOutbox
from tests.factories import make_user, search_question
from tests.unit.test_search_backends import (  # noqa: F401 - fixtures
    _close_search_backends,
    app_config,
    database_url,
    search_setup,
)


def titles(session: Session, text: str) -> list[str]:
    return [h.title for h in search.search(session, text).results.hits]


def test_sync_applies_rows_a_crash_left(app: Flask, session: Session) -> None:
    author = make_user(session)
    search_question(session, author, "Capybara grooming", "Gently.")
    # As if the process died after committing but before draining.
    session.info.pop("search")
    session.commit()
    assert session.scalar(select(func.count()).select_from(SearchOutbox)) == 1
    session.info["search"] = search.search_config(app.config)
    result = app.test_cli_runner().invoke(args=["search", "sync"])
    assert result.exit_code == 0, result.output
    assert "Applied 1 pending change(s); 0 left." in result.output
    assert titles(session, "capybara") == ["Capybara grooming"]


def test_sync_leaves_an_index_of_the_current_schema_in_place(app: Flask, session: Session) -> None:
    author = make_user(session)
    search_question(session, author, "Quokka smiles", "Always.")
    session.commit()
    assert search.session_backend(session).schema_ok() is True
    result = app.test_cli_runner().invoke(args=["search", "sync"])
    assert result.exit_code == 0, result.output
    assert "another schema version" not in result.output
    assert "Rebuilt the index" not in result.output
    assert titles(session, "quokka") == ["Quokka smiles"]


def test_rebuild_shows_progress_and_a_summary(app: Flask, session: Session) -> None:
    author = make_user(session)
    for n in range(3):
        search_question(session, author, f"Tapir fact {n}", "Tapirs.")
    session.commit()
    result = app.test_cli_runner().invoke(args=["search", "rebuild"])
    assert result.exit_code == 0, result.output
    assert "Indexing" in result.output and "Rebuilt the index: 3 document(s)" in result.output
    assert len(titles(session, "tapir")) == 3


def test_verify_reports_then_fixes(app: Flask, session: Session) -> None:
    author = make_user(session)
    question = search_question(session, author, "Okapi sightings", "Rare.")
    session.commit()
    backend = search.session_backend(session)
    writer = backend.writer(session, timeout=5)
    writer.delete([question.id])
    writer.commit()
    session.commit()
    runner = app.test_cli_runner()
    result = runner.invoke(args=["search", "verify"])
    assert result.exit_code == 1
    assert "missing: 1, stale: 0, extra: 0" in result.output
    assert f"missing post ids: {question.id}" in result.output
    result = runner.invoke(args=["search", "verify", "--fix"])
    assert result.exit_code == 0 and "Repaired." in result.output
    result = runner.invoke(args=["search", "verify"])
    assert result.exit_code == 0 and "The index matches the database." in result.output
