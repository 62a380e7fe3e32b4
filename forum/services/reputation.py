"""Reputation: an append-only ledger kept equal to what votes, helpful marks and acceptances earn.

Reputation is derived state. A member's reputation is the sum of three accounts:

- ``votes``: per UTC day (the day the vote or helpful mark was first cast), the gains from
  up votes and helpful marks on the member's posts, capped at ``daily_cap``, plus the
  (uncapped) losses from down votes received;
- ``downvotes_cast``: the cost of the member's current down votes on answers;
- ``acceptance``: accepted answers (for their authors) and accepting someone's answer (for
  the asker);
- ``bounty``: minus every bounty the member offered (the amount leaves them when it starts and
  never comes back), plus every bounty awarded to them (the awarded amount). A bounty's award
  stays with its recipient whatever happens to the answer or the question afterwards.
- ``edits``: the member's approved suggested edits.

Only posts that count earn anything: not deleted, not anonymous, not an answer to a deleted
question, and never through the author's own vote, mark or acceptance. Each hook recomputes
the accounts (and days) an event touches from the database and appends the difference to the
ledger as one event naming its cause, so undoing a vote, unaccepting or deleting a post writes
the reversing event and the ledger always equals :func:`recalc` from scratch. ``users.reputation``
caches the ledger's sum and changes with each event in the same transaction.

Rules and privilege thresholds come from :data:`DEFAULT_RULES`, or from the app's
``REPUTATION_RULES``, ``REPUTATION_THRESHOLDS`` and ``NEW_SITE_POSTS`` settings: the app's
sessions carry the rules it built with :func:`configure` (``Session.info[RULES_KEY]``).

A new site has nobody with reputation: until it holds ``new_site_posts`` questions and
articles, the :data:`NEW_SITE_PRIVILEGES` need none (like a beta site's relaxed thresholds).

The ledger follows the domain events (:func:`subscribe`): votes, helpful marks, acceptances,
deletions, undeletions and bounties. Its subscribers are critical: a failure fails the action.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any

from sqlalchemy import and_, false, func, or_, select, update
from sqlalchemy.orm import Session, aliased, object_session
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.sql.elements import ColumnElement

from forum import events
from forum.db import utcnow
from forum.models import ArticleFeedback, Bounty, Post, PostKind, User, Vote
from forum.models.articles import helpful_by_someone_else
from forum.models.reputation import ReputationEvent
from forum.models.review import SuggestedEdit
from forum.services.anonymity import is_masked, unmasked
from forum.services.errors import Forbidden

VOTES = "votes"
DOWNVOTES_CAST = "downvotes_cast"
ACCEPTANCE = "acceptance"
BOUNTY = "bounty"
EDITS = "edits"
ACCOUNTS = (VOTES, DOWNVOTES_CAST, ACCEPTANCE, BOUNTY, EDITS)

#: What each ledger reason means, for the reputation history a member reads.
REASONS: dict[str, str] = {
    "question_upvoted": "Question voted up",
    "answer_upvoted": "Answer voted up",
    "article_upvoted": "Article voted up",
    "downvoted": "Post voted down",
    "vote_undone": "Vote withdrawn",
    "article_helpful": "Article marked helpful",
    "helpful_undone": "Helpful mark withdrawn",
    "downvote_cast": "Voted an answer down",
    "downvote_undone": "Down vote withdrawn",
    "answer_accepted": "Answer accepted",
    "accepted_answer": "Accepted an answer",
    "unaccepted": "Acceptance withdrawn",
    "post_deleted": "Post deleted",
    "post_undeleted": "Post undeleted",
    "bounty_offered": "Offered a bounty",
    "bounty_awarded": "Bounty awarded",
    "bounty_auto_awarded": "Bounty awarded (half, automatically)",
    "edit_approved": "Suggested edit approved",
    "recalc": "Recalculated",
}


@dataclass(frozen=True)
class Privilege:
    """Something a member may do once their reputation reaches a threshold."""

    key: str
    label: str
    description: str


PRIVILEGES: dict[str, Privilege] = {
    p.key: p
    for p in (
        Privilege("downvote", "Vote down", "vote down questions, answers and articles"),
        Privilege("create_tags", "Create tags", "create new tags when asking or writing"),
        Privilege("vote_close", "Vote to close", "vote to close questions"),
        Privilege("edit_tag_wiki", "Edit tag descriptions", "edit the descriptions of tags"),
        Privilege(
            "edit_others",
            "Edit others' posts",
            "edit other members' questions and answers without review",
        ),
    )
}

#: Privileges every member has while the site is new: without them nobody could create the first
#: tags, and so nobody could ask, on an install where no one has reputation yet.
NEW_SITE_PRIVILEGES = frozenset({"create_tags"})

#: Internal defaults: low enough that an active colleague gets there within weeks.
DEFAULT_THRESHOLDS: dict[str, int] = {
    "downvote": 50,
    "create_tags": 100,
    "vote_close": 250,
    "edit_tag_wiki": 500,
    "edit_others": 1000,
}


@dataclass(frozen=True)
class ReputationRules:
    """Points per event, the daily cap on vote gains (0: none) and privilege thresholds."""

    question_upvoted: int = 5
    answer_upvoted: int = 10
    article_upvoted: int = 10
    article_helpful: int = 2
    answer_accepted: int = 15
    acceptor: int = 2
    downvote_received: int = -2
    downvote_cast: int = -1
    edit_approved: int = 2
    daily_cap: int = 200
    thresholds: Mapping[str, int] = field(default_factory=lambda: dict(DEFAULT_THRESHOLDS))
    #: While the site holds fewer questions and articles than this, it counts as new (0: never).
    new_site_posts: int = 0

    def upvote_points(self, kind: PostKind | str) -> int:
        """What an up vote on a post of ``kind`` earns its author."""
        return {
            PostKind.QUESTION: self.question_upvoted,
            PostKind.ANSWER: self.answer_upvoted,
            PostKind.ARTICLE: self.article_upvoted,
        }[PostKind(kind)]


DEFAULT_RULES = ReputationRules()
#: ``Session.info`` key of the rules in force for the session (the app's, see ``configure``).
RULES_KEY = "reputation_rules"


def rules(session: Session | None) -> ReputationRules:
    """The rules in force for ``session``: the app's, or the defaults."""
    if session is None:
        return DEFAULT_RULES
    found = session.info.get(RULES_KEY)
    return found if isinstance(found, ReputationRules) else DEFAULT_RULES


