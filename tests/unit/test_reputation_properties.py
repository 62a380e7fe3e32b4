"""Property: any sequence of votes, helpful marks, acceptances and deletions keeps the ledger
equal to a recalculation from scratch, and never hands out a badge twice."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from flask import Flask
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from forum.db import new_session
from forum.models import (
    ArticleFeedback,
    BadgeAward,
    Post,
    Question,
    ReputationEvent,
    Role,
    Tag,
    User,
    Vote,
)
from forum.services import answers, articles, badges, posts, reputation, votes
from forum.services.errors import Forbidden, NotFound
from tests.factories import make_article, make_user

MEMBERS = 5  # member 4 is a moderator


@dataclass
class World:
    """The members and posts a generated scenario acts on."""

    members: list[User]
    posts: list[Post]

    @property
    def moderator(self) -> User:
        return self.members[-1]


def build(session: Session) -> World:
    members = [make_user(session) for _ in range(MEMBERS - 1)]
    members.append(make_user(session, role=Role.MODERATOR))
    tag = Tag(name="ops")
    q1 = Question(author=members[0], title="How do we roll back?", body_md="x", body_html="x")
    q2 = Question(
        author=members[1], title="Who owns billing?", body_md="x", body_html="x", is_anonymous=True
    )
    q1.tags = [tag]
    q2.tags = [tag]
    session.add_all([q1, q2])
    session.flush()
    replies: list[Post] = [
        answers.answer(session, author=members[i], question_id=q.id, body_md="Like this.")
        for i, q in ((1, q1), (2, q1), (3, q2), (0, q2))
    ]
    article = make_article(session, members[2], article_type="tutorial")
    return World(members, [q1, q2, *replies, article])


vote_op = st.tuples(
    st.just("vote"), st.integers(0, MEMBERS - 1), st.integers(0, 6), st.sampled_from([1, -1])
)
helpful_op = st.tuples(st.just("helpful"), st.integers(0, MEMBERS - 1), st.booleans(), st.just(0))
accept_op = st.tuples(st.just("accept"), st.integers(2, 5), st.just(0), st.just(0))
delete_op = st.tuples(st.just("delete"), st.integers(0, 6), st.just(0), st.just(0))
undelete_op = st.tuples(st.just("undelete"), st.integers(0, 6), st.just(0), st.just(0))
day_op = st.tuples(st.just("next_day"), st.just(0), st.just(0), st.just(0))
operations = st.lists(
    st.one_of(vote_op, vote_op, vote_op, helpful_op, accept_op, delete_op, undelete_op, day_op),
    max_size=25,
)


def apply(session: Session, world: World, op: tuple[str, int, object, int]) -> None:
    name, a, b, c = op
    try:
        if name == "vote":
            assert isinstance(b, int)
            votes.cast(session, voter=world.members[a], post_id=world.posts[b].id, value=c)
        elif name == "helpful":
            article = world.posts[6]
            assert isinstance(article, Post) and isinstance(b, bool)
            articles.set_feedback(session, article, member=world.members[a], helpful=b)  # type: ignore[arg-type]
        elif name == "accept":
            answer = world.posts[a]
            question = session.get(Question, answer.parent_id)
            assert question is not None and question.author is not None
            answers.accept(session, acceptor=question.author, answer_id=answer.id)
        elif name == "delete":
            posts.soft_delete(session, actor=world.moderator, post=world.posts[a])
        elif name == "undelete":
            posts.undelete(session, actor=world.moderator, post=world.posts[a])
        elif name == "next_day":
            # Time passes: everything so far happened a day earlier than recorded.
            one_day = dt.timedelta(days=1)
            for row in [*session.scalars(select(Vote)), *session.scalars(select(ArticleFeedback))]:
                row.created_at = row.created_at - one_day
            for event in session.scalars(
                select(ReputationEvent).where(ReputationEvent.cap_day.is_not(None))
            ):
                assert event.cap_day is not None
                event.cap_day = event.cap_day - one_day
            session.flush()
    except (Forbidden, NotFound):
        pass  # own posts, deleted posts: refused, and nothing may change


def check(session: Session, world: World, *, award: bool = True) -> None:
    session.flush()
    report = reputation.recalc(session, fix=False)
    assert report.clean, report.drift
    for member in world.members:
        cached = session.scalar(select(User.reputation).where(User.id == member.id))
        assert member.reputation == cached
    if not award:
        return
    badges.award(session, [m.id for m in world.members])
    total = session.scalar(select(func.count()).select_from(BadgeAward))
    distinct = len(
        set(session.execute(select(BadgeAward.user_id, BadgeAward.badge_key, BadgeAward.subject)))
    )
    assert total == distinct


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(ops=operations)
def test_incremental_reputation_equals_recalc_and_badges_stay_unique(
    app: Flask, ops: list[tuple[str, int, object, int]]
) -> None:
    session = new_session(app)
    session.info[reputation.RULES_KEY] = reputation.configure(
        {"daily_cap": 25}, {"downvote": -1_000_000}
    )
    try:
        world = build(session)
        check(session, world)
        for step, op in enumerate(ops, start=1):
            apply(session, world, op)
            # Awarding is the slow part; every few steps is as good as after every commit.
            check(session, world, award=step % 4 == 0 or step == len(ops))
        # A replay of the awarding changes nothing.
        assert badges.award(session) == []
    finally:
        session.rollback()
        session.close()
