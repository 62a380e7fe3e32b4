"""Badges: every rule at and just below its threshold, idempotent awarding, after-commit hooks."""

from __future__ import annotations

import dataclasses
import datetime as dt
import importlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session

from forum.db import new_session, utcnow
from forum.models import (
    Answer,
    Article,
    ArticleFeedback,
    ArticleType,
    BadgeAward,
    Comment,
    Question,
    Revision,
    Tag,
    User,
    Vote,
)
from forum.services import badges, votes
from tests.factories import make_user

_n = iter(range(1, 1_000_000))


def question(session: Session, author: User | None, *, score: int = 0, **kw: object) -> Question:
    q = Question(
        author=author, title=f"Question {next(_n)}", body_md="x", body_html="x", score=score, **kw
    )
    session.add(q)
    session.flush()
    return q


def reply(session: Session, author: User, on: Question, *, score: int = 0, **kw: object) -> Answer:
    a = Answer(author=author, parent_id=on.id, body_md="x", body_html="x", score=score, **kw)
    session.add(a)
    session.flush()
    return a


def article(session: Session, author: User, kind: ArticleType) -> Article:
    n = next(_n)
    a = Article(
        author=author,
        owner=author,
        title=f"Article {n}",
        slug=f"article-{n}",
        body_md="x",
        body_html="x",
        article_type=kind,
    )
    session.add(a)
    session.flush()
    return a


def other(session: Session) -> User:
    return make_user(session)


# Each builder gives ``member`` a metric value of exactly ``v`` (plus, where it makes the
# rule's condition matter, one item that does not qualify).
Builder = Callable[[Session, User, int], None]


def n_questions(score: int | None = None) -> Builder:
    def build(session: Session, member: User, v: int) -> None:
        for _ in range(v):
            question(session, member, score=score or 0)
        if score is not None:
            question(session, member, score=score - 1)
        question(session, member, score=(score or 0) + 5, is_anonymous=True)  # never counts
        question(session, member, score=(score or 0) + 5, deleted_at=utcnow())  # nor this

    return build


def n_answers(score: int | None = None) -> Builder:
    def build(session: Session, member: User, v: int) -> None:
        q = question(session, other(session))
        for _ in range(v):
            reply(session, member, q, score=score or 0)
        if score is not None:
            reply(session, member, q, score=score - 1)
        reply(session, member, q, score=(score or 0) + 5, deleted_at=utcnow())

    return build


def question_scored(session: Session, member: User, v: int) -> None:
    question(session, member, score=v)


def answer_scored(session: Session, member: User, v: int) -> None:
    reply(session, member, question(session, other(session)), score=v)


def question_viewed(session: Session, member: User, v: int) -> None:
    question(session, member, view_count=v)


def accepted_n(session: Session, member: User, v: int) -> None:
    for _ in range(v):
        q = question(session, other(session))
        q.accepted_answer_id = reply(session, member, q).id
    own = question(session, member)  # accepting one's own answer doesn't count
    own.accepted_answer_id = reply(session, member, own).id
    session.flush()


def scholar(session: Session, member: User, v: int) -> None:
    for _ in range(v):
        q = question(session, member)
        q.accepted_answer_id = reply(session, other(session), q).id
    question(session, member)
    session.flush()


def accepted_scored(session: Session, member: User, v: int) -> None:
    q = question(session, other(session))
    q.accepted_answer_id = reply(session, member, q, score=v).id
    reply(session, member, question(session, other(session)), score=v + 10)  # not accepted
    session.flush()


def self_answer_scored(session: Session, member: User, v: int) -> None:
    reply(session, member, question(session, member), score=v)
    reply(session, member, question(session, other(session)), score=v + 10)


def gap_days(session: Session, member: User, v: int) -> None:
    asked = utcnow() - dt.timedelta(days=v, hours=1)
    q = question(session, other(session), created_at=asked)
    reply(session, member, q, created_at=asked + dt.timedelta(days=v))
    # A second answer after someone else's first doesn't close a gap.
    q2 = question(session, other(session), created_at=asked)
    reply(session, other(session), q2, created_at=asked + dt.timedelta(days=v))
    reply(session, member, q2, created_at=asked + dt.timedelta(days=v, minutes=1))


def late_answer_scored(session: Session, member: User, v: int) -> None:
    asked = utcnow() - dt.timedelta(days=61)
    reply(session, member, question(session, other(session), created_at=asked), score=v)
    reply(session, member, question(session, other(session)), score=v + 10)  # not late


def tag_score(session: Session, member: User, v: int) -> None:
    tag = Tag(name=f"tag{next(_n)}")
    q = question(session, other(session))
    q.tags = [tag]
    reply(session, member, q, score=v)
    reply(session, member, question(session, other(session)), score=v + 10)  # untagged


