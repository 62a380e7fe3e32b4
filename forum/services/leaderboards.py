"""Leaderboards and expertise: top contributors by period, department and tag; profile data."""

from __future__ import annotations

import datetime as dt
import enum
import functools
from collections import defaultdict
from dataclasses import dataclass, field

from sqlalchemy import Integer, Select, and_, bindparam, desc, false, func, or_, select, true
from sqlalchemy.orm import Session, aliased
from sqlalchemy.orm.attributes import set_committed_value

from forum.db import utcnow
from forum.models import (
    Answer,
    ArticleFeedback,
    ArticleType,
    Post,
    PostKind,
    Question,
    Tag,
    User,
    post_tags,
)
from forum.models.articles import helpful_by_someone_else
from forum.models.reputation import ReputationEvent
from forum.services import badges, reputation, visibility
from forum.services.badges import HeldBadge, Progress, Tier
from forum.services.errors import ValidationError


class Period(enum.StrEnum):
    """The time windows a leaderboard covers."""

    WEEK = "week"
    MONTH = "month"
    QUARTER = "quarter"
    ALL = "all"


PERIOD_LABELS = {
    Period.WEEK: "This week",
    Period.MONTH: "This month",
    Period.QUARTER: "This quarter",
    Period.ALL: "All time",
}
PERIOD_DAYS = {Period.WEEK: 7, Period.MONTH: 30, Period.QUARTER: 91}


def parse_period(raw: str | None) -> Period:
    """The ``period`` argument; empty means this month, anything unknown is a ValidationError."""
    if not raw:
        return Period.MONTH
    try:
        return Period(raw)
    except ValueError:
        raise ValidationError({"period": ["Choose week, month, quarter or all."]}) from None


def since(period: Period, now: dt.datetime | None = None) -> dt.datetime | None:
    """When ``period`` starts (None: the beginning of time)."""
    if period is Period.ALL:
        return None
    return (now or utcnow()) - dt.timedelta(days=PERIOD_DAYS[period])


@dataclass(frozen=True)
class Entry:
    """One row of a leaderboard."""

    rank: int
    user: User
    points: int


def _tag_filter(tag: str) -> object:
    """Events on posts in ``tag``: the post's own tags, or for answers its question's."""
    answer = aliased(Post)
    tagged = (
        select(post_tags.c.post_id)
        .join(Tag, Tag.id == post_tags.c.tag_id)
        .where(Tag.name == tag)
        .scalar_subquery()
    )
    answers_in_tag = select(answer.id).where(
        answer.kind == PostKind.ANSWER, answer.parent_id.in_(tagged)
    )
    return or_(ReputationEvent.post_id.in_(tagged), ReputationEvent.post_id.in_(answers_in_tag))


def top_contributors(
    session: Session,
    *,
    period: Period = Period.MONTH,
    department: str | None = None,
    tag: str | None = None,
    limit: int = 20,
    now: dt.datetime | None = None,
) -> list[Entry]:
    """Members by reputation earned in the period (optionally in a department or a tag)."""
    points = func.sum(ReputationEvent.delta).label("points")
    query = (
        select(User, points)
        .join(ReputationEvent, ReputationEvent.user_id == User.id)
        .where(User.is_active == true())
        .group_by(User.id)
        .having(func.sum(ReputationEvent.delta) > 0)
        .order_by(desc("points"), User.username)
        .limit(limit)
    )
    start = since(period, now)
    if start is not None:
        query = query.where(ReputationEvent.created_at >= start)
    if department:
        query = query.where(User.department == department)
    if tag:
        query = query.where(_tag_filter(tag))  # type: ignore[arg-type]
    rows = session.execute(query).all()
    return [Entry(i, user, int(n)) for i, (user, n) in enumerate(rows, start=1)]


