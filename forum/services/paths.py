"""Learning paths: curating ordered articles and questions, enrolling, ticking steps, finishing.

A path's owner (or a moderator) curates it; members enrol and tick steps done. Finishing every
step sets the enrolment's ``completed_at`` and earns the Path Finisher badge. Each department
may have one onboarding path (chosen by admins) that is suggested to its new members.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import Integer, Select, bindparam, func, select
from sqlalchemy.orm import Session, joinedload, selectinload

from forum.db import utcnow
from forum.markdown import MarkdownTooLarge, render_markdown
from forum.models import (
    LearningPath,
    PathEnrolment,
    PathStep,
    Post,
    PostKind,
    StepCompletion,
    User,
)
from forum.services import badges, departments, visibility
from forum.services.badges import Badge, Tier
from forum.services.errors import Conflict, Forbidden, NotFound, ValidationError

MAX_TITLE = 200
MAX_DESCRIPTION = 20_000
MAX_STEPS = 100

_QUESTION_PATH = re.compile(r"^/questions/(\d+)(?:/[^/]*)?/?$")
_ARTICLE_PATH = re.compile(r"^/articles/([^/]+)/?$")


# --- the badge --------------------------------------------------------------------------------


def finished_paths(session: Session, user_ids: Collection[int] | None) -> dict[int, int]:
    """How many learning paths each member has finished."""
    query = select(PathEnrolment.user_id, func.count()).where(
        PathEnrolment.completed_at.is_not(None)
    )
    if user_ids is not None:
        query = query.where(PathEnrolment.user_id.in_(list(user_ids)))
    return {int(u): int(n) for u, n in session.execute(query.group_by(PathEnrolment.user_id))}


PATH_FINISHER = badges.declare(
    Badge(
        "path_finisher",
        "Path Finisher",
        Tier.BRONZE,
        "Finished every step of a learning path.",
        1,
        member_metric=finished_paths,
        unit="paths finished",
    )
)


# --- reading ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Progress:
    """How far a member is through a path."""

    done: int
    total: int

    @property
    def percent(self) -> int:
        """Whole percent done (0 for an empty path)."""
        return int(100 * self.done / self.total) if self.total else 0

    @property
    def complete(self) -> bool:
        """True when every step is done (and there is at least one)."""
        return self.total > 0 and self.done >= self.total


@dataclass
class PathSummary:
    """A path in the list, with its size and the viewer's progress if enrolled."""

    path: LearningPath
    steps: int
    enrolled: int
    progress: Progress | None = None


def list_paths(session: Session, *, viewer: User | None) -> list[PathSummary]:
    """Every path with step and enrolment counts, onboarding paths first, then by title."""
    steps = dict(
        session.execute(select(PathStep.path_id, func.count()).group_by(PathStep.path_id)).all()
    )
    enrolled = dict(
        session.execute(
            select(PathEnrolment.path_id, func.count()).group_by(PathEnrolment.path_id)
        ).all()
    )
    mine: dict[int, int] = {}
    if viewer is not None:
        mine = {
            int(pid): int(n)
            for pid, n in session.execute(
                select(PathEnrolment.path_id, func.count(StepCompletion.id))
                .outerjoin(StepCompletion, StepCompletion.enrolment_id == PathEnrolment.id)
                .where(PathEnrolment.user_id == viewer.id)
                .group_by(PathEnrolment.path_id)
            )
        }
    paths = session.scalars(
        select(LearningPath)
        .options(joinedload(LearningPath.owner))
        .order_by(LearningPath.onboarding_department.is_(None), LearningPath.title)
    )
    result = []
    for path in paths:
        total = int(steps.get(path.id, 0))
        progress = Progress(mine[path.id], total) if path.id in mine else None
        result.append(PathSummary(path, total, int(enrolled.get(path.id, 0)), progress))
    return result


@dataclass
class PathPage:
    """One path as its page shows it."""

    path: LearningPath
    enrolment: PathEnrolment | None
    done_steps: set[int] = field(default_factory=set)
    enrolled: int = 0
    #: Steps whose post the viewer may see; the others show as a removed step, untitled.
    visible_steps: set[int] = field(default_factory=set)

    @property
    def progress(self) -> Progress:
        """The viewer's progress (0 of n when not enrolled)."""
        live = {s.id for s in self.path.steps}
        return Progress(len(self.done_steps & live), len(live))


def get_path(session: Session, path_id: int) -> LearningPath:
    """A path with its steps and their posts; NotFound otherwise."""
    path = session.scalar(
        select(LearningPath)
        .where(LearningPath.id == path_id)
        .options(
            joinedload(LearningPath.owner),
            selectinload(LearningPath.steps).joinedload(PathStep.post),
        )
    )
    if path is None:
        raise NotFound("There is no such learning path.")
    return path


def _enrolment(session: Session, path: LearningPath, user: User) -> PathEnrolment | None:
    return session.scalar(
        select(PathEnrolment).where(
            PathEnrolment.path_id == path.id, PathEnrolment.user_id == user.id
        )
    )


