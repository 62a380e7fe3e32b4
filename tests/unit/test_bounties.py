"""Bounties: who may start one, awards, automatic settlement, the ledger and anonymity."""

from __future__ import annotations

import datetime as dt
import json
import threading
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from forum.db import new_session, utcnow
from forum.models import (
    Bounty,
    BountyStatus,
    Notification,
    Post,
    Question,
    Role,
    User,
    WebhookDelivery,
)
from forum.models.reputation import ReputationEvent
from forum.services import bounties, posts, questions, reputation, votes, webhooks
from forum.services.errors import Conflict, Forbidden, NotFound, ValidationError
from tests.factories import make_answer, make_question, make_user

#: Far enough past the end and the grace period for a bounty started now to settle.
AFTER_GRACE = dt.timedelta(days=8, hours=1)


@pytest.fixture
def app_config(app_config: dict[str, Any]) -> dict[str, Any]:
    """An up vote on an answer earns 100 with no daily cap: members get rich legitimately."""
    app_config["REPUTATION_RULES"] = {"answer_upvoted": 100, "daily_cap": 0}
    return app_config


def rich(session: Session, points: int = 300) -> User:
    """A member whose reputation (``points``, a multiple of 100) came from up votes."""
    member = make_user(session)
    reply = make_answer(session, make_question(session), member)
    for _ in range(points // 100):
        votes.cast(session, voter=make_user(session), post_id=reply.id, value=1)
    assert member.reputation == points
    return member


def old_question(session: Session, author: User | None = None, **kw: Any) -> Question:
    """A question asked three days ago."""
    question: Question = make_question(session, author or make_user(session), **kw)
    question.created_at = utcnow() - dt.timedelta(days=3)
    session.flush()
    return question


def upvoted(session: Session, answer: Post, n: int) -> Post:
    for _ in range(n):
        votes.cast(session, voter=make_user(session), post_id=answer.id, value=1)
    return answer


def ledger_sum(session: Session, member: User) -> int:
    rows = session.scalars(
        select(ReputationEvent.delta).where(ReputationEvent.user_id == member.id)
    ).all()
    return sum(rows)


def test_starting_a_bounty_takes_the_amount_at_once(session: Session) -> None:
    offerer = rich(session, 300)
    question = old_question(session)
    bounty = bounties.start(
        session, offerer=offerer, question_id=question.id, amount="100", reason="attention"
    )
    assert bounty.status is BountyStatus.OPEN and bounty.amount == 100
    session.refresh(offerer)
    assert offerer.reputation == 200 == ledger_sum(session, offerer)
    event = session.scalars(
        select(ReputationEvent).where(ReputationEvent.reason == "bounty_offered")
    ).one()
    assert (event.user_id, event.delta, event.account, event.post_id) == (
        offerer.id,
        -100,
        "bounty",
        question.id,
    )
    ends = bounties.aware(bounty.ends_at) - bounties.aware(bounty.started_at)
    assert ends == dt.timedelta(days=7)
    listed: dict[int, int] = {}
    rows, _total = questions.list_questions(
        session, tab=questions.Tab.FEATURED, open_bounties=listed
    )
    assert [q.id for q in rows] == [question.id] and listed == {question.id: 100}


@pytest.mark.parametrize("amount", ["0", "25", "75", "550", "1000", "-50", "lots", "", None])
def test_the_amount_is_50_to_500_in_steps_of_50(session: Session, amount: Any) -> None:
    offerer = rich(session, 600)
    question = old_question(session)
    with pytest.raises(ValidationError) as caught:
        bounties.start(
            session, offerer=offerer, question_id=question.id, amount=amount, reason="attention"
        )
    assert "amount" in caught.value.errors


def test_the_reason_must_be_one_of_the_choices(session: Session) -> None:
    offerer = rich(session, 300)
    with pytest.raises(ValidationError) as caught:
        bounties.start(
            session,
            offerer=offerer,
            question_id=old_question(session).id,
            amount=50,
            reason="because",
        )
    assert list(caught.value.errors) == ["reason"]


def test_the_offerer_needs_the_amount_and_keeps_at_least_one_point(session: Session) -> None:
    offerer = rich(session, 200)
    question = old_question(session)
    with pytest.raises(ValidationError) as caught:
        bounties.start(
            session, offerer=offerer, question_id=question.id, amount=200, reason="attention"
        )
    assert "offer at most 150" in caught.value.errors["amount"][0]
    bounties.start(session, offerer=offerer, question_id=question.id, amount=150, reason="reward")


def test_a_member_below_the_minimum_reputation_may_not_start_one(session: Session) -> None:
    poor = make_user(session)
    question = old_question(session)
    with pytest.raises(Forbidden, match="You need 75 reputation"):
        bounties.start(session, offerer=poor, question_id=question.id, amount=50, reason="reward")
    assert bounties.why_not_start(session, question, poor) is not None


def test_the_question_must_be_two_days_old(session: Session) -> None:
    offerer = rich(session)
    young = make_question(session)
    with pytest.raises(Conflict, match="2 days old"):
        bounties.start(session, offerer=offerer, question_id=young.id, amount=50, reason="reward")
    later = utcnow() + dt.timedelta(days=2, minutes=1)
    bounties.start(
        session, offerer=offerer, question_id=young.id, amount=50, reason="reward", now=later
    )


def test_one_open_bounty_per_question(session: Session) -> None:
    question = old_question(session)
    bounties.start(
        session, offerer=rich(session), question_id=question.id, amount=50, reason="reward"
    )
    with pytest.raises(Conflict, match="already has an open bounty"):
        bounties.start(
            session, offerer=rich(session), question_id=question.id, amount=50, reason="reward"
        )


def test_closed_and_deleted_questions_take_no_bounty(session: Session) -> None:
    offerer = rich(session)
    closed = old_question(session)
    closed.closed_at = utcnow()
    closed.closed_reason = "off-topic"
    deleted = old_question(session)
    deleted.deleted_at = utcnow()
    session.flush()
    with pytest.raises(Conflict, match="closed"):
        bounties.start(session, offerer=offerer, question_id=closed.id, amount=50, reason="reward")
    with pytest.raises(NotFound):
        bounties.start(session, offerer=offerer, question_id=deleted.id, amount=50, reason="reward")
    assert session.scalar(select(Bounty.id)) is None
    assert offerer.reputation == 300


def test_anyone_with_the_reputation_may_offer_not_only_the_asker(session: Session) -> None:
    asker = rich(session)
    question = old_question(session, asker)
    bystander = rich(session)
    bounty = bounties.start(
        session, offerer=bystander, question_id=question.id, amount=100, reason="details"
    )
    assert bounty.offerer_id == bystander.id
    told = session.scalars(select(Notification).where(Notification.recipient_id == asker.id))
    assert any("bounty" in n.text and n.kind == "bounty" for n in told)


def test_the_offerer_awards_an_answer_its_author_gets_the_whole_amount(session: Session) -> None:
    offerer = rich(session)
    question = old_question(session)
    answerer = make_user(session)
    reply = make_answer(session, question, answerer)
    bounty = bounties.start(
        session, offerer=offerer, question_id=question.id, amount=200, reason="reward"
    )
    with pytest.raises(Forbidden, match="Only the member who offered"):
        bounties.award(session, actor=make_user(session), answer_id=reply.id)
    bounties.award(session, actor=offerer, answer_id=reply.id)
    assert bounty.status is BountyStatus.AWARDED
    assert (bounty.awarded_answer_id, bounty.recipient_id, bounty.awarded_amount) == (
        reply.id,
        answerer.id,
        200,
    )
    session.refresh(answerer)
    assert answerer.reputation == 200 == ledger_sum(session, answerer)
    assert bounties.open_bounty(session, question.id) is None
    with pytest.raises(Conflict, match="no open bounty"):
        bounties.award(session, actor=offerer, answer_id=reply.id)
    kinds = session.scalars(
        select(Notification.text).where(Notification.recipient_id == answerer.id)
    ).all()
    assert any("+200 bounty" in text for text in kinds)
    assert reputation.recalc(session, fix=False).clean


def test_the_offerer_may_not_award_their_own_answer(session: Session) -> None:
    offerer = rich(session)
    question = old_question(session)
    own = make_answer(session, question, offerer)
    bounties.start(session, offerer=offerer, question_id=question.id, amount=50, reason="reward")
    with pytest.raises(Forbidden, match="your own answer"):
        bounties.award(session, actor=offerer, answer_id=own.id)


def test_awarding_is_possible_during_the_grace_period_only(session: Session) -> None:
    offerer = rich(session)
    question = old_question(session)
    reply = make_answer(session, question)
    bounties.start(session, offerer=offerer, question_id=question.id, amount=50, reason="reward")
    in_grace = utcnow() + dt.timedelta(days=7, hours=12)
    too_late = utcnow() + dt.timedelta(days=8, minutes=1)
    with pytest.raises(Conflict, match="over"):
        bounties.award(session, actor=offerer, answer_id=reply.id, now=too_late)
    bounties.award(session, actor=offerer, answer_id=reply.id, now=in_grace)


def test_unawarded_half_goes_to_the_top_answer_posted_during_the_bounty(
    session: Session,
) -> None:
    offerer = rich(session)
    question = old_question(session)
    before = upvoted(session, make_answer(session, question), 5)
    before.created_at = utcnow() - dt.timedelta(days=1)
    session.flush()
    bounty = bounties.start(
        session, offerer=offerer, question_id=question.id, amount=200, reason="attention"
    )
    own = upvoted(session, make_answer(session, question, offerer), 9)
    low = upvoted(session, make_answer(session, question), 1)
    best = upvoted(session, make_answer(session, question), 3)
    second = upvoted(session, make_answer(session, question), 2)
    del own, low, second
    assert bounties.settle_due(session).auto_awarded == []  # still running
    report = bounties.settle_due(session, now=utcnow() + AFTER_GRACE)
    assert report.auto_awarded == [bounty.id]
    assert bounty.status is BountyStatus.AUTO_AWARDED
    assert (bounty.awarded_answer_id, bounty.awarded_amount) == (best.id, 100)
    assert best.author is not None
    reasons = session.scalars(
        select(ReputationEvent.reason).where(ReputationEvent.user_id == best.author_id)
    ).all()
    assert "bounty_auto_awarded" in reasons
    assert reputation.recalc(session, fix=False).clean


def test_without_an_answer_scoring_two_the_bounty_expires_and_is_lost(session: Session) -> None:
    offerer = rich(session)
    question = old_question(session)
    bounty = bounties.start(
        session, offerer=offerer, question_id=question.id, amount=100, reason="attention"
    )
    upvoted(session, make_answer(session, question), 1)
    report = bounties.settle_due(session, now=utcnow() + AFTER_GRACE)
    assert report.expired == [bounty.id]
    assert bounty.status is BountyStatus.EXPIRED and bounty.recipient_id is None
    session.refresh(offerer)
    assert offerer.reputation == 200
    assert reputation.recalc(session, fix=False).clean


def test_settling_twice_pays_once(session: Session) -> None:
    offerer = rich(session)
    question = old_question(session)
    bounties.start(session, offerer=offerer, question_id=question.id, amount=100, reason="reward")
    best = upvoted(session, make_answer(session, question), 2)
    later = utcnow() + AFTER_GRACE
    first = bounties.settle_due(session, now=later)
    second = bounties.settle_due(session, now=later)
    assert len(first.auto_awarded) == 1 and second.auto_awarded == second.expired == []
    assert best.author is not None
    session.refresh(best.author)
    assert best.author.reputation == 50 + 200


def test_concurrent_settlers_pay_once(app: Flask, session: Session) -> None:
    offerer = rich(session)
    question = old_question(session)
    bounties.start(session, offerer=offerer, question_id=question.id, amount=200, reason="reward")
    best = upvoted(session, make_answer(session, question), 2)
    winner_id = best.author_id
    session.commit()
    later = utcnow() + AFTER_GRACE
    settled: list[int] = []
    failures: list[BaseException] = []
    start_line = threading.Barrier(3)

    def settle() -> None:
        try:
            with new_session(app, writes=True) as own:
                start_line.wait(10)
                report = bounties.settle_due(own, now=later)
                own.commit()
                settled.extend(report.auto_awarded)
        except BaseException as exc:  # noqa: BLE001 - reported below
            failures.append(exc)

    threads = [threading.Thread(target=settle) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not failures
    assert len(settled) == 1
    with new_session(app) as fresh:
        winner = fresh.get(User, winner_id)
        assert winner is not None and winner.reputation == 100 + 200
        assert reputation.recalc(fresh, fix=False).clean


def test_two_bounties_started_at_once_on_one_question_open_one(
    app: Flask, session: Session
) -> None:
    offerers = [rich(session).id for _ in range(3)]
    question_id = old_question(session).id
    session.commit()
    started: list[int] = []
    refused: list[str] = []
    failures: list[BaseException] = []
    start_line = threading.Barrier(len(offerers))

    def offer(offerer_id: int) -> None:
        try:
            with new_session(app, writes=True) as own:
                start_line.wait(10)
                offerer = own.get(User, offerer_id)
                assert offerer is not None
                try:
                    bounties.start(
                        own, offerer=offerer, question_id=question_id, amount=50, reason="reward"
                    )
                except Conflict as exc:
                    own.rollback()
                    refused.append(str(exc))
                    return
                own.commit()
                started.append(offerer_id)
        except BaseException as exc:  # noqa: BLE001 - reported below
            failures.append(exc)

    threads = [threading.Thread(target=offer, args=(uid,)) for uid in offerers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not failures
    assert len(started) == 1 and len(refused) == 2
    with new_session(app) as fresh:
        assert len(fresh.scalars(select(Bounty)).all()) == 1
        assert reputation.recalc(fresh, fix=False).clean


def test_offer_award_auto_award_and_deletions_keep_the_ledger_check_clean(
    app: Flask, session: Session
) -> None:
    offerer, second_offerer = rich(session, 500), rich(session, 300)
    first_q, second_q, third_q = old_question(session), old_question(session), old_question(session)
    awarded = make_answer(session, first_q)
    bounties.start(session, offerer=offerer, question_id=first_q.id, amount=100, reason="reward")
    bounties.award(session, actor=offerer, answer_id=awarded.id)
    bounties.start(
        session, offerer=second_offerer, question_id=second_q.id, amount=200, reason="attention"
    )
    auto = upvoted(session, make_answer(session, second_q), 2)
    bounties.start(session, offerer=offerer, question_id=third_q.id, amount=50, reason="details")
    bounties.settle_due(session, now=utcnow() + AFTER_GRACE)
    assert reputation.recalc(session, fix=False).clean
    # The bounties' points stay where they went when the answer or question goes away.
    moderator = make_user(session, role=Role.MODERATOR)
    posts.soft_delete(session, actor=moderator, post=awarded)
    posts.soft_delete(session, actor=moderator, post=second_q)
    assert awarded.author is not None
    session.refresh(awarded.author)
    assert awarded.author.reputation == 100
    assert auto.author is not None
    session.refresh(auto.author)
    assert auto.author.reputation == 100
    session.commit()
    result = app.test_cli_runner().invoke(args=["reputation", "recalc", "--check"])
    assert result.exit_code == 0, result.output
    reasons = set(session.scalars(select(ReputationEvent.reason)))
    assert {"bounty_offered", "bounty_awarded", "bounty_auto_awarded"} <= reasons


def test_the_settle_command_settles_what_is_due(app: Flask, session: Session) -> None:
    offerer = rich(session)
    question = old_question(session)
    bounty = bounties.start(
        session, offerer=offerer, question_id=question.id, amount=50, reason="reward"
    )
    bounty.ends_at = utcnow() - dt.timedelta(days=2)
    session.commit()
    runner = app.test_cli_runner()
    result = runner.invoke(args=["bounties", "settle"])
    assert result.exit_code == 0, result.output
    assert "1 expired" in result.output
    again = runner.invoke(args=["bounties", "settle"])
    assert "Settled 0" in again.output
    session.expire_all()
    assert session.get(Bounty, bounty.id).status is BountyStatus.EXPIRED  # type: ignore[union-attr]


def test_the_mail_reminders_run_settles_bounties_too(app: Flask, session: Session) -> None:
    question = old_question(session)
    bounty = bounties.start(
        session, offerer=rich(session), question_id=question.id, amount=50, reason="reward"
    )
    bounty.ends_at = utcnow() - dt.timedelta(days=2)
    session.commit()
    result = app.test_cli_runner().invoke(args=["mail", "reminders"])
    assert result.exit_code == 0, result.output
    session.expire_all()
    assert session.get(Bounty, bounty.id).status is BountyStatus.EXPIRED  # type: ignore[union-attr]


# --- anonymous questions ----------------------------------------------------------------------


def test_the_anonymous_asker_offers_no_bounty_on_their_own_question(session: Session) -> None:
    """The amount would leave a reputation everyone sees just as the bounty appears."""
    asker = rich(session)
    before = asker.reputation
    question = old_question(session, asker, anonymous=True)
    assert bounties.why_not_start(session, question, asker) == bounties.ANONYMOUS_ASKER
    with pytest.raises(Forbidden, match="anonymously"):
        bounties.start(
            session, offerer=asker, question_id=question.id, amount=50, reason="attention"
        )
    assert bounties.open_bounty(session, question.id) is None
    assert asker.reputation == before
    offered = select(ReputationEvent).where(ReputationEvent.reason == "bounty_offered")
    assert session.scalars(offered).first() is None


def test_someone_else_offering_on_an_anonymous_question_is_named(session: Session) -> None:
    question = old_question(session, rich(session), anonymous=True)
    bystander = rich(session)
    bounty = bounties.start(
        session, offerer=bystander, question_id=question.id, amount=50, reason="attention"
    )
    assert bounties.offerer_label(bounty) == bystander.display_name


def test_a_bounty_never_goes_to_the_anonymous_askers_answer(session: Session) -> None:
    asker = rich(session)
    question = old_question(session, asker, anonymous=True)
    offerer = rich(session)
    bounty = bounties.start(
        session, offerer=offerer, question_id=question.id, amount=100, reason="attention"
    )
    askers = upvoted(session, make_answer(session, question, asker), 4)
    with pytest.raises(Forbidden, match="reveal"):
        bounties.award(session, actor=offerer, answer_id=askers.id)
    bounties.settle_due(session, now=utcnow() + AFTER_GRACE)
    assert bounty.status is BountyStatus.EXPIRED


def test_webhooks_announce_bounties_without_naming_the_anonymous_asker(session: Session) -> None:
    webhooks.create(
        session,
        actor=None,
        data=webhooks.WebhookData(
            url="https://hooks.example.com/forum",
            secret="s3cret-value",
            events=["bounty.started", "bounty.awarded"],
        ),
    )
    asker = rich(session)
    question = old_question(session, asker, anonymous=True)
    make_answer(session, question, asker, body="Answering myself, anonymously.\n")
    reply = make_answer(session, question)
    offerer = rich(session)
    bounties.start(session, offerer=offerer, question_id=question.id, amount=50, reason="reward")
    bounties.award(session, actor=offerer, answer_id=reply.id)
    sent = {d.event: json.loads(d.body) for d in session.scalars(select(WebhookDelivery)).all()}
    assert set(sent) == {"bounty.started", "bounty.awarded"}
    assert sent["bounty.started"]["actor"]["name"] == offerer.display_name
    assert "+50 bounty awarded" in sent["bounty.awarded"]["excerpt"]
    assert asker.display_name not in json.dumps(sent)
    assert asker.username not in json.dumps(sent)
