"""Vote to close (250 reputation): members close and reopen questions together, moderators at
once, duplicates chosen from a search, and a review queue of pending votes."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from forum.models import AuditLog, CloseVote, Question, Role
from tests.conftest import Browser
from tests.factories import make_question, make_user


@pytest.fixture
def world(session: Session) -> dict[str, Any]:
    """An open question, its original, four members with the privilege, one just below it."""
    asker = make_user(session, "asker")
    for name in ("v1", "v2", "v3", "v4"):
        make_user(session, name, reputation=250)
    make_user(session, "almost", reputation=249)
    make_user(session, "mod", role=Role.MODERATOR)
    original = make_question(session, asker, title="How do I rotate the staging database password?")
    question = make_question(session, asker, title="Rotating the password of the staging db")
    session.commit()
    return {"q": question.id, "original": original.id}


def _as(app: Flask, username: str) -> Browser:
    browser = Browser(app.test_client())
    assert browser.login(username).status_code == 302
    return browser


def _question(session: Session, question_id: int) -> Question:
    session.commit()
    found = session.get(Question, question_id)
    assert found is not None
    session.refresh(found)
    return found


def test_the_privilege_starts_at_250(app: Flask, session: Session, world: dict[str, Any]) -> None:
    below, at = _as(app, "almost"), _as(app, "v1")
    assert "Vote to close…" not in below.get(f"/questions/{world['q']}").get_data(as_text=True)
    assert below.get(f"/questions/{world['q']}/close").status_code == 403
    refused = below.post(f"/questions/{world['q']}/close", {"reason": "off-topic"})
    assert refused.status_code == 403 and "250" in refused.get_data(as_text=True)
    assert below.get("/moderation/close-votes").status_code == 403
    assert "Vote to close…" in at.get(f"/questions/{world['q']}").get_data(as_text=True)
    assert at.post(f"/questions/{world['q']}/close", {"reason": "off-topic"}).status_code == 302
    assert session.scalars(select(CloseVote)).all() != []


def test_three_votes_close_with_the_most_voted_reason_and_one_vote_each(
    app: Flask, session: Session, world: dict[str, Any]
) -> None:
    path = f"/questions/{world['q']}/close"
    assert _as(app, "v1").post(path, {"reason": "needs-detail"}).status_code == 302
    again = _as(app, "v1").post(path, {"reason": "off-topic"})
    assert again.status_code == 409
    assert _as(app, "v2").post(path, {"reason": "off-topic"}).status_code == 302
    page = _as(app, "v3").get(path).get_data(as_text=True)
    assert "2 of 3" in page and "Off-topic ×1" in page and "Needs more detail ×1" in page
    assert _question(session, world["q"]).closed_at is None
    assert _as(app, "v3").post(path, {"reason": "off-topic"}).status_code == 302
    question = _question(session, world["q"])
    assert question.closed_at is not None and question.closed_reason == "off-topic"
    (row,) = session.scalars(select(AuditLog).where(AuditLog.action == "question.vote_close"))
    assert row.actor_id is None
    # The round is settled: no pending vote is left.
    assert session.scalars(select(CloseVote).where(CloseVote.settled_at.is_(None))).all() == []


def test_a_vote_can_be_withdrawn(app: Flask, session: Session, world: dict[str, Any]) -> None:
    voter = _as(app, "v1")
    voter.post(f"/questions/{world['q']}/close", {"reason": "off-topic"})
    assert "Withdraw my vote" in voter.get(f"/questions/{world['q']}/close").get_data(as_text=True)
    assert voter.post(f"/questions/{world['q']}/close-vote/withdraw").status_code == 302
    session.commit()
    assert session.scalars(select(CloseVote)).all() == []


def test_duplicates_choose_the_original_from_a_search(
    app: Flask, session: Session, world: dict[str, Any]
) -> None:
    path = f"/questions/{world['q']}/close"
    for name in ("v1", "v2"):
        voter = _as(app, name)
        found = voter.get(path, query_string={"find": "rotate staging database"})
        html = found.get_data(as_text=True)
        assert f'name="duplicate_of" type="radio" value="{world["original"]}"' in html
        assert f'value="{world["q"]}"' not in html  # never the question itself
        assert '<option selected value="duplicate">' in html
        vote = {"reason": "duplicate", "duplicate_of": str(world["original"])}
        assert voter.post(path, vote).status_code == 302
    # An address pasted into the search finds the question too.
    pasted = _as(app, "v3").get(path, query_string={"find": f"/questions/{world['original']}"})
    assert f'value="{world["original"]}"' in pasted.get_data(as_text=True)
    # A duplicate vote without an original comes back with a message.
    missing = _as(app, "v3").post(path, {"reason": "duplicate"})
    assert missing.status_code == 400
    assert "Choose the original question" in missing.get_data(as_text=True)
    _as(app, "v3").post(path, {"reason": "duplicate", "duplicate_of": str(world["original"])})
    question = _question(session, world["q"])
    assert question.closed_reason == "duplicate" and question.duplicate_of_id == world["original"]


def test_reopen_votes_reopen_a_closed_question(
    app: Flask, session: Session, world: dict[str, Any]
) -> None:
    assert _as(app, "mod").post(f"/questions/{world['q']}", {}).status_code in (405, 400)
    moderator_close = _as(app, "mod").post(
        f"/questions/{world['q']}/close", {"reason": "off-topic"}
    )
    assert moderator_close.status_code == 302
    assert _question(session, world["q"]).closed_at is not None
    page = _as(app, "v1").get(f"/questions/{world['q']}").get_data(as_text=True)
    assert "Vote to reopen…" in page
    for name in ("v1", "v2"):
        assert _as(app, name).post(f"/questions/{world['q']}/reopen").status_code == 302
    assert _question(session, world["q"]).closed_at is not None
    assert _as(app, "v1").post(f"/questions/{world['q']}/reopen").status_code == 409
    _as(app, "v3").post(f"/questions/{world['q']}/reopen")
    assert _question(session, world["q"]).closed_at is None
    assert _as(app, "almost").post(f"/questions/{world['q']}/reopen").status_code == 403


def test_a_moderator_closes_at_once(app: Flask, session: Session, world: dict[str, Any]) -> None:
    _as(app, "v1").post(f"/questions/{world['q']}/close", {"reason": "off-topic"})
    response = _as(app, "mod").post(
        f"/questions/{world['q']}/close", {"reason": "needs-detail", "note": "Say which db."}
    )
    assert response.status_code == 302
    question = _question(session, world["q"])
    assert question.closed_reason == "needs-detail" and question.close_note == "Say which db."
    assert session.scalars(select(CloseVote).where(CloseVote.settled_at.is_(None))).all() == []
    assert session.scalars(select(AuditLog).where(AuditLog.action == "question.close")).one()


def test_the_review_queue_lists_questions_with_pending_votes(
    app: Flask, session: Session, world: dict[str, Any]
) -> None:
    _as(app, "v1").post(f"/questions/{world['q']}/close", {"reason": "off-topic"})
    page = _as(app, "v2").get("/moderation/close-votes").get_data(as_text=True)
    assert "Rotating the password of the staging db" in page
    assert "1 of 3" in page and "Off-topic ×1" in page
    assert "How do I rotate the staging database password?" not in page
    moderator = _as(app, "mod")
    assert 'href="/moderation/close-votes"' in moderator.get("/moderation").get_data(as_text=True)
    assert "Rotating the password" in moderator.get("/moderation/close-votes").get_data(
        as_text=True
    )