def path_page(session: Session, path_id: int, *, viewer: User | None) -> PathPage:
    """A path, the viewer's enrolment and the steps they have done."""
    path = get_path(session, path_id)
    enrolment = _enrolment(session, path, viewer) if viewer is not None else None
    done: set[int] = set()
    if enrolment is not None:
        done = set(
            session.scalars(
                select(StepCompletion.step_id).where(StepCompletion.enrolment_id == enrolment.id)
            )
        )
    enrolled = session.scalar(
        select(func.count()).select_from(PathEnrolment).where(PathEnrolment.path_id == path.id)
    )
    shown = visibility.visible_post_ids(session, viewer, {s.post_id for s in path.steps})
    visible = {s.id for s in path.steps if s.post_id in shown}
    return PathPage(path, enrolment, done, int(enrolled or 0), visible)


def can_curate(user: User | None, path: LearningPath) -> bool:
    """The owner and moderators curate a path."""
    return user is not None and (user.id == path.owner_id or user.is_moderator)


def _require_curator(user: User, path: LearningPath) -> None:
    if not can_curate(user, path):
        raise Forbidden("Only the path's owner or a moderator can change it.")


# --- curating ---------------------------------------------------------------------------------


def _validated(title: str, description_md: str) -> tuple[str, str, str]:
    title = (title or "").strip()
    description_md = (description_md or "").strip()
    errors: dict[str, list[str]] = {}
    if not title:
        errors["title"] = ["Give the path a title."]
    elif len(title) > MAX_TITLE:
        errors["title"] = [f"Keep the title under {MAX_TITLE} characters."]
    html = ""
    if len(description_md) > MAX_DESCRIPTION:
        errors["description"] = [f"Keep the description under {MAX_DESCRIPTION} characters."]
    else:
        try:
            html = render_markdown(description_md) if description_md else ""
        except MarkdownTooLarge as exc:
            errors["description"] = [str(exc)]
    if errors:
        raise ValidationError(errors)
    return title, description_md, html


def create_path(session: Session, *, owner: User, title: str, description_md: str) -> LearningPath:
    """Stage a new, empty path owned by ``owner``."""
    title, description_md, html = _validated(title, description_md)
    path = LearningPath(
        title=title, description_md=description_md, description_html=html, owner_id=owner.id
    )
    session.add(path)
    session.flush()
    return path


def update_path(
    session: Session, path: LearningPath, *, actor: User, title: str, description_md: str
) -> None:
    """Change a path's title and description (owner or moderator)."""
    _require_curator(actor, path)
    path.title, path.description_md, path.description_html = _validated(title, description_md)
    session.flush()


def delete_path(session: Session, path: LearningPath, *, actor: User) -> None:
    """Delete a path with its steps and enrolments (owner or moderator)."""
    _require_curator(actor, path)
    session.delete(path)
    session.flush()


def resolve_post(session: Session, reference: str) -> Post:
    """The article or question a typed reference names: its address, ``/articles/slug``,
    ``/questions/123`` or a bare id. Unknown or unsuitable ones are a ValidationError."""
    text = (reference or "").strip()
    problem = "Paste the address of an article or a question, or its number."
    if not text:
        raise ValidationError({"reference": [problem]})
    post: Post | None = None
    if text.lstrip("#").isdigit():
        post = session.get(Post, int(text.lstrip("#")))
    else:
        route = urlsplit(text).path if "://" in text else text.split("?")[0].split("#")[0]
        if match := _QUESTION_PATH.match(route):
            post = session.get(Post, int(match.group(1)))
        elif match := _ARTICLE_PATH.match(route):
            post = session.scalar(
                select(Post).where(Post.kind == PostKind.ARTICLE, Post.slug == match.group(1))
            )
        else:
            raise ValidationError({"reference": [problem]})
    if post is None or post.is_deleted:
        raise ValidationError({"reference": ["There is no article or question there."]})
    if post.kind not in (PostKind.ARTICLE, PostKind.QUESTION):
        raise ValidationError(
            {"reference": ["A step is an article or a question; link the question, not an answer."]}
        )
    return post


def add_step(session: Session, path: LearningPath, *, actor: User, reference: str) -> PathStep:
    """Append the referenced article or question to the path."""
    _require_curator(actor, path)
    post = resolve_post(session, reference)
    if any(s.post_id == post.id for s in path.steps):
        raise ValidationError({"reference": ["That is already a step of this path."]})
    if len(path.steps) >= MAX_STEPS:
        raise ValidationError({"reference": [f"A path holds at most {MAX_STEPS} steps."]})
    position = max((s.position for s in path.steps), default=0) + 1
    step = PathStep(path=path, post_id=post.id, position=position)
    session.add(step)
    session.flush()
    return step


def _step(path: LearningPath, step_id: int) -> PathStep:
    for step in path.steps:
        if step.id == step_id:
            return step
    raise NotFound("That step is not part of this path.")


