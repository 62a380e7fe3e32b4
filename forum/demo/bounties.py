"""A demo bounty: an open one on an older answered question with no accepted answer, so the
"+100 bounty", the Featured list and the award buttons can be seen without setting up."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from sqlalchemy import select
from sqlalchemy.orm import Session

from forum.models import Bounty, Question, User
from forum.services import bounties

#: The bounty the demo offers, if the question and a member with the points are there.
AMOUNT = 100
REASON = "attention"


def load_bounties(
    session: Session, now: dt.datetime, *, progress: Callable[[str], None] = lambda _m: None
) -> int:
    """Open one bounty on the newest eligible question (once: none when any bounty exists)."""
    if session.scalar(select(Bounty.id).limit(1)) is not None:
        return 0
    # A day into its week: "ends in 6 days".
    started = now - dt.timedelta(days=1)
    old_enough = started - bounties.rules(session).min_age
    candidates = session.scalars(
        select(Question)
        .where(
            Question.deleted_at.is_(None),
            Question.closed_at.is_(None),
            Question.is_anonymous.is_(False),
            Question.created_at <= old_enough,
            # Answered, yet nothing accepted: the award buttons have answers to show on.
            Question.answer_count > 0,
            Question.accepted_answer_id.is_(None),
        )
        .order_by(Question.created_at.desc(), Question.id)
        .limit(5)
    ).all()
    least = max(bounties.rules(session).min_reputation, AMOUNT + 1)
    for question in candidates:
        offerer = session.scalar(
            select(User)
            .where(User.is_active.is_(True), User.reputation >= least)
            .order_by((User.id == question.author_id).desc(), User.reputation.desc(), User.id)
            .limit(1)
        )
        if offerer is None:
            break
        bounties.start(
            session,
            offerer=offerer,
            question_id=question.id,
            amount=AMOUNT,
            reason=REASON,
            now=started,
        )
        progress(f"a +{AMOUNT} bounty on “{question.title}”")
        return 1
    return 0
