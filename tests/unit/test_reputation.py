"""The reputation ledger: what each event earns, reversals, the daily cap, privileges, recalc."""

from __future__ import annotations

import datetime as dt

import pytest
from flask import Flask
from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from forum.db import get_engine, new_session
from forum.models import Answer, BadgeAward, Question, Role, Tag, User, Vote
from forum.models.reputation import ReputationEvent
from forum.services import answers, articles, questions, reputation, votes
from forum.services.errors import Forbidden
from tests.factories import make_article, make_user


def ask(session: Session, author: User, *, anonymous: bool = False) -> Question:
    """A question, staged directly (the tag rules are not what these tests are about)."""
    tag = session.scalar(select(Tag).where(Tag.name == "python")) or Tag(name="python")
    question = Question(
        author=author,
        title="How do I read a file line by line?",
        body_md="I have a large log file.",
        body_html="<p>I have a large log file.</p>",
        is_anonymous=anonymous,
        tags=[tag],
    )
    session.add(question)
    session.flush()
    return question


def answer(session: Session, author: User, question: Question) -> Answer:
    return answers.answer(session, author=author, question_id=question.id, body_md="Use a loop.")


def rep(session: Session, user: User) -> int:
    """The member's cached reputation as stored, which must equal the ledger's sum."""
    cached = session.scalar(select(User.reputation).where(User.id == user.id))
    ledger = session.scalar(
        select(func.coalesce(func.sum(ReputationEvent.delta), 0)).where(
            ReputationEvent.user_id == user.id
        )
    )
    assert cached == ledger
    return int(cached or 0)


def trusted(session: Session) -> User:
    """A member who may vote down whatever their reputation (a moderator)."""
    return make_user(session, role=Role.MODERATOR)


def test_an_upvote_on_an_answer_earns_ten_and_undoing_it_reverses(session: Session) -> None:
    asker, answerer, voter = make_user(session), make_user(session), make_user(session)
    reply = answer(session, answerer, ask(session, asker))
    votes.cast(session, voter=voter, post_id=reply.id, value=1)
    assert rep(session, answerer) == 10
    votes.cast(session, voter=voter, post_id=reply.id, value=1)
    assert rep(session, answerer) == 0
    reasons = session.scalars(
        select(ReputationEvent.reason)
        .where(ReputationEvent.user_id == answerer.id)
        .order_by(ReputationEvent.id)
    ).all()
    assert reasons == ["answer_upvoted", "vote_undone"]


def test_question_and_article_upvotes(session: Session) -> None:
    asker, writer, voter = make_user(session), make_user(session), make_user(session)
    question = ask(session, asker)
    article = make_article(session, writer)
    votes.cast(session, voter=voter, post_id=question.id, value=1)
    votes.cast(session, voter=voter, post_id=article.id, value=1)
    assert rep(session, asker) == 5
    assert rep(session, writer) == 10


def test_downvote_costs_the_author_two_and_the_voter_one_on_answers(session: Session) -> None:
    asker, answerer = make_user(session), make_user(session)
    voter = trusted(session)
    question = ask(session, asker)
    reply = answer(session, answerer, question)
    votes.cast(session, voter=voter, post_id=reply.id, value=-1)
    assert rep(session, answerer) == -2
    assert rep(session, voter) == -1
    # A down vote on a question costs the voter nothing.
    votes.cast(session, voter=voter, post_id=question.id, value=-1)
    assert rep(session, asker) == -2
    assert rep(session, voter) == -1


def test_switching_a_vote_moves_both_ways(session: Session) -> None:
    asker, answerer = make_user(session), make_user(session)
    voter = trusted(session)
    reply = answer(session, answerer, ask(session, asker))
    votes.cast(session, voter=voter, post_id=reply.id, value=1)
    votes.cast(session, voter=voter, post_id=reply.id, value=-1)
    assert rep(session, answerer) == -2
    assert rep(session, voter) == -1
    votes.cast(session, voter=voter, post_id=reply.id, value=1)
    assert rep(session, answerer) == 10
    assert rep(session, voter) == 0


def test_acceptance_earns_fifteen_and_two_and_unaccepting_reverses(session: Session) -> None:
    asker, first, second = make_user(session), make_user(session), make_user(session)
    question = ask(session, asker)
    one, two = answer(session, first, question), answer(session, second, question)
    answers.accept(session, acceptor=asker, answer_id=one.id)
    assert (rep(session, first), rep(session, asker)) == (15, 2)
    answers.accept(session, acceptor=asker, answer_id=two.id)
    assert (rep(session, first), rep(session, second), rep(session, asker)) == (0, 15, 2)
    answers.accept(session, acceptor=asker, answer_id=two.id)
    assert (rep(session, second), rep(session, asker)) == (0, 0)


