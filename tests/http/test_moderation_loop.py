"""Moderation that closes the loop: moderators hear of flags, flaggers hear the outcome, every
moderator action is audited (page deletions too), destructive actions are confirmed, and the
anonymous asker is told of a reveal without who or why."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from forum.models import AuditLog, Flag, Notification, Post, Role
from tests.conftest import Browser
from tests.factories import make_answer, make_comment, make_question, make_user


@pytest.fixture
def world(session: Session) -> dict[str, Any]:
    """A question with an answer and a comment by Wendy; a flagger, a moderator and an admin."""
    author = make_user(session, "writer", display_name="Wendy Writer")
    make_user(session, "reader", display_name="Rita Reader")
    make_user(session, "mod", display_name="Mo Derator", role=Role.MODERATOR)
    make_user(session, "boss", display_name="Bo Admin", role=Role.ADMIN)
    question = make_question(session, author, title="How do I rotate the staging password?")
    answer = make_answer(session, question, author, body="An answer body nobody likes")
    comment = make_comment(session, question, author, body="A comment that is rude")
    session.commit()
    return {"q": question.id, "a": answer.id, "c": comment.id}


def _as(app: Flask, username: str) -> Browser:
    browser = Browser(app.test_client())
    assert browser.login(username).status_code == 302
    return browser


def _flag(app: Flask, session: Session, target: str, who: str = "reader") -> int:
    response = _as(app, who).post("/flags", {"target": target, "reason": "rude"})
    assert response.status_code == 302
    session.commit()
    flag_id = session.scalar(select(Flag.id).where(Flag.status == "open").order_by(Flag.id.desc()))
    assert flag_id is not None
    return flag_id


def _inbox(session: Session, username: str, kind: str) -> list[str]:
    session.commit()
    rows = session.scalars(
        select(Notification)
        .where(Notification.kind == kind)
        .where(Notification.recipient.has(username=username))
    )
    return [n.text for n in rows]


def _audit(session: Session, action: str) -> list[AuditLog]:
    session.commit()
    return list(session.scalars(select(AuditLog).where(AuditLog.action == action)))


def test_moderators_are_told_of_a_new_flag_and_see_the_queue_size(
    app: Flask, session: Session, world: dict[str, Any]
) -> None:
    _flag(app, session, f"post:{world['a']}")
    for moderator in ("mod", "boss"):
        texts = _inbox(session, moderator, "flag")
        assert texts == [
            "New flag (rude or abusive) on the answer “How do I rotate the staging password?”"
        ]
        assert "Rita" not in texts[0]
    assert _inbox(session, "reader", "flag") == []
    header = _as(app, "mod").get("/").get_data(as_text=True)
    assert 'aria-label="Flags waiting: 1 open flag"' in header
    # Members see no queue size.
    assert "Flags waiting" not in _as(app, "reader").get("/").get_data(as_text=True)


def test_a_declined_flag_is_told_to_the_flagger_and_listed_on_my_flags(
    app: Flask, session: Session, world: dict[str, Any]
) -> None:
    flag_id = _flag(app, session, f"post:{world['a']}")
    assert _as(app, "mod").post(f"/moderation/flags/{flag_id}/dismiss").status_code == 302
    texts = _inbox(session, "reader", "flag_outcome")
    assert len(texts) == 1 and "was declined" in texts[0]
    page = _as(app, "reader").get("/flags/mine").get_data(as_text=True)
    assert "Answer on “How do I rotate the staging password?”" in page
    assert "Declined" in page and "Rude or abusive" in page


def test_hiding_needs_confirmation_then_the_flag_is_helpful_and_the_page_offers_unhide(
    app: Flask, session: Session, world: dict[str, Any]
) -> None:
    flag_id = _flag(app, session, f"post:{world['a']}")
    moderator = _as(app, "mod")
    step = moderator.post(f"/moderation/flags/{flag_id}/hide", {"note": "kept note"})
    assert step.status_code == 200
    html = step.get_data(as_text=True)
    assert "Hide this answer?" in html and 'name="confirmed" value="yes"' in html
    assert 'value="kept note"' in html
    session.commit()
    assert session.get(Flag, flag_id).status == "open"  # type: ignore[union-attr]
    done = moderator.post(
        f"/moderation/flags/{flag_id}/hide", {"note": "kept note", "confirmed": "yes"}
    )
    assert done.status_code == 302
    texts = _inbox(session, "reader", "flag_outcome")
    # Removed content is not named again.
    assert texts == [
        "Your flag on the answer (since removed) was marked helpful: the moderators acted on it"
    ]
    mine = _as(app, "reader").get("/flags/mine").get_data(as_text=True)
    assert "Helpful" in mine and "no longer shown" in mine
    page = moderator.get(f"/questions/{world['q']}").get_data(as_text=True)
    assert f'action="/moderation/posts/{world["a"]}/unhide"' in page
    assert ">Unhide</button>" in page and ">Undelete</button>" not in page


def test_a_warning_leaves_the_flags_open_unless_the_moderator_resolves_them(
    app: Flask, session: Session, world: dict[str, Any]
) -> None:
    flag_id = _flag(app, session, f"comment:{world['c']}")
    moderator = _as(app, "mod")
    response = moderator.post(f"/moderation/flags/{flag_id}/warn", {"warning": "Please be kind."})
    assert response.status_code == 302
    session.commit()
    flag = session.get(Flag, flag_id)
    assert flag is not None and flag.status == "open"
    assert _inbox(session, "writer", "moderation") != []
    assert _inbox(session, "reader", "flag_outcome") == []
    (row,) = _audit(session, "moderation.warn")
    assert "left open" in row.reason
    # The same warning, resolving the flags this time.
    again = moderator.post(
        f"/moderation/flags/{flag_id}/warn", {"warning": "Again.", "resolve": "y"}
    )
    assert again.status_code == 302
    session.commit()
    session.refresh(flag)
    assert (flag.status, flag.outcome) == ("closed", "helpful")
    assert len(_inbox(session, "reader", "flag_outcome")) == 1


def test_deleting_from_the_page_is_confirmed_and_audited_and_so_is_undeleting(
    app: Flask, session: Session, world: dict[str, Any]
) -> None:
    moderator = _as(app, "mod")
    question_page = moderator.get(f"/questions/{world['q']}").get_data(as_text=True)
    assert f'href="/answers/{world["a"]}/delete"' in question_page
    confirm = moderator.get(f"/answers/{world['a']}/delete")
    assert confirm.status_code == 200
    assert "Delete this answer?" in confirm.get_data(as_text=True)
    assert moderator.post(f"/answers/{world['a']}/delete").status_code == 302
    assert moderator.post(f"/answers/{world['a']}/undelete").status_code == 302
    assert moderator.post(f"/comments/{world['c']}/delete").status_code == 302
    (deleted,) = _audit(session, "post.delete")
    (undeleted,) = _audit(session, "post.undelete")
    (comment,) = _audit(session, "comment.delete")
    assert (deleted.target_id, undeleted.target_id, comment.target_id) == (
        world["a"],
        world["a"],
        world["c"],
    )
    assert deleted.actor is not None and deleted.actor.username == "mod"
    # Someone else may not even see the confirmation.
    assert _as(app, "reader").get(f"/answers/{world['a']}/delete").status_code == 403
    # An author deleting their own post is not a moderator action.
    writer = _as(app, "writer")
    assert writer.get(f"/questions/{world['q']}/delete").status_code == 200
    assert writer.post(f"/questions/{world['q']}/delete").status_code == 302
    assert len(_audit(session, "post.delete")) == 1


def test_the_audit_log_names_the_member_and_folds_long_reasons(
    app: Flask, session: Session, world: dict[str, Any]
) -> None:
    flag_id = _flag(app, session, f"comment:{world['c']}")
    long_warning = "Please keep to the code of conduct. " * 10
    _as(app, "mod").post(
        f"/moderation/flags/{flag_id}/warn", {"warning": long_warning, "resolve": "y"}
    )
    page = _as(app, "mod").get("/moderation/audit").get_data(as_text=True)
    assert '<a href="/users/writer">Wendy Writer</a>' in page
    assert "<details><summary>" in page and long_warning.strip() in page


def test_the_anonymous_asker_is_told_of_a_reveal_without_who_or_why(
    app: Flask, session: Session, world: dict[str, Any]
) -> None:
    asker = make_user(session, "shy", display_name="Shy Asker")
    question = make_question(
        session, asker, title="Is it fine to ask this quietly?", anonymous=True
    )
    session.commit()
    response = _as(app, "mod").post(
        f"/questions/{question.id}/reveal", {"reason": "A harassment report names this thread"}
    )
    assert response.status_code == 200 and "Shy Asker" in response.get_data(as_text=True)
    notes = session.scalars(select(Notification).where(Notification.recipient_id == asker.id)).all()
    assert len(notes) == 1
    assert "A moderator looked up that you asked" in notes[0].text
    assert "Mo Derator" not in notes[0].text and "harassment" not in notes[0].text
    assert notes[0].actor_id is None
    # The audit page keeps the reveal's subject unnamed.
    audit = _as(app, "boss").get("/moderation/audit").get_data(as_text=True)
    assert "Shy Asker" not in audit
    post = session.get(Post, question.id)
    assert post is not None and post.is_anonymous
