"""The demo's history: votes, helpful marks, views and badges dated over the weeks it covers.

Members vote and read through the same services as on the site, which date what they write
"now". :class:`Timeline` moves each step's rows (the vote, the reputation events it booked and
any audit entry) to the moment the demo says it happened, right after the step, so the ledger's
days stay those of the votes that earned them and leaderboards by period, reputation charts
and analytics look like those of a forum that has been living for months.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterable, Sequence

from sqlalchemy import Select, func, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import InstrumentedAttribute

from forum.models import (
    Article,
    ArticleFeedback,
    ArticleType,
    AuditLog,
    BadgeAward,
    Comment,
    Notification,
    Post,
    PostKind,
    Question,
    User,
    Vote,
)
from forum.models.reputation import ReputationEvent
from forum.services import articles, badges, notifications, questions, votes

#: Nothing the demo dates comes closer to "now" than this: longer than a view counts for
#: (``questions.VIEW_WINDOW``), so a member's first visit after loading counts as a view.
MARGIN = dt.timedelta(hours=1, minutes=5)
#: Notifications older than this are shown as read.
READ_AFTER = dt.timedelta(days=5)


def _aware(moment: dt.datetime) -> dt.datetime:
    """SQLite hands back naive UTC times."""
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


class Timeline:
    """Dates what each demo step writes to the moment it happened in the demo's story."""

    def __init__(self, session: Session, now: dt.datetime, *, seed: str = "northwind") -> None:
        self.session = session
        self.now = now
        self.seed = seed
        self._events = self._last(ReputationEvent.id)
        self._audits = self._last(AuditLog.id)

    def _last(self, column: InstrumentedAttribute[int]) -> int:
        return int(self.session.scalar(select(func.max(column))) or 0)

    def rng(self, key: str) -> random.Random:
        """A generator of its own for ``key``: the same demo every time it loads."""
        return random.Random(f"{self.seed}:{key}")

    def latest(self) -> dt.datetime:
        """The latest moment the demo dates anything at."""
        return self.now - MARGIN

    def clamp(self, moment: dt.datetime) -> dt.datetime:
        """``moment``, but never in the future."""
        return min(_aware(moment), self.latest())

    def moments(self, key: str, after: dt.datetime, count: int) -> list[dt.datetime]:
        """``count`` moments after ``after``, most of them soon after it, oldest first."""
        start = _aware(after)
        span = self.latest() - start
        if count <= 0:
            return []
        if span <= dt.timedelta(minutes=count):
            return [self.latest()] * count
        rng = self.rng(key)
        # Interest fades: most reactions come in the first days, a few much later.
        picks = sorted(min(1.0, rng.betavariate(1.0, 3.0) + 0.002) for _ in range(count))
        return [start + span * p for p in picks]

    def happened(self, moment: dt.datetime) -> None:
        """Date the reputation events and audit entries written since the last call."""
        self.session.flush()
        when = self.clamp(moment)
        self.session.execute(
            update(ReputationEvent)
            .where(ReputationEvent.id > self._events)
            .values(created_at=when)
            .execution_options(synchronize_session=False)
        )
        # Daily-capped events belong to the day of the vote that earned them.
        self.session.execute(
            update(ReputationEvent)
            .where(ReputationEvent.id > self._events, ReputationEvent.cap_day.is_not(None))
            .values(cap_day=when.astimezone(dt.UTC).date())
            .execution_options(synchronize_session=False)
        )
        self.session.execute(
            update(AuditLog)
            .where(AuditLog.id > self._audits)
            .values(created_at=when)
            .execution_options(synchronize_session=False)
        )
        self._events = self._last(ReputationEvent.id)
        self._audits = self._last(AuditLog.id)

    def vote(self, voter: User, post: Post, moment: dt.datetime) -> None:
        """``voter`` votes ``post`` up at ``moment``."""
        when = self.clamp(moment)
        votes.cast(self.session, voter=voter, post_id=post.id, value=1)
        self.session.execute(
            update(Vote)
            .where(Vote.user_id == voter.id, Vote.post_id == post.id)
            .values(created_at=when)
            .execution_options(synchronize_session=False)
        )
        self.happened(when)

    def feedback(
        self, member: User, article: Article, moment: dt.datetime, *, helpful: bool, comment: str
    ) -> None:
        """``member`` answers "Was this helpful?" on ``article`` at ``moment``."""
        when = self.clamp(moment)
        row = articles.set_feedback(
            self.session, article, member=member, helpful=helpful, comment=comment
        )
        row.created_at = row.updated_at = when
        self.happened(when)

    def views(self, question: Question, viewers: Sequence[User], visitors: int) -> int:
        """Members (and anonymous visitors) read the question after it was asked; the count."""
        keys = [questions.viewer_key(u, None, "") for u in viewers if u.id != question.author_id]
        keys += [
            questions.viewer_key(None, f"visitor-{question.id}-{n}", self.seed)
            for n in range(visitors)
        ]
        counted = 0
        moments = self.moments(f"views:{question.id}", question.created_at, len(keys))
        for key, moment in zip(keys, moments, strict=True):
            counted += questions.record_view(self.session, question.id, key, now=moment)
        return counted