def test_accepting_ones_own_answer_earns_nothing(session: Session) -> None:
    asker = make_user(session)
    question = ask(session, asker)
    mine = answer(session, asker, question)
    answers.accept(session, acceptor=asker, answer_id=mine.id)
    assert rep(session, asker) == 0


def test_deleting_a_post_reverses_everything_it_earned(session: Session) -> None:
    asker, answerer, voter = make_user(session), make_user(session), make_user(session)
    critic = trusted(session)
    moderator = make_user(session, role=Role.MODERATOR)
    question = ask(session, asker)
    reply = answer(session, answerer, question)
    votes.cast(session, voter=voter, post_id=reply.id, value=1)
    votes.cast(session, voter=critic, post_id=reply.id, value=-1)
    answers.accept(session, acceptor=asker, answer_id=reply.id)
    assert (rep(session, answerer), rep(session, asker), rep(session, critic)) == (23, 2, -1)
    answers.delete(session, actor=moderator, answer_id=reply.id)
    assert (rep(session, answerer), rep(session, asker), rep(session, critic)) == (0, 0, 0)
    answers.undelete(session, actor=moderator, answer_id=reply.id)
    # Votes come back; the acceptance was withdrawn when the answer was deleted.
    assert (rep(session, answerer), rep(session, critic)) == (8, -1)


def test_deleting_a_question_takes_its_answers_with_it(session: Session) -> None:
    asker, answerer, voter = make_user(session), make_user(session), make_user(session)
    moderator = make_user(session, role=Role.MODERATOR)
    question = ask(session, asker)
    reply = answer(session, answerer, question)
    votes.cast(session, voter=voter, post_id=question.id, value=1)
    votes.cast(session, voter=voter, post_id=reply.id, value=1)
    answers.accept(session, acceptor=asker, answer_id=reply.id)
    assert (rep(session, asker), rep(session, answerer)) == (7, 25)
    questions.delete(session, actor=moderator, question_id=question.id)
    assert (rep(session, asker), rep(session, answerer)) == (0, 0)
    questions.undelete(session, actor=moderator, question_id=question.id)
    assert (rep(session, asker), rep(session, answerer)) == (7, 25)
    assert reputation.recalc(session, fix=False).clean


def test_anonymous_questions_earn_nothing_but_their_answers_do(session: Session) -> None:
    asker, answerer, voter = make_user(session), make_user(session), make_user(session)
    question = ask(session, asker, anonymous=True)
    reply = answer(session, answerer, question)
    votes.cast(session, voter=voter, post_id=question.id, value=1)
    votes.cast(session, voter=voter, post_id=reply.id, value=1)
    answers.accept(session, acceptor=asker, answer_id=reply.id)
    assert rep(session, asker) == 0
    assert rep(session, answerer) == 25
    assert not session.scalars(
        select(ReputationEvent).where(ReputationEvent.user_id == asker.id)
    ).all()


def test_the_anonymous_askers_votes_and_acceptance_name_nobody_and_undo_cleanly(
    session: Session,
) -> None:
    asker = make_user(session, reputation=0)
    answerer, other = make_user(session), make_user(session)
    question = ask(session, asker, anonymous=True)
    reply, second = answer(session, answerer, question), answer(session, other, question)
    # The asker may vote down only with the privilege: reach it through a named question.
    session.execute(update(User).where(User.id == asker.id).values(reputation=100))
    session.flush()
    session.refresh(asker)
    votes.cast(session, voter=asker, post_id=reply.id, value=1)
    votes.cast(session, voter=asker, post_id=second.id, value=-1)
    answers.accept(session, acceptor=asker, answer_id=reply.id)
    assert rep(session, answerer) == 25 and rep(session, other) == -2
    # Nothing names the asker: no event of theirs (no down-vote cost), none with them as actor.
    assert not session.scalars(
        select(ReputationEvent).where(
            (ReputationEvent.user_id == asker.id) | (ReputationEvent.actor_id == asker.id)
        )
    ).all()
    # Undoing finds what the masked vote booked.
    votes.cast(session, voter=asker, post_id=reply.id, value=1)
    votes.cast(session, voter=asker, post_id=second.id, value=-1)
    answers.accept(session, acceptor=asker, answer_id=reply.id)
    assert rep(session, answerer) == 0 and rep(session, other) == 0
    session.execute(update(User).where(User.id == asker.id).values(reputation=0))
    session.flush()
    assert reputation.recalc(session, fix=False).clean