def rules_of(user: User | None) -> ReputationRules:
    """The rules in force for the session ``user`` was loaded in."""
    return rules(object_session(user) if user is not None else None)


def configure(
    overrides: Mapping[str, Any] | None = None,
    thresholds: Mapping[str, int] | None = None,
    new_site_posts: int = 0,
) -> ReputationRules:
    """The defaults with ``overrides`` (field → points) and ``thresholds`` (privilege → points).

    ``new_site_posts`` is how many questions and articles end the new site's relaxed
    privileges. Unknown names raise ValueError. The app puts the result in its sessions' ``info``.
    """
    names = {f.name for f in fields(ReputationRules)} - {"thresholds", "new_site_posts"}
    unknown = set(overrides or {}) - names
    if unknown:
        raise ValueError(f"Unknown reputation rules: {', '.join(sorted(unknown))}")
    unknown = set(thresholds or {}) - set(PRIVILEGES)
    if unknown:
        raise ValueError(f"Unknown privileges: {', '.join(sorted(unknown))}")
    merged = {**DEFAULT_THRESHOLDS, **{k: int(v) for k, v in (thresholds or {}).items()}}
    values = {k: int(v) for k, v in (overrides or {}).items()}
    return replace(
        DEFAULT_RULES, thresholds=merged, new_site_posts=max(0, int(new_site_posts)), **values
    )


# --- privileges -------------------------------------------------------------------------------


def threshold(privilege: str, active: ReputationRules = DEFAULT_RULES) -> int:
    """The reputation ``privilege`` needs under the ``active`` rules."""
    if privilege not in PRIVILEGES:
        raise ValueError(f"Unknown privilege {privilege!r}")
    return int(active.thresholds[privilege])


def site_is_new(session: Session, active: ReputationRules) -> bool:
    """Whether the site holds fewer live questions and articles than ``active.new_site_posts``."""
    if active.new_site_posts <= 0:
        return False
    first = (
        select(Post.id)
        .where(
            Post.kind.in_((PostKind.QUESTION, PostKind.ARTICLE)),
            Post.deleted_at.is_(None),
        )
        .limit(active.new_site_posts)  # counting stops where the answer is known
        .subquery()
    )
    found = session.scalar(select(func.count()).select_from(first)) or 0
    return found < active.new_site_posts


def can(user: User | None, privilege: str) -> bool:
    """Whether ``user`` may use ``privilege``; admins and moderators always may.

    While the site is new (:func:`site_is_new`), every member has the
    :data:`NEW_SITE_PRIVILEGES` whatever their reputation.
    """
    active = rules_of(user)
    limit = threshold(privilege, active)
    if user is None or not getattr(user, "is_authenticated", False):
        return False
    if user.is_moderator or user.reputation >= limit:
        return True
    session = object_session(user)
    return privilege in NEW_SITE_PRIVILEGES and session is not None and site_is_new(session, active)


