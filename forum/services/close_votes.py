"""Vote to close: members with the privilege close and reopen questions together.

A member with the ``vote_close`` privilege votes with one of the moderators' reasons (for a
duplicate, with the original they chose); once the setting's number of pending votes is reached
(``FORUM_CLOSE_VOTES``, default 3) the question closes with the most voted reason. Reopen votes
work the same way on a closed question. A moderator's vote is a moderator's close: it counts
at once. Voters are never named on any page (an anonymous asker may vote on their own question).
"""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from dataclasses import dataclass, field

from sqlalchemy import and_, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from forum import search
from forum.models import CloseVote, Post, PostKind, Question, User
from forum.search.query import QueryRefused, parse
from forum.services import audit, questions, reputation, visibility
from forum.services.errors import Conflict, NotFound
from forum.services.questions import CloseReason

_ADDRESS = re.compile(r"^(?:.*/questions/)?#?([0-9]{1,9})(?:[/?#].*)?$")
FIND_LIMIT = 8

#: ``Session.info`` key of how many votes close or reopen a question (the app's CLOSE_VOTES).
CONFIG_KEY = "close_votes_needed"
DEFAULT_NEEDED = 3
QUEUE_LIMIT = 200
KINDS = ("close", "reopen")


def needed(session: Session) -> int:
    """How many pending votes close (or reopen) a question."""
    value = session.info.get(CONFIG_KEY, DEFAULT_NEEDED)
    return max(1, int(value))


def pending(session: Session, question_id: int, kind: str) -> list[CloseVote]:
    """The pending votes of ``kind`` on a question, oldest first."""
    return list(
        session.scalars(
            select(CloseVote)
            .where(
                CloseVote.question_id == question_id,
                CloseVote.kind == kind,
                CloseVote.settled_at.is_(None),
            )
            .order_by(CloseVote.created_at, CloseVote.id)
        )
    )


def find_originals(
    session: Session, question_id: int, text: str, *, keep: int | None = None
) -> list[tuple[int, str]]:
    """Questions that could be the original of a duplicate: ``(id, title)`` pairs found by
    search (or by an address or number typed), without the question itself; ``keep`` (the
    original already chosen) stays among them."""
    text = " ".join((text or "").split())[:200]
    found: dict[int, str] = {}
    wanted: list[int] = [keep] if keep else []
    match = _ADDRESS.match(text)
    if match is not None:
        wanted.append(int(match.group(1)))
    for wanted_id in wanted:
        post = session.get(Question, wanted_id)
        if post is not None and post.id != question_id and visibility.is_live(session, post):
            found[post.id] = post.title or ""
    if text and match is None:
        try:
            parse(text)
        except QueryRefused:
            # Words the query language refuses are searched as plain words.
            text = re.sub(r"[^\w\s]", " ", text)
        page = search.search(
            session, f"{text} is:question", per_page=FIND_LIMIT + 1, record_zero=False
        )
        for hit in page.results.hits:
            if hit.kind == "question" and hit.id != question_id:
                found.setdefault(hit.id, hit.title)
    return list(found.items())[: FIND_LIMIT + (1 if keep else 0)]


@dataclass
class Tally:
    """Where the votes on one question stand, as the vote page shows it to a voter."""

    kind: str
    count: int
    needed: int
    reasons: list[tuple[str, int]]
    mine: CloseVote | None


def tally(session: Session, question: Question, viewer: User) -> Tally:
    """The pending votes of the kind the question takes now (close when open, else reopen)."""
    kind = "close" if question.closed_at is None else "reopen"
    votes = pending(session, question.id, kind)
    counts = Counter(CloseReason(v.reason).label for v in votes if v.reason)
    return Tally(
        kind=kind,
        count=len(votes),
        needed=needed(session),
        reasons=counts.most_common(),
        mine=next((v for v in votes if v.voter_id == viewer.id), None),
    )


@dataclass
class VoteResult:
    """What a vote did: counted (``count`` of ``needed``), or closed/reopened the question."""

    question: Question
    count: int
    needed: int
    decided: bool


def _question(session: Session, voter: User, question_id: int) -> Question:
    reputation.require(voter, "vote_close")
    question = questions.get(session, question_id, viewer=voter)
    if question.is_deleted:
        raise NotFound("There is no such question.")
    return question


def _add(session: Session, vote: CloseVote, message: str) -> None:
    try:
        # The partial unique index settles two simultaneous votes of one member.
        with session.begin_nested():
            session.add(vote)
            session.flush()
    except IntegrityError:
        raise Conflict(message) from None


