"""Suggested edits: members below the "edit others' posts" threshold propose changes to others'
questions and answers; members at or above it, and moderators, approve or reject them.

The post is unchanged until an approval applies the edit through the same services as a direct
edit (``questions.edit``, ``answers.edit``), so a revision names the proposer (and notes the
approver), and the search index and events follow as for any edit. A post holds at most one
pending suggestion; an edit saved directly meanwhile supersedes it. Articles are a wiki that
every member edits directly, so they take no suggestions.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, joinedload

from forum import events
from forum.db import utcnow
from forum.models import Post, PostKind, SuggestedEdit, User
from forum.services import answers, audit, posts, reputation, revisions, visibility
from forum.services import questions as question_service
from forum.services.errors import Conflict, Forbidden, NotFound, ValidationError
from forum.services.text import single_line_errors

PRIVILEGE = "edit_others"
SUMMARY_MAX = 300
COMMENT_MAX = 500
#: The posts that take suggestions (articles are edited directly by everyone).
KINDS = (PostKind.QUESTION, PostKind.ANSWER)


def can_review(user: User | None) -> bool:
    """Members at or above the "edit others' posts" threshold, and moderators, review."""
    return reputation.can(user, PRIVILEGE)


def can_suggest(user: User | None, post: Post | posts.PostRow) -> bool:
    """A member who may not edit ``post`` directly may suggest an edit of a live question or
    answer."""
    if user is None or not getattr(user, "is_authenticated", False) or post.is_deleted:
        return False
    return post.kind in KINDS and not posts.can_edit(user, post)


def pending_for(session: Session, post_id: int) -> SuggestedEdit | None:
    """The pending suggestion of a post, if any."""
    return session.scalar(
        select(SuggestedEdit).where(
            SuggestedEdit.post_id == post_id, SuggestedEdit.status == "pending"
        )
    )


def _validate(post: Post, title: str, body_md: str, tags: list[str], summary: str) -> None:
    if post.kind is PostKind.QUESTION:
        errors = question_service.validate(title, body_md, tags)
    else:
        errors = {} if (body_md or "").strip() else {"body": ["The answer can't be empty."]}
    summary = (summary or "").strip()
    if not summary:
        errors.setdefault("summary", []).append(
            "Say what your edit changes and why: reviewers read this first."
        )
    elif len(summary) > SUMMARY_MAX:
        errors.setdefault("summary", []).append(f"Keep the summary under {SUMMARY_MAX} characters.")
    else:
        for problem in single_line_errors(summary):
            errors.setdefault("summary", []).append(problem)
    if errors:
        raise ValidationError(errors)


def suggest(
    session: Session,
    *,
    proposer: User,
    post_id: int,
    title: str,
    body_md: str,
    tags: list[str],
    summary: str,
    base_revision: int | None = None,
) -> SuggestedEdit:
    """Stage a suggested edit of someone else's question or answer; the post stays as it is."""
    post = posts.get_post(session, post_id, viewer=proposer)
    if post.kind not in KINDS or post.is_deleted:
        raise NotFound("There is no such question or answer.")
    if posts.can_edit(proposer, post):
        raise Forbidden("You can edit this post directly.")
    base = post.revision_count if base_revision is None else base_revision
    _validate(post, title, body_md, tags, summary)
    if pending_for(session, post.id) is not None:
        raise Conflict(
            "An edit of this post is already waiting for review. Once it is reviewed you can "
            "suggest yours; your text is below."
        )
    if base != post.revision_count:
        raise Conflict(
            "Someone saved a newer version while you were editing. Your text is below; open "
            "the post again to see their change before suggesting yours."
        )
    suggestion = SuggestedEdit(
        post_id=post.id,
        proposer_id=proposer.id,
        title=title.strip() if post.kind is PostKind.QUESTION else None,
        body_md=body_md,
        tags_text=" ".join(tags) if post.kind is PostKind.QUESTION else "",
        summary=summary.strip(),
        base_revision=base,
        created_at=utcnow(),
    )
    session.add(suggestion)
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError:
        # Another member's suggestion was saved in between (the one-pending index).
        raise Conflict(
            "An edit of this post is already waiting for review. Your text is below."
        ) from None
    return suggestion


def get(session: Session, suggestion_id: int, *, viewer: User) -> SuggestedEdit:
    """A suggestion its proposer or a reviewer may see (on a post they may see)."""
    found = session.get(SuggestedEdit, suggestion_id)
    if found is None or not visibility.can_view(session, viewer, found.post):
        raise NotFound("There is no such suggested edit.")
    if viewer.id != found.proposer_id and not can_review(viewer):
        raise Forbidden(reputation.explain(viewer, PRIVILEGE))
    return found


def queue(session: Session, *, reviewer: User, limit: int = 50) -> list[SuggestedEdit]:
    """Pending suggestions, oldest first, for a reviewer."""
    if not can_review(reviewer):
        raise Forbidden(reputation.explain(reviewer, PRIVILEGE))
    found = session.scalars(
        select(SuggestedEdit)
        .options(joinedload(SuggestedEdit.post), joinedload(SuggestedEdit.proposer))
        .where(SuggestedEdit.status == "pending")
        .order_by(SuggestedEdit.created_at, SuggestedEdit.id)
        .limit(limit)
    )
    return [s for s in found if visibility.can_view(session, reviewer, s.post)]


@dataclass(frozen=True)
class Review:
    """A suggestion as the review page shows it: the diff against the post's current text."""

    suggestion: SuggestedEdit
    question: Post
    diff: revisions.Diff
    stale: bool
    #: Who decided, as the proposer may read it (None while pending).
    reviewer_label: str | None