def test_self_votes_never_count(session: Session) -> None:
    author = make_user(session)
    question = ask(session, author)
    with pytest.raises(Forbidden):
        votes.cast(session, voter=author, post_id=question.id, value=1)
    # Even a vote row written some other way (an import, say) earns nothing.
    session.add(Vote(user_id=author.id, post_id=question.id, value=1))
    session.flush()
    reputation.on_vote(session, post=question, voter=author, old=0, new=1)
    assert rep(session, author) == 0
    assert reputation.recalc(session, fix=False).clean


def test_helpful_marks_earn_two_and_withdrawing_reverses(session: Session) -> None:
    writer, reader = make_user(session), make_user(session)
    article = make_article(session, writer)
    articles.set_feedback(session, article, member=reader, helpful=True)
    assert rep(session, writer) == 2
    articles.set_feedback(session, article, member=reader, helpful=False)
    assert rep(session, writer) == 0
    articles.set_feedback(session, article, member=reader, helpful=True)
    assert rep(session, writer) == 2


def _backdate_votes(session: Session, days: int) -> None:
    moment = dt.datetime.now(dt.UTC) - dt.timedelta(days=days)
    session.execute(update(Vote).values(created_at=moment))
    session.execute(update(ReputationEvent).values(cap_day=moment.date(), created_at=moment))


def test_daily_cap_limits_vote_gains_per_day(session: Session) -> None:
    session.info[reputation.RULES_KEY] = reputation.configure({"daily_cap": 30})
    asker, answerer = make_user(session), make_user(session)
    question = ask(session, asker)
    replies = [answer(session, answerer, question) for _ in range(2)]
    voters = [make_user(session) for _ in range(2)]
    for reply in replies:
        for voter in voters:
            votes.cast(session, voter=voter, post_id=reply.id, value=1)
    assert rep(session, answerer) == 30  # four up votes would be 40
    # Acceptance is exempt from the cap.
    answers.accept(session, acceptor=asker, answer_id=replies[0].id)
    assert rep(session, answerer) == 45
    # Withdrawing one vote of a capped day changes nothing until the day is under the cap.
    votes.cast(session, voter=voters[0], post_id=replies[0].id, value=1)
    assert rep(session, answerer) == 45
    votes.cast(session, voter=voters[1], post_id=replies[0].id, value=1)
    assert rep(session, answerer) == 35
    assert reputation.recalc(session, fix=False).clean


def test_the_cap_is_per_day(session: Session) -> None:
    session.info[reputation.RULES_KEY] = reputation.configure({"daily_cap": 10})
    asker, answerer = make_user(session), make_user(session)
    question = ask(session, asker)
    first, second = answer(session, answerer, question), answer(session, answerer, question)
    voter = make_user(session)
    votes.cast(session, voter=voter, post_id=first.id, value=1)
    _backdate_votes(session, 2)
    votes.cast(session, voter=voter, post_id=second.id, value=1)
    assert rep(session, answerer) == 20
    # Undoing yesterday's vote settles yesterday's bucket, not today's.
    votes.cast(session, voter=voter, post_id=first.id, value=1)
    assert rep(session, answerer) == 10
    assert reputation.recalc(session, fix=False).clean


def test_downvotes_received_are_not_capped(session: Session) -> None:
    session.info[reputation.RULES_KEY] = reputation.configure({"daily_cap": 10})
    asker, writer = make_user(session), make_user(session)
    article = make_article(session, writer)
    fans = [make_user(session) for _ in range(3)]
    critics = [trusted(session) for _ in range(2)]
    for fan in fans:
        votes.cast(session, voter=fan, post_id=article.id, value=1)
    for critic in critics:
        votes.cast(session, voter=critic, post_id=article.id, value=-1)
    assert rep(session, writer) == 10 - 4
    del asker


