"""Who knows about X: members ranked by their answers and articles on matching content."""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from forum.models import User
from forum.search import Hit, evidence
from forum.search.query import Query, QueryRefused, parse
from forum.services import leaderboards
from forum.services.errors import ValidationError

#: How many matching posts are weighed; enough for a stable ranking, cheap to score.
EVIDENCE_LIMIT = 300
#: At most this many tags of the topic count for per-tag reputation (one query each).
TOPIC_TAGS = 2
#: Members per topic tag whose reputation there is weighed.
TAG_LEADERS = 50
#: Strength of per-tag reputation: log-scaled, so 50 points weigh about as much as two
#: well-voted matching answers.
TAG_REPUTATION_WEIGHT = 1.0


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
    #: Reputation earned on posts in the topic's tags (the ledger's per-tag points).
    tag_points: int = 0


def topic_tags(parsed: Query, hits: list[Hit]) -> list[str]:
    """The tags a topic is about: ``tag:`` filters, words naming a tag of the matching
    posts, else the tags most of the best matches carry."""
    if parsed.tags:
        return sorted(parsed.tags)[:TOPIC_TAGS]
    weight: defaultdict[str, float] = defaultdict(float)
    for hit in hits:
        for tag in hit.tags:
            weight[tag] += max(hit.relevance, 0.0) or 1.0
    words = {w.lower() for w in parsed.words()}
    named = sorted((t for t in weight if t in words), key=lambda t: -weight[t])
    if named:
        return named[:TOPIC_TAGS]
    total = sum(weight.values())
    # Without a word naming it, a tag counts only when it clearly dominates the matches.
    common = sorted(weight, key=lambda t: (-weight[t], t))[:TOPIC_TAGS]
    return [t for t in common if total and weight[t] / total >= 0.25]


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
    hits = evidence(session, parsed, text, EVIDENCE_LIMIT)
    if not hits:
        return []
    best = max(h.relevance for h in hits) or 1.0
    strength: dict[int, float] = defaultdict(float)
    # Per-tag reputation: what colleagues' votes and acceptances said about their posts
    # in the topic's tags, all time (one query per tag, the leaderboards' own definition).
    points: Counter[int] = Counter()
    topic = topic_tags(parsed, hits)
    for tag in topic:
        for entry in leaderboards.top_contributors(
            session, period=leaderboards.Period.ALL, tag=tag, limit=TAG_LEADERS
        ):
            points[entry.user.id] += entry.points
    for uid, n in points.items():
        if n > 0:
            strength[uid] += TAG_REPUTATION_WEIGHT * math.log1p(n)
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
                top_tags=[t for t, _ in tags[uid].most_common(5)] or topic,
                tag_points=points.get(uid, 0),
            )
        )
        if len(experts) >= limit:
            break
    return experts