def most_helpful(
    session: Session,
    *,
    period: Period = Period.MONTH,
    department: str | None = None,
    tag: str | None = None,
    limit: int = 20,
    now: dt.datetime | None = None,
) -> list[Entry]:
    """Members by accepted answers written plus helpful marks their tutorials got in the period."""
    start = since(period, now)
    counts: dict[int, int] = defaultdict(int)
    question = aliased(Post)
    accepted = (
        select(Post.author_id, func.count())
        .join(question, question.accepted_answer_id == Post.id)
        .where(
            Post.deleted_at.is_(None),
            question.deleted_at.is_(None),
            Post.author_id.is_not(None),
            or_(question.author_id.is_(None), question.author_id != Post.author_id),
        )
        .group_by(Post.author_id)
    )
    marks = (
        select(Post.author_id, func.count())
        .join(ArticleFeedback, ArticleFeedback.article_id == Post.id)
        .where(
            Post.kind == PostKind.ARTICLE,
            Post.article_type == ArticleType.TUTORIAL,
            Post.deleted_at.is_(None),
            Post.author_id.is_not(None),
            helpful_by_someone_else(Post.author_id),
        )
        .group_by(Post.author_id)
    )
    if start is not None:
        accepted = accepted.where(Post.created_at >= start)
        marks = marks.where(ArticleFeedback.created_at >= start)
    if tag:
        in_tag = (
            select(post_tags.c.post_id)
            .join(Tag, Tag.id == post_tags.c.tag_id)
            .where(Tag.name == tag)
            .scalar_subquery()
        )
        accepted = accepted.where(question.id.in_(in_tag))
        marks = marks.where(Post.id.in_(in_tag))
    for query in (accepted, marks):
        for uid, n in session.execute(query):
            if uid is not None:
                counts[int(uid)] += int(n)
    if not counts:
        return []
    members_query = select(User).where(User.id.in_(list(counts)), User.is_active == true())
    if department:
        members_query = members_query.where(User.department == department)
    members = {u.id: u for u in session.scalars(members_query)}
    ranked = sorted(
        ((counts[uid], m.username, m) for uid, m in members.items()),
        key=lambda t: (-t[0], t[1]),
    )[:limit]
    return [Entry(i, m, n) for i, (n, _name, m) in enumerate(ranked, start=1)]


@dataclass
class Leaderboards:
    """What /people shows when nobody is searched for."""

    period: Period
    department: str | None
    tag: str | None
    top: list[Entry]
    helpful: list[Entry]
    departments: list[str]
    tags: list[str]


def leaderboards(
    session: Session,
    *,
    period: Period,
    department: str | None = None,
    tag: str | None = None,
    limit: int = 20,
) -> Leaderboards:
    """Both boards for a period, department and tag, with the choices for the filters."""
    departments = [
        str(d)
        for d in session.scalars(
            select(User.department)
            .where(User.department.is_not(None), User.department != "")
            .distinct()
            .order_by(User.department)
        )
    ]
    tags = [
        str(t)
        for t in session.scalars(
            select(Tag.name)
            .join(post_tags, post_tags.c.tag_id == Tag.id)
            .group_by(Tag.name)
            .order_by(func.count().desc(), Tag.name)
            .limit(50)
        )
    ]
    return Leaderboards(
        period=period,
        department=department,
        tag=tag,
        top=top_contributors(session, period=period, department=department, tag=tag, limit=limit),
        helpful=most_helpful(session, period=period, department=department, tag=tag, limit=limit),
        departments=departments,
        tags=tags,
    )


# --- profiles ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class TagScore:
    """A member's standing in one tag: the score of their answers (and questions) in it."""

    name: str
    score: int
    posts: int


@functools.cache
def _top_tags_statement(limit: int) -> Select[str, int, int]:
    """The statement of ``top_tags``, built once per limit (the member is a parameter).

    Building it costs milliseconds (an ORM alias is adapted on every build); running it, less.
    """
    question = aliased(Post)
    # An answer is in its question's tags; a question or article in its own.
    home = func.coalesce(question.id, Post.id)
    return (
        select(Tag.name, func.sum(Post.score), func.count(Post.id))
        .select_from(Post)
        .outerjoin(question, and_(Post.parent_id == question.id, Post.kind == PostKind.ANSWER))
        .join(post_tags, post_tags.c.post_id == home)
        .join(Tag, Tag.id == post_tags.c.tag_id)
        .where(
            Post.author_id == bindparam("author_id", type_=Integer),
            Post.deleted_at.is_(None),
            Post.is_anonymous == false(),
            or_(question.id.is_(None), question.deleted_at.is_(None)),
        )
        .group_by(Tag.name)
        .order_by(func.sum(Post.score).desc(), func.count(Post.id).desc(), Tag.name)
        .limit(limit)
    )


def top_tags(session: Session, user: User, *, limit: int = 8) -> list[TagScore]:
    """The tags a member knows most about: summed score of their posts there, best first."""
    rows = session.execute(_top_tags_statement(limit), {"author_id": user.id})
    return [TagScore(str(name), int(score or 0), int(n)) for name, score, n in rows]


#: The question of an answer, loaded next to it (built once: an alias is costly to build).
_PARENT = aliased(Question, name="parent_question")


