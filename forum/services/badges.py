"""Badges: declared in one place, awarded after commit, idempotent under a unique key.

Every badge is a :class:`Badge` in :data:`BADGES`: a key, a name, a tier, a description, a
rule and whether it repeats. A rule is a *metric* (a number per member, per post or per tag,
computed from the database) and a *threshold*: a once-only badge is held when the member's
number reaches the threshold; a repeatable one once per post (or tag) whose number does.
Other areas add their own badges with :func:`declare`.

Awarding never revokes and never duplicates: the ``badge_awards`` table's unique
(member, badge, subject) key makes a replay a no-op. :func:`follow_commits` attaches session
hooks to the app's session factory that note which members an ORM change concerns and, after
the commit, award their badges in a short transaction of their own, so no view has to call
anything. Each award emits ``events.BadgeAwarded``.
``forum badges award --all`` backfills everyone.
"""

from __future__ import annotations

import datetime as dt
import enum
import logging
from collections import defaultdict
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass
from functools import cache, partial
from typing import Any

from sqlalchemy import and_, event, false, func, inspect, or_, select
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, aliased, sessionmaker

from forum import aftercommit, events
from forum.db import first_listen, writing
from forum.models import (
    ArticleFeedback,
    ArticleType,
    BadgeAward,
    Comment,
    CommentVote,
    Post,
    PostKind,
    Revision,
    Tag,
    User,
    Vote,
    post_tags,
)
from forum.models.articles import helpful_by_someone_else
from forum.services.anonymity import masked_pairs, unmasked
from forum.services.errors import NotFound
from forum.services.reputation import day_of

log = logging.getLogger(__name__)


class Tier(enum.StrEnum):
    """Bronze badges are first steps, silver sustained effort, gold rare distinction."""

    BRONZE = "bronze"
    SILVER = "silver"
    GOLD = "gold"


TIER_ORDER = {Tier.GOLD: 0, Tier.SILVER: 1, Tier.BRONZE: 2}

#: A member metric: member id → number, for the given members (None: everyone).
MemberMetric = Callable[[Session, Collection[int] | None], dict[int, int]]
#: A post metric: (member id, post id, number) for every counting post of the given members.
PostMetric = Callable[[Session, Collection[int] | None], list[tuple[int, int, int]]]
#: A tag metric: (member id, tag id, tag name, number) per member and tag.
TagMetric = Callable[[Session, Collection[int] | None], list[tuple[int, int, str, int]]]


@dataclass(frozen=True)
class Grant:
    """One award a rule says a member has earned."""

    user_id: int
    subject: str = ""
    post_id: int | None = None
    tag_id: int | None = None


@dataclass(frozen=True)
class Badge:
    """A badge: what it is called, how rare it is, and the rule that earns it."""

    key: str
    name: str
    tier: Tier
    description: str
    threshold: int
    member_metric: MemberMetric | None = None
    post_metric: PostMetric | None = None
    tag_metric: TagMetric | None = None
    repeatable: bool = False
    #: What the metric counts, for progress ("3 of 10 accepted answers").
    unit: str = ""

    def grants(
        self,
        session: Session,
        user_ids: Collection[int] | None,
        measured: dict[Any, Any] | None = None,
    ) -> list[Grant]:
        """Every award the rule says these members have earned (held ones included).

        ``measured`` keeps each metric's result for these members: badges that share a metric
        (Nice, Good and Great Answer) run its query once."""

        kept = {} if measured is None else measured

        def measure(metric: Any) -> Any:
            if metric not in kept:
                kept[metric] = metric(session, user_ids)
            return kept[metric]

        if self.member_metric is not None:
            values = measure(self.member_metric)
            return [Grant(uid) for uid, n in values.items() if n >= self.threshold]
        if self.post_metric is not None:
            rows = sorted(measure(self.post_metric), key=lambda r: (r[0], r[1]))
            if self.repeatable:
                return [
                    Grant(uid, f"post:{pid}", post_id=pid)
                    for uid, pid, n in rows
                    if n >= self.threshold
                ]
            first: dict[int, Grant] = {}
            for uid, pid, n in rows:
                if n >= self.threshold and uid not in first:
                    first[uid] = Grant(uid, post_id=pid)
            return list(first.values())
        assert self.tag_metric is not None
        return [
            Grant(uid, f"tag:{name}", tag_id=tid)
            for uid, tid, name, n in measure(self.tag_metric)
            if n >= self.threshold
        ]

    def progress(self, session: Session, user: User) -> int:
        """The member's best number toward this badge (a post's or tag's for per-item rules)."""
        if self.member_metric is not None:
            return self.member_metric(session, [user.id]).get(user.id, 0)
        if self.post_metric is not None:
            return max((n for _u, _p, n in self.post_metric(session, [user.id])), default=0)
        assert self.tag_metric is not None
        return max((n for *_rest, n in self.tag_metric(session, [user.id])), default=0)