def explain(user: User | None, privilege: str) -> str:
    """A sentence telling a member why they can't use ``privilege`` yet."""
    limit = threshold(privilege, rules_of(user))
    what = PRIVILEGES[privilege].description
    if user is None or not getattr(user, "is_authenticated", False):
        return f"Log in to {what}."
    return (
        f"You need {limit} reputation to {what}; you have {user.reputation}. "
        "Colleagues' up votes, helpful marks and accepted answers earn reputation."
    )


def require(user: User | None, privilege: str) -> None:
    """Raise Forbidden, explaining the threshold, unless ``user`` may use ``privilege``."""
    if not can(user, privilege):
        raise Forbidden(explain(user, privilege))


@dataclass(frozen=True)
class PrivilegeStatus:
    """One privilege as a member's profile shows it."""

    privilege: Privilege
    threshold: int
    granted: bool


def privileges_of(user: User) -> list[PrivilegeStatus]:
    """Every privilege with its threshold and whether ``user`` has it, lowest first."""
    active = rules_of(user)
    statuses = [
        PrivilegeStatus(p, threshold(p.key, active), can(user, p.key)) for p in PRIVILEGES.values()
    ]
    return sorted(statuses, key=lambda s: s.threshold)


# --- what counts ------------------------------------------------------------------------------


def day_of(moment: dt.datetime) -> dt.date:
    """The UTC day of a timestamp (SQLite hands back naive UTC ones)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(dt.UTC).date()


def _counts(post: Any, parent: Any) -> ColumnElement[bool]:
    """A post earns while it and (for an answer) its question are not deleted, nor anonymous."""
    return and_(
        post.deleted_at.is_(None),
        post.is_anonymous == false(),
        or_(parent.id.is_(None), parent.deleted_at.is_(None)),
    )


def _not_self(author: Any, user_id: Any) -> ColumnElement[bool]:
    """``author`` is someone other than ``user_id`` (or a former member)."""
    return or_(author.is_(None), author != user_id)


def _window(days: Collection[dt.date] | None) -> tuple[dt.datetime, dt.datetime] | None:
    """Timestamps bracketing ``days`` with a day's margin (stored times may lack a zone)."""
    if not days:
        return None
    low = min(days) - dt.timedelta(days=1)
    high = max(days) + dt.timedelta(days=2)
    return (
        dt.datetime.combine(low, dt.time(), dt.UTC),
        dt.datetime.combine(high, dt.time(), dt.UTC),
    )


def _vote_targets(
    session: Session, user_ids: Collection[int] | None, days: Collection[dt.date] | None = None
) -> dict[tuple[int, dt.date], int]:
    """What the ``votes`` account should hold per (member, day)."""
    active = rules(session)
    gains: dict[tuple[int, dt.date], int] = defaultdict(int)
    losses: dict[tuple[int, dt.date], int] = defaultdict(int)
    parent = aliased(Post)
    window = _window(days) if days and max(days) - min(days) <= dt.timedelta(days=7) else None
    wanted = set(days) if days else None

    votes = (
        select(Post.author_id, Post.kind, Vote.value, Vote.created_at)
        .join(Post, Vote.post_id == Post.id)
        .outerjoin(parent, Post.parent_id == parent.id)
        .where(Post.author_id.is_not(None), Vote.user_id != Post.author_id, _counts(Post, parent))
    )
    marks = (
        select(Post.author_id, ArticleFeedback.created_at)
        .join(Post, ArticleFeedback.article_id == Post.id)
        .outerjoin(parent, Post.parent_id == parent.id)
        .where(
            Post.author_id.is_not(None),
            helpful_by_someone_else(Post.author_id),
            _counts(Post, parent),
        )
    )
    if user_ids is not None:
        votes = votes.where(Post.author_id.in_(list(user_ids)))
        marks = marks.where(Post.author_id.in_(list(user_ids)))
    if window is not None:
        votes = votes.where(Vote.created_at >= window[0], Vote.created_at < window[1])
        marks = marks.where(
            ArticleFeedback.created_at >= window[0], ArticleFeedback.created_at < window[1]
        )

    for author_id, kind, value, created_at in session.execute(votes):
        key = (int(author_id or 0), day_of(created_at))
        if wanted is not None and key[1] not in wanted:
            continue
        if value > 0:
            gains[key] += active.upvote_points(kind)
        else:
            losses[key] += active.downvote_received
    for author_id, created_at in session.execute(marks):
        key = (int(author_id or 0), day_of(created_at))
        if wanted is not None and key[1] not in wanted:
            continue
        gains[key] += active.article_helpful

    cap = active.daily_cap
    return {
        key: (min(cap, gains[key]) if cap > 0 else gains[key]) + losses[key]
        for key in set(gains) | set(losses)
    }


