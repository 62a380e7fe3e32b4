"""Bounties: a member offers some of their reputation on an older question to draw answers.

The rules follow Stack Overflow's:

- 50 to 500 points in steps of 50, on a live, open question at least ``min_age`` old, one
  open bounty per question; the offerer (anyone, not only the asker) needs ``min_reputation``
  and keeps at least 1 point after the offer. The amount leaves them at once.
- The bounty runs ``duration``; until ``grace`` after its end the offerer may award it to any
  answer but their own, whose author gets the whole amount.
- Not awarded by then, it settles by itself (:func:`settle_due`, run by ``forum bounties
  settle``, ``forum mail reminders`` and the question page): half the amount goes to the
  top-scored answer posted during the bounty with a score of at least 2, else to nobody.

Each move reaches the reputation ledger through :class:`events.BountyStarted` and
:class:`events.BountyAwarded`. Awards and settlements change a bounty only while it is still
open (one conditional UPDATE), so two settlers running at once never pay twice.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, joinedload

from forum import events
from forum.db import utcnow
from forum.models import Answer, Bounty, BountyStatus, Post, PostKind, Question, User
from forum.services import visibility
from forum.services.errors import Conflict, Forbidden, NotFound, ValidationError
from forum.services.posts import PostRow

#: ``Session.info`` key of the app's :class:`BountyRules`.
CONFIG_KEY = "bounty_rules"
AMOUNT_STEP = 50
MIN_AMOUNT = 50
MAX_AMOUNT = 500
AMOUNTS = tuple(range(MIN_AMOUNT, MAX_AMOUNT + 1, AMOUNT_STEP))
#: The least score an answer needs to receive half a bounty nobody awarded.
AUTO_AWARD_MIN_SCORE = 2
#: Why a member starts a bounty (the choices the form offers).
REASONS: dict[str, str] = {
    "attention": "Draw attention: the question has not received enough attention.",
    "details": "Improve details: the current answers need more detail.",
    "reference": "Authoritative reference needed: looking for an answer from a reliable source.",
    "canonical": "Canonical answer required: the question deserves a complete, definitive answer.",
    "outdated": "Current answers are outdated: the answers no longer apply.",
    "reward": "Reward existing answer: one answer deserves more than an up vote.",
}
#: Why the anonymous asker offers no bounty on their own question: the amount leaves their
#: reputation, which everyone sees, at the moment the bounty appears.
ANONYMOUS_ASKER = (
    "You asked this question anonymously. A bounty's points leave your reputation, which "
    "everyone can see, so offering one would show who asked: a colleague can offer one instead."
)


@dataclass(frozen=True)
class BountyRules:
    """How old a question must be, how long a bounty runs and who may start one."""

    min_age: dt.timedelta = dt.timedelta(days=2)
    duration: dt.timedelta = dt.timedelta(days=7)
    grace: dt.timedelta = dt.timedelta(hours=24)
    min_reputation: int = 75


def configure(
    min_age_days: float = 2, days: float = 7, grace_hours: float = 24, min_reputation: int = 75
) -> BountyRules:
    """The rules from the app's settings (``BOUNTY_*``)."""
    return BountyRules(
        min_age=dt.timedelta(days=float(min_age_days)),
        duration=dt.timedelta(days=float(days)),
        grace=dt.timedelta(hours=float(grace_hours)),
        min_reputation=int(min_reputation),
    )


def rules(session: Session) -> BountyRules:
    """The rules the session carries, or the defaults."""
    found = session.info.get(CONFIG_KEY)
    return found if isinstance(found, BountyRules) else BountyRules()


def aware(moment: dt.datetime) -> dt.datetime:
    """A stored time as an aware UTC one (SQLite hands back naive UTC times)."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.UTC)


def open_bounty(session: Session, question_id: int) -> Bounty | None:
    """The question's open bounty, if any."""
    return session.scalar(select(Bounty).where(Bounty.open_question_id == question_id))


def offerer_label(bounty: Bounty) -> str:
    """How pages name the offerer."""
    if bounty.offerer_id is None or bounty.offerer is None:
        return "a former member"
    return bounty.offerer.display_name


# --- starting ---------------------------------------------------------------------------------