# --- metrics ----------------------------------------------------------------------------------


def _counting(post: Any = Post) -> Any:
    """Posts that count for badges: not deleted and never anonymous (that would reveal them)."""
    return and_(post.deleted_at.is_(None), post.is_anonymous == false())


def _only(column: Any, user_ids: Collection[int] | None) -> Any:
    """Restrict ``column`` to ``user_ids`` (no restriction for None)."""
    return column.in_(list(user_ids)) if user_ids is not None else column.is_not(None)


def _grouped(session: Session, query: Any) -> dict[int, int]:
    """Run a (member id, count) query into a dict."""
    return {int(uid): int(n) for uid, n in session.execute(query) if uid is not None}


@cache
def posts_of(
    kind: PostKind, *, min_score: int | None = None, article_type: ArticleType | None = None
) -> MemberMetric:
    """How many counting posts of ``kind`` (scored at least ``min_score``) a member wrote."""

    def metric(session: Session, user_ids: Collection[int] | None) -> dict[int, int]:
        query = (
            select(Post.author_id, func.count())
            .where(Post.kind == kind, _counting(), _only(Post.author_id, user_ids))
            .group_by(Post.author_id)
        )
        if min_score is not None:
            query = query.where(Post.score >= min_score)
        if article_type is not None:
            query = query.where(Post.article_type == article_type)
        return _grouped(session, query)

    return metric


def accepted_answers(session: Session, user_ids: Collection[int] | None) -> dict[int, int]:
    """Answers of a member accepted by someone else."""
    question = aliased(Post)
    return _grouped(
        session,
        select(Post.author_id, func.count())
        # Through the parent key, so the join is a primary-key lookup per answer.
        .join(question, and_(question.id == Post.parent_id, question.accepted_answer_id == Post.id))
        .where(
            _counting(),
            question.deleted_at.is_(None),
            or_(question.author_id.is_(None), question.author_id != Post.author_id),
            _only(Post.author_id, user_ids),
        )
        .group_by(Post.author_id),
    )


def questions_with_accepted_answer(
    session: Session, user_ids: Collection[int] | None
) -> dict[int, int]:
    """Questions of a member on which they accepted an answer."""
    return _grouped(
        session,
        select(Post.author_id, func.count())
        .where(
            Post.kind == PostKind.QUESTION,
            Post.accepted_answer_id.is_not(None),
            _counting(),
            _only(Post.author_id, user_ids),
        )
        .group_by(Post.author_id),
    )


def edits(session: Session, user_ids: Collection[int] | None) -> dict[int, int]:
    """Revisions a member saved after the first one of a post (edits, not creations)."""
    return _grouped(
        session,
        select(Revision.editor_id, func.count())
        .join(Post, Revision.post_id == Post.id)
        .where(
            Revision.number > 1,
            Post.deleted_at.is_(None),
            ~Revision.summary.like("Reviewed:%"),
            _only(Revision.editor_id, user_ids),
            # The anonymous asker's edits in their own thread were made under the mask.
            unmasked(Revision.post_id, Revision.editor_id),
        )
        .group_by(Revision.editor_id),
    )


def reviews(session: Session, user_ids: Collection[int] | None) -> dict[int, int]:
    """Times a member confirmed an article is still accurate."""
    return _grouped(
        session,
        select(Revision.editor_id, func.count())
        .join(Post, Revision.post_id == Post.id)
        .where(
            Revision.summary.like("Reviewed: still accurate%"),
            Post.deleted_at.is_(None),
            _only(Revision.editor_id, user_ids),
        )
        .group_by(Revision.editor_id),
    )


@cache
def comments(*, min_score: int = 0) -> MemberMetric:
    """Comments a member wrote (scored at least ``min_score``) that are not deleted."""

    def metric(session: Session, user_ids: Collection[int] | None) -> dict[int, int]:
        return _grouped(
            session,
            select(Comment.author_id, func.count())
            .where(
                Comment.deleted_at.is_(None),
                Comment.score >= min_score,
                _only(Comment.author_id, user_ids),
                unmasked(Comment.post_id, Comment.author_id),
            )
            .group_by(Comment.author_id),
        )

    return metric


@cache
def votes_cast(value: int | None) -> MemberMetric:
    """Votes a member has standing on posts: up (1), down (-1) or either (None)."""

    def metric(session: Session, user_ids: Collection[int] | None) -> dict[int, int]:
        query = select(Vote.user_id, func.count()).where(
            _only(Vote.user_id, user_ids), unmasked(Vote.post_id, Vote.user_id)
        )
        if value is not None:
            query = query.where(Vote.value == value)
        return _grouped(session, query.group_by(Vote.user_id))

    return metric


