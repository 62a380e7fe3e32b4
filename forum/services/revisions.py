"""Revisions: every save of a post appends one; history and diffs read them back."""

from __future__ import annotations

import difflib
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from forum.models import Post, Revision, User
from forum.services.errors import NotFound


def record_revision(
    session: Session, post: Post, *, editor: User | None, summary: str = ""
) -> Revision:
    """Append a revision with the post's current title, body and tags."""
    post.revision_count = (post.revision_count or 0) + 1
    revision = Revision(
        post=post,
        number=post.revision_count,
        title=post.title,
        body_md=post.body_md,
        tags_text=" ".join(t.name for t in post.tags),
        editor=editor,
        summary=summary.strip()[:300],
    )
    session.add(revision)
    return revision


def get_revision(session: Session, post: Post, number: int) -> Revision:
    """Revision ``number`` of ``post``; NotFound for another post's or a missing number."""
    revision = session.scalar(
        select(Revision).where(Revision.post_id == post.id, Revision.number == number)
    )
    if revision is None:
        raise NotFound(f"This post has no revision {number}.")
    return revision


def history(session: Session, post: Post) -> list[Revision]:
    """All revisions of a post, newest first."""
    return list(
        session.scalars(
            select(Revision).where(Revision.post_id == post.id).order_by(Revision.number.desc())
        )
    )


@dataclass(frozen=True)
class DiffLine:
    """One line of an inline diff: ``op`` is ' ', '+' or '-'."""

    op: str
    text: str


def diff_lines(old: str, new: str) -> list[DiffLine]:
    """An inline, line-based diff of two texts (context lines kept)."""
    lines: list[DiffLine] = []
    for line in difflib.ndiff(old.splitlines(), new.splitlines()):
        op, text = line[:1], line[2:]
        if op in {" ", "+", "-"}:
            lines.append(DiffLine(op, text))
    return lines


def revision_text(revision: Revision) -> str:
    """A revision as one text for diffs: title and tags on top, then the body."""
    return f"# {revision.title or ''}\nTags: {revision.tags_text}\n\n{revision.body_md}"


def diff_revisions(
    session: Session, post: Post, from_number: int, to_number: int
) -> tuple[Revision, Revision, list[DiffLine]]:
    """Both revisions of ``post`` and the diff between them; NotFound for foreign numbers."""
    old = get_revision(session, post, from_number)
    new = get_revision(session, post, to_number)
    return old, new, diff_lines(revision_text(old), revision_text(new))


def latest_revision(session: Session, post: Post) -> Revision | None:
    """The newest revision of a post (None before its first save)."""
    return session.scalar(
        select(Revision)
        .where(Revision.post_id == post.id)
        .order_by(Revision.number.desc())
        .limit(1)
    )