def _question(session: Session, question_id: int) -> Question:
    question = session.get(Question, question_id)
    if question is None or question.kind is not PostKind.QUESTION or question.is_deleted:
        raise NotFound("There is no such question.")
    return question


def lacks_reputation(session: Session, reputation: int) -> str | None:
    """Why a member with ``reputation`` may not start any bounty (None: they may)."""
    least = max(rules(session).min_reputation, MIN_AMOUNT + 1)
    if reputation >= least:
        return None
    return (
        f"You need {least} reputation to start a bounty; you have {reputation}. "
        "The bounty's points come from your own reputation."
    )


def why_not_start(
    session: Session,
    question: Post | PostRow,
    member: User | None,
    *,
    now: dt.datetime | None = None,
    has_open: bool | None = None,
) -> str | None:
    """Why ``member`` may not start a bounty on ``question`` now (None: they may).

    ``has_open`` says whether the question has an open bounty, when the caller knows.
    """
    if member is None or not getattr(member, "is_authenticated", False):
        return "Log in to start a bounty."
    if question.is_anonymous and question.author_id == member.id:
        return ANONYMOUS_ASKER
    return _question_blocked(session, question, now or utcnow(), has_open) or lacks_reputation(
        session, member.reputation
    )


def _question_blocked(
    session: Session, question: Post | PostRow, now: dt.datetime, has_open: bool | None = None
) -> str | None:
    """Why ``question`` may not take a bounty now (None: it may)."""
    active = rules(session)
    if question.is_deleted:
        return "This question is deleted."
    if question.closed_at is not None:
        return "A closed question takes no bounty."
    if aware(question.created_at) > now - active.min_age:
        return f"A question can carry a bounty once it is {_span(active.min_age)} old."
    if has_open is None:
        has_open = open_bounty(session, question.id) is not None
    if has_open:
        return "This question already has an open bounty."
    return None


def start(
    session: Session,
    *,
    offerer: User,
    question_id: int,
    amount: int | str | None,
    reason: str | None,
    now: dt.datetime | None = None,
) -> Bounty:
    """Start a bounty: the amount leaves the offerer's reputation at once."""
    now = now or utcnow()
    question = _question(session, question_id)
    if question.is_anonymous and question.author_id == offerer.id:
        raise Forbidden(ANONYMOUS_ASKER)
    # The offerer's reputation, read under a row lock: two bounties at once cannot overdraw it.
    reputation = int(
        session.scalar(select(User.reputation).where(User.id == offerer.id).with_for_update()) or 0
    )
    blocked = _question_blocked(session, question, now)
    if blocked is not None:
        raise Conflict(blocked)
    poor = lacks_reputation(session, reputation)
    if poor is not None:
        raise Forbidden(poor)
    errors: dict[str, list[str]] = {}
    points = _amount(amount)
    if points is None:
        errors["amount"] = [
            f"Choose an amount from {MIN_AMOUNT} to {MAX_AMOUNT} in steps of {AMOUNT_STEP}."
        ]
    elif points > reputation - 1:
        errors["amount"] = [
            f"You have {reputation} reputation: offer at most "
            f"{_affordable(reputation)} (you keep at least 1 point)."
        ]
    if reason not in REASONS:
        errors["reason"] = ["Choose why you start the bounty."]
    if errors or points is None or reason is None:
        raise ValidationError(errors)
    active = rules(session)
    bounty = Bounty(
        question_id=question.id,
        open_question_id=question.id,
        offerer_id=offerer.id,
        amount=points,
        reason=reason,
        status=BountyStatus.OPEN,
        started_at=now,
        ends_at=now + active.duration,
    )
    try:
        with session.begin_nested():
            session.add(bounty)
            session.flush()
    except IntegrityError:
        raise Conflict("This question already has an open bounty.") from None
    events.emit(session, events.BountyStarted(bounty=bounty, question=question, offerer=offerer))
    return bounty


def _amount(raw: int | str | None) -> int | None:
    try:
        points = int(str(raw).strip())
    except (TypeError, ValueError):
        return None
    return points if points in AMOUNTS else None


def _affordable(reputation: int) -> int:
    """The largest amount a member with ``reputation`` can offer (0: none)."""
    fitting = [a for a in AMOUNTS if a <= reputation - 1]
    return fitting[-1] if fitting else 0