def n_articles(kind: ArticleType) -> Builder:
    def build(session: Session, member: User, v: int) -> None:
        for _ in range(v):
            article(session, member, kind)
        other_kind = ArticleType.TIP if kind is ArticleType.TUTORIAL else ArticleType.TUTORIAL
        article(session, member, other_kind)

    return build


def helpful_marks(kind: ArticleType) -> Builder:
    def build(session: Session, member: User, v: int) -> None:
        target = article(session, member, kind)
        for _ in range(v):
            session.add(
                ArticleFeedback(article_id=target.id, user_id=other(session).id, helpful=True)
            )
        session.add(ArticleFeedback(article_id=target.id, user_id=other(session).id, helpful=False))
        session.flush()

    return build


def revisions(summary: str) -> Builder:
    def build(session: Session, member: User, v: int) -> None:
        post = question(session, other(session))
        session.add(Revision(post_id=post.id, number=1, body_md="x", editor_id=member.id))
        for i in range(v):
            session.add(
                Revision(
                    post_id=post.id, number=i + 2, body_md="x", editor_id=member.id, summary=summary
                )
            )
        session.flush()

    return build


def n_comments(score: int) -> Builder:
    def build(session: Session, member: User, v: int) -> None:
        post = question(session, other(session))
        for _ in range(v):
            session.add(
                Comment(
                    post_id=post.id, author_id=member.id, body_md="x", body_html="x", score=score
                )
            )
        session.add(
            Comment(
                post_id=post.id,
                author_id=member.id,
                body_md="x",
                body_html="x",
                score=score - 1,
                deleted_at=utcnow() if score == 0 else None,
            )
        )
        session.flush()

    return build


def n_votes(value: int | None) -> Builder:
    def build(session: Session, member: User, v: int) -> None:
        author = other(session)
        for i in range(v):
            post = question(session, author)
            session.add(
                Vote(user_id=member.id, post_id=post.id, value=value or (1 if i % 2 else -1))
            )
        if value is not None:
            session.add(Vote(user_id=member.id, post_id=question(session, author).id, value=-value))
        session.flush()

    return build


def profile(session: Session, member: User, v: int) -> None:
    member.bio = "I keep the lights on."
    member.department = "Platform"
    member.job_title = "Engineer" if v else None
    session.flush()


Q = ArticleType
BUILDERS: dict[str, Builder] = {
    "curious": n_questions(),
    "student": n_questions(score=1),
    "scholar": scholar,
    "nice_question": question_scored,
    "good_question": question_scored,
    "great_question": question_scored,
    "popular_question": question_viewed,
    "notable_question": question_viewed,
    "famous_question": question_viewed,
    "helper": n_answers(),
    "teacher": n_answers(score=1),
    "explainer": n_answers(score=1),
    "self_learner": self_answer_scored,
    "nice_answer": answer_scored,
    "good_answer": answer_scored,
    "great_answer": answer_scored,
    "enlightened": accepted_scored,
    "mentor": accepted_n,
    "guru": accepted_n,
    "gap_closer": gap_days,
    "necromancer": late_answer_scored,
    "tag_bronze": tag_score,
    "tag_silver": tag_score,
    "tag_gold": tag_score,
    "tipster": n_articles(Q.TIP),
    "tutorial_author": n_articles(Q.TUTORIAL),
    "helpful_tip": helpful_marks(Q.TIP),
    "good_tutorial": helpful_marks(Q.TUTORIAL),
    "great_tutorial": helpful_marks(Q.TUTORIAL),
    "reviewer": revisions("Reviewed: still accurate (next review by 01 Jan 2027)"),
    "curator": revisions("Reviewed: still accurate (next review by 01 Jan 2027)"),
    "editor": revisions("Fixed a typo"),
    "copy_editor": revisions("Fixed a typo"),
    "commentator": n_comments(0),
    "pundit": n_comments(1),
    "supporter": n_votes(1),
    "critic": n_votes(-1),
    "civic_duty": n_votes(None),
    "electorate": n_votes(None),
    "autobiographer": profile,
}


# Badges the peer-learning programs declare; each is tested beside its program.
PROGRAM_BADGES = {
    "path_finisher": "tests/unit/test_paths.py",
    "gap_filler": "tests/unit/test_tutorial_requests.py",
    "workshop_host": "tests/unit/test_circles.py",
    "popular_host": "tests/unit/test_circles.py",
}
# Importing the programs declares their badges, as the app does at start.
importlib.import_module("forum.services.paths")
importlib.import_module("forum.services.tutorial_requests")
importlib.import_module("forum.services.circles")


