"""Who may see a post or a comment: one rule for pages, forms, actions, lists and links.

A removed post (deleted by its author or hidden by the moderators: both set ``deleted_at``)
stays visible to its author and to moderators only. Everything that hangs from a post shares
its fate: the answers of a removed question, and the comments on any removed post or on an
answer of a removed question, are as gone as the post itself.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, bindparam, exists, or_, select, true
from sqlalchemy.orm import Session, aliased

from forum.models import Comment, Post, PostKind, TutorialRequest, User
from forum.services.errors import NotFound


def _sees_removed(viewer: User | None, author_id: int | None) -> bool:
    """Removed posts stay readable for their author and for moderators."""
    return viewer is not None and (viewer.is_moderator or viewer.id == author_id)


def _parent_of(session: Session, post: Any) -> Post | None:
    if post.kind is not PostKind.ANSWER or post.parent_id is None:
        return None
    return session.get(Post, post.parent_id)


def can_view(session: Session, viewer: User | None, post: Any) -> bool:
    """Whether ``viewer`` may see ``post`` (a Post or a PostRow): itself and its question.

    An article's owner sees it removed too (an unpublished draft they keep).
    """
    if post.deleted_at is not None:
        owner_id = getattr(post, "owner_id", None)
        if not (
            _sees_removed(viewer, post.author_id)
            or (owner_id is not None and _sees_removed(viewer, owner_id))
        ):
            return False
    if post.kind is PostKind.ANSWER:
        question = _parent_of(session, post)
        if question is None:
            return False
        if question.deleted_at is not None and not _sees_removed(viewer, question.author_id):
            return False
    return True


def is_live(session: Session, post: Any) -> bool:
    """Whether ``post`` takes part in the forum: neither it nor its question is removed.

    Votes, comments, flags and acceptance need a live post, whoever acts.
    """
    if post.deleted_at is not None:
        return False
    if post.kind is PostKind.ANSWER:
        question = _parent_of(session, post)
        return question is not None and question.deleted_at is None
    return True


def get_visible_post(session: Session, post_id: int, viewer: User | None) -> Post:
    """A post ``viewer`` may see; NotFound (never Forbidden) otherwise, so nothing leaks."""
    post = session.get(Post, post_id)
    if post is None or not can_view(session, viewer, post):
        raise NotFound("There is no such post.")
    return post


def get_live_post(session: Session, post_id: int) -> Post:
    """A live post (see ``is_live``) for an action on it; NotFound otherwise."""
    post = session.get(Post, post_id)
    if post is None or not is_live(session, post):
        raise NotFound("There is no such post.")
    return post


def get_live_comment(session: Session, comment_id: int) -> Comment:
    """A comment that is not deleted, on a live post; NotFound otherwise."""
    comment = session.get(Comment, comment_id)
    if comment is None or comment.deleted_at is not None or not is_live(session, comment.post):
        raise NotFound("There is no such comment.")
    return comment


def visible_posts_clause(viewer: User | None = None, post: Any = Post) -> ColumnElement[bool]:
    """The SQL form of ``can_view`` for list statements over ``post`` (Post or an alias).

    Without a viewer it is the public rule (neither the post nor its question removed), the
    one lists use that never show removed posts; moderators see everything.
    """
    if viewer is not None and viewer.is_moderator:
        return true()
    if viewer is None and post is Post:
        return _public_posts_clause()
    return _visible_clause(viewer.id if viewer is not None else None, post)


@functools.cache
def _public_posts_clause() -> ColumnElement[bool]:
    """The public rule over Post, built once (building it, with its alias, costs milliseconds)."""
    return _visible_clause(None, Post)


def _visible_clause(author_id: Any, post: Any) -> ColumnElement[bool]:
    """The visibility rule over ``post`` for the member ``author_id`` (an id or a bound
    parameter; None: the public rule), built afresh."""
    question = aliased(Post, name="visible_question")

    def shown(target: Any) -> ColumnElement[bool]:
        live: ColumnElement[bool] = target.deleted_at.is_(None)
        if author_id is None:
            return live
        return or_(live, target.author_id == author_id)

    return and_(
        shown(post),
        or_(
            post.parent_id.is_(None),
            exists(select(question.id).where(question.id == post.parent_id, shown(question))),
        ),
    )


def visible_post_ids(session: Session, viewer: User | None, post_ids: set[int]) -> set[int]:
    """Which of ``post_ids`` ``viewer`` may see, in one query."""
    if not post_ids:
        return set()
    wanted = {"ids": sorted(post_ids)}
    if viewer is None:
        return set(session.scalars(_visible_ids_statement(public=True), wanted))
    if viewer.is_moderator:
        return set(session.scalars(_existing_ids_statement(), wanted))
    return set(
        session.scalars(_visible_ids_statement(public=False), {**wanted, "viewer_id": viewer.id})
    )


@functools.cache
def _visible_ids_statement(*, public: bool) -> Select[int]:
    """Which of the posts ``ids`` the public (or the member ``viewer_id``) may see: built once
    per process, with the ids and the member as parameters."""
    rule = _public_posts_clause() if public else _visible_clause(bindparam("viewer_id"), Post)
    return select(Post.id).where(Post.id.in_(bindparam("ids", expanding=True)), rule)


@functools.cache
def _existing_ids_statement() -> Select[int]:
    """Which of the posts ``ids`` exist (moderators see removed posts too)."""
    return select(Post.id).where(Post.id.in_(bindparam("ids", expanding=True)))


def _notification_targets(
    notification: Any,
) -> tuple[list[int], str | None, int | None, int | None]:
    """What a notification names: (post ids, article slug, comment id, tutorial request id)."""
    params = notification.params or {}
    post_ids: list[int] = []
    slug: str | None = None
    request_id: int | None = None
    if notification.endpoint == "gaps.request_detail":
        # "<article> fulfils the tutorial request <title>": it names the article.
        raw = params.get("request_id")
        request_id = raw if isinstance(raw, int) else None
    elif notification.endpoint == "questions.detail":
        question_id = params.get("question_id")
        if isinstance(question_id, int):
            post_ids.append(question_id)
    elif notification.endpoint == "wiki.detail" and isinstance(params.get("slug"), str):
        slug = params["slug"]
    anchor = params.get("_anchor")
    comment_id: int | None = None
    if isinstance(anchor, str):
        kind, _, number = anchor.partition("-")
        if number.isdigit() and kind == "post":
            post_ids.append(int(number))
        elif number.isdigit() and kind == "comment":
            comment_id = int(number)
    return post_ids, slug, comment_id, request_id


def removed_notifications(session: Session, viewer: User, notifications: Sequence[Any]) -> set[int]:
    """Ids of ``viewer``'s notifications about a post or comment they may no longer see.

    Their text names the post (a question's title), so pages show a neutral line instead.
    """
    targets = {n.id: _notification_targets(n) for n in notifications}
    slugs = {t[1] for t in targets.values() if t[1]}
    comment_ids = {t[2] for t in targets.values() if t[2] is not None}
    request_ids = {t[3] for t in targets.values() if t[3] is not None}
    by_slug: dict[str, int] = {}
    if slugs:
        by_slug = {
            str(slug): int(post_id)
            for slug, post_id in session.execute(
                select(Post.slug, Post.id).where(Post.slug.in_(sorted(slugs)))
            )
        }
    comments: dict[int, int] = {}
    if comment_ids:
        comments = {
            int(comment_id): int(post_id)
            for comment_id, post_id in session.execute(
                select(Comment.id, Comment.post_id).where(Comment.id.in_(sorted(comment_ids)))
            )
        }
    articles: dict[int, int] = {}
    if request_ids:
        articles = {
            int(request_id): int(article_id or 0)
            for request_id, article_id in session.execute(
                select(TutorialRequest.id, TutorialRequest.article_id).where(
                    TutorialRequest.id.in_(sorted(request_ids)),
                    TutorialRequest.article_id.is_not(None),
                )
            )
        }
    wanted: set[int] = set(by_slug.values()) | set(comments.values()) | set(articles.values())
    for target in targets.values():
        wanted.update(target[0])
    shown = visible_post_ids(session, viewer, wanted)
    removed: set[int] = set()
    for notification_id, (post_ids, slug, comment_id, request_id) in targets.items():
        needed = list(post_ids)
        if request_id is not None and request_id in articles:
            needed.append(articles[request_id])
        if slug is not None and slug in by_slug:
            needed.append(by_slug[slug])
        if comment_id is not None and comment_id in comments:
            needed.append(comments[comment_id])
        if any(post_id not in shown for post_id in needed):
            removed.add(notification_id)
    return removed
