"""Demo learning circles for Northwind Labs: past and upcoming sessions, a rated workshop."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import false, func, select
from sqlalchemy.orm import Session

from forum.db import utcnow
from forum.models import Circle, Post, PostKind, Tag, User, post_tags
from forum.services import circles
from forum.services.circles import CircleData, SessionData
from forum.services.tags import tags_named


@dataclass(frozen=True)
class DemoSession:
    """A session ``days`` from today (negative: in the past) at a local time."""

    title: str
    days: int
    time: str
    kind: str = "meeting"
    presenter: str = ""
    minutes: int = 60
    location: str = ""
    link: str = ""
    agenda: str = ""
    notes: str = ""
    #: (member, rating, comment) for workshops that have happened
    ratings: tuple[tuple[str, int, str], ...] = ()
    #: (member, yes/maybe/no) for upcoming sessions
    rsvps: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class DemoCircle:
    """A circle with its people, sessions and linked resources (by tag)."""

    name: str
    facilitator: str
    tags: tuple[str, ...]
    size: int
    description: str
    members: tuple[str, ...]
    timezone: str
    sessions: tuple[DemoSession, ...]
    resource_tags: tuple[str, ...] = ()


S = DemoSession

CIRCLES = [
    DemoCircle(
        "Kubernetes study circle",
        "jonas",
        ("kubernetes", "ops"),
        8,
        "Six weeks from *kubectl* to running a service on the platform cluster.\n\n"
        "- one topic a week, hands-on in the sandbox namespace\n"
        "- bring your questions; we turn the good ones into tips",
        ("priya", "diego", "tom", "mei", "amara"),
        "Europe/London",
        (
            S(
                "Pods, deployments and services",
                -14,
                "16:00",
                location="Room 4.12",
                agenda="1. What a pod really is\n2. Rolling out a deployment\n3. Services and DNS",
                notes="We deployed the *hello* app twice. Tom's question about readiness probes "
                "became a tip. **Homework:** read the ingress chapter.",
            ),
            S(
                "Debugging CrashLoopBackOff",
                -7,
                "16:00",
                kind="workshop",
                presenter="priya",
                minutes=90,
                link="https://meet.northwind.example/k8s-circle",
                agenda="A live walk-through of the five causes we see most, with `kubectl "
                "describe`, `logs --previous` and events.",
                notes="Slides and the checklist are linked from the circle's resources.",
                ratings=(
                    ("jonas", 5, "The checklist is already on my desk."),
                    ("diego", 5, "Best hour of the month."),
                    ("tom", 4, "A bit fast for me, but the recording helps."),
                    ("mei", 5, ""),
                    ("amara", 5, "Please run it again for the support team."),
                ),
            ),
            S(
                "Ingress, certificates and DNS",
                5,
                "16:00",
                location="Room 4.12",
                link="https://meet.northwind.example/k8s-circle",
                agenda="1. Ingress controllers\n2. cert-manager\n3. Q&A",
                rsvps=(("priya", "yes"), ("diego", "yes"), ("tom", "maybe"), ("mei", "no")),
            ),
            S(
                "Helm charts in practice",
                19,
                "16:00",
                kind="workshop",
                presenter="diego",
                location="Room 4.12",
                agenda="Packaging the *hello* app as a chart.",
                rsvps=(("jonas", "yes"), ("tom", "yes")),
            ),
        ),
        ("kubernetes",),
    ),
    DemoCircle(
        "Storytelling for sales demos",
        "sofia",
        ("sales", "presenting"),
        8,
        "A lunchtime circle for anyone who shows the product to customers: we practise "
        "demo stories and give each other friendly feedback.",
        ("kwame", "hannah", "grace"),
        "America/New_York",
        (
            S(
                "What makes a demo memorable",
                -10,
                "12:30",
                location="Boston office, Harbor room",
                agenda="Watch two recorded demos and list what stuck.",
                notes="Start with the customer's problem, not the menu. Three beats, one wow.",
            ),
            S(
                "Demo dry run: the onboarding story",
                9,
                "12:30",
                kind="workshop",
                presenter="kwame",
                link="https://meet.northwind.example/storytelling",
                agenda="Kwame presents the new onboarding demo; we give feedback with the "
                "*I liked / I wondered* format.",
                rsvps=(("sofia", "yes"), ("hannah", "maybe")),
            ),
        ),
    ),
    DemoCircle(
        "Python for support engineers",
        "hannah",
        ("python", "support"),
        4,
        "Small scripts that save support time: parsing logs, calling the admin API, "
        "tidy CSV exports. No experience needed.",
        ("luis", "olivia", "tom"),
        "Europe/Lisbon",
        (
            S(
                "Reading log files with Python",
                3,
                "10:00",
                link="https://meet.northwind.example/py-support",
                agenda="1. Opening files safely\n2. `re` for the log format\n3. Counting errors",
                rsvps=(("luis", "yes"), ("olivia", "yes"), ("tom", "maybe")),
            ),
        ),
        ("python",),
    ),
]


def _user(session: Session, username: str) -> User:
    user = session.scalar(select(User).where(User.username == username))
    assert user is not None, username
    return user


def _posts_tagged(session: Session, names: tuple[str, ...], limit: int = 3) -> list[Post]:
    if not names:
        return []
    return list(
        session.scalars(
            select(Post)
            .join(post_tags, post_tags.c.post_id == Post.id)
            .join(Tag, Tag.id == post_tags.c.tag_id)
            .where(
                Tag.name.in_(names),
                Post.kind.in_([PostKind.QUESTION, PostKind.ARTICLE]),
                Post.deleted_at.is_(None),
                Post.is_anonymous == false(),
            )
            .group_by(Post.id)
            .order_by(func.min(Post.id))
            .limit(limit)
        )
    )


def _data(spec: DemoSession, tz: str, today: dt.date) -> SessionData:
    return SessionData(
        title=spec.title,
        kind=spec.kind,
        date=today + dt.timedelta(days=spec.days),
        time=dt.time.fromisoformat(spec.time),
        timezone=tz,
        duration_minutes=spec.minutes,
        location=spec.location,
        link=spec.link,
        agenda_md=spec.agenda,
        presenter=spec.presenter,
    )


def load_circles(session: Session, *, progress: Callable[[str], None] = lambda _m: None) -> int:
    """Add the demo circles that are not there yet; returns how many."""
    existing = set(session.scalars(select(Circle.name)))
    created = 0
    for spec in CIRCLES:
        if spec.name in existing:
            continue
        facilitator = _user(session, spec.facilitator)
        # Seed data, loaded by an admin: its tags exist before any member attaches them.
        tags_named(session, list(spec.tags))
        circle = circles.create_circle(
            session,
            facilitator=facilitator,
            data=CircleData(
                name=spec.name,
                description_md=spec.description,
                tags=list(spec.tags),
                size_limit=spec.size,
            ),
        )
        for username in spec.members:
            circles.join(session, user=_user(session, username), circle=circle)
        today = utcnow().astimezone(zoneinfo.ZoneInfo(spec.timezone)).date()
        for item_spec in spec.sessions:
            item = circles.schedule(
                session,
                actor=facilitator,
                circle=circle,
                data=_data(item_spec, spec.timezone, today),
            )
            for username, answer in item_spec.rsvps:
                circles.rsvp(session, user=_user(session, username), item=item, response=answer)
            if item_spec.notes:
                circles.record_notes(
                    session, actor=facilitator, item=item, notes_md=item_spec.notes
                )
            if item_spec.ratings:
                circles.mark_attendance(
                    session,
                    actor=facilitator,
                    item=item,
                    present_ids={_user(session, name).id for name, _, _ in item_spec.ratings},
                )
            for username, stars, comment in item_spec.ratings:
                circles.rate(
                    session,
                    user=_user(session, username),
                    item=item,
                    rating=stars,
                    comment=comment,
                )
        for post in _posts_tagged(session, spec.resource_tags):
            circles.add_resource(session, actor=facilitator, circle=circle, reference=str(post.id))
        created += 1
    session.flush()
    progress(f"{created} learning circles")
    return created
