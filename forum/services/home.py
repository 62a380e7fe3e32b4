"""The front page: what waits for a member and what changed for them, or what the forum holds.

Every block is one statement whose work is bounded (a page of rows, a capped count, a member's
most recently active posts), so the most visited page stays as cheap as a question page. A
member's statements are built once, with the member, the moment and the department as bound
parameters: building them cost more than running them.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Integer,
    ScalarSelect,
    Select,
    String,
    bindparam,
    exists,
    func,
    select,
)
from sqlalchemy.orm import Session, aliased, joinedload

from forum.db import utcnow
from forum.models import (
    Article,
    Circle,
    CircleMember,
    CircleSession,
    Comment,
    LearningPath,
    Post,
    PostKind,
    Question,
    Revision,
    Tag,
    TagFollow,
    User,
    Vote,
    post_tags,
)
from forum.services import paths, questions
from forum.services.paths import Progress

WAITING_LIMIT = 6
ARTICLE_LIMIT = 5
CHANGE_LIMIT = 6
#: "Since your last visit" looks at the member's posts active most recently, this many.
CHANGE_WINDOW = 50
#: Without a previous visit on record (a first visit), changes are counted over this span.
FIRST_VISIT_LOOKBACK = dt.timedelta(days=7)
#: Counts on the visitors' page stop here ("1000+ questions"), like the question lists.
COUNT_LIMIT = questions.COUNT_LIMIT
TOP_TAG_LIMIT = 12
#: Top tags are those of the newest posts, this many: counting every post's tags grows with
#: the site.
TOP_TAG_WINDOW = 500


# --- a member's page --------------------------------------------------------------------------


@dataclass(frozen=True)
class Checklist:
    """The first steps a new member takes; the page shows it until every one is done."""

    profile: bool
    follows_tags: bool
    asked: bool
    answered: bool
    joined_circle: bool

    @property
    def done(self) -> int:
        """How many steps are done."""
        steps = (self.profile, self.follows_tags, self.asked, self.answered, self.joined_circle)
        return sum(steps)

    @property
    def total(self) -> int:
        """How many steps there are."""
        return 5

    @property
    def complete(self) -> bool:
        """Every step is done."""
        return self.done == self.total


@dataclass(frozen=True)
class Change:
    """What others did on one of the member's questions or articles since a moment."""

    post: Post
    answers: int
    comments: int
    edits: int
    votes: int

    @property
    def any(self) -> bool:
        """Whether anything happened."""
        return bool(self.answers or self.comments or self.edits or self.votes)

    @property
    def parts(self) -> list[str]:
        """What happened, in words: ``["2 new answers", "1 comment"]``."""
        counted = (
            (self.answers, "new answer"),
            (self.comments, "comment"),
            (self.edits, "edit"),
            (self.votes, "vote"),
        )
        return [f"{n} {word}{'' if n == 1 else 's'}" for n, word in counted if n]


@dataclass(frozen=True)
class NextSession:
    """The member's next circle session and the circle it belongs to."""

    item: CircleSession
    circle_id: int
    circle_name: str


@dataclass(frozen=True)
class PathLink:
    """A learning path as a link: its id and title."""

    id: int
    title: str


@dataclass(frozen=True)
class MemberHome:
    """Everything a member's front page shows."""

    checklist: Checklist
    #: Questions waiting for an answer: in the followed tags, or everywhere when none are.
    waiting: list[Question]
    articles: list[Article]
    #: The moment "since your last visit" counts from, and what changed since.
    since: dt.datetime
    first_visit: bool
    changes: list[Change]
    next_session: NextSession | None
    enrolments: list[tuple[LearningPath, Progress]]
    #: The department's onboarding path, suggested when the member follows no path.
    suggested_path: PathLink | None


def profile_complete(user: User) -> bool:
    """A profile says who the member is: a job title or department, and a few words."""
    return bool((user.job_title or user.department) and (user.bio or "").strip())


