"""Demo tutorial requests for Northwind Labs: what colleagues wish someone would write down."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from forum.db import utcnow
from forum.demo.activity import MARGIN
from forum.models import Article, TutorialRequest, TutorialRequestVote, User, ZeroResultQuery
from forum.services import tutorial_requests
from forum.services.tags import tags_named


@dataclass(frozen=True)
class DemoRequest:
    """A request, who +1'd it, and the article (by title) that fulfils it, if any."""

    requester: str
    title: str
    details: str
    tags: tuple[str, ...]
    days_ago: int
    plus: tuple[str, ...] = ()
    fulfilled_by: str | None = None
    marked_by: str | None = None


R = DemoRequest
#: How long apart colleagues +1 a request.
PLUS_GAP = dt.timedelta(hours=19)

REQUESTS: list[DemoRequest] = [
    R(
        "tom",
        "From kubectl to production: deploying a service on our Kubernetes clusters",
        "I can get pods listed now, but I don't know how a change travels from a merge to "
        "production. Which pipelines run, where do the manifests live, and how do I roll back?",
        ("kubernetes", "deploy", "onboarding"),
        12,
        ("mei", "kwame", "diego", "hannah"),
    ),
    R(
        "sofia",
        "Writing SQL reports on the sales pipeline",
        "I export to spreadsheets every Monday. A tutorial on querying the pipeline tables "
        "(read-only) would save the whole team an afternoon a week.",
        ("sql", "data", "sales"),
        20,
        ("kwame", "luis", "hannah"),
    ),
    R(
        "luis",
        "Refunds through the billing API instead of the admin screen",
        "The admin screen times out for bulk refunds. Is there a safe way to script them?",
        ("billing", "api"),
        8,
        ("hannah",),
    ),
    R(
        "kwame",
        "Setting up SSO for a customer trial",
        "Prospects ask for SAML on day one of a trial. Which steps can sales engineers do "
        "alone, and when do we involve security?",
        ("sso", "security", "sales"),
        5,
        ("sofia",),
    ),
    R(
        "mei",
        "Testing a page with a screen reader, step by step",
        "I want to check my dashboards are usable without a mouse or a screen. Which screen "
        "reader, which shortcuts, and what should I listen for?",
        ("accessibility", "testing"),
        15,
        ("olivia", "sofia"),
    ),
    R(
        "grace",
        "Giving code review feedback that doesn't sound harsh",
        "New engineers tell me reviews feel blunt. A short guide to kind, clear review "
        "comments would help onboarding.",
        ("code-review", "culture"),
        60,
        ("tom", "olivia"),
        fulfilled_by="Code review tips",
        marked_by="jonas",
    ),
]


#: Searches that found nothing, (text, days ago): what /gaps counts against tag names.
SEARCHES: list[tuple[str, int]] = [
    ("kubernetes rollback", 3),
    ("tag:kubernetes helm chart", 9),
    ("sso okta trial", 4),
    ("saml sso setup", 18),
    ("sql pipeline report", 6),
    ("screen reader testing", 11),
    ("billing api bulk refund", 2),
    ("terraform state lock", 25),
]


def load_searches(session: Session, now: dt.datetime) -> int:
    """Record the demo's zero-result searches once (only into an empty log)."""
    if session.scalar(select(ZeroResultQuery.id).limit(1)) is not None:
        return 0
    for text, days in SEARCHES:
        session.add(ZeroResultQuery(query=text, created_at=now - dt.timedelta(days=days)))
    return len(SEARCHES)


def load_requests(session: Session, *, progress: Callable[[str], None] = lambda _m: None) -> int:
    """Stage the demo requests whose titles do not exist yet; returns how many were created."""
    people = {u.username: u for u in session.scalars(select(User))}
    existing = {t.lower() for t in session.scalars(select(TutorialRequest.title))}
    now = utcnow()
    created = 0
    for item in REQUESTS:
        requester = people.get(item.requester)
        if requester is None or item.title.lower() in existing:
            continue
        tags_named(session, list(item.tags))
        session.flush()
        request = tutorial_requests.create(
            session,
            requester=requester,
            title=item.title,
            details_md=item.details,
            tags=list(item.tags),
        )
        request.created_at = now - dt.timedelta(days=item.days_ago, hours=created)
        for n, username in enumerate(item.plus):
            member = people.get(username)
            if member is not None and member.id != requester.id:
                tutorial_requests.plus_one(session, user=member, request_id=request.id)
                # Colleagues +1 it over the days after it was asked.
                plussed = min(now - MARGIN, request.created_at + PLUS_GAP * (n + 1))
                session.execute(
                    update(TutorialRequestVote)
                    .where(
                        TutorialRequestVote.request_id == request.id,
                        TutorialRequestVote.user_id == member.id,
                    )
                    .values(created_at=plussed)
                )
        if item.fulfilled_by and item.marked_by in people:
            article = session.scalar(select(Article).where(Article.title == item.fulfilled_by))
            if article is not None:
                done = tutorial_requests.fulfil(
                    session, actor=people[item.marked_by], request_id=request.id, post_id=article.id
                )
                if not done.confirmed:
                    # An author's proposal: the requester confirms it.
                    tutorial_requests.confirm(session, actor=requester, request_id=request.id)
        created += 1
    searches = load_searches(session, now)
    session.flush()
    progress(f"{created} tutorial requests, {searches} searches that found nothing")
    return created
