"""Demo moderation for Northwind Labs: a question waiting for more close votes, and a flag the
moderators resolved as helpful (its flagger was told), so both can be seen without setting up."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import select
from sqlalchemy.orm import Session

from forum.models import Answer, CloseVote, Flag, Question, User
from forum.services import moderation

#: (question title, voter, reason): a vote that still needs others to close the question.
CLOSE_VOTES: list[tuple[str, str, str]] = [
    ("Can customers change the billing currency mid-contract?", "priya", "needs-detail"),
]

#: (question title whose first answer is flagged, flagger, reason, text, moderator, note)
RESOLVED_FLAGS: list[tuple[str, str, str, str, str, str]] = [
    (
        "What's the budget for learning and conferences this year?",
        "kwame",
        "needs-improvement",
        "The amount quoted is last year's; the HR page has this year's figure.",
        "jonas",
        "Olivia updated the amount after we talked.",
    ),
]


def _user(session: Session, username: str) -> User | None:
    return session.scalar(select(User).where(User.username == username))


def _question(session: Session, title: str) -> Question | None:
    return session.scalar(select(Question).where(Question.title == title))


def load_moderation(session: Session, *, progress: Callable[[str], None] = lambda _m: None) -> int:
    """Stage the votes and flags (what exists already is left alone); how many were added."""
    added = 0
    for title, username, reason in CLOSE_VOTES:
        question, voter = _question(session, title), _user(session, username)
        if question is None or voter is None or question.closed_at is not None:
            continue
        exists = session.scalar(
            select(CloseVote.id).where(
                CloseVote.question_id == question.id, CloseVote.voter_id == voter.id
            )
        )
        if exists is None:
            # Stored directly: the demo's reputation is settled only at the end of the load.
            session.add(
                CloseVote(question_id=question.id, voter_id=voter.id, kind="close", reason=reason)
            )
            added += 1
    for title, username, reason, text, mod_name, note in RESOLVED_FLAGS:
        question = _question(session, title)
        reporter, moderator = _user(session, username), _user(session, mod_name)
        if question is None or reporter is None or moderator is None:
            continue
        answer = session.scalar(
            select(Answer).where(Answer.parent_id == question.id).order_by(Answer.id)
        )
        if answer is None:
            continue
        if session.scalar(select(Flag.id).where(Flag.post_id == answer.id)) is not None:
            continue
        flag = moderation.flag(
            session, reporter=reporter, target=f"post:{answer.id}", reason=reason, text=text
        )
        moderation.act(session, moderator=moderator, flag_id=flag.id, action="edit", note=note)
        added += 1
    session.flush()
    progress(f"{added} close votes and resolved flags")
    return added
