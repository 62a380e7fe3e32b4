"""Comments on questions, answers and articles, with one level of replies."""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Select, bindparam, select, update
from sqlalchemy.orm import Session

from forum import events
from forum.db import utcnow
from forum.models import Comment, Post, User
from forum.services import audit, posts, visibility, votes
from forum.services.errors import Forbidden, NotFound, ValidationError
from forum.services.posts import AuthorRef

MAX_COMMENT_LENGTH = 2000
EDIT_WINDOW = dt.timedelta(minutes=10)
#: Shown for the asker's own comments under an anonymous question.
ANONYMOUS_ASKER_LABEL = posts.ANONYMOUS_LABEL + " (asker)"


@dataclass(frozen=True, slots=True)
class CommentRow:
    """A comment as pages show it, read without the ORM (pages never write through it)."""

    id: int
    post_id: int
    parent_id: int | None
    author_id: int | None
    body_html: str
    score: int
    created_at: dt.datetime
    updated_at: dt.datetime
    deleted_at: dt.datetime | None
    #: None when the author's account is gone.
    author: AuthorRef | None


@dataclass
class CommentNode:
    """A comment as a page shows it to one viewer, with its replies."""

    comment: CommentRow
    author_label: str
    author_username: str | None
    can_edit: bool
    can_delete: bool
    can_vote: bool
    voted: bool
    edited: bool
    replies: list[CommentNode] = field(default_factory=list)


def _check_body(body: str) -> str:
    text = (body or "").strip()
    if not text:
        raise ValidationError({"body": ["Write something before sending the comment."]})
    if len(text) > MAX_COMMENT_LENGTH:
        raise ValidationError(
            {"body": [f"Comments are at most {MAX_COMMENT_LENGTH:,} characters."]}
        )
    return text


def _aware(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)


def add(
    session: Session, *, author: User, post_id: int, body: str, parent_id: int | None = None
) -> Comment:
    """Comment on a post, or reply to one of its comments (replies to replies join the thread)."""
    # Nobody comments on a removed post, nor under an answer of a removed question.
    post = visibility.get_live_post(session, post_id)
    text = _check_body(body)
    parent: Comment | None = None
    if parent_id is not None:
        parent = session.get(Comment, parent_id)
        if parent is None or parent.post_id != post.id or parent.deleted_at is not None:
            raise NotFound("There is no such comment to reply to.")
        # Two levels are enough to follow a conversation: reply to the thread's first comment.
        if parent.parent_id is not None:
            parent = session.get(Comment, parent.parent_id)
    comment = Comment(
        post_id=post.id,
        author_id=author.id,
        parent_id=parent.id if parent is not None else None,
        body_md=text,
        body_html=posts.render(text, linked=session),
    )
    session.add(comment)
    session.execute(
        update(Post)
        .where(Post.id == post.id)
        .values(comment_count=Post.comment_count + 1, updated_at=Post.updated_at)
        .execution_options(synchronize_session=False)
    )
    posts.touch(session, post)
    session.flush()
    events.emit(session, events.CommentAdded(comment=comment, post=post, author=author))
    return comment


def get(session: Session, comment_id: int) -> Comment:
    """A comment that has not been deleted, on a live post; NotFound otherwise."""
    return visibility.get_live_comment(session, comment_id)


def can_edit(
    viewer: User | None, comment: Comment | CommentRow, now: dt.datetime | None = None
) -> bool:
    """The author may edit a comment for ten minutes after writing it."""
    if viewer is None or viewer.id != comment.author_id or comment.deleted_at is not None:
        return False
    return (now or utcnow()) - _aware(comment.created_at) <= EDIT_WINDOW


def can_delete(viewer: User | None, comment: Comment | CommentRow) -> bool:
    """The author or a moderator may delete a comment."""
    return viewer is not None and (viewer.id == comment.author_id or viewer.is_moderator)


def edit(
    session: Session, *, editor: User, comment_id: int, body: str, now: dt.datetime | None = None
) -> Comment:
    """Change a comment's text (its author, within ten minutes)."""
    comment = get(session, comment_id)
    if editor.id != comment.author_id:
        raise Forbidden("Only the author can edit a comment.")
    if not can_edit(editor, comment, now):
        raise Forbidden("Comments can be edited for 10 minutes after they are posted.")
    text = _check_body(body)
    comment.body_md = text
    comment.body_html = posts.render(text, linked=session)
    comment.updated_at = now or utcnow()
    events.emit(session, events.CommentEdited(comment=comment, editor=editor))
    return comment