def affordable_amounts(member: User) -> list[int]:
    """The amounts ``member`` can offer now."""
    return [a for a in AMOUNTS if a <= member.reputation - 1]


def remaining(delta: dt.timedelta) -> str:
    """A time left in words, rounded down: "5 days", "3 hours", "12 minutes"."""
    seconds = max(0, int(delta.total_seconds()))
    for unit, size in (("day", 86_400), ("hour", 3_600), ("minute", 60)):
        if seconds >= size:
            count = seconds // size
            return f"{count} {unit}{'s' if count != 1 else ''}"
    return "less than a minute"


def _span(delta: dt.timedelta) -> str:
    days = delta.total_seconds() / 86400
    if days >= 1 and days == int(days):
        return f"{int(days)} day{'s' if days != 1 else ''}"
    hours = round(delta.total_seconds() / 3600)
    return f"{hours} hour{'s' if hours != 1 else ''}"


# --- awarding ---------------------------------------------------------------------------------


def award(
    session: Session, *, actor: User, answer_id: int, now: dt.datetime | None = None
) -> Bounty:
    """The offerer awards their open bounty to an answer: its author gets the whole amount."""
    now = now or utcnow()
    answer = session.get(Answer, answer_id)
    if answer is None or not visibility.is_live(session, answer):
        raise NotFound("There is no such answer.")
    question = _question(session, answer.parent_id or 0)
    bounty = open_bounty(session, question.id)
    if bounty is None:
        raise Conflict("This question has no open bounty.")
    if bounty.offerer_id != actor.id:
        raise Forbidden("Only the member who offered the bounty can award it.")
    if now >= aware(bounty.ends_at) + rules(session).grace:
        raise Conflict("The time to award this bounty is over.")
    if answer.author_id is None:
        raise Conflict("This answer's author has left; the bounty can go to another answer.")
    if answer.author_id == actor.id:
        raise Forbidden("You can't award your own bounty to your own answer.")
    if question.is_anonymous and answer.author_id == question.author_id:
        raise Forbidden("The asker answered anonymously; a bounty would reveal them.")
    if not _close(session, bounty, BountyStatus.AWARDED, answer, bounty.amount, now):
        raise Conflict("This bounty was settled a moment ago.")
    events.emit(
        session,
        events.BountyAwarded(bounty=bounty, question=question, answer=answer, automatic=False),
    )
    return bounty


def _close(
    session: Session,
    bounty: Bounty,
    status: BountyStatus,
    answer: Post | None,
    amount: int,
    now: dt.datetime,
) -> bool:
    """Move an open bounty to ``status`` if it is still open (False: someone else did)."""
    moved = session.execute(
        update(Bounty)
        .where(Bounty.id == bounty.id, Bounty.status == BountyStatus.OPEN)
        .values(
            status=status,
            open_question_id=None,
            settled_at=now,
            awarded_answer_id=answer.id if answer is not None else None,
            recipient_id=answer.author_id if answer is not None else None,
            awarded_amount=amount,
        )
        .execution_options(synchronize_session=False)
    )
    if getattr(moved, "rowcount", 0) != 1:
        return False
    session.refresh(bounty)
    return True


# --- settling ---------------------------------------------------------------------------------


@dataclass
class SettleReport:
    """What :func:`settle_due` did."""

    auto_awarded: list[int] = field(default_factory=list)
    expired: list[int] = field(default_factory=list)

    def summary(self) -> str:
        """One line for the command's output."""
        return (
            f"Settled {len(self.auto_awarded) + len(self.expired)} bounty(ies): "
            f"{len(self.auto_awarded)} half-awarded automatically, {len(self.expired)} expired."
        )


def auto_award_candidate(session: Session, bounty: Bounty, question: Post) -> Post | None:
    """The top-scored live answer posted during the bounty with a score of at least 2.

    Neither the offerer's own answers nor the anonymous asker's qualify.
    """
    query = (
        select(Post)
        .where(
            Post.parent_id == question.id,
            Post.kind == PostKind.ANSWER,
            Post.deleted_at.is_(None),
            Post.author_id.is_not(None),
            Post.score >= AUTO_AWARD_MIN_SCORE,
            Post.created_at >= bounty.started_at,
            Post.created_at <= bounty.ends_at,
        )
        .order_by(Post.score.desc(), Post.created_at, Post.id)
    )
    if bounty.offerer_id is not None:
        query = query.where(Post.author_id != bounty.offerer_id)
    if question.is_anonymous and question.author_id is not None:
        query = query.where(Post.author_id != question.author_id)
    return session.scalars(query.limit(1)).first()


