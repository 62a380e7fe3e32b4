"""Who knows about X: members ranked by their answers and articles on matching content."""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from forum.models import User
from forum.search import session_backend
from forum.search.query import QueryRefused, parse
from forum.services.errors import ValidationError

#: How many matching posts are weighed; enough for a stable ranking, cheap to score.
EVIDENCE_LIMIT = 300


@dataclass
class Expert:
    """A member and the evidence that they know about the topic."""

    user: User
    strength: float
    answers: int = 0
    accepted: int = 0
    articles: int = 0
    votes: int = 0
    top_tags: list[str] = field(default_factory=list)


def find_experts(session: Session, text: str, *, limit: int = 10) -> list[Expert]:
    """Rank members by evidence in content matching ``text`` (query language accepted)."""
    text = text.strip()
    if not text:
        return []
    try:
        parsed = parse(text)
    except QueryRefused as exc:
        raise ValidationError({"q": [str(exc)]}) from None
    if parsed.is_empty:
        return []
    hits = session_backend(session).experts_evidence(session, parsed, EVIDENCE_LIMIT)
    if not hits:
        return []
    best = max(h.relevance for h in hits) or 1.0
    strength: dict[int, float] = defaultdict(float)
    stats: dict[int, Counter[str]] = defaultdict(Counter)
    tags: dict[int, Counter[str]] = defaultdict(Counter)
    for hit in hits:
        if hit.author_id is None:
            continue
        # Relevance says "about X"; votes and acceptance say "helpful about X".
        weight = hit.relevance / best
        weight *= 1.0 + math.log1p(max(hit.post_score, 0))
        if hit.accepted:
            weight *= 2.0
        if hit.kind == "article":
            weight *= 1.5 if hit.subtype == "tutorial" else 1.2
        strength[hit.author_id] += weight
        counter = stats[hit.author_id]
        counter["articles" if hit.kind == "article" else "answers"] += 1
        counter["accepted"] += int(hit.accepted)
        counter["votes"] += max(hit.post_score, 0)
        tags[hit.author_id].update(hit.tags)
    ranked = sorted(strength, key=lambda uid: (-strength[uid], uid))
    users = {
        u.id: u
        for u in session.scalars(
            select(User).where(User.id.in_(ranked), User.is_active.is_(True))
        ).all()
    }
    experts: list[Expert] = []
    for uid in ranked:
        user = users.get(uid)
        if user is None:
            continue
        counter = stats[uid]
        experts.append(
            Expert(
                user=user,
                strength=round(strength[uid], 3),
                answers=counter["answers"],
                accepted=counter["accepted"],
                articles=counter["articles"],
                votes=counter["votes"],
                top_tags=[t for t, _ in tags[uid].most_common(5)],
            )
        )
        if len(experts) >= limit:
            break
    return experts
