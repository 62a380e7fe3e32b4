"""What an anonymous asker does in their own thread moves nothing attributed to them: no badge,
no reputation event, no notification, no counter, no leaderboard or analytics figure."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from forum.models import (
    Answer,
    BadgeAward,
    Comment,
    Notification,
    Question,
    ReputationEvent,
    Role,
    User,
)
from forum.services import analytics, badges, leaderboards
from tests.conftest import Browser
from tests.factories import make_answer, make_comment, make_question, make_user

LONG_AGO = dt.datetime(2020, 1, 6, 9, 0, tzinfo=dt.UTC)


def _snapshot(session: Session, asker_id: int) -> dict[str, Any]:
    """Every row and figure that names the asker or counts what they did."""
    session.commit()  # a fresh snapshot of the database
    asker = session.get(User, asker_id)
    assert asker is not None
    session.refresh(asker)
    report = analytics.report(session)
    boards = leaderboards.leaderboards(session, period=leaderboards.Period.ALL)
    return {
        "awards": sorted(
            (a.badge_key, a.subject, str(a.awarded_at))
            for a in session.scalars(select(BadgeAward).where(BadgeAward.user_id == asker_id))
        ),
        "reputation_events": sorted(
            (e.id, e.user_id, e.delta, e.reason, e.actor_id)
            for e in session.scalars(
                select(ReputationEvent).where(
                    or_(ReputationEvent.user_id == asker_id, ReputationEvent.actor_id == asker_id)
                )
            )
        ),
        "notifications": sorted(
            (n.id, n.recipient_id, n.kind, n.actor_id)
            for n in session.scalars(
                select(Notification).where(
                    or_(Notification.recipient_id == asker_id, Notification.actor_id == asker_id)
                )
            )
        ),
        "counters": (asker.reputation, asker.unread_notifications),
        "badge_progress": {b.key: b.progress(session, asker) for b in badges.BADGES.values()},
        "weekly_active": [w.active for w in report.weeks],
        "department_active": {r.name: r.active for r in report.departments},
        "leaderboards": [
            (e.user.id, e.points) for e in boards.top + boards.helpful if e.user.id == asker_id
        ],
    }


def _id(response: Any, pattern: str) -> int:
    match = re.search(pattern, response.headers["Location"])
    assert match, response.headers["Location"]
    return int(match.group(1))


@pytest.fixture
def thread(app: Flask, session: Session) -> dict[str, Any]:
    """An asker one step away from several badges, and their anonymous question answered."""
    asker = make_user(
        session,
        "zquasar",
        display_name="Zelda Quasar",
        role=Role.MODERATOR,
        reputation=2000,
        department="Legal",
    )
    helper = make_user(session, "helper", reputation=500, department="Support")
    # Named history, long before the analytics period: nine comments (Commentator takes ten)
    # and a question viewed often enough for Popular Question, not yet awarded. Any badge
    # check of the asker at the moment of an anonymous action would award it then.
    named = make_question(session, helper, title="Where is the travel policy kept nowadays?")
    for n in range(9):
        make_comment(session, named, asker, body=f"Named comment number {n}.")
    mine = make_question(session, asker, title="Which printer prints in colour on floor two?")
    session.commit()
    # Bulk updates are not changes the badge hooks watch: the views leave the badge pending.
    session.execute(update(Comment).values(created_at=LONG_AGO))
    session.execute(
        update(Question).where(Question.id == mine.id).values(created_at=LONG_AGO, view_count=150)
    )
    session.execute(update(Question).where(Question.id == named.id).values(created_at=LONG_AGO))
    session.execute(
        update(BadgeAward).where(BadgeAward.user_id == asker.id).values(awarded_at=LONG_AGO)
    )
    session.commit()

    as_asker = Browser(app.test_client())
    as_asker.login("zquasar")
    asked = as_asker.post(
        "/questions/ask",
        {
            "title": "Is it normal to feel lost in the first month?",
            "body": "Everything is new and I am unsure whom to ask.",
            "tags": "onboarding",
            "anonymous": "y",
        },
    )
    question_id = _id(asked, r"/questions/(\d+)")
    question = session.get(Question, question_id)
    assert question is not None and question.is_anonymous
    answer = make_answer(session, question, helper, body="Completely normal, give it time.")
    other = make_answer(session, question, helper, body="Ask your buddy first, always.")
    remark = make_comment(session, answer, helper, body="Happy to talk about it.")
    session.commit()
    return {
        "asker": as_asker,
        "asker_id": asker.id,
        "question_id": question_id,
        "answer_id": answer.id,
        "other_id": other.id,
        "remark_id": remark.id,
    }


def test_anonymous_actions_change_nothing_attributed_to_the_asker(
    session: Session, thread: dict[str, Any]
) -> None:
    asker: Browser = thread["asker"]
    qid, aid, other, remark = (
        thread["question_id"],
        thread["answer_id"],
        thread["other_id"],
        thread["remark_id"],
    )
    before = _snapshot(session, thread["asker_id"])
    assert before["badge_progress"]["commentator"] == 9
    assert not any(key == "popular_question" for key, *_ in before["awards"])

    steps = [
        # Ask another anonymous question.
        (
            "/questions/ask",
            {
                "title": "How do I say no to extra work politely?",
                "body": "My manager keeps adding tasks to my plate.",
                "tags": "onboarding",
                "anonymous": "y",
            },
        ),
        # Edit the anonymous question (twice: Editor, then more toward Copy Editor).
        (
            f"/questions/{qid}/edit",
            {
                "title": "Is it normal to feel lost in the first month here?",
                "body": "Everything is new and I am unsure whom to ask. More detail.",
                "tags": "onboarding",
            },
        ),
        # Answer in the thread, then edit that answer and someone else's.
        (f"/questions/{qid}/answer", {"body": "Update from the asker: it got better."}),
        (f"/answers/{aid}/edit", {"body": "Completely normal, give it time. (Typo fixed.)"}),
        # Comment on the question and on an answer, and reply to a comment.
        (f"/posts/{qid}/comments", {"body": "Thanks, asking as the asker."}),
        (f"/posts/{aid}/comments", {"body": "That helps a lot, thank you."}),
        (f"/posts/{aid}/comments", {"body": "Replying to you here.", "parent_id": str(remark)}),
        # Vote answers up and down, up-vote a comment.
        (f"/posts/{aid}/vote", {"value": "1"}),
        (f"/posts/{other}/vote", {"value": "-1"}),
        (f"/comments/{remark}/vote", {}),
        # Accept an answer, close and reopen the question.
        (f"/answers/{aid}/accept", {}),
        (f"/questions/{qid}/close", {"reason": "off-topic", "note": ""}),
        (f"/questions/{qid}/reopen", {}),
    ]
    own_answer = 0
    for path, form in steps:
        response = asker.post(path, form)
        assert response.status_code in (200, 302, 303), (path, response.status_code)
        if path.endswith("/answer"):
            session.commit()
            own = session.scalars(select(Answer).where(Answer.parent_id == qid)).all()
            mine = [a for a in own if a.author_id == thread["asker_id"]]
            assert mine and mine[0].is_anonymous
            response = asker.post(f"/answers/{mine[0].id}/edit", {"body": "It got much better."})
            assert response.status_code == 302
            own_answer = mine[0].id
    # Delete the own answer again.
    assert asker.post(f"/answers/{own_answer}/delete").status_code in (302, 303)
    # Every step took effect.
    session.commit()
    assert session.scalar(select(Answer.deleted_at).where(Answer.id == own_answer)) is not None
    question = session.get(Question, qid)
    assert question is not None
    session.refresh(question)
    assert question.accepted_answer_id == aid and question.revision_count >= 2
    assert session.scalar(select(Comment).where(Comment.parent_id == remark)) is not None

    after = _snapshot(session, thread["asker_id"])
    for key in before:
        assert after[key] == before[key], key


def test_others_acting_on_a_masked_comment_do_not_check_the_askers_badges(
    app: Flask, session: Session, thread: dict[str, Any]
) -> None:
    asker: Browser = thread["asker"]
    response = asker.post(f"/posts/{thread['question_id']}/comments", {"body": "Masked remark."})
    assert response.status_code == 302
    comment_id = _id(response, r"#comment-(\d+)")
    before = _snapshot(session, thread["asker_id"])
    assert not any(key == "popular_question" for key, *_ in before["awards"])
    helper = Browser(app.test_client())
    helper.login("helper")
    assert helper.post(f"/comments/{comment_id}/vote").status_code in (200, 302, 303)
    # Popular Question is still pending: nobody checked the asker's badges at that moment.
    assert _snapshot(session, thread["asker_id"])["awards"] == before["awards"]