def profile_complete(session: Session, user_ids: Collection[int] | None) -> dict[int, int]:
    """1 for members whose bio, department and job title are all filled in."""
    return _grouped(
        session,
        select(User.id, func.count())
        .where(
            func.length(func.coalesce(User.bio, "")) > 0,
            func.length(func.coalesce(User.department, "")) > 0,
            func.length(func.coalesce(User.job_title, "")) > 0,
            _only(User.id, user_ids),
        )
        .group_by(User.id),
    )


@cache
def post_scores(kind: PostKind) -> PostMetric:
    """Each counting post of ``kind`` with its score."""

    def metric(session: Session, user_ids: Collection[int] | None) -> list[tuple[int, int, int]]:
        rows = session.execute(
            select(Post.author_id, Post.id, Post.score).where(
                Post.kind == kind, _counting(), _only(Post.author_id, user_ids)
            )
        )
        return [(int(u), int(p), int(n)) for u, p, n in rows if u is not None]

    return metric


def question_views(
    session: Session, user_ids: Collection[int] | None
) -> list[tuple[int, int, int]]:
    """Each counting question with its view count."""
    rows = session.execute(
        select(Post.author_id, Post.id, Post.view_count).where(
            Post.kind == PostKind.QUESTION, _counting(), _only(Post.author_id, user_ids)
        )
    )
    return [(int(u), int(p), int(n)) for u, p, n in rows if u is not None]


@cache
def helpful_marks(article_type: ArticleType) -> PostMetric:
    """Each counting article of ``article_type`` with how many members marked it helpful."""

    def metric(session: Session, user_ids: Collection[int] | None) -> list[tuple[int, int, int]]:
        rows = session.execute(
            select(Post.author_id, Post.id, func.count(ArticleFeedback.id))
            .outerjoin(
                ArticleFeedback,
                and_(
                    ArticleFeedback.article_id == Post.id, helpful_by_someone_else(Post.author_id)
                ),
            )
            .where(
                Post.kind == PostKind.ARTICLE,
                Post.article_type == article_type,
                _counting(),
                _only(Post.author_id, user_ids),
            )
            .group_by(Post.author_id, Post.id)
        )
        return [(int(u), int(p), int(n)) for u, p, n in rows if u is not None]

    return metric


def accepted_answer_scores(
    session: Session, user_ids: Collection[int] | None
) -> list[tuple[int, int, int]]:
    """Each accepted answer (accepted by someone else) with its score."""
    question = aliased(Post)
    rows = session.execute(
        select(Post.author_id, Post.id, Post.score)
        # Through the answer's parent: the database walks the member's answers (author
        # index) and looks each question up by its key, rather than every accepted question.
        .join(
            question,
            and_(question.id == Post.parent_id, question.accepted_answer_id == Post.id),
        )
        .where(
            Post.kind == PostKind.ANSWER,
            _counting(),
            question.deleted_at.is_(None),
            or_(question.author_id.is_(None), question.author_id != Post.author_id),
            _only(Post.author_id, user_ids),
        )
    )
    return [(int(u), int(p), int(n)) for u, p, n in rows if u is not None]


def self_answer_scores(
    session: Session, user_ids: Collection[int] | None
) -> list[tuple[int, int, int]]:
    """Each answer a member wrote to their own (named) question, with its score."""
    question = aliased(Post)
    rows = session.execute(
        select(Post.author_id, Post.id, Post.score)
        .join(question, Post.parent_id == question.id)
        .where(
            Post.kind == PostKind.ANSWER,
            _counting(),
            _counting(question),
            question.author_id == Post.author_id,
            _only(Post.author_id, user_ids),
        )
    )
    return [(int(u), int(p), int(n)) for u, p, n in rows if u is not None]


def _answer_timing(
    session: Session, user_ids: Collection[int] | None
) -> list[tuple[int, int, int, dt.timedelta, bool]]:
    """Per counting answer: author, id, score, delay after its question, and whether first."""
    question = aliased(Post)
    earlier = aliased(Post)
    first_other = (
        select(func.count())
        .where(
            # Only answers have a parent; no kind test, so the parent index is the one used.
            earlier.parent_id == Post.parent_id,
            earlier.deleted_at.is_(None),
            earlier.id != Post.id,
            earlier.created_at <= Post.created_at,
        )
        .correlate(Post)
        .scalar_subquery()
    )
    rows = session.execute(
        select(
            Post.author_id, Post.id, Post.score, Post.created_at, question.created_at, first_other
        )
        .join(question, Post.parent_id == question.id)
        .where(
            Post.kind == PostKind.ANSWER,
            _counting(),
            question.deleted_at.is_(None),
            or_(question.author_id.is_(None), question.author_id != Post.author_id),
            _only(Post.author_id, user_ids),
        )
    )
    result = []
    for author, pid, score, answered, asked, before in rows:
        if author is None:
            continue
        delay = _aware(answered) - _aware(asked)
        result.append((int(author), int(pid), int(score), delay, int(before) == 0))
    return result