_ME = bindparam("me", type_=Integer)
_SINCE = bindparam("since", type_=Post.created_at.type)


@functools.cache
def _first_steps_statement() -> Select[Any]:
    """The checklist's steps and the department's onboarding path, in one statement."""

    def wrote(kind: PostKind) -> ColumnElement[bool]:
        return exists().where(Post.author_id == _ME, Post.kind == kind, Post.deleted_at.is_(None))

    def onboarding(column: Any) -> ScalarSelect[Any]:
        department = bindparam("department", type_=String)
        return (
            select(column)
            .where(LearningPath.onboarding_department == department)
            .order_by(LearningPath.id)
            .limit(1)
            .scalar_subquery()
        )

    return select(
        exists().where(TagFollow.user_id == _ME),
        wrote(PostKind.QUESTION),
        wrote(PostKind.ANSWER),
        exists().where(CircleMember.user_id == _ME),
        onboarding(LearningPath.id),
        onboarding(LearningPath.title),
    )


def first_steps(session: Session, user: User) -> tuple[Checklist, PathLink | None]:
    """Which first steps ``user`` has taken and their department's onboarding path, if any."""
    row = session.execute(
        _first_steps_statement(), {"me": user.id, "department": user.department or None}
    ).one()
    follows, asked, answered, joined = (bool(value) for value in row[:4])
    path = PathLink(int(row[4]), str(row[5])) if row[4] is not None else None
    return Checklist(profile_complete(user), follows, asked, answered, joined), path


def checklist(session: Session, user: User) -> Checklist:
    """Which first steps ``user`` has taken, in one statement."""
    return first_steps(session, user)[0]


@functools.cache
def _waiting_statement(in_followed_tags: bool) -> Select[Question]:
    query = (
        select(Question)
        .where(
            Question.deleted_at.is_(None),
            Question.closed_at.is_(None),
            func.coalesce(Question.author_id, 0) != _ME,
            questions.unanswered(),
        )
        .options(joinedload(Question.author))
        .order_by(Question.created_at.desc(), Question.id.desc())
        .limit(bindparam("limit", type_=Integer))
    )
    if in_followed_tags:
        followed = select(TagFollow.tag_id).where(TagFollow.user_id == _ME)
        query = query.where(
            exists().where(post_tags.c.post_id == Question.id, post_tags.c.tag_id.in_(followed))
        )
    return query


def waiting_questions(
    session: Session, user: User, *, in_followed_tags: bool, limit: int = WAITING_LIMIT
) -> list[Question]:
    """The newest open questions of others still waiting for an answer (authors loaded)."""
    statement = _waiting_statement(in_followed_tags)
    return list(session.scalars(statement, {"me": user.id, "limit": limit}))


@functools.cache
def _latest_articles_statement() -> Select[Article]:
    return (
        select(Article)
        .where(Article.deleted_at.is_(None))
        .options(joinedload(Article.author))
        .order_by(Article.created_at.desc(), Article.id.desc())
        .limit(bindparam("limit", type_=Integer))
    )


def latest_articles(
    session: Session, limit: int = ARTICLE_LIMIT, *, tags_with: Sequence[Post] | None = None
) -> list[Article]:
    """The newest live tips and tutorials (authors loaded).

    With ``tags_with``, their tags are loaded too, and those of the posts given in the same
    statement (a front page loads its waiting questions' tags along).
    """
    found = list(session.scalars(_latest_articles_statement(), {"limit": limit}))
    if tags_with is not None:
        questions.load_tags(session, [*tags_with, *found])
    return found


def since_moment(user: User, now: dt.datetime) -> tuple[dt.datetime, bool]:
    """Where "since your last visit" starts, and whether this is the member's first visit."""
    if user.previous_visit_at is not None:
        return user.previous_visit_at, False
    return now - FIRST_VISIT_LOOKBACK, True