def _downvote_targets(session: Session, user_ids: Collection[int] | None) -> dict[int, int]:
    """What the ``downvotes_cast`` account should hold per member."""
    parent = aliased(Post)
    query = (
        select(Vote.user_id, func.count())
        .join(Post, Vote.post_id == Post.id)
        .outerjoin(parent, Post.parent_id == parent.id)
        .where(
            Vote.value == -1,
            Post.kind == PostKind.ANSWER,
            _not_self(Post.author_id, Vote.user_id),
            _counts(Post, parent),
            # The anonymous asker's down votes in their own thread cost the mask nothing.
            unmasked(Vote.post_id, Vote.user_id),
        )
        .group_by(Vote.user_id)
    )
    if user_ids is not None:
        query = query.where(Vote.user_id.in_(list(user_ids)))
    cost = rules(session).downvote_cast
    return {int(uid): int(n) * cost for uid, n in session.execute(query)}


def _acceptance_targets(session: Session, user_ids: Collection[int] | None) -> dict[int, int]:
    """What the ``acceptance`` account should hold per member."""
    active = rules(session)
    question = aliased(Post)
    answer = aliased(Post)
    joined = (
        select(answer.author_id, question.author_id, question.is_anonymous)
        .select_from(question)
        .join(answer, question.accepted_answer_id == answer.id)
        .where(
            question.kind == PostKind.QUESTION,
            question.deleted_at.is_(None),
            answer.deleted_at.is_(None),
            or_(
                answer.author_id.is_(None),
                question.author_id.is_(None),
                answer.author_id != question.author_id,
            ),
        )
    )
    if user_ids is not None:
        wanted = list(user_ids)
        joined = joined.where(or_(answer.author_id.in_(wanted), question.author_id.in_(wanted)))
    totals: dict[int, int] = defaultdict(int)
    only = set(user_ids) if user_ids is not None else None
    for answerer, asker, anonymous in session.execute(joined):
        if answerer is not None and (only is None or answerer in only):
            totals[int(answerer)] += active.answer_accepted
        if asker is not None and not anonymous and (only is None or asker in only):
            totals[int(asker)] += active.acceptor
    return dict(totals)


def _bounty_targets(session: Session, user_ids: Collection[int] | None) -> dict[int, int]:
    """What the ``bounty`` account should hold per member: awards received less offers made."""
    offered = select(Bounty.offerer_id, func.sum(Bounty.amount)).where(
        Bounty.offerer_id.is_not(None)
    )
    received = select(Bounty.recipient_id, func.sum(Bounty.awarded_amount)).where(
        Bounty.recipient_id.is_not(None)
    )
    if user_ids is not None:
        offered = offered.where(Bounty.offerer_id.in_(list(user_ids)))
        received = received.where(Bounty.recipient_id.in_(list(user_ids)))
    totals: dict[int, int] = defaultdict(int)
    for uid, amount in session.execute(offered.group_by(Bounty.offerer_id)):
        if uid is not None:
            totals[uid] -= int(amount or 0)
    for uid, amount in session.execute(received.group_by(Bounty.recipient_id)):
        if uid is not None:
            totals[uid] += int(amount or 0)
    return {uid: total for uid, total in totals.items() if total}


def _edit_targets(session: Session, user_ids: Collection[int] | None) -> dict[int, int]:
    """What the ``edits`` account should hold per member: their approved suggested edits."""
    query = (
        select(SuggestedEdit.proposer_id, func.count())
        .where(SuggestedEdit.status == "approved")
        .group_by(SuggestedEdit.proposer_id)
    )
    if user_ids is not None:
        query = query.where(SuggestedEdit.proposer_id.in_(list(user_ids)))
    points = rules(session).edit_approved
    return {int(uid): int(n) * points for uid, n in session.execute(query)}


def _ledger(
    session: Session,
    user_ids: Collection[int] | None,
    account: str | None = None,
    days: Collection[dt.date] | None = None,
) -> dict[tuple[int, str, dt.date | None], int]:
    """What the ledger holds per (member, account, day)."""
    query = select(
        ReputationEvent.user_id,
        ReputationEvent.account,
        ReputationEvent.cap_day,
        func.sum(ReputationEvent.delta),
    ).group_by(ReputationEvent.user_id, ReputationEvent.account, ReputationEvent.cap_day)
    if user_ids is not None:
        query = query.where(ReputationEvent.user_id.in_(list(user_ids)))
    if account is not None:
        query = query.where(ReputationEvent.account == account)
    if days is not None:
        query = query.where(ReputationEvent.cap_day.in_(list(days)))
    return {(int(u), str(a), d): int(total or 0) for u, a, d, total in session.execute(query)}