def _aware(moment: dt.datetime) -> dt.datetime:
    """SQLite hands back naive UTC timestamps."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.UTC)


def gap_days(session: Session, user_ids: Collection[int] | None) -> list[tuple[int, int, int]]:
    """Each first answer to someone else's question, with how many days it waited unanswered."""
    return [
        (author, pid, delay.days)
        for author, pid, _score, delay, first in _answer_timing(session, user_ids)
        if first
    ]


def late_answer_scores(
    session: Session, user_ids: Collection[int] | None
) -> list[tuple[int, int, int]]:
    """Each answer given 60 days or more after its question, with its score."""
    return [
        (author, pid, score)
        for author, pid, score, delay, _first in _answer_timing(session, user_ids)
        if delay >= dt.timedelta(days=60)
    ]


def tag_answer_scores(
    session: Session, user_ids: Collection[int] | None
) -> list[tuple[int, int, str, int]]:
    """Per member and tag: the total score of their counting answers to questions in the tag."""
    question = aliased(Post)
    rows = session.execute(
        select(Post.author_id, Tag.id, Tag.name, func.sum(Post.score))
        .join(question, Post.parent_id == question.id)
        .join(post_tags, post_tags.c.post_id == question.id)
        .join(Tag, Tag.id == post_tags.c.tag_id)
        .where(
            Post.kind == PostKind.ANSWER,
            _counting(),
            question.deleted_at.is_(None),
            _only(Post.author_id, user_ids),
        )
        .group_by(Post.author_id, Tag.id, Tag.name)
    )
    return [(int(u), int(t), str(name), int(n or 0)) for u, t, name, n in rows if u is not None]


# --- the declaration --------------------------------------------------------------------------

BADGES: dict[str, Badge] = {}


def declare(badge: Badge) -> Badge:
    """Add a badge to the catalogue (other areas declare theirs the same way)."""
    if badge.key in BADGES:
        raise ValueError(f"Badge {badge.key!r} is declared twice")
    if sum(m is not None for m in (badge.member_metric, badge.post_metric, badge.tag_metric)) != 1:
        raise ValueError(f"Badge {badge.key!r} needs exactly one metric")
    BADGES[badge.key] = badge
    return badge


B, S, G = Tier.BRONZE, Tier.SILVER, Tier.GOLD
Q, A = PostKind.QUESTION, PostKind.ANSWER
TIP, TUTORIAL = ArticleType.TIP, ArticleType.TUTORIAL