@functools.cache
def _changes_statement() -> Select[Post, int, int, int, int, int]:
    """Others' work on the member's most recently active posts since a moment, counted."""
    me, since = _ME, _SINCE
    answer = aliased(Post, name="new_answer")
    answered = aliased(Post, name="answered")

    def count(*where: ColumnElement[bool]) -> ColumnElement[int]:
        return select(func.count()).where(*where).correlate(Post).scalar_subquery()

    def by_others(column: Any) -> ColumnElement[bool]:
        return func.coalesce(column, 0) != me

    answers = count(
        answer.parent_id == Post.id,
        answer.created_at > since,
        answer.deleted_at.is_(None),
        by_others(answer.author_id),
    )
    on_post = count(
        Comment.post_id == Post.id,
        Comment.created_at > since,
        Comment.deleted_at.is_(None),
        by_others(Comment.author_id),
    )
    on_answers = count(
        Comment.post_id == answered.id,
        answered.parent_id == Post.id,
        answered.deleted_at.is_(None),
        Comment.created_at > since,
        Comment.deleted_at.is_(None),
        by_others(Comment.author_id),
    )
    edits = count(
        Revision.post_id == Post.id,
        Revision.number > 1,
        Revision.created_at > since,
        by_others(Revision.editor_id),
    )
    votes = count(Vote.post_id == Post.id, Vote.created_at > since, Vote.user_id != me)
    recent = (
        select(Post.id)
        .where(
            Post.author_id == me,
            Post.kind.in_([PostKind.QUESTION, PostKind.ARTICLE]),
            Post.deleted_at.is_(None),
        )
        .order_by(Post.last_activity_at.desc(), Post.id.desc())
        .limit(CHANGE_WINDOW)
    )
    return (
        select(Post, answers, on_post, on_answers, edits, votes)
        .where(Post.id.in_(recent.scalar_subquery()))
        .order_by(Post.last_activity_at.desc(), Post.id.desc())
    )


def changes_since(
    session: Session, user: User, since: dt.datetime, limit: int = CHANGE_LIMIT
) -> list[Change]:
    """Others' answers, comments, edits and votes on ``user``'s live questions and articles.

    One statement over the member's ``CHANGE_WINDOW`` most recently active posts; only the
    member sees it, so anonymous questions are listed like any other of theirs.
    """
    rows = session.execute(_changes_statement(), {"me": user.id, "since": since})
    found = [
        Change(post, int(a), int(c1) + int(c2), int(e), int(v)) for post, a, c1, c2, e, v in rows
    ]
    return [change for change in found if change.any][:limit]


@functools.cache
def _next_session_statement() -> Select[CircleSession, int, str]:
    return (
        select(CircleSession, Circle.id, Circle.name)
        .join(Circle, Circle.id == CircleSession.circle_id)
        .join(CircleMember, CircleMember.circle_id == CircleSession.circle_id)
        .where(
            CircleMember.user_id == _ME,
            CircleSession.starts_at >= bindparam("now", type_=CircleSession.starts_at.type),
            CircleSession.cancelled_at.is_(None),
        )
        .order_by(CircleSession.starts_at, CircleSession.id)
        .limit(1)
    )


def next_session(session: Session, user: User, now: dt.datetime) -> NextSession | None:
    """The first session still to start in any of the member's circles, not cancelled."""
    row = session.execute(_next_session_statement(), {"me": user.id, "now": now}).first()
    if row is None:
        return None
    item, circle_id, name = row
    return NextSession(item, int(circle_id), str(name))