def _targets(
    session: Session, user_ids: Collection[int] | None
) -> dict[tuple[int, str, dt.date | None], int]:
    """Every account's due amount per (member, account, day)."""
    due: dict[tuple[int, str, dt.date | None], int] = {}
    for (uid, day), amount in _vote_targets(session, user_ids).items():
        due[(uid, VOTES, day)] = amount
    for uid, amount in _downvote_targets(session, user_ids).items():
        due[(uid, DOWNVOTES_CAST, None)] = amount
    for uid, amount in _acceptance_targets(session, user_ids).items():
        due[(uid, ACCEPTANCE, None)] = amount
    for uid, amount in _bounty_targets(session, user_ids).items():
        due[(uid, BOUNTY, None)] = amount
    for uid, amount in _edit_targets(session, user_ids).items():
        due[(uid, EDITS, None)] = amount
    return due


# --- writing the ledger -----------------------------------------------------------------------


@dataclass
class _Cause:
    """Why the ledger changes now: the reason, the post and the member who acted."""

    reason: str
    post_id: int | None = None
    actor_id: int | None = None


def _append(
    session: Session,
    *,
    user_id: int,
    account: str,
    day: dt.date | None,
    delta: int,
    cause: _Cause,
) -> None:
    """Append one event and move the cached reputation by its delta, atomically."""
    session.add(
        ReputationEvent(
            user_id=user_id,
            delta=delta,
            reason=cause.reason,
            account=account,
            cap_day=day,
            post_id=cause.post_id,
            actor_id=cause.actor_id,
            created_at=utcnow(),
        )
    )
    if delta == 0:
        return
    reputation = session.scalar(
        update(User)
        .where(User.id == user_id)
        .values(reputation=User.reputation + delta)
        .returning(User.reputation)
        .execution_options(synchronize_session=False)
    )
    member = session.identity_map.get(session.identity_key(User, user_id))
    if isinstance(member, User) and reputation is not None:
        set_committed_value(member, "reputation", reputation)
    _touched(session).add(user_id)


def _touched(session: Session) -> set[int]:
    """Members whose reputation moved in this transaction (badges look at them after commit)."""
    touched: set[int] = session.info.setdefault("recognition_members", set())
    return touched


def _settle_votes(
    session: Session,
    user_id: int,
    days: Collection[dt.date] | None,
    cause: _Cause,
    *,
    record_day: dt.date | None = None,
) -> None:
    """Bring the member's ``votes`` account to what it should hold on ``days`` (None: every day).

    ``record_day`` gets an event even when nothing changes (a capped vote), so that undoing
    that vote later finds the day it belongs to.
    """
    due = {day: amount for (_uid, day), amount in _vote_targets(session, [user_id], days).items()}
    held = {
        day: amount for (_u, _a, day), amount in _ledger(session, [user_id], VOTES, days).items()
    }
    every = set(days) if days is not None else set(due) | set(held)
    if record_day is not None:
        every.add(record_day)
    for day in sorted(d for d in every if d is not None):
        delta = due.get(day, 0) - held.get(day, 0)
        if delta or day == record_day:
            _append(session, user_id=user_id, account=VOTES, day=day, delta=delta, cause=cause)


def _settle_account(session: Session, user_id: int, account: str, cause: _Cause) -> None:
    """Bring the member's ``downvotes_cast``, ``acceptance``, ``bounty`` or ``edits`` account
    to what it should hold."""
    if account == DOWNVOTES_CAST:
        due = _downvote_targets(session, [user_id]).get(user_id, 0)
    elif account == BOUNTY:
        due = _bounty_targets(session, [user_id]).get(user_id, 0)
    elif account == EDITS:
        due = _edit_targets(session, [user_id]).get(user_id, 0)
    else:
        due = _acceptance_targets(session, [user_id]).get(user_id, 0)
    held = _ledger(session, [user_id], account).get((user_id, account, None), 0)
    if due != held:
        _append(session, user_id=user_id, account=account, day=None, delta=due - held, cause=cause)


def _source_days(
    session: Session, user_id: int, post_id: int, actor_id: int | None
) -> set[dt.date]:
    """The days on which this actor's vote or mark on this post has been booked."""
    actor = (
        ReputationEvent.actor_id.is_(None)
        if actor_id is None
        else ReputationEvent.actor_id == actor_id
    )
    rows = session.scalars(
        select(ReputationEvent.cap_day)
        .where(
            ReputationEvent.user_id == user_id,
            ReputationEvent.account == VOTES,
            ReputationEvent.post_id == post_id,
            actor,
        )
        .distinct()
    )
    return {d for d in rows if d is not None}