@functools.cache
def _recent_posts_statement(own: bool) -> Select[Post, Question]:
    """The statement of ``recent_posts``, built once with and once without anonymous posts."""
    ranked = select(
        Post.id,
        func.row_number()
        .over(partition_by=Post.kind, order_by=(Post.created_at.desc(), Post.id.desc()))
        .label("n"),
    ).where(
        Post.author_id == bindparam("author_id", type_=Integer),
        # Never a removed post, nor an answer of a removed question.
        visibility.visible_posts_clause(),
    )
    if not own:
        ranked = ranked.where(Post.is_anonymous == false())
    latest = ranked.subquery()
    return (
        select(Post, _PARENT)
        .join(latest, latest.c.id == Post.id)
        .outerjoin(_PARENT, _PARENT.id == Post.parent_id)
        .where(latest.c.n <= bindparam("per_kind", type_=Integer))
        .order_by(Post.created_at.desc(), Post.id.desc())
    )


def recent_posts(
    session: Session, user: User, *, viewer: User | None, limit: int = 5
) -> dict[PostKind, list[Post]]:
    """A member's latest posts of each kind; anonymous ones only for the member themself.

    One statement: the posts are ranked per kind, and answers come with their question.
    """
    rows = session.execute(
        _recent_posts_statement(viewer is not None and viewer.id == user.id),
        {"author_id": user.id, "per_kind": limit},
    )
    found: dict[PostKind, list[Post]] = {kind: [] for kind in PostKind}
    for post, question in rows:
        if isinstance(post, Answer):
            # Loaded already: ``answer.question`` needs no query of its own.
            set_committed_value(post, "question", question)
        found[PostKind(post.kind)].append(post)
    return found


@dataclass(frozen=True)
class Chart:
    """A reputation-over-time line, already scaled to an SVG viewport."""

    width: int
    height: int
    points: str
    low: int
    high: int
    first: dt.date | None
    last: dt.date | None

    @property
    def empty(self) -> bool:
        """True when there is nothing to draw."""
        return not self.points


def chart(series: list[tuple[dt.date, int]], *, width: int = 600, height: int = 160) -> Chart:
    """Scale (day, reputation) points to a polyline; one point becomes a flat line."""
    if not series:
        return Chart(width, height, "", 0, 0, None, None)
    if len(series) == 1:
        series = [(series[0][0] - dt.timedelta(days=1), 0), *series]
    first, last = series[0][0], series[-1][0]
    low = min(0, min(v for _d, v in series))
    high = max(1, max(v for _d, v in series))
    span_days = max(1, (last - first).days)
    pad = 4

    def x(day: dt.date) -> float:
        return pad + (width - 2 * pad) * (day - first).days / span_days

    def y(value: int) -> float:
        return height - pad - (height - 2 * pad) * (value - low) / (high - low)

    points = " ".join(f"{x(d):.1f},{y(v):.1f}" for d, v in series)
    return Chart(width, height, points, low, high, first, last)


@dataclass
class RecognitionProfile:
    """The recognition half of a profile page."""

    chart: Chart
    badges: list[HeldBadge]
    tiers: dict[Tier, int]
    top_tags: list[TagScore]
    questions: list[Post]
    answers: list[Post]
    articles: list[Post]
    history: list[ReputationEvent] = field(default_factory=list)
    progress: list[Progress] = field(default_factory=list)
    privileges: list[reputation.PrivilegeStatus] = field(default_factory=list)
    #: Posts of ``history`` the member may still see: only those are named and linked.
    history_posts: set[int] = field(default_factory=set)


def profile(session: Session, user: User, *, viewer: User | None) -> RecognitionProfile:
    """Chart, badges, expertise and recent posts; progress and privileges for oneself."""
    held = badges.badges_of(session, user)
    own = viewer is not None and viewer.id == user.id
    recent = recent_posts(session, user, viewer=viewer)
    history = reputation.history(session, user, limit=10) if own else []
    return RecognitionProfile(
        chart=chart(reputation.series(session, user)),
        badges=held,
        tiers=badges.tier_counts(held),
        top_tags=top_tags(session, user),
        questions=recent[PostKind.QUESTION],
        answers=recent[PostKind.ANSWER],
        articles=recent[PostKind.ARTICLE],
        history=history,
        history_posts=visibility.visible_post_ids(
            session, viewer, {e.post_id for e in history if e.post_id is not None}
        ),
        progress=badges.progress_of(session, user) if own else [],
        privileges=reputation.privileges_of(user) if own else [],
    )