def member_home(
    session: Session, user: User, now: dt.datetime | None = None, *, with_articles: bool = True
) -> MemberHome:
    """The member's front page in a fixed, small number of statements.

    ``with_articles=False`` leaves the latest articles out (``articles`` is empty), and the
    waiting questions' tags unloaded: the articles read the same for every member, so a caller
    that keeps them rendered asks for them apart (``latest_articles(tags_with=waiting)`` when
    it renders them, else ``questions.load_tags(waiting)``).
    """
    now = now or utcnow()
    steps, onboarding = first_steps(session, user)
    waiting = waiting_questions(session, user, in_followed_tags=steps.follows_tags)
    articles: list[Article] = []
    if with_articles:
        articles = latest_articles(session, tags_with=waiting)
    since, first_visit = since_moment(user, now)
    enrolments = paths.enrolments_of(session, user)
    return MemberHome(
        checklist=steps,
        waiting=waiting,
        articles=articles,
        since=since,
        first_visit=first_visit,
        changes=changes_since(session, user, since),
        next_session=next_session(session, user, now),
        enrolments=enrolments,
        suggested_path=None if enrolments else onboarding,
    )


# --- what the forum holds ---------------------------------------------------------------------


@dataclass(frozen=True)
class Count:
    """A count that stops at a limit: ``more`` when there are more than ``value``."""

    value: int
    more: bool


@dataclass(frozen=True)
class Overview:
    """What visitors (and a brand-new site) see: what the forum holds and where to begin."""

    questions: Count
    articles: Count
    members: Count
    top_tags: list[tuple[str, int]]
    recent_questions: list[Question]
    articles_list: list[Article]

    @property
    def is_empty(self) -> bool:
        """Nothing has been asked or written yet."""
        return self.questions.value == 0 and self.articles.value == 0


def _capped(column: Any, *where: ColumnElement[bool]) -> ScalarSelect[int]:
    """A count of rows matching ``where`` that reads at most COUNT_LIMIT + 1 of them."""
    inner = select(column).where(*where).limit(COUNT_LIMIT + 1).subquery()
    return select(func.count()).select_from(inner).scalar_subquery()


def _count(value: int | None) -> Count:
    number = int(value or 0)
    if number > COUNT_LIMIT:
        return Count(COUNT_LIMIT, True)
    return Count(number, False)


def top_tags(session: Session, limit: int = TOP_TAG_LIMIT) -> list[tuple[str, int]]:
    """The tags most used by the newest ``TOP_TAG_WINDOW`` live posts, with their use there."""
    newest = (
        select(Post.id)
        .where(Post.deleted_at.is_(None), Post.kind != PostKind.ANSWER)
        .order_by(Post.id.desc())
        .limit(TOP_TAG_WINDOW)
    )
    uses = func.count().label("uses")
    rows = session.execute(
        select(Tag.name, uses)
        .join(post_tags, post_tags.c.tag_id == Tag.id)
        .where(post_tags.c.post_id.in_(newest.scalar_subquery()))
        .group_by(Tag.id, Tag.name)
        .order_by(uses.desc(), Tag.name)
        .limit(limit)
    )
    return [(str(name), int(n)) for name, n in rows]


def recent_questions(session: Session, limit: int = WAITING_LIMIT) -> list[Question]:
    """The newest live questions (authors loaded)."""
    return list(
        session.scalars(
            select(Question)
            .where(Question.deleted_at.is_(None))
            .options(joinedload(Question.author))
            .order_by(Question.created_at.desc(), Question.id.desc())
            .limit(limit)
        )
    )


def overview(session: Session) -> Overview:
    """What the forum holds, in a fixed, small number of statements whose work is capped."""
    live = Post.deleted_at.is_(None)
    counts = session.execute(
        select(
            _capped(Post.id, Post.kind == PostKind.QUESTION, live),
            _capped(Post.id, Post.kind == PostKind.ARTICLE, live),
            _capped(User.id, User.is_active.is_(True)),
        )
    ).one()
    recent = recent_questions(session)
    articles = latest_articles(session)
    questions.load_tags(session, [*recent, *articles])
    return Overview(
        questions=_count(counts[0]),
        articles=_count(counts[1]),
        members=_count(counts[2]),
        top_tags=top_tags(session),
        recent_questions=recent,
        articles_list=articles,
    )