def _question_of(session: Session, post: Post) -> Post:
    if post.kind is PostKind.ANSWER and post.parent_id is not None:
        parent = session.get(Post, post.parent_id)
        if parent is not None:
            return parent
    return post


def _text(title: str | None, body_md: str, tags_text: str) -> str:
    """As ``revisions.question_revision_text`` shows a revision."""
    return f"{title or ''}\n\n{body_md}\n\nTags: {tags_text}"


def review_of(session: Session, suggestion: SuggestedEdit) -> Review:
    """The suggestion with an inline diff from the post as it is now."""
    post = suggestion.post
    current = _text(post.title, post.body_md, " ".join(t.name for t in post.tags))
    proposed_title = suggestion.title if post.kind is PostKind.QUESTION else post.title
    proposed_tags = (
        suggestion.tags_text
        if post.kind is PostKind.QUESTION
        else " ".join(t.name for t in post.tags)
    )
    diff = revisions.diff_texts(current, _text(proposed_title, suggestion.body_md, proposed_tags))
    reviewer = suggestion.reviewer
    return Review(
        suggestion=suggestion,
        question=_question_of(session, post),
        diff=diff,
        stale=post.revision_count != suggestion.base_revision,
        reviewer_label=None if reviewer is None else posts.actor_label(session, post, reviewer),
    )


def _pending_for_review(session: Session, suggestion_id: int, reviewer: User) -> SuggestedEdit:
    suggestion = get(session, suggestion_id, viewer=reviewer)
    if not can_review(reviewer):
        raise Forbidden(reputation.explain(reviewer, PRIVILEGE))
    if suggestion.proposer_id == reviewer.id:
        raise Forbidden("You can't review your own suggested edit.")
    if suggestion.status != "pending":
        raise Conflict(f"This suggested edit was already {suggestion.status}.")
    return suggestion


def _decide(
    session: Session, suggestion: SuggestedEdit, reviewer: User, status: str, comment: str
) -> None:
    suggestion.status = status
    suggestion.reviewer_id = reviewer.id
    suggestion.review_comment = comment
    suggestion.reviewed_at = utcnow()
    audit.record(
        session,
        actor=reviewer,
        action=f"suggested_edit.{'approve' if status == 'approved' else 'reject'}",
        target_type="post",
        target_id=suggestion.post_id,
        reason=comment,
    )
    session.flush()


def approve(
    session: Session, *, reviewer: User, suggestion_id: int, comment: str = ""
) -> SuggestedEdit:
    """Apply a pending suggestion as a revision by its proposer, noting the approver.

    Refused when the post changed since the suggestion was written: nothing is overwritten.
    """
    suggestion = _pending_for_review(session, suggestion_id, reviewer)
    post = suggestion.post
    if post.is_deleted:
        raise Conflict("The post was deleted; reject the suggestion instead.")
    if post.revision_count != suggestion.base_revision:
        raise Conflict(
            "The post was edited after this suggestion was written, so approving it would "
            "overwrite that edit. Reject it with a note; the member can suggest again."
        )
    comment = " ".join((comment or "").split())[:COMMENT_MAX]
    # Decided before the edit is applied, so the edit does not supersede it.
    _decide(session, suggestion, reviewer, "approved", comment)
    proposer = suggestion.proposer
    if post.kind is PostKind.QUESTION:
        question_service.edit(
            session,
            editor=proposer,
            question_id=post.id,
            title=suggestion.title or "",
            body_md=suggestion.body_md,
            tags=suggestion.tag_list,
            summary=suggestion.summary,
            base_revision=suggestion.base_revision,
            approved_by=reviewer,
        )
    else:
        answers.edit(
            session,
            editor=proposer,
            answer_id=post.id,
            body_md=suggestion.body_md,
            summary=suggestion.summary,
            base_revision=suggestion.base_revision,
            approved_by=reviewer,
        )
    suggestion.revision_number = post.revision_count
    session.flush()
    events.emit(
        session,
        events.SuggestedEditReviewed(suggestion=suggestion, reviewer=reviewer, approved=True),
    )
    return suggestion


def reject(session: Session, *, reviewer: User, suggestion_id: int, comment: str) -> SuggestedEdit:
    """Turn a pending suggestion down with a reason the proposer reads."""
    suggestion = _pending_for_review(session, suggestion_id, reviewer)
    comment = " ".join((comment or "").split())
    if not comment:
        raise ValidationError({"comment": ["Tell the member why, so their next edit lands."]})
    if len(comment) > COMMENT_MAX:
        raise ValidationError({"comment": [f"Keep the reason under {COMMENT_MAX} characters."]})
    _decide(session, suggestion, reviewer, "rejected", comment)
    events.emit(
        session,
        events.SuggestedEditReviewed(suggestion=suggestion, reviewer=reviewer, approved=False),
    )
    return suggestion


# --- subscribers ------------------------------------------------------------------------------


def subscribe(bus: events.EventBus) -> None:
    """An edit saved directly supersedes the post's pending suggestion (critical: one state)."""
    bus.subscribe(events.PostEdited, supersede_pending, critical=True)


def supersede_pending(session: Session, event: events.PostEdited) -> None:
    """A post edited directly: its pending suggestion was written against an older version."""
    pending = pending_for(session, event.post.id)
    if pending is not None:
        pending.status = "superseded"
        pending.reviewed_at = utcnow()
        session.flush()
