"""Helpers every kind of post shares: loading, author labels, permissions, deletion."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import update
from sqlalchemy.orm import Session

from forum import events
from forum.db import utcnow
from forum.markdown import MarkdownTooLarge, render_markdown
from forum.models import Answer, Post, PostKind, Question, User
from forum.models.imports import LICENSE_URLS
from forum.services import anonymity, mentions, reputation, visibility, wikilinks
from forum.services.errors import Forbidden, ValidationError

#: How an anonymous question's author appears to everyone (the author included, in lists).
ANONYMOUS_LABEL = "Anonymous colleague"
FORMER_MEMBER_LABEL = "Former member"


# Read-only rows for pages that only show posts. Loading ORM objects costs several times more
# than the statement (identity map, instance state, eager-load bookkeeping); these carry the
# same attribute names, so templates and the helpers below take either.


@dataclass(frozen=True, slots=True)
class AuthorRef:
    """The author of a post or comment as pages name and link them."""

    id: int
    display_name: str
    username: str
    #: False once the member was deactivated (they left): pages mark them a former member.
    is_active: bool = True


@dataclass(frozen=True, slots=True)
class AttributionRow:
    """Where an imported post comes from (``PostAttribution``'s shown fields)."""

    source: str
    site: str
    source_url: str
    author_name: str | None
    author_url: str | None
    license: str
    published_at: dt.datetime

    @property
    def license_url(self) -> str | None:
        """The licence's deed, when it is one we know."""
        return LICENSE_URLS.get(self.license)


@dataclass(frozen=True, slots=True)
class TagRef:
    """A tag as a post's tag list shows it."""

    name: str


@dataclass(frozen=True, slots=True)
class PostRow:
    """A question or answer as the question page shows it (no session, never written)."""

    id: int
    kind: PostKind
    title: str | None
    body_html: str
    author_id: int | None
    score: int
    revision_count: int
    created_at: dt.datetime
    last_activity_at: dt.datetime
    deleted_at: dt.datetime | None
    accepted_answer_id: int | None
    view_count: int
    is_anonymous: bool
    closed_reason: str | None
    closed_at: dt.datetime | None
    close_note: str | None
    duplicate_of_id: int | None
    parent_id: int | None
    #: None when the author's account is gone.
    author: AuthorRef | None
    attribution: AttributionRow | None
    tags: tuple[TagRef, ...] = ()
    #: A question that has (or had) a bounty; the page then loads its bounties.
    has_bounties: bool = False
    #: A suggested edit of the post waits for review.
    has_pending_edit: bool = False

    @property
    def is_deleted(self) -> bool:
        """Soft-deleted posts stay in the table for history and undelete."""
        return self.deleted_at is not None


def can(user: User | None, privilege: str) -> bool:
    """Whether ``user`` has a reputation privilege such as "downvote" or "edit_others"."""
    return reputation.can(user, privilege)


def require(user: User, privilege: str, message: str) -> None:
    """Raise Forbidden with ``message`` unless ``user`` has ``privilege``."""
    if not can(user, privilege):
        raise Forbidden(message)


def render(body_md: str, field: str = "body", *, linked: Session | None = None) -> str:
    """Member Markdown to safe HTML; too large a text is a form error on ``field``.

    With ``linked`` (the session to look them up in), ``[[wiki links]]`` lead to articles and
    ``@mentions`` to members, as in articles.
    """
    try:
        if linked is None:
            return render_markdown(body_md)
        return render_markdown(
            body_md,
            wiki_resolver=wikilinks.resolver(linked),
            mention_resolver=mentions.resolver(linked),
        )
    except MarkdownTooLarge as exc:
        raise ValidationError({field: [str(exc)]}) from None


def member_label(member: User | AuthorRef) -> str:
    """A member's name as pages show it beside their posts: a deactivated member's (someone
    who left) says so. No display name can imitate the mark (``names.SYSTEM_LABELS``)."""
    if member.is_active:
        return member.display_name
    return f"{member.display_name} ({FORMER_MEMBER_LABEL.lower()})"


def author_label(post: Post | PostRow) -> str:
    """The name a page shows for a post's author; anonymous questions never show theirs."""
    if post.is_anonymous:
        return ANONYMOUS_LABEL
    if post.author is None:
        return FORMER_MEMBER_LABEL
    return member_label(post.author)


def actor_label(session: Session, post: Post, member: User) -> str:
    """How pages name ``member`` acting on ``post``: the hidden asker of an anonymous thread
    stays "Anonymous colleague" there."""
    if anonymity.is_masked(session, post, member.id):
        return ANONYMOUS_LABEL
    return member.display_name


def author_username(post: Post | PostRow) -> str | None:
    """The username to link to for a post's author, or None when it must not be shown."""
    if post.is_anonymous or post.author is None:
        return None
    return post.author.username


def get_post(session: Session, post_id: int, *, viewer: User | None = None) -> Post:
    """A post by id as ``viewer`` may see it (``visibility.can_view``); NotFound otherwise."""
    return visibility.get_visible_post(session, post_id, viewer)


def can_see_deleted(viewer: User | None, post: Post | PostRow) -> bool:
    """Deleted posts stay visible to their author and to moderators."""
    return viewer is not None and (viewer.is_moderator or viewer.id == post.author_id)


def can_edit(viewer: User | None, post: Post | PostRow) -> bool:
    """Authors edit their posts; moderators and trusted members edit anyone's."""
    if viewer is None or (post.is_deleted and not viewer.is_moderator):
        return False
    return viewer.id == post.author_id or can(viewer, "edit_others")


def touch(session: Session, post: Post) -> None:
    """Mark activity on a question (directly, or through one of its answers)."""
    question_id = post.parent_id if isinstance(post, Answer) else post.id
    if isinstance(post, Question | Answer) and question_id is not None:
        session.execute(
            update(Post)
            .where(Post.id == question_id)
            .values(last_activity_at=utcnow(), updated_at=Post.updated_at)
            .execution_options(synchronize_session=False)
        )


def require_can_delete(actor: User, post: Post) -> None:
    """Raise Forbidden unless ``actor`` may delete ``post`` (its author or a moderator)."""
    if actor.id != post.author_id and not actor.is_moderator:
        raise Forbidden("Only the author or a moderator can delete this.")


def soft_delete(session: Session, *, actor: User, post: Post) -> None:
    """Hide a post: its author or a moderator may; history and votes stay for undelete."""
    if post.is_deleted:
        return
    require_can_delete(actor, post)
    post.deleted_at = utcnow()
    if isinstance(post, Answer) and post.parent_id is not None:
        session.execute(
            update(Post)
            .where(Post.id == post.parent_id)
            .values(answer_count=Post.answer_count - 1, updated_at=Post.updated_at)
            .execution_options(synchronize_session=False)
        )
        question = session.get(Question, post.parent_id)
        if question is not None and question.accepted_answer_id == post.id:
            question.accepted_answer = None
            events.emit(
                session,
                events.AnswerAccepted(
                    question=question, old_answer=post, new_answer=None, acceptor=actor
                ),
            )
    events.emit(session, events.PostDeleted(post=post, actor=actor))


def undelete(session: Session, *, actor: User, post: Post) -> None:
    """Bring a deleted post back; moderators only."""
    if not actor.is_moderator:
        raise Forbidden("Only moderators can undelete posts.")
    if not post.is_deleted:
        return
    post.deleted_at = None
    if isinstance(post, Answer) and post.parent_id is not None:
        session.execute(
            update(Post)
            .where(Post.id == post.parent_id)
            .values(answer_count=Post.answer_count + 1, updated_at=Post.updated_at)
            .execution_options(synchronize_session=False)
        )
    events.emit(session, events.PostUndeleted(post=post, actor=actor))
