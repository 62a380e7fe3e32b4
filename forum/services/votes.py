"""Votes: one per member per post (or comment), undo by repeating, atomic score updates.

Every vote runs as its own short write transaction whose first statement locks the voted
row (``UPDATE ... SET score = score``). On PostgreSQL that row lock serialises votes on one
post; on SQLite the first write of a fresh transaction takes the database's write lock while
the busy timeout still applies, so concurrent voters wait in turn instead of failing the way
a read transaction that later upgrades to a write does. The score then changes by the vote's
delta in one ``UPDATE ... SET score = score + :delta`` in the same transaction as the vote row.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from sqlalchemy import (
    CompoundSelect,
    Integer,
    Table,
    bindparam,
    exists,
    func,
    literal,
    select,
    union_all,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from forum import events
from forum.models import Comment, CommentVote, Post, PostFollow, User, Vote
from forum.services import posts, visibility
from forum.services.errors import Conflict, Forbidden, NotFound, ValidationError

VALUES = (1, -1)


@dataclass(frozen=True)
class VoteOutcome:
    """The post's (or comment's) score after a vote, and the voter's vote now (-1, 0 or 1)."""

    target_id: int
    score: int
    my_vote: int


def cast_table(model: type[Post] | type[Comment]) -> Table:
    """The table under a model, typed for Core statements."""
    table = model.__table__
    assert isinstance(table, Table)
    return table


def parse_value(raw: str | None) -> int:
    """The form's ``value`` as 1 or -1; anything else is a ValidationError."""
    if raw not in {"1", "-1", "+1"}:
        raise ValidationError({"value": ["A vote is 1 (up) or -1 (down)."]})
    return int(raw)


def cast(session: Session, *, voter: User, post_id: int, value: int) -> VoteOutcome:
    """Vote ``value`` on a post: a new vote, a switch, or (the same value again) an undo.

    Call it first thing in a transaction (see the module docstring).
    """
    if value not in VALUES:
        raise ValidationError({"value": ["A vote is 1 (up) or -1 (down)."]})
    posts_table = cast_table(Post)
    # Core on the session's connection, so no ORM hook reads before this first write.
    locked = (
        session.connection()
        .execute(
            update(posts_table)
            # Only live posts take votes: not removed, nor an answer of a removed question.
            .where(posts_table.c.id == post_id, visibility.visible_posts_clause())
            .values(score=posts_table.c.score, updated_at=posts_table.c.updated_at)
            .returning(posts_table.c.id)
        )
        .scalar()
    )
    if locked is None:
        raise NotFound("There is no such post.")
    post = session.get(Post, post_id, populate_existing=True)
    if post is None:
        raise NotFound("There is no such post.")
    if post.author_id == voter.id:
        raise Forbidden("You can't vote on your own post.")
    existing = session.scalar(select(Vote).where(Vote.user_id == voter.id, Vote.post_id == post_id))
    old = existing.value if existing is not None else 0
    new = 0 if old == value else value
    if new == -1 and old != -1:
        posts.require(voter, "downvote", "You need more reputation to vote down.")
    if existing is None:
        session.add(Vote(user_id=voter.id, post_id=post_id, value=new))
    elif new == 0:
        session.delete(existing)
    else:
        existing.value = new
    try:
        session.flush()
    except IntegrityError:
        # Only reachable without the row lock above (it serialises one member's clicks);
        # the caller rolls the transaction back.
        raise Conflict("Your vote clashed with another one; please try again.") from None
    score = session.scalar(
        update(Post)
        .where(Post.id == post_id)
        .values(score=Post.score + (new - old), updated_at=Post.updated_at)
        .returning(Post.score)
        .execution_options(synchronize_session=False)
    )
    assert score is not None
    set_committed_value(post, "score", score)
    events.emit(session, events.VoteCast(post=post, voter=voter, old=old, new=new))
    return VoteOutcome(post_id, score, new)