def _settle_source(
    session: Session,
    *,
    author_id: int,
    post_id: int,
    actor_id: int | None,
    cast_at: dt.datetime | None,
    had_one: bool,
    reason: str,
) -> None:
    """Settle the days a vote (or helpful mark) touched: where it was booked and where it is."""
    days = _source_days(session, author_id, post_id, actor_id)
    cause = _Cause(reason, post_id, actor_id)
    if had_one and not days:
        # Cast before the ledger knew of it (e.g. imported): settle every day instead.
        _settle_votes(session, author_id, None, cause)
        days = set()
    record_day = day_of(cast_at) if cast_at is not None else None
    if record_day is not None:
        days.add(record_day)
    if days:
        _settle_votes(session, author_id, days, cause, record_day=record_day)


# --- subscribers: the posting services' events, in their transaction ---------------------------


def subscribe(bus: events.EventBus) -> None:
    """Keep the ledger equal to what the events earn (critical: a failure fails the action)."""
    bus.subscribe(events.VoteCast, _vote_cast, critical=True)
    bus.subscribe(events.ArticleMarkedHelpful, _marked_helpful, critical=True)
    bus.subscribe(events.AnswerAccepted, _answer_accepted, critical=True)
    bus.subscribe(events.PostDeleted, _post_deleted, critical=True)
    bus.subscribe(events.PostUndeleted, _post_undeleted, critical=True)
    bus.subscribe(events.BountyStarted, _bounty_started, critical=True)
    bus.subscribe(events.BountyAwarded, _bounty_awarded, critical=True)
    bus.subscribe(events.SuggestedEditReviewed, _suggested_edit_reviewed, critical=True)


def _vote_cast(session: Session, event: events.VoteCast) -> None:
    on_vote(session, post=event.post, voter=event.voter, old=event.old, new=event.new)


def _marked_helpful(session: Session, event: events.ArticleMarkedHelpful) -> None:
    on_helpful(session, article=event.article, member=event.member, old=event.old, new=event.new)


def _answer_accepted(session: Session, event: events.AnswerAccepted) -> None:
    on_accept(
        session,
        question=event.question,
        old_answer=event.old_answer,
        new_answer=event.new_answer,
        acceptor=event.acceptor,
    )


def _suggested_edit_reviewed(session: Session, event: events.SuggestedEditReviewed) -> None:
    if event.approved:
        suggestion = event.suggestion
        session.flush()
        cause = _Cause("edit_approved", suggestion.post_id, event.reviewer.id)
        _settle_account(session, suggestion.proposer_id, EDITS, cause)


def _post_deleted(session: Session, event: events.PostDeleted) -> None:
    on_post_deleted(session, event.post)


def _post_undeleted(session: Session, event: events.PostUndeleted) -> None:
    on_post_undeleted(session, event.post)


def _bounty_started(session: Session, event: events.BountyStarted) -> None:
    on_bounty_started(session, event.bounty, event.question)


def _bounty_awarded(session: Session, event: events.BountyAwarded) -> None:
    on_bounty_awarded(session, event.bounty, event.question, automatic=event.automatic)


def on_bounty_started(session: Session, bounty: Bounty, question: Post) -> None:
    """Take a new bounty's amount from its offerer (after the bounty row is flushed)."""
    if bounty.offerer_id is None:
        return
    session.flush()
    cause = _Cause("bounty_offered", question.id, bounty.offerer_id)
    _settle_account(session, bounty.offerer_id, BOUNTY, cause)


def on_bounty_awarded(session: Session, bounty: Bounty, question: Post, *, automatic: bool) -> None:
    """Give an awarded bounty to its recipient (after the award is flushed)."""
    if bounty.recipient_id is None:
        return
    session.flush()
    actor_id = None if automatic else bounty.offerer_id
    reason = "bounty_auto_awarded" if automatic else "bounty_awarded"
    cause = _Cause(reason, bounty.awarded_answer_id, actor_id)
    _settle_account(session, bounty.recipient_id, BOUNTY, cause)