def test_every_badge_has_a_threshold_test_and_the_catalogue_is_rich() -> None:
    assert set(BUILDERS) | set(PROGRAM_BADGES) == set(badges.BADGES)
    assert not set(BUILDERS) & set(PROGRAM_BADGES)
    root = Path(__file__).parents[2]
    for key, test_file in PROGRAM_BADGES.items():
        assert f'"{key}"' in (root / test_file).read_text(encoding="utf-8"), key
    assert len(badges.BADGES) >= 30
    tiers = {b.tier for b in badges.BADGES.values()}
    assert tiers == {badges.Tier.BRONZE, badges.Tier.SILVER, badges.Tier.GOLD}
    for key in ("teacher", "tutorial_author", "great_tutorial", "gap_closer", "mentor", "reviewer"):
        assert key in badges.BADGES
    with pytest.raises(ValueError, match="declared twice"):
        badges.declare(badges.BADGES["teacher"])


@pytest.mark.parametrize("key", sorted(BUILDERS))
def test_badge_rule_at_and_just_below_its_threshold(session: Session, key: str) -> None:
    badge = badges.BADGES[key]
    below, at = make_user(session), make_user(session)
    BUILDERS[key](session, below, badge.threshold - 1)
    BUILDERS[key](session, at, badge.threshold)
    earned = {g.user_id for g in badge.grants(session, [below.id, at.id])}
    assert earned == {at.id}
    awarded = badges.award(session, [below.id, at.id], keys=[key])
    assert [(a.user_id, a.badge_key) for a in awarded] == [(at.id, key)]
    assert badges.award(session, [below.id, at.id], keys=[key]) == []
    # Progress on one's profile counts toward the same threshold.
    assert badge.progress(session, below) == badge.threshold - 1


def test_repeatable_badges_are_awarded_once_per_post(session: Session) -> None:
    member = make_user(session)
    first, second = question(session, member, score=5), question(session, member, score=7)
    awarded = badges.award(session, [member.id], keys=["nice_question"])
    assert sorted(a.post_id or 0 for a in awarded) == [first.id, second.id]
    assert badges.award(session, [member.id], keys=["nice_question"]) == []


def test_tag_badges_name_their_tag(session: Session) -> None:
    member = make_user(session)
    tag_score(session, member, 10)
    (award,) = badges.award(session, [member.id], keys=["tag_bronze"])
    assert award.subject.startswith("tag:tag") and award.tag_id is not None


def test_the_unique_key_refuses_a_duplicate(session: Session) -> None:
    member = make_user(session)
    session.add(BadgeAward(user_id=member.id, badge_key="curious"))
    session.flush()
    with pytest.raises(IntegrityError), session.begin_nested():
        session.add(BadgeAward(user_id=member.id, badge_key="curious"))
        session.flush()


def test_badges_are_awarded_after_commit_without_any_view_calling(app: Flask) -> None:
    with new_session(app) as session:
        asker, answerer, voter = make_user(session), make_user(session), make_user(session)
        q = question(session, asker)
        answer = reply(session, answerer, q)
        session.commit()
        answer_id, answerer_id = answer.id, answerer.id
    with new_session(app) as session:
        voter = session.get(User, voter.id)
        assert voter is not None
        votes.cast(session, voter=voter, post_id=answer_id, value=1)
        session.commit()
    with new_session(app) as session:
        held = set(
            session.scalars(select(BadgeAward.badge_key).where(BadgeAward.user_id == answerer_id))
        )
        assert {"helper", "teacher"} <= held
        assert "supporter" in set(
            session.scalars(select(BadgeAward.badge_key).where(BadgeAward.user_id == voter.id))
        )


def _asks_a_question(app: Flask, member_id: int) -> set[str]:
    """The member asks a question (its commit awards after-commit); the badges they hold."""
    with new_session(app) as session:
        member = session.get(User, member_id)
        assert member is not None
        question(session, member)
        session.commit()
        return set(
            session.scalars(select(BadgeAward.badge_key).where(BadgeAward.user_id == member_id))
        )


