"""Domain events: the bus's rules, the app's wiring, and every event's subscribers at work."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from forum import events
from forum.db import new_session
from forum.models import BadgeAward, Notification, Post, Role, Tag, TagFollow, User
from forum.models.reputation import ReputationEvent
from forum.search import outbox
from forum.services import answers, articles, comments, posts, questions, votes
from tests.conftest import Browser
from tests.factories import make_article, make_question, make_user

# --- the bus ----------------------------------------------------------------------------------


def _bus(session: Session) -> events.EventBus:
    bus = events.EventBus()
    session.info[events.BUS_KEY] = bus
    return bus


def test_subscribers_run_in_order_and_once_however_often_they_subscribe(
    session: Session,
) -> None:
    bus = _bus(session)
    seen: list[str] = []

    def first(_s: Session, event: events.BadgeAwarded) -> None:
        seen.append(f"first {event.badge_key}")

    def second(_s: Session, event: events.BadgeAwarded) -> None:
        seen.append(f"second {event.badge_key}")

    bus.subscribe(events.BadgeAwarded, first, critical=True)
    bus.subscribe(events.BadgeAwarded, second, critical=False)
    bus.subscribe(events.BadgeAwarded, first, critical=True)
    events.emit(session, events.BadgeAwarded(1, "curious", "Curious"))
    assert seen == ["first curious", "second curious"]
    # Another event type reaches nobody.
    events.emit(session, events.MemberWarned(make_user(session), "x", "answer", "main.index", {}))
    assert len(seen) == 2


def test_a_critical_subscriber_fails_the_action(session: Session) -> None:
    bus = _bus(session)

    def boom(_s: Session, _e: events.BadgeAwarded) -> None:
        raise RuntimeError("ledger broken")

    bus.subscribe(events.BadgeAwarded, boom, critical=True)
    with pytest.raises(RuntimeError, match="ledger broken"):
        events.emit(session, events.BadgeAwarded(1, "curious", "Curious"))


def test_a_failing_side_effect_is_undone_logged_and_the_action_goes_on(
    session: Session, caplog: pytest.LogCaptureFixture
) -> None:
    bus = _bus(session)
    session.add(Tag(name="kept-by-the-action"))
    ran: list[str] = []

    def half_done(s: Session, _e: events.BadgeAwarded) -> None:
        s.add(Tag(name="written-then-failed"))
        s.flush()
        raise RuntimeError("mail server down")

    def next_one(_s: Session, _e: events.BadgeAwarded) -> None:
        ran.append("next")

    bus.subscribe(events.BadgeAwarded, half_done, critical=False)
    bus.subscribe(events.BadgeAwarded, next_one, critical=False)
    with caplog.at_level(logging.ERROR, logger="forum.events"):
        events.emit(session, events.BadgeAwarded(1, "curious", "Curious"))
    session.commit()
    names = set(session.scalars(select(Tag.name)))
    assert "kept-by-the-action" in names
    assert "written-then-failed" not in names
    assert ran == ["next"]
    assert "half_done" in caplog.text and "BadgeAwarded" in caplog.text


def test_a_session_not_made_by_the_app_cannot_emit(app: Flask) -> None:
    from forum.db import get_engine

    with Session(get_engine(app)) as stray, pytest.raises(events.NotWired):
        events.emit(stray, events.BadgeAwarded(1, "curious", "Curious"))


# --- the app's wiring -------------------------------------------------------------------------

#: Every event and the functions that subscribe to it in the app. A new event must be added
#: here, with its subscribers, or this test fails.
WIRING: dict[type[events.Event], set[str]] = {
    events.QuestionAsked: {"question_asked", "webhook_question_asked"},
    events.AnswerPosted: {"answer_posted", "webhook_answer_posted"},
    events.PostEdited: {"post_edited", "supersede_pending"},
    events.ArticleSaved: {"article_saved", "webhook_article_saved"},
    events.PostDeleted: {"_post_deleted"},
    events.PostUndeleted: {"_post_undeleted"},
    events.VoteCast: {"_vote_cast"},
    events.AnswerAccepted: {"_answer_accepted", "answer_accepted", "webhook_answer_accepted"},
    events.ArticleMarkedHelpful: {"_marked_helpful"},
    events.CommentAdded: {"comment_posted", "webhook_comment_added"},
    events.CommentEdited: {"comment_edited"},
    events.BadgeAwarded: {"badge_awarded", "webhook_badge_awarded"},
    events.MemberWarned: {"member_warned"},
    events.ArticleStale: {"webhook_article_stale"},
    events.TutorialRequested: {"webhook_tutorial_requested"},
    events.CircleSessionScheduled: {"webhook_circle_session_scheduled"},
    events.MemberDeactivated: {"revoke_tokens_of_deactivated"},
    events.MemberReactivated: set(),
    events.ContentFlagged: {"content_flagged"},
    events.FlagsResolved: {"flags_resolved"},
    events.AuthorRevealed: {"author_revealed"},
    events.BountyStarted: {"_bounty_started", "bounty_started", "webhook_bounty_started"},
    events.BountyAwarded: {"_bounty_awarded", "bounty_awarded", "webhook_bounty_awarded"},
    events.SuggestedEditReviewed: {"_suggested_edit_reviewed", "suggested_edit_reviewed"},
    events.EmailVerificationRequested: {"verification"},
    events.PasswordResetRequested: {"password_reset"},
    events.MemberInvited: {"invitation"},
}


#: Subscribers whose work is part of the action: the reputation ledger, and revoking a departed
#: member's access tokens (a deactivation that left a token working must not commit), and
#: superseding a post's pending suggested edit when it is edited directly.
CRITICAL_MODULES = ("reputation", "tokens", "suggested_edits")


def test_the_app_wires_every_event_to_its_subscribers(session: Session) -> None:
    bus = events.bus_of(session)
    assert set(WIRING) == set(events.Event.__subclasses__())
    for event_type, names in WIRING.items():
        subscribers = bus.subscribers(event_type)
        assert {s.handler.__name__ for s in subscribers} == names, event_type
        for s in subscribers:
            # Reputation is part of the action; notifications are side effects.
            assert s.critical == s.handler.__module__.endswith(CRITICAL_MODULES), s.handler


# --- each event's subscribers at work ---------------------------------------------------------


def _notes(session: Session, member: User, kind: str) -> list[str]:
    return list(
        session.scalars(
            select(Notification.text).where(
                Notification.recipient_id == member.id, Notification.kind == kind
            )
        )
    )


def _reasons(session: Session, member: User) -> list[str]:
    return list(
        session.scalars(
            select(ReputationEvent.reason)
            .where(ReputationEvent.user_id == member.id)
            .order_by(ReputationEvent.id)
        )
    )


def _badges(session: Session, member: User) -> set[str]:
    session.expire_all()
    return set(session.scalars(select(BadgeAward.badge_key).where(BadgeAward.user_id == member.id)))


def _indexed(app: Flask, session: Session, text: str) -> set[int]:
    from forum import search

    found = search.search(session, text, member_id=None)
    return {hit.id for hit in found.results.hits}


def test_question_answer_and_comment_notify_award_and_index(app: Flask, session: Session) -> None:
    asker, helper, follower = (make_user(session) for _ in range(3))
    session.flush()
    question = make_question(session, asker, title="Rotating zebrafish credentials", tags=("ops",))
    tag = session.scalar(select(Tag).where(Tag.name == "ops"))
    assert tag is not None
    session.add(TagFollow(user_id=follower.id, tag_id=tag.id))
    session.commit()
    # QuestionAsked: a second question in the followed tag reaches the follower.
    second = questions.ask(
        session, author=asker, title="Zebrafish key vault access", body_md="How?", tags=["ops"]
    )
    session.commit()
    assert any("Zebrafish key vault" in t for t in _notes(session, follower, "followed_tag"))
    assert "curious" in _badges(session, asker)
    assert {question.id, second.id} <= _indexed(app, session, "zebrafish")
    # AnswerPosted: the asker is told, the helper earns a badge, the thread is indexed.
    reply = answers.answer(
        session, author=helper, question_id=question.id, body_md="Use the octopus vault."
    )
    session.commit()
    assert any("answered your question" in t for t in _notes(session, asker, "answer"))
    assert "helper" in _badges(session, helper)
    assert question.id in _indexed(app, session, "octopus")
    # CommentAdded: the answer's author is told.
    comments.add(session, author=asker, post_id=reply.id, body="Which vault exactly?")
    session.commit()
    assert _notes(session, helper, "comment")
    # PostEdited / CommentEdited / ArticleSaved: newly mentioned members are told.
    answers.edit(
        session,
        editor=helper,
        answer_id=reply.id,
        body_md=f"Use the octopus vault, @{follower.username} knows it.",
    )
    session.commit()
    assert _notes(session, follower, "mention")


def test_votes_acceptance_marks_and_deletion_move_reputation(session: Session) -> None:
    asker, helper, voter, writer = (make_user(session, reputation=200) for _ in range(4))
    question = make_question(session, asker)
    reply = answers.answer(session, author=helper, question_id=question.id, body_md="Like so.")
    article = make_article(session, writer)
    session.commit()
    # VoteCast
    votes.cast(session, voter=voter, post_id=reply.id, value=1)
    session.commit()
    assert _reasons(session, helper)[-1] == "answer_upvoted"
    # AnswerAccepted: reputation for both, a notification for the answerer, a badge for the
    # asker after the commit.
    answers.accept(session, acceptor=asker, answer_id=reply.id)
    session.commit()
    assert _reasons(session, helper)[-1] == "answer_accepted"
    assert _reasons(session, asker)[-1] == "accepted_answer"
    assert _notes(session, helper, "accepted")
    assert "scholar" in _badges(session, asker)
    # ArticleMarkedHelpful
    articles.set_feedback(session, article, member=voter, helpful=True)
    session.commit()
    assert _reasons(session, writer)[-1] == "article_helpful"
    # PostDeleted / PostUndeleted
    moderator = make_user(session, role=Role.MODERATOR)
    posts.soft_delete(session, actor=moderator, post=reply)
    session.commit()
    assert _reasons(session, helper)[-1] == "post_deleted"
    posts.undelete(session, actor=moderator, post=reply)
    session.commit()
    assert _reasons(session, helper)[-1] == "post_undeleted"


def test_a_badge_award_notifies_its_member(session: Session) -> None:
    asker = make_user(session)
    make_question(session, asker)
    session.commit()
    assert "curious" in _badges(session, asker)
    assert any("Curious" in t for t in _notes(session, asker, "badge"))


# --- non-critical subscribers never fail the request ------------------------------------------


def test_a_failing_notification_never_fails_the_request(
    app: Flask, browser: Browser, session: Session
) -> None:
    asker = make_user(session, "asker")
    make_user(session, "helper")
    question = make_question(session, asker)
    session.commit()

    def broken(_s: Session, _e: events.AnswerPosted) -> None:
        raise RuntimeError("notification store unavailable")

    with new_session(app) as probe:
        events.bus_of(probe).subscribe(events.AnswerPosted, broken, critical=False)
    browser.login("helper")
    answered = browser.post(f"/questions/{question.id}/answer", {"body": "Restart the agent."})
    assert answered.status_code == 302
    session.expire_all()
    count = session.scalar(
        select(func.count()).select_from(Post).where(Post.parent_id == question.id)
    )
    assert count == 1
    # The subscriber that works still did its part.
    assert _notes(session, asker, "answer")


def test_a_failing_index_never_fails_the_request(
    app: Flask, browser: Browser, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    asker = make_user(session, "asker")
    make_user(session, "helper")
    question = make_question(session, asker)
    session.commit()

    def broken(*_a: Any, **_k: Any) -> int:
        raise RuntimeError("index disk full")

    monkeypatch.setattr(outbox, "drain", broken)
    browser.login("helper")
    answered = browser.post(f"/questions/{question.id}/answer", {"body": "Restart the agent."})
    assert answered.status_code == 302
    engine = session.get_bind()
    assert isinstance(engine, Engine)
    pending, _age = outbox.pending(engine)
    # The change waits in the outbox for the next drain.
    assert pending >= 1