def on_vote(session: Session, *, post: Post, voter: User, old: int, new: int) -> None:
    """Book a vote change (old/new in -1, 0, 1) after the vote row and score are updated."""
    if old == new:
        return
    # The anonymous asker voting in their own thread: the author's gain names no voter, and
    # the voter's own accounts and badges never move with it.
    hidden = is_masked(session, post, voter.id)
    # An anonymous post books nothing at all: not even a zero event may tie it to its author.
    if post.author_id is not None and post.author_id != voter.id and not post.is_anonymous:
        cast_at = None
        if new != 0:
            cast_at = session.scalar(
                select(Vote.created_at).where(Vote.user_id == voter.id, Vote.post_id == post.id)
            )
        reason = (
            f"{PostKind(post.kind).value}_upvoted"
            if new == 1
            else "downvoted"
            if new == -1
            else "vote_undone"
        )
        _settle_source(
            session,
            author_id=post.author_id,
            post_id=post.id,
            actor_id=None if hidden else voter.id,
            cast_at=cast_at,
            had_one=old != 0,
            reason=reason,
        )
    if hidden:
        return
    if post.kind == PostKind.ANSWER and -1 in (old, new):
        reason = "downvote_cast" if new == -1 else "downvote_undone"
        _settle_account(session, voter.id, DOWNVOTES_CAST, _Cause(reason, post.id, voter.id))
    _touched(session).add(voter.id)


def on_helpful(
    session: Session, *, article: Post, member: User, old: bool | None, new: bool | None
) -> None:
    """Book a changed "Was this helpful?" answer (None: no answer) after the row is saved."""
    if old == new or article.author_id is None or article.author_id == member.id:
        return
    cast_at = None
    if new is not None:
        cast_at = session.scalar(
            select(ArticleFeedback.created_at).where(
                ArticleFeedback.article_id == article.id, ArticleFeedback.user_id == member.id
            )
        )
    _settle_source(
        session,
        author_id=article.author_id,
        post_id=article.id,
        actor_id=member.id,
        cast_at=cast_at,
        had_one=old is True,
        reason="article_helpful" if new else "helpful_undone",
    )
    _touched(session).add(member.id)


def on_accept(
    session: Session,
    *,
    question: Post,
    old_answer: Post | None,
    new_answer: Post | None,
    acceptor: User | None,
) -> None:
    """Book an acceptance change after ``question.accepted_answer_id`` is updated."""
    actor_id = acceptor.id if acceptor is not None else None
    if is_masked(session, question, actor_id):
        # The anonymous asker accepted: the answerer's gain names nobody, the asker's badges
        # are not checked at that moment.
        actor_id = None
    session.flush()
    for answer, reason in ((old_answer, "unaccepted"), (new_answer, "answer_accepted")):
        if answer is not None and answer.author_id is not None:
            cause = _Cause(reason, answer.id, actor_id)
            _settle_account(session, answer.author_id, ACCEPTANCE, cause)
    if question.author_id is not None:
        reason = "accepted_answer" if new_answer is not None else "unaccepted"
        _settle_account(
            session, question.author_id, ACCEPTANCE, _Cause(reason, question.id, actor_id)
        )
    if actor_id is not None:
        _touched(session).add(actor_id)


def on_post_deleted(session: Session, post: Post) -> None:
    """Reverse what a post (and, for a question, its answers) earned, after it is deleted."""
    _settle_post(session, post, "post_deleted")


def on_post_undeleted(session: Session, post: Post) -> None:
    """Restore what a post earns, after it is undeleted."""
    _settle_post(session, post, "post_undeleted")


def _settle_post(session: Session, post: Post, reason: str) -> None:
    """Settle every account a post's existence affects: votes, marks, casts, acceptance."""
    session.flush()
    affected = [post]
    if post.kind == PostKind.QUESTION:
        affected += list(session.scalars(select(Post).where(Post.parent_id == post.id)))
    post_ids = [p.id for p in affected]
    cause = _Cause(reason, post.id, None)

    days_by_author: dict[int, set[dt.date]] = defaultdict(set)
    author_of = {p.id: p.author_id for p in affected}
    for post_id, created_at in session.execute(
        select(Vote.post_id, Vote.created_at).where(Vote.post_id.in_(post_ids))
    ):
        author = author_of[post_id]
        if author is not None:
            days_by_author[author].add(day_of(created_at))
    for post_id, created_at in session.execute(
        select(ArticleFeedback.article_id, ArticleFeedback.created_at).where(
            ArticleFeedback.article_id.in_(post_ids)
        )
    ):
        author = author_of[post_id]
        if author is not None:
            days_by_author[author].add(day_of(created_at))
    for user_id, day in session.execute(
        select(ReputationEvent.user_id, ReputationEvent.cap_day).where(
            ReputationEvent.post_id.in_(post_ids), ReputationEvent.account == VOTES
        )
    ):
        if day is not None:
            days_by_author[int(user_id)].add(day)
    for author, days in sorted(days_by_author.items()):
        _settle_votes(session, author, days, cause)

    casters = session.scalars(
        select(Vote.user_id)
        .join(Post, Vote.post_id == Post.id)
        .where(Vote.post_id.in_(post_ids), Vote.value == -1, Post.kind == PostKind.ANSWER)
        .distinct()
    )
    for caster in sorted(set(casters)):
        _settle_account(session, caster, DOWNVOTES_CAST, cause)

    acceptors: set[int] = {p.author_id for p in affected if p.author_id is not None}
    if post.parent_id is not None:
        asker = session.scalar(select(Post.author_id).where(Post.id == post.parent_id))
        if asker is not None:
            acceptors.add(asker)
    if post.accepted_answer_id is not None:
        answerer = session.scalar(select(Post.author_id).where(Post.id == post.accepted_answer_id))
        if answerer is not None:
            acceptors.add(answerer)
    for member in sorted(acceptors):
        _settle_account(session, member, ACCEPTANCE, cause)