def test_after_commit_awarding_tries_again_when_the_database_is_busy(
    app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    with new_session(app) as session:
        member = make_user(session)
        session.commit()
        member_id = member.id
    real = badges.grant
    calls: list[set[int]] = []

    def busy_once(session: Session, found: Any) -> Any:
        calls.append({given.user_id for _badge, given in found})
        if len(calls) == 1:
            raise OperationalError("INSERT", {}, Exception("database is locked"))
        return real(session, found)

    monkeypatch.setattr(badges, "grant", busy_once)
    held = _asks_a_question(app, member_id)
    assert calls == [{member_id}, {member_id}]
    assert "curious" in held


def test_after_commit_awarding_measures_again_when_inserting_fails(
    app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Awards measured before the write are inserted as they are; if that fails otherwise
    than on a busy database, the writing transaction measures again."""
    with new_session(app) as session:
        member = make_user(session)
        session.commit()
        member_id = member.id
    real = badges.grant
    measured_again: list[set[int]] = []
    real_award = badges.award

    def broken(session: Session, found: Any) -> Any:
        raise IntegrityError("INSERT", {}, Exception("a post was deleted meanwhile"))

    def award(session: Session, user_ids: Any = None, **kwargs: Any) -> Any:
        measured_again.append(set(user_ids))
        monkeypatch.setattr(badges, "grant", real)
        return real_award(session, user_ids, **kwargs)

    monkeypatch.setattr(badges, "grant", broken)
    monkeypatch.setattr(badges, "award", award)
    held = _asks_a_question(app, member_id)
    assert measured_again == [{member_id}]
    assert "curious" in held


def test_after_commit_awarding_writes_only_when_a_badge_was_earned(
    app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A commit that earns nothing is checked in a reading transaction only: on SQLite the
    write lock stays free for the members' requests."""
    real = badges.grant
    writes: list[set[int]] = []

    def counted(session: Session, found: Any) -> Any:
        writes.append({given.user_id for _badge, given in found})
        return real(session, found)

    real_writing = badges.writing
    writers: list[Any] = []

    def writing(bind: Any) -> Any:
        writers.append(bind)
        return real_writing(bind)

    monkeypatch.setattr(badges, "grant", counted)
    monkeypatch.setattr(badges, "writing", writing)
    with new_session(app) as session:
        member = make_user(session)
        session.commit()
        member_id = member.id
        question(session, member)
        session.commit()  # earns "curious"
        assert writes == [{member_id}] and len(writers) == 1
        question(session, member)
        session.commit()  # a second question earns nothing new
    assert writes == [{member_id}]
    assert len(writers) == 1


def test_posting_and_editing_a_profile_award_after_commit(app: Flask) -> None:
    with new_session(app) as session:
        member = make_user(session)
        session.commit()
        question(session, member)
        member.bio, member.department, member.job_title = "Hi", "Platform", "Engineer"
        session.commit()
        held = set(
            session.scalars(select(BadgeAward.badge_key).where(BadgeAward.user_id == member.id))
        )
    assert held == {"curious", "autobiographer"}


def test_a_rolled_back_change_awards_nothing(app: Flask) -> None:
    with new_session(app) as session:
        member = make_user(session)
        session.commit()
        question(session, member)
        session.rollback()
        session.commit()
        count = session.scalar(select(func.count()).select_from(BadgeAward))
    assert count == 0


def test_anonymous_and_deleted_posts_earn_no_badges(session: Session) -> None:
    member = make_user(session)
    question(session, member, score=50, is_anonymous=True)
    question(session, member, score=50, deleted_at=utcnow())
    assert badges.award(session, [member.id]) == []


def test_progress_lists_the_nearest_badges_not_held(session: Session) -> None:
    member = make_user(session)
    n_answers(score=1)(session, member, 9)
    badges.award(session, [member.id])
    progress = {p.badge.key: p for p in badges.progress_of(session, member, limit=50)}
    assert "teacher" not in progress  # held
    assert progress["explainer"].current == 9 and progress["explainer"].percent == 90
    assert list(progress)[0] == "explainer"


def test_releasing_a_savepoint_defers_awarding_to_the_real_commit(app: Flask) -> None:
    with new_session(app) as session:
        member = make_user(session)
        session.commit()
        with session.begin_nested():
            question(session, member)
        with new_session(app) as elsewhere:
            assert elsewhere.scalar(select(func.count()).select_from(BadgeAward)) == 0
        session.commit()
        held = set(
            session.scalars(select(BadgeAward.badge_key).where(BadgeAward.user_id == member.id))
        )
    assert held == {"curious"}


def test_badges_sharing_a_metric_run_it_once_per_award(
    session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    member = make_user(session, "counted")
    session.flush()
    runs: dict[object, int] = {}
    declared = list(badges.BADGES.values())
    for badge in declared:
        for field in ("member_metric", "post_metric", "tag_metric"):
            metric = getattr(badge, field)
            if metric is None or metric in runs:
                continue
            runs[metric] = 0

            def counting(s: Session, ids: object, _metric: object = metric) -> object:
                runs[_metric] += 1
                return _metric(s, ids)  # type: ignore[operator]

            for other in declared:
                if getattr(other, field) is metric:
                    monkeypatch.setitem(
                        badges.BADGES, other.key, dataclasses.replace(other, **{field: counting})
                    )
    badges.award(session, [member.id])
    assert runs and set(runs.values()) == {1}
    # Nice, Good and Great Answer share one metric, and so do other families.
    assert len(runs) < len(declared) - 10