def delete(session: Session, *, actor: User, comment_id: int, audited: bool = True) -> Comment:
    """Delete a comment (its author or a moderator); its replies stay. Deleting twice is fine.

    A moderator's deletion of someone else's comment is audited (``audited=False``: the caller
    writes its own audit row, as the moderation queue does).
    """
    comment = session.get(Comment, comment_id)
    if (
        comment is None
        or (comment.deleted_at is not None and not can_delete(actor, comment))
        or not visibility.can_view(session, actor, comment.post)
    ):
        raise NotFound("There is no such comment.")
    if not can_delete(actor, comment):
        raise Forbidden("Only the author or a moderator can delete this comment.")
    if comment.deleted_at is not None:
        return comment
    comment.deleted_at = utcnow()
    session.execute(
        update(Post)
        .where(Post.id == comment.post_id)
        .values(comment_count=Post.comment_count - 1, updated_at=Post.updated_at)
        .execution_options(synchronize_session=False)
    )
    if audited:
        audit.record_moderation(
            session,
            actor=actor,
            author_id=comment.author_id,
            action="comment.delete",
            target_type="comment",
            target_id=comment.id,
        )
    return comment


@functools.cache
def _load_statement() -> Select[Any]:
    """Comments of some posts with their authors (built once; the ids are a parameter)."""
    comment, user = Comment.__table__.c, User.__table__.c
    return (
        select(
            comment.id,
            comment.post_id,
            comment.parent_id,
            comment.author_id,
            comment.body_html,
            comment.score,
            comment.created_at,
            comment.updated_at,
            comment.deleted_at,
            user.id,
            user.display_name,
            user.username,
            user.is_active,
        )
        .select_from(Comment.__table__.outerjoin(User.__table__, user.id == comment.author_id))
        .where(comment.post_id.in_(bindparam("post_ids", expanding=True)))
        .order_by(comment.created_at, comment.id)
    )


def _comment_row(row: Sequence[Any]) -> CommentRow:
    # Positions follow _load_statement's columns; the last four are the author's (NULL when
    # the account is gone).
    author = AuthorRef(row[9], row[10], row[11], bool(row[12])) if row[9] is not None else None
    return CommentRow(
        row[0], row[1], row[2], row[3], row[4], row[5], row[6], row[7], row[8], author=author
    )


def load(session: Session, post_ids: Iterable[int]) -> list[CommentRow]:
    """Every comment on these posts with its author, oldest first, in one query."""
    ids = list(post_ids)
    if not ids:
        return []
    return [_comment_row(row) for row in session.execute(_load_statement(), {"post_ids": ids})]


def build_threads(
    comments: list[CommentRow],
    *,
    viewer: User | None,
    voted: set[int],
    anonymous_author_id: int | None = None,
    now: dt.datetime | None = None,
) -> dict[int, list[CommentNode]]:
    """Arrange loaded comments per post into threads as ``viewer`` sees them.

    ``anonymous_author_id`` is the hidden author of an anonymous question: their comments
    in its thread show as the anonymous asker, never by name.
    """
    now = now or utcnow()
    # Moderators also see removed comments (hidden ones with their text, for review).
    keep_removed = viewer is not None and viewer.is_moderator
    nodes: dict[int, CommentNode] = {}
    threads: dict[int, list[CommentNode]] = {}
    for comment in comments:
        masked = anonymous_author_id is not None and comment.author_id == anonymous_author_id
        if masked:
            label, username = ANONYMOUS_ASKER_LABEL, None
        elif comment.author is None:
            label, username = posts.FORMER_MEMBER_LABEL, None
        else:
            label, username = posts.member_label(comment.author), comment.author.username
        node = CommentNode(
            comment=comment,
            author_label=label,
            author_username=username,
            can_edit=can_edit(viewer, comment, now),
            can_delete=comment.deleted_at is None and can_delete(viewer, comment),
            can_vote=viewer is None or viewer.id != comment.author_id,
            voted=comment.id in voted,
            edited=_aware(comment.updated_at) - _aware(comment.created_at)
            > dt.timedelta(seconds=5),
        )
        nodes[comment.id] = node
        parent = nodes.get(comment.parent_id) if comment.parent_id is not None else None
        if parent is not None:
            if comment.deleted_at is None or keep_removed:
                parent.replies.append(node)
        else:
            threads.setdefault(comment.post_id, []).append(node)
    # A deleted comment stays as a placeholder only while replies hang from it.
    return {
        post_id: [n for n in roots if n.comment.deleted_at is None or n.replies or keep_removed]
        for post_id, roots in threads.items()
    }


def threads_for(
    session: Session, post_list: list[Post], *, viewer: User | None
) -> tuple[dict[int, list[CommentNode]], dict[int, int]]:
    """Comment threads and the viewer's votes for some posts (an article page): two queries."""
    threads, mine, _followed = threads_and_marks(session, post_list, viewer=viewer)
    return threads, mine


def threads_and_marks(
    session: Session, post_list: list[Post], *, viewer: User | None
) -> tuple[dict[int, list[CommentNode]], dict[int, int], set[int]]:
    """Comment threads, the viewer's votes and which of the posts the viewer follows: two
    queries (the votes and follows come together)."""
    comments = load(session, [p.id for p in post_list])
    post_ids = [p.id for p in post_list]
    mine, voted, followed = votes.viewer_marks(
        session, viewer, post_ids, [c.id for c in comments], post_ids
    )
    return build_threads(comments, viewer=viewer, voted=voted), mine, followed
