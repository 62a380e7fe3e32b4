"""The anonymous mask: which actions an anonymous asker takes in their own thread.

An anonymous question's author acts "under the mask" whenever they write, edit, comment, vote
or accept anywhere in that question's thread (the question and its answers). Such actions are
attributed to nobody real in any metric: badges, reputation, activity figures and the moments
badges are checked. Otherwise a count or an award time that moves with the action would point
at the member (an Editor badge awarded the second the anonymous question was edited).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, exists, func, select, true
from sqlalchemy.orm import Session, aliased

from forum.models import Post


def masked(post_id: Any, actor_id: Any) -> ColumnElement[bool]:
    """SQL: ``actor_id`` acted on ``post_id`` as the hidden asker of its anonymous thread."""
    post = aliased(Post, name="masked_post")
    root = aliased(Post, name="masked_root")
    return exists(
        select(1)
        .select_from(post)
        # An answer's thread is its question; a question is its own (both by primary key).
        .join(root, root.id == func.coalesce(post.parent_id, post.id))
        .where(post.id == post_id, root.is_anonymous == true(), root.author_id == actor_id)
    )


def unmasked(post_id: Any, actor_id: Any) -> ColumnElement[bool]:
    """SQL: the opposite of :func:`masked` (the action counts for its real author)."""
    return ~masked(post_id, actor_id)


def is_masked(session: Session, post: Post | None, actor_id: int | None) -> bool:
    """Whether ``actor_id`` acts on ``post`` as the hidden asker of its anonymous thread."""
    if post is None or actor_id is None:
        return False
    root: Post | None = post
    if post.parent_id is not None:
        root = session.get(Post, post.parent_id)
    return bool(root is not None and root.is_anonymous and root.author_id == actor_id)


def masked_pairs(session: Session, pairs: set[tuple[int, int]]) -> set[tuple[int, int]]:
    """Which (member id, post id) pairs are actions under the mask, in one query."""
    post_ids = sorted({post_id for _member, post_id in pairs})
    if not post_ids:
        return set()
    root = aliased(Post, name="masked_root")
    hidden: dict[int, int] = {
        int(pid): int(author)
        for pid, author in session.execute(
            select(Post.id, root.author_id)
            .join(root, root.id == func.coalesce(Post.parent_id, Post.id))
            .where(Post.id.in_(post_ids), root.is_anonymous == true())
        )
        if author is not None
    }
    return {(member, pid) for member, pid in pairs if hidden.get(pid) == member}