for _badge in (
    # Asking
    Badge("curious", "Curious", B, "Asked a first question.", 1,
          member_metric=posts_of(Q), unit="questions"),
    Badge("student", "Student", B, "Asked a question with a score of 1 or more.", 1,
          member_metric=posts_of(Q, min_score=1), unit="questions scored 1+"),
    Badge("scholar", "Scholar", B, "Accepted an answer to one of your questions.", 1,
          member_metric=questions_with_accepted_answer, unit="questions with an accepted answer"),
    Badge("nice_question", "Nice Question", B, "A question with a score of 5 or more.", 5,
          post_metric=post_scores(Q), repeatable=True, unit="score"),
    Badge("good_question", "Good Question", S, "A question with a score of 15 or more.", 15,
          post_metric=post_scores(Q), repeatable=True, unit="score"),
    Badge("great_question", "Great Question", G, "A question with a score of 40 or more.", 40,
          post_metric=post_scores(Q), repeatable=True, unit="score"),
    Badge("popular_question", "Popular Question", B, "A question viewed 100 times.", 100,
          post_metric=question_views, repeatable=True, unit="views"),
    Badge("notable_question", "Notable Question", S, "A question viewed 250 times.", 250,
          post_metric=question_views, repeatable=True, unit="views"),
    Badge("famous_question", "Famous Question", G, "A question viewed 1,000 times.", 1000,
          post_metric=question_views, repeatable=True, unit="views"),
    # Answering and teaching
    Badge("helper", "Helper", B, "Posted a first answer.", 1,
          member_metric=posts_of(A), unit="answers"),
    Badge("teacher", "Teacher", B, "Posted an answer with a score of 1 or more.", 1,
          member_metric=posts_of(A, min_score=1), unit="answers scored 1+"),
    Badge("explainer", "Explainer", S, "Posted 10 answers with a score of 1 or more.", 10,
          member_metric=posts_of(A, min_score=1), unit="answers scored 1+"),
    Badge("self_learner", "Self-Learner", B,
          "Answered your own question with a score of 3 or more.", 3,
          post_metric=self_answer_scores, unit="score"),
    Badge("nice_answer", "Nice Answer", B, "An answer with a score of 5 or more.", 5,
          post_metric=post_scores(A), repeatable=True, unit="score"),
    Badge("good_answer", "Good Answer", S, "An answer with a score of 15 or more.", 15,
          post_metric=post_scores(A), repeatable=True, unit="score"),
    Badge("great_answer", "Great Answer", G, "An answer with a score of 40 or more.", 40,
          post_metric=post_scores(A), repeatable=True, unit="score"),
    Badge("enlightened", "Enlightened", S, "An accepted answer with a score of 10 or more.", 10,
          post_metric=accepted_answer_scores, repeatable=True, unit="score"),
    Badge("mentor", "Mentor", S, "10 answers accepted.", 10,
          member_metric=accepted_answers, unit="accepted answers"),
    Badge("guru", "Guru", G, "40 answers accepted.", 40,
          member_metric=accepted_answers, unit="accepted answers"),
    Badge("gap_closer", "Gap Closer", S,
          "Gave the first answer to a question left unanswered for 7 days or more.", 7,
          post_metric=gap_days, repeatable=True, unit="days unanswered"),
    Badge("necromancer", "Necromancer", S,
          "Answered a question 60 days or more after it was asked, scoring 5 or more.", 5,
          post_metric=late_answer_scores, repeatable=True, unit="score"),
    Badge("tag_bronze", "Tag Bronze", B, "Answer score of 10 or more in a tag.", 10,
          tag_metric=tag_answer_scores, repeatable=True, unit="answer score in a tag"),
    Badge("tag_silver", "Tag Silver", S, "Answer score of 50 or more in a tag.", 50,
          tag_metric=tag_answer_scores, repeatable=True, unit="answer score in a tag"),
    Badge("tag_gold", "Tag Gold", G, "Answer score of 200 or more in a tag.", 200,
          tag_metric=tag_answer_scores, repeatable=True, unit="answer score in a tag"),
    # Knowledge base
    Badge("tipster", "Tipster", B, "Published a first tip.", 1,
          member_metric=posts_of(PostKind.ARTICLE, article_type=TIP), unit="tips"),
    Badge("tutorial_author", "Tutorial Author", B, "Published a first tutorial.", 1,
          member_metric=posts_of(PostKind.ARTICLE, article_type=TUTORIAL), unit="tutorials"),
    Badge("helpful_tip", "Helpful Tip", B, "A tip 5 colleagues marked helpful.", 5,
          post_metric=helpful_marks(TIP), repeatable=True, unit="helpful marks"),
    Badge("good_tutorial", "Good Tutorial", S, "A tutorial 10 colleagues marked helpful.", 10,
          post_metric=helpful_marks(TUTORIAL), repeatable=True, unit="helpful marks"),
    Badge("great_tutorial", "Great Tutorial", G, "A tutorial 25 colleagues marked helpful.", 25,
          post_metric=helpful_marks(TUTORIAL), repeatable=True, unit="helpful marks"),
    Badge("reviewer", "Reviewer", B, "Confirmed a stale article is still accurate.", 1,
          member_metric=reviews, unit="reviews"),
    Badge("curator", "Curator", S, "Confirmed 10 stale articles are still accurate.", 10,
          member_metric=reviews, unit="reviews"),
    # Taking part
    Badge("editor", "Editor", B, "Edited a post for the first time.", 1,
          member_metric=edits, unit="edits"),
    Badge("copy_editor", "Copy Editor", S, "Edited 25 posts.", 25,
          member_metric=edits, unit="edits"),
    Badge("commentator", "Commentator", B, "Left 10 comments.", 10,
          member_metric=comments(), unit="comments"),
    Badge("pundit", "Pundit", S, "Left 10 comments with a score of 1 or more.", 10,
          member_metric=comments(min_score=1), unit="comments scored 1+"),
    Badge("supporter", "Supporter", B, "Voted something up for the first time.", 1,
          member_metric=votes_cast(1), unit="up votes"),
    Badge("critic", "Critic", B, "Voted something down for the first time.", 1,
          member_metric=votes_cast(-1), unit="down votes"),
    Badge("civic_duty", "Civic Duty", S, "Voted 50 times.", 50,
          member_metric=votes_cast(None), unit="votes"),
    Badge("electorate", "Electorate", G, "Voted 300 times.", 300,
          member_metric=votes_cast(None), unit="votes"),
    Badge("autobiographer", "Autobiographer", B,
          "Filled in your bio, department and job title.", 1,
          member_metric=profile_complete, unit="complete profile"),
):  # fmt: skip
    declare(_badge)


def catalogue() -> list[Badge]:
    """Every badge, gold first, then by name."""
    return sorted(BADGES.values(), key=lambda b: (TIER_ORDER[b.tier], b.name))


def get(key: str) -> Badge:
    """A badge by key; unknown keys are NotFound."""
    badge = BADGES.get(key)
    if badge is None:
        raise NotFound("There is no such badge.")
    return badge


# --- awarding ---------------------------------------------------------------------------------

#: Members checked per batch by a backfill (``award_in_batches``).
AWARD_BATCH = 200


def award(
    session: Session, user_ids: Iterable[int] | None = None, *, keys: Iterable[str] | None = None
) -> list[BadgeAward]:
    """Award every badge these members (None: everyone) have earned and don't hold yet.

    Idempotent: awards already held are skipped, and the unique key turns a concurrent
    duplicate into a no-op rather than an error.
    """
    return grant(session, earned(session, user_ids, keys=keys))