def test_recalc_finds_and_fixes_drift(session: Session) -> None:
    asker, answerer, voter = make_user(session), make_user(session), make_user(session)
    reply = answer(session, answerer, ask(session, asker))
    votes.cast(session, voter=voter, post_id=reply.id, value=1)
    assert reputation.recalc(session, fix=False).clean
    # A vote written behind the ledger's back, and a corrupted cache.
    session.add(Vote(user_id=asker.id, post_id=reply.id, value=1))
    session.execute(update(User).where(User.id == voter.id).values(reputation=77))
    session.flush()
    report = reputation.recalc(session, fix=False)
    drifted = {d.username: (d.due, d.ledger, d.cached) for d in report.drift}
    assert drifted == {answerer.username: (20, 10, 10), voter.username: (0, 0, 77)}
    fixed = reputation.recalc(session, fix=True)
    assert fixed.events_written == 1
    assert rep(session, answerer) == 20 and rep(session, voter) == 0
    assert reputation.recalc(session, fix=False).clean
    # The vote predates the ledger, yet undoing it still settles its day.
    votes.cast(session, voter=asker, post_id=reply.id, value=1)
    assert rep(session, answerer) == 10
    assert reputation.recalc(session, fix=False).clean


@pytest.mark.parametrize(
    ("privilege", "limit"),
    [
        ("downvote", 50),
        ("create_tags", 100),
        ("vote_close", 250),
        ("edit_tag_wiki", 500),
        ("edit_others", 1000),
    ],
)
def test_privileges_need_their_threshold(session: Session, privilege: str, limit: int) -> None:
    below = make_user(session, reputation=limit - 1)
    at = make_user(session, reputation=limit)
    assert not reputation.can(below, privilege)
    assert reputation.can(at, privilege)
    with pytest.raises(Forbidden, match=f"You need {limit} reputation"):
        reputation.require(below, privilege)
    reputation.require(at, privilege)
    for role in (Role.MODERATOR, Role.ADMIN):
        assert reputation.can(make_user(session, role=role), privilege)
    assert not reputation.can(None, privilege)


def test_thresholds_are_configurable(session: Session) -> None:
    assert not reputation.can(make_user(session, reputation=5), "downvote")
    session.info[reputation.RULES_KEY] = reputation.configure(thresholds={"downvote": 5})
    assert reputation.can(make_user(session, reputation=5), "downvote")
    with pytest.raises(ValueError, match="Unknown privilege"):
        reputation.can(make_user(session), "launch_rockets")
    with pytest.raises(ValueError, match="Unknown reputation rules"):
        reputation.configure({"answer_upvotd": 3})


def test_a_new_member_cannot_vote_down(session: Session) -> None:
    asker, newcomer = make_user(session), make_user(session)
    question = ask(session, asker)
    with pytest.raises(Forbidden):
        votes.cast(session, voter=newcomer, post_id=question.id, value=-1)


def test_recalc_command_checks_and_fixes(app: Flask, session: Session) -> None:
    asker, answerer, voter = make_user(session), make_user(session), make_user(session)
    reply = answer(session, answerer, ask(session, asker))
    votes.cast(session, voter=voter, post_id=reply.id, value=1)
    session.execute(update(User).where(User.id == answerer.id).values(reputation=3))
    session.commit()
    runner = app.test_cli_runner()
    checked = runner.invoke(args=["reputation", "recalc", "--check"])
    assert checked.exit_code == 1
    assert f"{answerer.username}: due 10, ledger 10, cached 3" in checked.output
    fixed = runner.invoke(args=["reputation", "recalc"])
    assert fixed.exit_code == 0 and "Fixed 1 of 3 members" in fixed.output
    again = runner.invoke(args=["reputation", "recalc", "--check"])
    assert again.exit_code == 0 and "no drift" in again.output


def test_badges_award_command_backfills_and_is_idempotent(app: Flask, session: Session) -> None:
    member = make_user(session)
    ask(session, member)
    session.commit()
    session.execute(delete(BadgeAward))  # as if awarded before badges existed
    session.commit()
    runner = app.test_cli_runner()
    first = runner.invoke(args=["badges", "award", "--all"])
    assert first.exit_code == 0 and "Awarded 1 new badges to 1 members" in first.output
    second = runner.invoke(args=["badges", "award", "--user", member.username])
    assert "Awarded 0 new badges" in second.output
    assert runner.invoke(args=["badges", "award"]).exit_code == 2
    assert runner.invoke(args=["badges", "award", "--user", "ghost"]).exit_code == 2


def test_rules_come_from_the_app_configuration(app_config: dict[str, object]) -> None:
    from forum import create_app

    app_config["REPUTATION_RULES"] = {"answer_upvoted": 7}
    app_config["REPUTATION_THRESHOLDS"] = {"downvote": 3}
    configured = create_app(app_config)
    try:
        with new_session(configured) as session:
            active = reputation.rules(session)
        assert active.answer_upvoted == 7
        assert reputation.threshold("downvote", active) == 3
        assert reputation.threshold("edit_others", active) == 1000
    finally:
        get_engine(configured).dispose()