def vote_close(
    session: Session,
    *,
    voter: User,
    question_id: int,
    reason: str,
    duplicate_of_id: int | None = None,
    note: str = "",
) -> VoteResult:
    """Vote to close a question; a moderator's vote closes it at once."""
    if voter.is_moderator:
        closed = questions.close(
            session,
            moderator=voter,
            question_id=question_id,
            reason=reason,
            note=note,
            duplicate_of_id=duplicate_of_id,
        )
        return VoteResult(closed, 1, 1, True)
    question = _question(session, voter, question_id)
    why, _note, original = questions.check_close(
        session, question, reason=reason, duplicate_of_id=duplicate_of_id
    )
    message = "You have already voted to close this question."
    if any(v.voter_id == voter.id for v in pending(session, question.id, "close")):
        raise Conflict(message)
    vote = CloseVote(
        question_id=question.id,
        voter_id=voter.id,
        kind="close",
        reason=why.value,
        duplicate_of_id=original.id if original is not None else None,
    )
    _add(session, vote, message)
    votes = pending(session, question.id, "close")
    limit = needed(session)
    if len(votes) < limit:
        return VoteResult(question, len(votes), limit, False)
    # The most voted reason wins (the earliest voted of equals); a duplicate's original is the
    # one most of its voters chose.
    reasons = Counter(v.reason or CloseReason.NEEDS_DETAIL.value for v in votes)
    top = max(reasons.values())
    winner = CloseReason(next(r for r in reasons if reasons[r] == top))
    chosen: Question | None = None
    if winner is CloseReason.DUPLICATE:
        originals = Counter(
            v.duplicate_of_id for v in votes if v.reason == winner.value and v.duplicate_of_id
        )
        for original_id, _n in originals.most_common():
            candidate = session.get(Question, original_id)
            if candidate is not None and not candidate.is_deleted:
                chosen = candidate
                break
        if chosen is None:
            winner = CloseReason.NEEDS_DETAIL
    questions.apply_close(session, question, winner, None, chosen)
    _record(session, question, "question.vote_close", f"{winner.value}: {len(votes)} votes")
    return VoteResult(question, len(votes), limit, True)


def vote_reopen(session: Session, *, voter: User, question_id: int) -> VoteResult:
    """Vote to reopen a closed question; a moderator's vote reopens it at once."""
    if voter.is_moderator:
        reopened = questions.reopen(session, moderator=voter, question_id=question_id)
        return VoteResult(reopened, 1, 1, True)
    question = _question(session, voter, question_id)
    if question.closed_at is None:
        raise Conflict("This question is open.")
    message = "You have already voted to reopen this question."
    if any(v.voter_id == voter.id for v in pending(session, question.id, "reopen")):
        raise Conflict(message)
    _add(session, CloseVote(question_id=question.id, voter_id=voter.id, kind="reopen"), message)
    votes = pending(session, question.id, "reopen")
    limit = needed(session)
    if len(votes) < limit:
        return VoteResult(question, len(votes), limit, False)
    questions.apply_reopen(session, question)
    _record(session, question, "question.vote_reopen", f"{len(votes)} votes")
    return VoteResult(question, len(votes), limit, True)


def withdraw(session: Session, *, voter: User, question_id: int) -> tuple[Question, bool]:
    """Take back one's pending vote (close or reopen) on a question; whether there was one."""
    question = _question(session, voter, question_id)
    kind = "close" if question.closed_at is None else "reopen"
    mine = next((v for v in pending(session, question.id, kind) if v.voter_id == voter.id), None)
    if mine is None:
        return question, False
    session.delete(mine)
    session.flush()
    return question, True


def _record(session: Session, question: Question, action: str, reason: str) -> None:
    # No actor: the members' decision together, and voters are never named (an anonymous
    # asker may be one of them).
    session.add(
        audit.unattributed(action=action, target_type="post", target_id=question.id, reason=reason)
    )


@dataclass
class QueueEntry:
    """A question with pending close or reopen votes, as the review queue lists it."""

    question_id: int
    title: str
    kind: str
    count: int
    reasons: list[tuple[str, int]] = field(default_factory=list)
    oldest: dt.datetime | None = None
    voted: bool = False


def review_queue(session: Session, *, viewer: User) -> list[QueueEntry]:
    """Questions with pending votes, the most voted and then the oldest first."""
    reputation.require(viewer, "vote_close")
    rows = session.execute(
        select(CloseVote, Post.title)
        .join(Post, Post.id == CloseVote.question_id)
        .where(
            CloseVote.settled_at.is_(None),
            Post.deleted_at.is_(None),
            Post.kind == PostKind.QUESTION,
            # Only the votes that count: close votes on open questions, reopen votes on closed.
            or_(
                and_(CloseVote.kind == "close", Post.closed_at.is_(None)),
                and_(CloseVote.kind == "reopen", Post.closed_at.is_not(None)),
            ),
        )
        .order_by(CloseVote.created_at, CloseVote.id)
    ).all()
    entries: dict[tuple[int, str], QueueEntry] = {}
    reasons: dict[tuple[int, str], Counter[str]] = {}
    for vote, title in rows:
        key = (vote.question_id, vote.kind)
        entry = entries.get(key)
        if entry is None:
            entry = entries[key] = QueueEntry(
                vote.question_id, title or "", vote.kind, 0, oldest=vote.created_at
            )
            reasons[key] = Counter()
        entry.count += 1
        entry.voted = entry.voted or vote.voter_id == viewer.id
        if vote.reason:
            reasons[key][CloseReason(vote.reason).label] += 1
    for key, entry in entries.items():
        entry.reasons = reasons[key].most_common()
    ordered = sorted(entries.values(), key=lambda e: (-e.count, e.question_id))
    return ordered[:QUEUE_LIMIT]