def settle_due(
    session: Session, *, now: dt.datetime | None = None, question_id: int | None = None
) -> SettleReport:
    """Settle every open bounty whose grace period is over (or only ``question_id``'s).

    Safe to run again and concurrently: each bounty moves only while still open.
    """
    now = now or utcnow()
    cutoff = now - rules(session).grace
    query = (
        select(Bounty)
        .where(Bounty.status == BountyStatus.OPEN, Bounty.ends_at <= cutoff)
        .order_by(Bounty.ends_at, Bounty.id)
    )
    if question_id is not None:
        query = query.where(Bounty.question_id == question_id)
    report = SettleReport()
    for bounty in list(session.scalars(query)):
        question = session.get(Post, bounty.question_id)
        if question is None:
            continue
        answer = None
        if not question.is_deleted:
            answer = auto_award_candidate(session, bounty, question)
        status = BountyStatus.AUTO_AWARDED if answer is not None else BountyStatus.EXPIRED
        amount = bounty.amount // 2 if answer is not None else 0
        if not _close(session, bounty, status, answer, amount, now):
            continue
        if answer is None:
            report.expired.append(bounty.id)
            continue
        report.auto_awarded.append(bounty.id)
        events.emit(
            session,
            events.BountyAwarded(bounty=bounty, question=question, answer=answer, automatic=True),
        )
    return report


# --- reading ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class OpenBountyView:
    """The open bounty as the question page shows it."""

    id: int
    amount: int
    reason: str
    ends_at: dt.datetime
    offerer: str
    #: The bounty has ended and waits for its offerer's award until ``award_until``.
    in_grace: bool
    award_until: dt.datetime
    #: The viewer offered it and may award it now.
    can_award: bool
    #: "5 days", "3 hours": what is left of the bounty (or of its grace period once ended).
    left: str


@dataclass(frozen=True)
class BountyPanel:
    """Everything about bounties the question page shows."""

    open: OpenBountyView | None
    #: Awarded amounts by answer id (an answer may have earned several bounties).
    awarded: dict[int, int]
    #: Why the viewer may not start one (None: the "Start a bounty" link shows).
    start_blocked: str | None
    #: The open bounty's grace period is over: it waits for :func:`settle_due`.
    due: bool = False


def panel(
    session: Session,
    question: Post | PostRow,
    viewer: User | None,
    *,
    now: dt.datetime | None = None,
) -> BountyPanel:
    """The question's open bounty, its awarded answers and whether the viewer may start one
    (one query)."""
    now = now or utcnow()
    grace = rules(session).grace
    current = None
    due = False
    awarded: dict[int, int] = {}
    # The question page's row knows whether the question ever had a bounty: most never did.
    if getattr(question, "has_bounties", True) is False:
        found: Sequence[Bounty] = ()
    else:
        found = session.scalars(
            select(Bounty)
            .where(Bounty.question_id == question.id)
            .options(joinedload(Bounty.offerer))
            .order_by(Bounty.id)
        ).all()
    for bounty in found:
        if bounty.is_open:
            ends_at = aware(bounty.ends_at)
            current = OpenBountyView(
                id=bounty.id,
                amount=bounty.amount,
                reason=REASONS.get(bounty.reason, bounty.reason),
                ends_at=ends_at,
                offerer=offerer_label(bounty),
                in_grace=now >= ends_at,
                award_until=ends_at + grace,
                can_award=viewer is not None
                and viewer.id == bounty.offerer_id
                and now < ends_at + grace,
                left=remaining((ends_at if now < ends_at else ends_at + grace) - now),
            )
            due = now >= ends_at + grace
        elif bounty.awarded_answer_id is not None and bounty.awarded_amount:
            answer_id = bounty.awarded_answer_id
            awarded[answer_id] = awarded.get(answer_id, 0) + bounty.awarded_amount
    blocked = None
    if viewer is not None:
        blocked = why_not_start(session, question, viewer, now=now, has_open=current is not None)
    return BountyPanel(open=current, awarded=awarded, start_blocked=blocked, due=due)