def remove_step(session: Session, path: LearningPath, *, actor: User, step_id: int) -> None:
    """Take a step out of the path (progress on it goes with it)."""
    _require_curator(actor, path)
    step = _step(path, step_id)
    path.steps.remove(step)
    session.flush()


def move_step(
    session: Session, path: LearningPath, *, actor: User, step_id: int, direction: str
) -> None:
    """Move a step one place up or down; at either end it stays put."""
    _require_curator(actor, path)
    if direction not in ("up", "down"):
        raise ValidationError({"direction": ["Move a step up or down."]})
    ordered = sorted(path.steps, key=lambda s: (s.position, s.id))
    step = _step(path, step_id)
    index = ordered.index(step)
    other = index - 1 if direction == "up" else index + 1
    if 0 <= other < len(ordered):
        ordered[index], ordered[other] = ordered[other], ordered[index]
    for position, item in enumerate(ordered, start=1):
        item.position = position
    session.flush()
    session.expire(path, ["steps"])


def set_onboarding(
    session: Session, path: LearningPath, *, actor: User, department: str | None
) -> None:
    """Make a path its department's onboarding path (replacing another), or stop (admins)."""
    if not actor.is_admin:
        raise Forbidden("Only admins choose onboarding paths.")
    department = departments.resolve(session, department)
    if department is not None:
        previous = session.scalar(
            select(LearningPath).where(
                LearningPath.onboarding_department == department, LearningPath.id != path.id
            )
        )
        if previous is not None:
            previous.onboarding_department = None
            session.flush()
    path.onboarding_department = department
    session.flush()


def onboarding_path_for(session: Session, user: User) -> LearningPath | None:
    """The onboarding path of the member's department, if there is one."""
    if not user.department:
        return None
    return session.scalar(
        select(LearningPath).where(LearningPath.onboarding_department == user.department)
    )


# --- taking part ------------------------------------------------------------------------------


def enrol(session: Session, path: LearningPath, *, user: User) -> PathEnrolment:
    """Enrol a member in a path (enrolling twice changes nothing)."""
    enrolment = _enrolment(session, path, user)
    if enrolment is None:
        enrolment = PathEnrolment(path_id=path.id, user_id=user.id)
        session.add(enrolment)
        session.flush()
    return enrolment


def leave(session: Session, path: LearningPath, *, user: User) -> None:
    """Leave a path; progress is forgotten (a badge already earned stays)."""
    enrolment = _enrolment(session, path, user)
    if enrolment is None:
        raise Conflict("You are not enrolled in this path.")
    session.delete(enrolment)
    session.flush()


def mark_step(
    session: Session, path: LearningPath, *, user: User, step_id: int, done: bool
) -> Progress:
    """Tick a step done (or not); finishing the last step completes the path and its badge."""
    step = _step(path, step_id)
    enrolment = _enrolment(session, path, user)
    if enrolment is None:
        raise Conflict("Enrol in this path before ticking its steps.")
    existing = session.scalar(
        select(StepCompletion).where(
            StepCompletion.enrolment_id == enrolment.id, StepCompletion.step_id == step.id
        )
    )
    if done and existing is None:
        session.add(StepCompletion(enrolment_id=enrolment.id, step_id=step.id))
    elif not done and existing is not None:
        session.delete(existing)
    session.flush()
    done_count = session.scalar(
        select(func.count())
        .select_from(StepCompletion)
        .join(PathStep, PathStep.id == StepCompletion.step_id)
        .where(StepCompletion.enrolment_id == enrolment.id, PathStep.path_id == path.id)
    )
    progress = Progress(int(done_count or 0), len(path.steps))
    if progress.complete and enrolment.completed_at is None:
        enrolment.completed_at = utcnow()
        session.flush()
        badges.award(session, [user.id], keys=[PATH_FINISHER.key])
    return progress


@functools.cache
def _enrolments_statement() -> Select[Any]:
    """Built once (the front page runs it for every member): the member is a parameter."""
    steps = (
        select(func.count())
        .where(PathStep.path_id == PathEnrolment.path_id)
        .correlate(PathEnrolment)
        .scalar_subquery()
    )
    done = (
        select(func.count())
        .where(StepCompletion.enrolment_id == PathEnrolment.id)
        .correlate(PathEnrolment)
        .scalar_subquery()
    )
    return (
        select(LearningPath, steps, done)
        .join(PathEnrolment, PathEnrolment.path_id == LearningPath.id)
        .where(PathEnrolment.user_id == bindparam("user_id", type_=Integer))
        .order_by(LearningPath.title)
    )


def enrolments_of(session: Session, user: User) -> list[tuple[LearningPath, Progress]]:
    """The paths a member is enrolled in, with their progress."""
    rows = session.execute(_enrolments_statement(), {"user_id": user.id})
    return [(path, Progress(int(d), int(n))) for path, n, d in rows]
