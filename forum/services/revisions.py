"""Revisions: every save of a post appends one; history and diffs read them back."""

from __future__ import annotations

import difflib
import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable
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


def approved_summary(summary: str, approver: str | None) -> str:
    """An edit's summary as its revision keeps it; a suggested edit names who approved it."""
    text = summary.strip() or "Edited"
    if approver is None:
        return text
    note = f" (suggested edit, approved by {approver})"
    return text[: 300 - len(note)] + note


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


#: Changed lines per side compared line by line; past it a diff is "too large to compare".
#: difflib's matcher is quadratic in the lines it compares, so this bounds a diff's CPU.
MAX_DIFF_LINES = 1500
#: Characters of both texts together past which a diff is not computed at all.
MAX_DIFF_CHARS = 500_000
#: Unchanged lines shown around each change; longer unchanged runs collapse to one gap line.
DIFF_CONTEXT = 3
#: Diffs kept per process, by (post, from revision, to revision): revisions never change.
DIFF_CACHE_SIZE = 64


@dataclass(frozen=True)
class DiffLine:
    """One line of an inline diff: ``op`` is ' ', '+', '-', or '…' for skipped unchanged lines."""

    op: str
    text: str


@dataclass(frozen=True)
class Diff:
    """The lines of a diff, or ``too_large`` when the texts are past the comparison caps."""

    lines: tuple[DiffLine, ...] = ()
    too_large: bool = False


def _common_prefix(a: list[str], b: list[str]) -> int:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


def diff_texts(old: str, new: str, *, context: int = DIFF_CONTEXT) -> Diff:
    """A line diff of two texts in bounded time (no intraline matching); may be too large."""
    if len(old) + len(new) > MAX_DIFF_CHARS:
        return Diff(too_large=True)
    a, b = old.splitlines(), new.splitlines()
    # Equal ends are cheap to find and are most of a typical edit; only the middle is matched.
    head = _common_prefix(a, b)
    tail = _common_prefix(a[head:][::-1], b[head:][::-1])
    a_mid, b_mid = a[head : len(a) - tail], b[head : len(b) - tail]
    if len(a_mid) > MAX_DIFF_LINES or len(b_mid) > MAX_DIFF_LINES:
        return Diff(too_large=True)
    opcodes: list[tuple[str, int, int, int, int]] = []
    if head:
        opcodes.append(("equal", 0, head, 0, head))
    matcher = difflib.SequenceMatcher(None, a_mid, b_mid, autojunk=True)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        opcodes.append((tag, i1 + head, i2 + head, j1 + head, j2 + head))
    if tail:
        opcodes.append(("equal", len(a) - tail, len(a), len(b) - tail, len(b)))
    return Diff(lines=tuple(_diff_lines(a, b, opcodes, context)))


def _diff_lines(
    a: list[str], b: list[str], opcodes: list[tuple[str, int, int, int, int]], context: int
) -> list[DiffLine]:
    lines: list[DiffLine] = []
    last = len(opcodes) - 1
    for n, (tag, i1, i2, j1, j2) in enumerate(opcodes):
        if tag != "equal":
            lines.extend(DiffLine("-", text) for text in a[i1:i2])
            lines.extend(DiffLine("+", text) for text in b[j1:j2])
            continue
        before = context if n > 0 else 0
        after = context if n < last else 0
        if i2 - i1 <= before + after + 1:
            lines.extend(DiffLine(" ", text) for text in a[i1:i2])
            continue
        lines.extend(DiffLine(" ", text) for text in a[i1 : i1 + before])
        skipped = i2 - i1 - before - after
        lines.append(DiffLine("…", f"{skipped} unchanged line{'s' if skipped != 1 else ''}"))
        lines.extend(DiffLine(" ", text) for text in a[i2 - after : i2])
    return lines


def diff_lines(old: str, new: str) -> list[DiffLine]:
    """An inline, line-based diff of two texts (empty when they are too large to compare)."""
    return list(diff_texts(old, new).lines)


_DIFF_CACHE: OrderedDict[tuple[int, int, int, bytes], Diff] = OrderedDict()
_DIFF_CACHE_LOCK = threading.Lock()


def compare(old: Revision, new: Revision, text: Callable[[Revision], str] | None = None) -> Diff:
    """The diff between two revisions of one post, cached by (post, from, to)."""
    show = text or revision_text
    old_text, new_text = show(old), show(new)
    # The texts' digest too: ids alone could name other texts after a restore into a new database.
    digest = hashlib.blake2b(f"{old_text}\x00{new_text}".encode(), digest_size=16).digest()
    key = (old.post_id, old.id, new.id, digest)
    with _DIFF_CACHE_LOCK:
        cached = _DIFF_CACHE.get(key)
        if cached is not None:
            _DIFF_CACHE.move_to_end(key)
            return cached
    diff = diff_texts(old_text, new_text)
    with _DIFF_CACHE_LOCK:
        _DIFF_CACHE[key] = diff
        while len(_DIFF_CACHE) > DIFF_CACHE_SIZE:
            _DIFF_CACHE.popitem(last=False)
    return diff


def revision_text(revision: Revision) -> str:
    """A revision as one text for diffs: title and tags on top, then the body."""
    return f"# {revision.title or ''}\nTags: {revision.tags_text}\n\n{revision.body_md}"


def diff_revisions(
    session: Session, post: Post, from_number: int, to_number: int
) -> tuple[Revision, Revision, Diff]:
    """Both revisions of ``post`` and the diff between them; NotFound for foreign numbers."""
    old = get_revision(session, post, from_number)
    new = get_revision(session, post, to_number)
    return old, new, compare(old, new)


def question_revision_text(revision: Revision) -> str:
    """A question or answer revision as one text for diffs: title, body, then tags."""
    return f"{revision.title or ''}\n\n{revision.body_md}\n\nTags: {revision.tags_text}"


def latest_revision(session: Session, post: Post) -> Revision | None:
    """The newest revision of a post (None before its first save)."""
    return session.scalar(
        select(Revision)
        .where(Revision.post_id == post.id)
        .order_by(Revision.number.desc())
        .limit(1)
    )
