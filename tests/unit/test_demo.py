"""The Northwind Labs demo: Markdown content loaded by the importer, activity over weeks."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from forum import demo
from forum.db import utcnow
from forum.demo.people import PEOPLE
from forum.demo.posts import CONTENT, content_files
from forum.interchange import markdown_io
from forum.models import (
    Answer,
    Article,
    AuditLog,
    BadgeAward,
    Bounty,
    BountyStatus,
    CheckIn,
    Comment,
    Post,
    PostView,
    Question,
    SuggestedEdit,
    TutorialRequestVote,
    User,
    Vote,
)
from forum.models.reputation import ReputationEvent
from forum.services import articles, bounties, leaderboards, posts, reputation, suggested_edits
from forum.services.leaderboards import Period
from tests.conftest import TEST_HASH_METHOD

MEMBERS = {p.username for p in PEOPLE}


def _parsed() -> list[tuple[Path, markdown_io.ParsedFile]]:
    return [
        (path, markdown_io.parse_markdown_file(markdown_io.read_markdown_file(path), path.name))
        for path in content_files()
    ]


def _load(session: Session) -> demo.DemoResult:
    result = demo.load(session, password="demo pass phrase", hash_method=TEST_HASH_METHOD)
    session.commit()
    return result


def _aware(moment: dt.datetime) -> dt.datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def _count(session: Session, model: type) -> int:
    return int(session.scalar(select(func.count()).select_from(model)) or 0)


def test_content_lives_in_the_package_and_every_file_parses() -> None:
    assert Path(str(CONTENT)).is_relative_to(Path(demo.__file__).parent)
    parsed = _parsed()
    kinds = Counter(p.kind for _path, p in parsed)
    assert kinds["article"] >= 15 and kinds["question"] >= 40 and kinds["answer"] >= 30
    folders_with_question = {path.parent for path, p in parsed if p.kind == "question"}
    for path, p in parsed:
        assert p.author in MEMBERS, path
        assert set(p.extra.get("voters", [])) <= MEMBERS, path
        assert {c.author for c in p.comments} <= MEMBERS, path
        assert p.body_md.strip(), path
        if p.kind == "answer":
            assert path.parent in folders_with_question, path
        else:
            assert p.tags != [markdown_io.DEFAULT_TAG] and "days_ago" in p.extra, path
        if p.kind == "article":
            assert {m["member"] for m in p.extra.get("helpful", [])} <= MEMBERS, path


def test_the_demo_loads_every_file_into_an_empty_database(session: Session) -> None:
    parsed = [p for _path, p in _parsed()]
    result = _load(session)

    kinds = Counter(p.kind for p in parsed)
    assert result.counts["articles"] == kinds["article"] == _count(session, Article)
    assert result.counts["questions"] == kinds["question"] == _count(session, Question)
    assert result.counts["answers"] == kinds["answer"] == _count(session, Answer)
    titles = set(session.scalars(select(Post.title).where(Post.title.is_not(None))))
    assert {p.title for p in parsed if p.kind != "answer"} <= titles
    assert _count(session, Comment) >= 5 and _count(session, Vote) >= 50
    accepted = session.scalar(
        select(func.count()).select_from(Question).where(Question.accepted_answer_id.is_not(None))
    )
    assert (accepted or 0) == sum(1 for p in parsed if p.accepted) >= 20
    anonymous = session.scalar(
        select(func.count()).select_from(Question).where(Question.is_anonymous.is_(True))
    )
    assert (anonymous or 0) == sum(1 for p in parsed if p.anonymous) >= 3
    duplicate = session.scalars(select(Question).where(Question.closed_reason == "duplicate")).one()
    assert duplicate.duplicate_of_id is not None
    # The knowledge base links up: every wiki link points at a demo article.
    items = list(session.scalars(select(Article)))
    assert all("wikilink--missing" not in a.body_html for a in items)
    assert len([a for a in items if articles.backlinks(session, a)]) >= 12
    assert articles.stale_articles(session)  # some demo articles are due for review
    assert any(articles.helpful_summary(session, a).total for a in items)
    # The dated ledger is exactly what the votes, marks and acceptances earn.
    check = reputation.recalc(session, fix=False)
    assert check.clean, check.drift
    assert (
        session.scalar(select(ReputationEvent.id).where(ReputationEvent.reason == "recalc")) is None
    )
    assert result.counts["badges"] > 10
    # A newcomer's suggested edit waits for review.
    suggestion = session.scalars(select(SuggestedEdit)).one()
    assert suggestion.status == "pending"
    assert not posts.can_edit(suggestion.proposer, suggestion.post)
    assert suggested_edits.review_of(session, suggestion).stale is False


def test_loading_again_adds_nothing_and_if_empty_does_not_load_at_all(session: Session) -> None:
    _load(session)
    before = {m: _count(session, m) for m in (Post, Vote, Comment, ReputationEvent, BadgeAward)}

    skipped = demo.load(session, password=None, hash_method=TEST_HASH_METHOD, only_if_empty=True)
    assert skipped.skipped and skipped.counts == {}
    again = demo.load(session, password=None, hash_method=TEST_HASH_METHOD)
    session.commit()
    assert not again.skipped
    assert again.counts["people"] == again.counts["questions"] == again.counts["answers"] == 0
    assert {m: _count(session, m) for m in before} == before


def test_activity_spans_weeks_and_nothing_is_dated_in_the_future(session: Session) -> None:
    _load(session)
    now = utcnow()

    def moments(column: object) -> list[dt.datetime]:
        return [_aware(m) for m in session.scalars(select(column))]  # type: ignore[call-overload]

    events = moments(ReputationEvent.created_at)
    assert len({m.isocalendar()[:2] for m in events}) >= 4
    awards = moments(BadgeAward.awarded_at)
    assert len({m.date() for m in awards}) >= 5
    for column in (
        ReputationEvent.created_at,
        BadgeAward.awarded_at,
        Vote.created_at,
        PostView.viewed_at,
        AuditLog.created_at,
        Comment.created_at,
        Post.created_at,
        User.created_at,
        TutorialRequestVote.created_at,
        CheckIn.created_at,
    ):
        assert max(moments(column)) <= now, column
    # Colleagues +1 requests and mentors check in over days, not all at once.
    assert len({m.date() for m in moments(TutorialRequestVote.created_at)}) >= 5
    assert len({m.date() for m in moments(CheckIn.created_at)}) == 3
    # Every vote came after its post; the ledger's days are those of the votes.
    for vote_at, post_at in session.execute(
        select(Vote.created_at, Post.created_at).join(Post, Vote.post_id == Post.id)
    ):
        assert _aware(vote_at) > _aware(post_at)
    for created_at, cap_day in session.execute(
        select(ReputationEvent.created_at, ReputationEvent.cap_day).where(
            ReputationEvent.cap_day.is_not(None)
        )
    ):
        assert _aware(created_at).astimezone(dt.UTC).date() == cap_day
    # Members joined before they wrote or voted anything; "member since" differs.
    joined = {u.id: _aware(u.created_at) for u in session.scalars(select(User))}
    assert len({m.date() for m in joined.values()}) == len(PEOPLE)
    for author_id, created_at in session.execute(select(Post.author_id, Post.created_at)):
        assert author_id is None or joined[author_id] < _aware(created_at)
    for voter_id, created_at in session.execute(select(Vote.user_id, Vote.created_at)):
        assert joined[voter_id] < _aware(created_at)
    # Questions were read; the moderator closed the duplicate when it was asked, not today.
    assert min(session.scalars(select(Question.view_count))) > 0
    closed = session.scalars(select(AuditLog).where(AuditLog.action == "question.close")).one()
    assert now - _aware(closed.created_at) > dt.timedelta(days=1)


def test_this_months_leaderboard_is_not_the_all_time_one(session: Session) -> None:
    _load(session)

    def board(period: Period) -> list[tuple[str, int]]:
        entries = leaderboards.top_contributors(session, period=period)
        return [(e.user.username, e.points) for e in entries]

    month, quarter, every = board(Period.MONTH), board(Period.QUARTER), board(Period.ALL)
    assert month and every and month != every
    assert sum(points for _name, points in month) < sum(points for _name, points in every)
    week = board(Period.WEEK)
    assert week and sum(p for _n, p in week) < sum(p for _n, p in month) <= sum(
        p for _n, p in quarter
    )


@pytest.mark.parametrize("field", ["voters", "helpful"])
def test_a_broken_content_file_stops_the_demo(
    session: Session, field: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from forum.demo import posts

    (tmp_path / "articles").mkdir()
    (tmp_path / "articles" / "bad.md").write_text(
        f"---\ntitle: Bad\nauthor: amara\ntags: [ops]\ndays_ago: 3\n{field}: [nobody]\n---\nBody\n",
        encoding="utf-8",
    )
    monkeypatch.setattr(posts, "CONTENT", tmp_path)
    with pytest.raises(ValueError, match="bad.md"):
        demo.load(session, password=None, hash_method=TEST_HASH_METHOD)


def test_the_demo_shows_an_open_bounty_on_an_older_question(session: Session) -> None:
    result = _load(session)
    assert result.counts["open bounties"] == 1
    bounty = session.scalars(select(Bounty)).one()
    question = session.get(Question, bounty.question_id)
    assert bounty.status is BountyStatus.OPEN and bounty.amount == 100
    assert question is not None and not question.is_anonymous and question.closed_at is None
    started = bounties.aware(bounty.started_at)
    assert bounties.aware(question.created_at) <= started - dt.timedelta(days=2)
    assert bounties.aware(bounty.ends_at) > utcnow()
    assert reputation.recalc(session, fix=False).clean