def _latest(session: Session, statements: Iterable[object]) -> dt.datetime | None:
    found = [session.scalar(s) for s in statements]  # type: ignore[call-overload]
    moments = [_aware(m) for m in found if isinstance(m, dt.datetime)]
    return max(moments) if moments else None


def _dated_items(key: str, user_id: int) -> Select[dt.datetime] | None:
    """When each thing a member-wide badge counts happened, for the badges the demo earns."""

    def own(kind: PostKind, article_type: ArticleType | None = None) -> Select[dt.datetime]:
        query = select(Post.created_at).where(
            Post.author_id == user_id, Post.kind == kind, Post.is_anonymous.is_(False)
        )
        return query if article_type is None else query.where(Post.article_type == article_type)

    def received(kind: PostKind) -> Select[dt.datetime]:
        return (
            select(Vote.created_at)
            .join(Post, Vote.post_id == Post.id)
            .where(Post.author_id == user_id, Post.kind == kind, Post.is_anonymous.is_(False))
        )

    def booked(reason: str) -> Select[dt.datetime]:
        return select(ReputationEvent.created_at).where(
            ReputationEvent.user_id == user_id, ReputationEvent.reason == reason
        )

    cast = select(Vote.created_at).where(Vote.user_id == user_id)
    queries: dict[str, Select[dt.datetime]] = {
        "curious": own(PostKind.QUESTION),
        "student": received(PostKind.QUESTION),
        "scholar": booked("accepted_answer"),
        "helper": own(PostKind.ANSWER),
        "teacher": received(PostKind.ANSWER),
        "explainer": received(PostKind.ANSWER),
        "mentor": booked("answer_accepted"),
        "guru": booked("answer_accepted"),
        "tipster": own(PostKind.ARTICLE, ArticleType.TIP),
        "tutorial_author": own(PostKind.ARTICLE, ArticleType.TUTORIAL),
        "commentator": select(Comment.created_at).where(Comment.author_id == user_id),
        "supporter": cast.where(Vote.value == 1),
        "civic_duty": cast,
        "electorate": cast,
        # Filled in on joining.
        "autobiographer": select(User.created_at).where(User.id == user_id),
    }
    return queries.get(key)


def _earned_at(session: Session, award: BadgeAward) -> dt.datetime | None:
    """When a badge was earned: the last vote or mark on its post; for a member-wide badge,
    the moment the member's count reached the mark, else the member's last act."""
    if award.post_id is not None:
        return _latest(
            session,
            (
                select(Post.created_at).where(Post.id == award.post_id),
                select(func.max(Vote.created_at)).where(Vote.post_id == award.post_id),
                select(func.max(ArticleFeedback.created_at)).where(
                    ArticleFeedback.article_id == award.post_id
                ),
            ),
        )
    items = _dated_items(award.badge_key, award.user_id)
    if items is not None:
        threshold = badges.get(award.badge_key).threshold
        reached = session.scalar(
            items.order_by(items.selected_columns[0]).offset(max(0, threshold - 1)).limit(1)
        )
        if reached is not None:
            return _aware(reached)
    return _latest(
        session,
        (
            select(func.max(Post.created_at)).where(Post.author_id == award.user_id),
            select(func.max(Vote.created_at)).where(Vote.user_id == award.user_id),
            select(func.max(Comment.created_at)).where(Comment.author_id == award.user_id),
            select(func.max(ReputationEvent.created_at)).where(
                ReputationEvent.user_id == award.user_id
            ),
        ),
    )


def date_badges(session: Session, timeline: Timeline, awards: Sequence[BadgeAward]) -> None:
    """Date badge awards (and their notifications) to when the demo's members earned them."""
    for award in awards:
        earned = _earned_at(session, award)
        if earned is None:
            continue
        when = timeline.clamp(earned)
        award.awarded_at = when
        for note in session.scalars(
            select(Notification).where(
                Notification.recipient_id == award.user_id, Notification.kind == "badge"
            )
        ):
            if note.params.get("key") == award.badge_key:
                note.created_at = when
                if timeline.now - when > READ_AFTER and note.read_at is None:
                    note.read_at = when + dt.timedelta(hours=2)
    session.flush()
    notifications.recount_unread(session)


def date_members(session: Session, joined_days_ago: dict[str, int], now: dt.datetime) -> None:
    """Set when each demo member joined ("member since")."""
    for member in session.scalars(select(User).where(User.username.in_(joined_days_ago))):
        member.created_at = now - dt.timedelta(days=joined_days_ago[member.username], hours=9)
    session.flush()
