"""Demo moderation for Northwind Labs: a question waiting for more close votes, a flag the
moderators resolved as helpful (its flagger was told) and a newcomer's suggested edit waiting for
review, so each can be seen without setting up."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import select
from sqlalchemy.orm import Session

from forum.models import Answer, CloseVote, Flag, Question, SuggestedEdit, User
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


#: (question title, proposer, added paragraph, summary): edits by members who may not yet edit
#: others' posts, waiting in the review queue.
SUGGESTED_EDITS: list[tuple[str, str, str, str]] = [
    (
        "How should I answer security questionnaires about data residency?",
        "tom",
        "The prospect is a German hospital group, so they mostly ask about EU storage.",
        "Added who is asking: residency answers depend on the customer's country",
    ),
]


def _user(session: Session, username: str) -> User | None:
    return session.scalar(select(User).where(User.username == username))


def _question(session: Session, title: str) -> Question | None:
    return session.scalar(select(Question).where(Question.title == title))


def load_moderation(session: Session, *, progress: Callable[[str], None] = lambda _m: None) -> int:
    """Stage the votes, flags and suggested edits (what exists already is left alone); how many
    were added."""
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
    for title, username, paragraph, summary in SUGGESTED_EDITS:
        question, proposer = _question(session, title), _user(session, username)
        if question is None or proposer is None or question.author_id == proposer.id:
            continue
        if session.scalar(select(SuggestedEdit.id).where(SuggestedEdit.post_id == question.id)):
            continue
        # Stored directly, pending: like the close vote, it waits for a reviewer.
        session.add(
            SuggestedEdit(
                post_id=question.id,
                proposer_id=proposer.id,
                title=question.title,
                body_md=f"{question.body_md.rstrip()}\n\n{paragraph}\n",
                tags_text=" ".join(t.name for t in question.tags),
                summary=summary,
                base_revision=question.revision_count,
            )
        )
        added += 1
    session.flush()
    progress(f"{added} close votes, resolved flags and suggested edits")
    return added