def cast_on_comment(session: Session, *, voter: User, comment_id: int) -> VoteOutcome:
    """Up-vote a comment, or take the up vote back; first thing in a transaction too."""
    comments_table = cast_table(Comment)
    locked = (
        session.connection()
        .execute(
            update(comments_table)
            .where(
                comments_table.c.id == comment_id,
                comments_table.c.deleted_at.is_(None),
                # The comment's post must be live too (see forum.services.visibility).
                exists(
                    select(Post.id).where(
                        Post.id == comments_table.c.post_id, visibility.visible_posts_clause()
                    )
                ),
            )
            .values(score=comments_table.c.score, updated_at=comments_table.c.updated_at)
            .returning(comments_table.c.id, comments_table.c.author_id)
        )
        .first()
    )
    if locked is None:
        raise NotFound("There is no such comment.")
    comment = session.get(Comment, comment_id, populate_existing=True)
    if comment is None or comment.deleted_at is not None:
        raise NotFound("There is no such comment.")
    if locked.author_id == voter.id or comment.author_id == voter.id:
        raise Forbidden("You can't vote on your own comment.")
    existing = session.scalar(
        select(CommentVote).where(
            CommentVote.user_id == voter.id, CommentVote.comment_id == comment_id
        )
    )
    if existing is None:
        session.add(CommentVote(user_id=voter.id, comment_id=comment_id))
        delta, now = 1, 1
    else:
        session.delete(existing)
        delta, now = -1, 0
    session.flush()
    score = session.scalar(
        update(Comment)
        .where(Comment.id == comment_id)
        .values(score=Comment.score + delta, updated_at=Comment.updated_at)
        .returning(Comment.score)
        .execution_options(synchronize_session=False)
    )
    assert score is not None
    set_committed_value(comment, "score", score)
    return VoteOutcome(comment_id, score, now)


@functools.cache
def _viewer_votes_statement() -> CompoundSelect[int, int, str]:
    """A member's votes on some posts and comments, and which of some posts they follow
    (built once; all inputs are parameters)."""
    voter_id = bindparam("voter_id", type_=Integer)
    on_posts = select(Vote.post_id.label("target"), Vote.value, literal("p").label("kind")).where(
        Vote.user_id == voter_id, Vote.post_id.in_(bindparam("post_ids", expanding=True))
    )
    on_comments = select(
        CommentVote.comment_id.label("target"),
        literal(1).label("value"),
        literal("c").label("kind"),
    ).where(
        CommentVote.user_id == voter_id,
        CommentVote.comment_id.in_(bindparam("comment_ids", expanding=True)),
    )
    followed = select(
        PostFollow.post_id.label("target"), literal(1).label("value"), literal("f").label("kind")
    ).where(
        PostFollow.user_id == voter_id,
        PostFollow.post_id.in_(bindparam("follow_ids", expanding=True)),
    )
    return union_all(on_posts, on_comments, followed)


def viewer_marks(
    session: Session,
    viewer: User | None,
    post_ids: list[int],
    comment_ids: list[int],
    follow_ids: list[int],
) -> tuple[dict[int, int], set[int], set[int]]:
    """The viewer's votes on these posts (id → ±1) and comments (ids), and which of
    ``follow_ids`` they follow, in one query."""
    if viewer is None or not (post_ids or comment_ids or follow_ids):
        return {}, set(), set()
    mine: dict[int, int] = {}
    voted: set[int] = set()
    follows: set[int] = set()
    params = {
        "voter_id": viewer.id,
        "post_ids": post_ids or [-1],
        "comment_ids": comment_ids or [-1],
        "follow_ids": follow_ids or [-1],
    }
    for target, value, kind in session.execute(_viewer_votes_statement(), params):
        if kind == "p":
            mine[int(target)] = int(value)
        elif kind == "c":
            voted.add(int(target))
        else:
            follows.add(int(target))
    return mine, voted, follows


def viewer_votes(
    session: Session, viewer: User | None, post_ids: list[int], comment_ids: list[int]
) -> tuple[dict[int, int], set[int]]:
    """The viewer's votes on these posts (id → ±1) and comments (ids), in one query."""
    mine, voted, _follows = viewer_marks(session, viewer, post_ids, comment_ids, [])
    return mine, voted


def my_votes(session: Session, viewer: User | None, post_ids: list[int]) -> dict[int, int]:
    """The viewer's votes on these posts: post id → -1 or 1 (missing means none)."""
    return viewer_votes(session, viewer, post_ids, [])[0]


def recount(session: Session, post_id: int) -> int:
    """The score a post should have: the sum of its vote rows."""
    return int(
        session.scalar(
            select(func.coalesce(func.sum(Vote.value), 0)).where(Vote.post_id == post_id)
        )
        or 0
    )