def grant(session: Session, found: Iterable[tuple[Badge, Grant]]) -> list[BadgeAward]:
    """Insert these earned awards (those held meanwhile are skipped); emit ``BadgeAwarded``.

    Badges are never taken back, so awards measured in an earlier transaction still hold.
    """
    new: list[BadgeAward] = []
    for badge, earned_grant in found:
        row = _insert_once(session, badge.key, earned_grant)
        if row is not None:
            new.append(row)
            events.emit(session, events.BadgeAwarded(earned_grant.user_id, badge.key, badge.name))
    session.flush()
    return new


def earned(
    session: Session, user_ids: Iterable[int] | None = None, *, keys: Iterable[str] | None = None
) -> list[tuple[Badge, Grant]]:
    """The awards these members (None: everyone) have earned and don't hold yet: reads only."""
    wanted = sorted(set(user_ids)) if user_ids is not None else None
    if wanted is not None and not wanted:
        return []
    badges = [BADGES[k] for k in keys] if keys is not None else list(BADGES.values())
    held_query = select(BadgeAward.user_id, BadgeAward.badge_key, BadgeAward.subject)
    if wanted is not None:
        held_query = held_query.where(BadgeAward.user_id.in_(wanted))
    held = {(int(u), str(k), str(s)) for u, k, s in session.execute(held_query)}
    found: list[tuple[Badge, Grant]] = []
    measured: dict[Any, Any] = {}
    for badge in badges:
        for earned_grant in badge.grants(session, wanted, measured):
            if (earned_grant.user_id, badge.key, earned_grant.subject) in held:
                continue
            held.add((earned_grant.user_id, badge.key, earned_grant.subject))
            found.append((badge, earned_grant))
    return found


