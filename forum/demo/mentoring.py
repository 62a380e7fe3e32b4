"""Demo mentoring for Northwind Labs: stated skills, two mentorships and a buddy pair."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from sqlalchemy import select
from sqlalchemy.orm import Session

from forum.db import utcnow
from forum.models import BuddyPair, MemberSkill, Mentorship, User
from forum.services import mentoring, skills
from forum.services.tags import tags_named

#: username → (tags they can help with, tags they want to learn, availability)
SKILLS: dict[str, tuple[str, str, str]] = {
    "amara": ("postgresql kubernetes on-call", "accessibility", "limited"),
    "priya": ("python sql performance", "kubernetes", "open"),
    "diego": ("accessibility css design-system", "sql", "open"),
    "mei": ("dbt data sql", "python", "open"),
    "hannah": ("support incidents", "postgresql", "closed"),
    "olivia": ("onboarding mentoring learning", "", "open"),
    "tom": ("", "kubernetes postgresql python code-review", "open"),
    "sofia": ("sales demo", "sql", "open"),
    "luis": ("", "billing sql", "open"),
}


def load_mentoring(session: Session, *, progress: Callable[[str], None] = lambda _m: None) -> int:
    """Stage skills, mentorships and a buddy pair once; returns how many mentorships were made."""
    people = {u.username: u for u in session.scalars(select(User))}
    if session.scalar(select(MemberSkill.id).limit(1)) is None:
        names: set[str] = set()
        for help_text, learn_text, _availability in SKILLS.values():
            names.update((help_text + " " + learn_text).split())
        tags_named(session, sorted(names))
        session.flush()
        for username, (help_text, learn_text, availability) in SKILLS.items():
            if username in people:
                skills.set_skills(
                    session,
                    people[username],
                    help_text=help_text,
                    learn_text=learn_text,
                    availability=availability,
                )
    if "grace" in people:
        people["grace"].people_partner = True
    created = 0
    if session.scalar(select(Mentorship.id).limit(1)) is None and {
        "tom",
        "amara",
        "mei",
        "sofia",
        "priya",
    } <= set(people):
        created = _mentorships(session, people)
    if {"tom", "priya", "grace"} <= set(people) and session.scalar(
        select(BuddyPair.id).limit(1)
    ) is None:
        mentoring.assign_buddy(
            session, actor=people["grace"], newcomer_username="tom", buddy_username="priya"
        )
    session.flush()
    progress(f"{created} mentorships")
    return created


def _mentorships(session: Session, people: dict[str, User]) -> int:
    now = utcnow()
    tom, amara, mei, sofia, priya = (people[n] for n in ("tom", "amara", "mei", "sofia", "priya"))
    active = mentoring.request_mentor(
        session,
        mentee=tom,
        mentor_id=amara.id,
        tag_name="kubernetes",
        goal="Be confident running and debugging our services on Kubernetes before my first "
        "on-call week.",
    )
    mentoring.respond(
        session, active, actor=amara, accept=True, note="Happy to. Fridays after stand-up?"
    )
    mentoring.add_goal(session, active, actor=tom, text="Deploy a change to staging on my own")
    done = mentoring.add_goal(session, active, actor=amara, text="Shadow one on-call shift")
    mentoring.set_goal_done(session, active, done.id, actor=tom, done=True)
    first = mentoring.add_checkin(
        session,
        active,
        actor=amara,
        body_md="Walked through `kubectl describe` and reading pod events.\n\n"
        "**Next:** Tom deploys the docs service to staging himself.",
    )
    second = mentoring.add_checkin(
        session,
        active,
        actor=tom,
        body_md="Shadowed Thursday's on-call shift. Questions for next time:\n\n"
        "- when do we page the database team?\n- how do I silence a flapping alert?",
    )
    active.created_at = now - dt.timedelta(days=21)
    active.responded_at = now - dt.timedelta(days=20)
    first.created_at = now - dt.timedelta(days=13)
    second.created_at = now - dt.timedelta(days=3)

    finished = mentoring.request_mentor(
        session,
        mentee=sofia,
        mentor_id=mei.id,
        tag_name="sql",
        goal="Write my own SQL for pipeline reports instead of waiting for the data team.",
    )
    mentoring.respond(session, finished, actor=mei, accept=True)
    covered = mentoring.add_checkin(
        session,
        finished,
        actor=mei,
        body_md="Covered `GROUP BY`, `JOIN` and how to read the warehouse data dictionary.",
    )
    mentoring.end(
        session,
        finished,
        actor=sofia,
        rating=5,
        feedback="I now write the weekly pipeline query myself. Thank you, Mei!",
    )
    mentoring.end(
        session, finished, actor=mei, rating=5, feedback="Great questions every single week."
    )
    finished.created_at = now - dt.timedelta(days=70)
    finished.responded_at = now - dt.timedelta(days=69)
    finished.ended_at = now - dt.timedelta(days=14)
    covered.created_at = now - dt.timedelta(days=40)

    # A request still waiting for an answer, so the mentor sees one.
    mentoring.request_mentor(
        session,
        mentee=tom,
        mentor_id=priya.id,
        tag_name="python",
        goal="Learn how we structure Python workers and test them.",
    )
    return 2