# --- recalculation ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Drift:
    """One member whose ledger or cached reputation differs from what is due."""

    user_id: int
    username: str
    due: int
    ledger: int
    cached: int


@dataclass
class RecalcReport:
    """What :func:`recalc` found (and, unless checking, fixed)."""

    members: int = 0
    drift: list[Drift] = field(default_factory=list)
    events_written: int = 0

    @property
    def clean(self) -> bool:
        """True when nothing drifted."""
        return not self.drift


def recalc(session: Session, *, fix: bool, user_ids: Iterable[int] | None = None) -> RecalcReport:
    """Recompute every account from votes, helpful marks and acceptances; report (and fix) drift.

    Fixing appends ``recalc`` events for each account that differs and sets the cached
    reputation to the ledger's sum; nothing is ever deleted from the ledger.
    """
    session.flush()
    wanted = list(user_ids) if user_ids is not None else None
    members_query = select(User.id, User.username, User.reputation).order_by(User.id)
    if wanted is not None:
        members_query = members_query.where(User.id.in_(wanted))
    members = session.execute(members_query).all()
    due = _targets(session, wanted)
    held = _ledger(session, wanted)
    report = RecalcReport(members=len(members))
    due_total: dict[int, int] = defaultdict(int)
    held_total: dict[int, int] = defaultdict(int)
    for (uid, _account, _day), amount in due.items():
        due_total[uid] += amount
    for (uid, _account, _day), amount in held.items():
        held_total[uid] += amount
    diffs: dict[int, list[tuple[str, dt.date | None, int]]] = defaultdict(list)
    for key in set(due) | set(held):
        delta = due.get(key, 0) - held.get(key, 0)
        if delta:
            diffs[key[0]].append((key[1], key[2], delta))
    for uid, username, cached in members:
        if diffs.get(uid) or cached != held_total[uid]:
            report.drift.append(Drift(uid, username, due_total[uid], held_total[uid], cached))
    if not fix:
        return report
    for uid, username, cached in members:
        for account, day, delta in sorted(diffs.get(uid, []), key=lambda d: (d[0], str(d[1]))):
            session.add(
                ReputationEvent(
                    user_id=uid,
                    delta=delta,
                    reason="recalc",
                    account=account,
                    cap_day=day,
                    created_at=utcnow(),
                )
            )
            report.events_written += 1
        if cached != due_total[uid] or diffs.get(uid):
            session.execute(
                update(User)
                .where(User.id == uid)
                .values(reputation=due_total[uid])
                .execution_options(synchronize_session=False)
            )
            member = session.identity_map.get(session.identity_key(User, uid))
            if isinstance(member, User):
                set_committed_value(member, "reputation", due_total[uid])
            _touched(session).add(uid)
        del username
    session.flush()
    return report


# --- reading ----------------------------------------------------------------------------------


def history(session: Session, user: User, *, limit: int = 50) -> list[ReputationEvent]:
    """The member's latest ledger events that moved their reputation, newest first."""
    return list(
        session.scalars(
            select(ReputationEvent)
            .where(ReputationEvent.user_id == user.id, ReputationEvent.delta != 0)
            .order_by(ReputationEvent.created_at.desc(), ReputationEvent.id.desc())
            .limit(limit)
        )
    )


def series(session: Session, user: User) -> list[tuple[dt.date, int]]:
    """The member's reputation at the end of each day it changed, oldest first."""
    rows = session.execute(
        select(ReputationEvent.created_at, ReputationEvent.delta)
        .where(ReputationEvent.user_id == user.id, ReputationEvent.delta != 0)
        .order_by(ReputationEvent.created_at, ReputationEvent.id)
    )
    points: dict[dt.date, int] = {}
    total = 0
    for created_at, delta in rows:
        total += int(delta)
        points[day_of(created_at)] = total
    return sorted(points.items())