def award_in_batches(
    session: Session,
    user_ids: Sequence[int],
    *,
    batch: int = AWARD_BATCH,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Award ``user_ids`` their earned badges ``batch`` members at a time (a backfill);
    return how many badges were awarded. ``progress`` is told each batch's member count."""
    awarded = 0
    for start in range(0, len(user_ids), batch):
        chunk = user_ids[start : start + batch]
        awarded += len(award(session, chunk))
        if progress is not None:
            progress(len(chunk))
    return awarded


def _insert_once(session: Session, key: str, grant: Grant) -> BadgeAward | None:
    """Insert one award unless it exists (ON CONFLICT DO NOTHING on both databases)."""
    dialect = session.get_bind().dialect.name
    values = {
        "user_id": grant.user_id,
        "badge_key": key,
        "subject": grant.subject,
        "post_id": grant.post_id,
        "tag_id": grant.tag_id,
    }
    conflict = ["user_id", "badge_key", "subject"]
    if dialect == "postgresql":
        from sqlalchemy.dialects import postgresql

        award_id = session.scalar(
            postgresql.insert(BadgeAward)
            .values(**values)
            .on_conflict_do_nothing(index_elements=conflict)
            .returning(BadgeAward.id)
        )
    else:
        from sqlalchemy.dialects import sqlite

        award_id = session.scalar(
            sqlite.insert(BadgeAward)
            .values(**values)
            .on_conflict_do_nothing(index_elements=conflict)
            .returning(BadgeAward.id)
        )
    return session.get(BadgeAward, award_id) if award_id is not None else None


# --- after-commit awarding --------------------------------------------------------------------

_PENDING = "recognition_members"
_COMMENTS = "recognition_comments"
#: (member, post) of revisions, comments and votes: checked for the anonymous mask after commit.
_ACTIONS = "recognition_actions"


_PROFILE_FIELDS = ("bio", "department", "job_title")


def _note_action(
    members: set[int], actions: set[tuple[int, int]], member: int, post_id: int | None
) -> None:
    """Note an action on a post for the mask check (one with no post yet: its member)."""
    if post_id is None:
        members.add(member)
    else:
        actions.add((member, post_id))


def _note_changes(session: Session, _context: Any) -> None:
    """After a flush (ids assigned, pre-flush lists intact): note members to check later."""
    members: set[int] = session.info.setdefault(_PENDING, set())
    comment_ids: set[int] = session.info.setdefault(_COMMENTS, set())
    # Actions in a thread may be the anonymous asker's: checking their badges at that moment
    # would date the action by an award, so they are sorted out after the commit.
    actions: set[tuple[int, int]] = session.info.setdefault(_ACTIONS, set())
    for obj in list(session.new) + list(session.dirty):
        if isinstance(obj, Post) and obj.author_id is not None:
            if not obj.is_anonymous:
                members.add(obj.author_id)
        elif isinstance(obj, Revision) and obj.editor_id is not None:
            _note_action(members, actions, obj.editor_id, obj.post_id)
        elif isinstance(obj, Comment) and obj.author_id is not None:
            _note_action(members, actions, obj.author_id, obj.post_id)
        elif isinstance(obj, Vote):
            _note_action(members, actions, obj.user_id, obj.post_id)
        elif isinstance(obj, ArticleFeedback):
            members.add(obj.user_id)
        elif isinstance(obj, CommentVote):
            comment_ids.add(obj.comment_id)
        elif isinstance(obj, User) and obj.id is not None:
            # A login touches the member row too; only a profile change can earn a badge.
            state = inspect(obj)
            if obj in session.new or any(
                state.attrs[name].history.has_changes() for name in _PROFILE_FIELDS
            ):
                members.add(obj.id)
    for obj in session.deleted:
        if isinstance(obj, CommentVote):
            comment_ids.add(obj.comment_id)


# How often after-commit awarding starts over when SQLite reports the database busy.
AWARD_ATTEMPTS = 3


def _award_after_commit(session: Session) -> None:
    """After a commit: award the noted members' badges once the session's connection is free."""
    if session.in_nested_transaction():
        # A SAVEPOINT was released; the real transaction (and its lock) is still open.
        return
    members: set[int] = session.info.pop(_PENDING, set())
    comment_ids: set[int] = session.info.pop(_COMMENTS, set())
    actions: set[tuple[int, int]] = session.info.pop(_ACTIONS, set())
    if not members and not comment_ids and not actions:
        return
    bind = session.bind
    if bind is None:
        return
    # The awarding session hears what this one does (the event bus: award notifications).
    carried = {events.BUS_KEY: session.info.get(events.BUS_KEY)}
    # Awarding needs a connection of its own: not while this session still holds one. It
    # costs about the same for one member as for fifty, so concurrent commits' members are
    # awarded together (one writer at a time instead of one per commit).
    if isinstance(bind, Engine):
        noted: set[tuple[str, int, int]] = (
            {("member", m, 0) for m in members}
            | {("comment", c, 0) for c in comment_ids}
            | {("action", m, p) for m, p in actions}
        )
        aftercommit.defer_merged(
            session, ("badges", bind.pool), noted, partial(_award_merged, bind, carried)
        )
    else:
        job = partial(_award_noted, bind, carried, members, comment_ids, actions)
        aftercommit.defer(session, job)


def _award_merged(bind: Engine, carried: dict[str, Any], noted: set[tuple[str, int, int]]) -> None:
    """Award the badges of merged ("member", id, 0), ("comment", id, 0) and
    ("action", member, post) items."""
    members = {n for kind, n, _ in noted if kind == "member"}
    comment_ids = {n for kind, n, _ in noted if kind == "comment"}
    actions = {(n, post) for kind, n, post in noted if kind == "action"}
    _award_noted(bind, carried, members, comment_ids, actions)


def _award_noted(
    bind: Engine | Connection,
    carried: dict[str, Any],
    members: set[int],
    comment_ids: set[int],
    actions: set[tuple[int, int]],
) -> None:
    """Award the noted members' badges.

    What they earned is measured in a transaction that only reads: on SQLite the write lock
    stays free for the members' own requests meanwhile. Most commits earn nothing; what was
    earned is inserted in a short writing transaction (badges are never taken back, so it
    still holds). Should that fail otherwise than on a busy database (a post deleted in
    between), the writing transaction measures again itself.
    """
    try:
        with Session(bind=bind, expire_on_commit=False, info=carried) as reading:
            members = _members_of(reading, members, comment_ids, actions)
            found: list[tuple[Badge, Grant]] | None = earned(reading, members)
    except Exception:
        log.exception("Awarding badges after commit failed")
        return
    if not found:
        return
    for attempt in range(1, AWARD_ATTEMPTS + 1):
        with Session(bind=writing(bind), expire_on_commit=False, info=carried) as awarding:
            try:
                if found is None:
                    award(awarding, members)
                else:
                    grant(awarding, found)
                awarding.commit()
                return
            except OperationalError:
                # The transaction takes SQLite's write lock first (``writing``), so "database
                # is locked" means the busy timeout ran out; awarding is idempotent, so trying
                # again is safe.
                awarding.rollback()
                if attempt == AWARD_ATTEMPTS:
                    log.exception("Awarding badges after commit failed %d times", attempt)
            except Exception:
                awarding.rollback()
                if found is not None:
                    found = None  # measure again, under the lock
                    continue
                # The member's own change is already committed; badges catch up at the next
                # event or with `forum badges award --all`.
                log.exception("Awarding badges after commit failed")
                return


def _members_of(
    session: Session,
    members: set[int],
    comment_ids: set[int],
    actions: set[tuple[int, int]],
) -> set[int]:
    """These members, the authors of these comments and the members who took these (member,
    post) actions, leaving out whoever acted under the anonymous mask."""
    if comment_ids:
        actions = actions | {
            (int(a), int(p))
            for a, p in session.execute(
                select(Comment.author_id, Comment.post_id).where(
                    Comment.id.in_(sorted(comment_ids))
                )
            )
            if a is not None
        }
    hidden = masked_pairs(session, actions)
    return members | {member for member, post in actions if (member, post) not in hidden}


def _forget(session: Session, previous: Any) -> None:
    """A rollback of the whole transaction discards what was noted (a savepoint's doesn't)."""
    if getattr(previous, "nested", False):
        return
    session.info.pop(_PENDING, None)
    session.info.pop(_COMMENTS, None)
    session.info.pop(_ACTIONS, None)


def follow_commits(sessions: sessionmaker[Session]) -> None:
    """Award badges after each commit of the sessions this factory makes (idempotent).

    Badges follow the rows a commit changed (posts, revisions, comments, votes, marks,
    profiles), whoever changed them: services, imports, the demo, moderation.
    """
    if not first_listen(sessions, __name__):
        return
    event.listen(sessions, "after_flush", _note_changes)
    event.listen(sessions, "after_commit", _award_after_commit)
    event.listen(sessions, "after_soft_rollback", _forget)
    aftercommit.attach(sessions)


# --- reading ----------------------------------------------------------------------------------


def holder_counts(session: Session) -> dict[str, int]:
    """How many members hold each badge."""
    rows = session.execute(
        select(BadgeAward.badge_key, func.count(func.distinct(BadgeAward.user_id))).group_by(
            BadgeAward.badge_key
        )
    )
    return {str(k): int(n) for k, n in rows}


def awards_of_badge(
    session: Session, key: str, *, page: int = 1, per_page: int = 50
) -> tuple[list[BadgeAward], int]:
    """Who earned a badge, newest first, a page at a time, with the total."""
    get(key)
    total = session.scalar(
        select(func.count()).select_from(BadgeAward).where(BadgeAward.badge_key == key)
    )
    rows = session.scalars(
        select(BadgeAward)
        .where(BadgeAward.badge_key == key)
        .order_by(BadgeAward.awarded_at.desc(), BadgeAward.id.desc())
        .offset((page - 1) * per_page)
        .limit(per_page)
    )
    # Pages show the day only; within a day, by name, so the order tells no time either.
    return sorted(rows, key=_by_day_then_name), int(total or 0)


def _by_day_then_name(award_row: BadgeAward) -> tuple[int, str]:
    """Newest day first, then the member's name (not the moment of the award)."""
    return (-day_awarded(award_row).toordinal(), award_row.user.display_name.casefold())


@dataclass(frozen=True)
class HeldBadge:
    """A badge a member holds, how many times, and when first."""

    badge: Badge
    count: int
    first_at: dt.datetime
    subjects: list[str]


def badges_of(session: Session, user: User) -> list[HeldBadge]:
    """The badges a member holds, gold first."""
    grouped: dict[str, list[BadgeAward]] = defaultdict(list)
    for row in session.scalars(
        select(BadgeAward).where(BadgeAward.user_id == user.id).order_by(BadgeAward.awarded_at)
    ):
        if row.badge_key in BADGES:
            grouped[row.badge_key].append(row)
    held = [
        HeldBadge(
            BADGES[key],
            len(rows),
            rows[0].awarded_at,
            [r.subject.removeprefix("tag:") for r in rows if r.subject.startswith("tag:")],
        )
        for key, rows in grouped.items()
    ]
    return sorted(held, key=lambda h: (TIER_ORDER[h.badge.tier], h.badge.name))


def tier_counts(held: list[HeldBadge]) -> dict[Tier, int]:
    """How many awards of each tier a member holds."""
    counts = {Tier.GOLD: 0, Tier.SILVER: 0, Tier.BRONZE: 0}
    for h in held:
        counts[h.badge.tier] += h.count
    return counts


@dataclass(frozen=True)
class Progress:
    """How far a member is toward a badge they don't hold yet."""

    badge: Badge
    current: int
    percent: int


def progress_of(session: Session, user: User, *, limit: int = 5) -> list[Progress]:
    """The badges a member is closest to earning (not yet held), nearest first."""
    held = {
        str(k)
        for k in session.scalars(
            select(BadgeAward.badge_key).where(BadgeAward.user_id == user.id).distinct()
        )
    }
    items: list[Progress] = []
    for badge in BADGES.values():
        if badge.key in held:
            continue
        current = max(0, badge.progress(session, user))
        if current >= badge.threshold:
            continue  # about to be awarded
        percent = int(100 * current / badge.threshold) if badge.threshold else 0
        items.append(Progress(badge, current, percent))
    items.sort(key=lambda p: (-p.percent, TIER_ORDER[p.badge.tier] * -1, p.badge.name))
    return items[:limit]


def day_awarded(award_row: BadgeAward) -> dt.date:
    """The UTC day an award was made."""
    return day_of(award_row.awarded_at)
