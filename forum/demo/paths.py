"""Demo learning paths for Northwind Labs: engineering onboarding and data engineering."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from forum.models import LearningPath, Post, PostKind, User
from forum.services import paths


@dataclass(frozen=True)
class DemoPath:
    """A path: its owner, text, steps (article or question titles) and onboarding department."""

    owner: str
    title: str
    description: str
    steps: tuple[str, ...]
    department: str | None = None
    #: username → how many steps (from the first) they have done
    learners: tuple[tuple[str, int], ...] = ()


PATHS = [
    DemoPath(
        "amara",
        "Engineering onboarding",
        "Your first two weeks as an engineer at Northwind Labs: the checklist, your laptop, "
        "how we review code and how to get access.\n\nAsk your **buddy** when you get stuck.",
        (
            "New starter onboarding checklist",
            "Laptop setup for engineers",
            "How do I get kubectl access to the staging cluster?",
            "Code review tips",
            "SQL basics for new engineers",
            "Is it okay to ask for help in my first month if everyone seems busy?",
        ),
        department="Engineering",
        learners=(("tom", 3),),
    ),
    DemoPath(
        "mei",
        "Data engineering basics",
        "From SQL to dbt: what a new data engineer (or a curious colleague) needs first.",
        (
            "SQL basics for new engineers",
            "dbt models: naming and testing",
            "Where do I find the data dictionary for the warehouse?",
            "How do I backfill a dbt incremental model for one month?",
        ),
        learners=(("sofia", 4), ("luis", 1)),
    ),
]


def load_paths(session: Session, *, progress: Callable[[str], None] = lambda _m: None) -> int:
    """Stage the demo paths whose titles don't exist yet; returns how many were created."""
    people = {u.username: u for u in session.scalars(select(User))}
    existing = set(session.scalars(select(LearningPath.title)))
    posts = {
        str(p.title): p
        for p in session.scalars(
            select(Post).where(
                Post.kind.in_((PostKind.ARTICLE, PostKind.QUESTION)), Post.deleted_at.is_(None)
            )
        )
    }
    admin = next((u for u in people.values() if u.is_admin), None)
    created = 0
    for item in PATHS:
        owner = people.get(item.owner)
        if owner is None or item.title in existing:
            continue
        path = paths.create_path(
            session, owner=owner, title=item.title, description_md=item.description
        )
        for title in item.steps:
            if title in posts:
                paths.add_step(session, path, actor=owner, reference=str(posts[title].id))
        if item.department and admin is not None:
            paths.set_onboarding(session, path, actor=admin, department=item.department)
        for username, done in item.learners:
            learner = people.get(username)
            if learner is None:
                continue
            paths.enrol(session, path, user=learner)
            for step in path.steps[:done]:
                paths.mark_step(session, path, user=learner, step_id=step.id, done=True)
        created += 1
    session.flush()
    progress(f"{created} learning paths")
    return created
