"""Following questions and articles: their followers hear of new answers, comments and edits.

Anyone who may see a live question or article may follow it; askers and authors (and an
article's owner) follow their own from the start. Nobody else ever learns who follows a post.
"""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from forum.models import Post, PostFollow, PostKind, User
from forum.services import visibility
from forum.services.errors import NotFound

FOLLOWABLE = (PostKind.QUESTION, PostKind.ARTICLE)


def followable(session: Session, member: User, post_id: int) -> Post:
    """A live question or article the member may see; NotFound otherwise."""
    post = session.get(Post, post_id)
    if (
        post is None
        or post.kind not in FOLLOWABLE
        or not visibility.is_live(session, post)
        or not visibility.can_view(session, member, post)
    ):
        raise NotFound("There is no such question or article.")
    return post


def is_following(session: Session, member: User | None, post: Post) -> bool:
    """Whether ``member`` follows ``post``."""
    if member is None:
        return False
    return (
        session.scalar(
            select(PostFollow.id).where(
                PostFollow.user_id == member.id, PostFollow.post_id == post.id
            )
        )
        is not None
    )


def add(session: Session, member_id: int, post: Post) -> bool:
    """Record that the member follows ``post`` (no rules: callers checked); False if already."""
    exists = session.scalar(
        select(PostFollow.id).where(PostFollow.user_id == member_id, PostFollow.post_id == post.id)
    )
    if exists is not None:
        return False
    session.add(PostFollow(user_id=member_id, post_id=post.id))
    session.flush()
    return True


def follow(session: Session, member: User, post_id: int) -> Post:
    """The member follows a question or article they may see (following twice is one follow)."""
    post = followable(session, member, post_id)
    add(session, member.id, post)
    return post


def unfollow(session: Session, member: User, post_id: int) -> Post:
    """The member stops following (even a post removed since: nothing more comes of it)."""
    post = session.get(Post, post_id)
    if post is None or post.kind not in FOLLOWABLE:
        raise NotFound("There is no such question or article.")
    session.execute(
        delete(PostFollow).where(PostFollow.user_id == member.id, PostFollow.post_id == post.id)
    )
    return post


def followers(session: Session, post: Post) -> list[User]:
    """Active members following ``post``, by id."""
    return list(
        session.scalars(
            select(User)
            .join(PostFollow, PostFollow.user_id == User.id)
            .where(PostFollow.post_id == post.id, User.is_active.is_(True))
            .order_by(User.id)
        )
    )
