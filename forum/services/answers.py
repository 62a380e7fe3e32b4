"""Answers: writing, editing with revisions, deleting, and the asker's accepted answer."""

from __future__ import annotations

from sqlalchemy import update
from sqlalchemy.orm import Session

from forum import events
from forum.db import utcnow
from forum.models import Answer, Post, Question, User
from forum.services import audit, posts, revisions, visibility
from forum.services import questions as question_service
from forum.services.errors import Forbidden, NotFound, ValidationError


def _check_body(body_md: str) -> None:
    if not (body_md or "").strip():
        raise ValidationError({"body": ["Write your answer before posting it."]})


def answer(session: Session, *, author: User, question_id: int, body_md: str) -> Answer:
    """Stage an answer to an open question."""
    question = question_service.get(session, question_id, viewer=author)
    if question.is_deleted:
        raise NotFound("There is no such question.")
    if question.closed_at is not None:
        raise ValidationError(
            {"body": ["This question is closed, so it takes no new answers. Your text is kept."]}
        )
    _check_body(body_md)
    new = Answer(
        author=author,
        parent_id=question.id,
        # The anonymous asker stays anonymous in their own thread: pages, search and
        # reputation all honour is_anonymous on the answer too.
        is_anonymous=question.is_anonymous and question.author_id == author.id,
        body_md=body_md,
        body_html=posts.render(body_md, linked=session),
    )
    session.add(new)
    session.execute(
        update(Post)
        .where(Post.id == question.id)
        .values(
            answer_count=Post.answer_count + 1,
            last_activity_at=utcnow(),
            updated_at=Post.updated_at,
        )
        .execution_options(synchronize_session=False)
    )
    revisions.record_revision(session, new, editor=author, summary="Answered")
    session.flush()
    events.emit(session, events.AnswerPosted(answer=new, question=question, author=author))
    return new


def get(session: Session, answer_id: int, *, viewer: User | None = None) -> Answer:
    """An answer by id; removed ones, and those of a removed question, only for the authors
    and moderators (``visibility.can_view``)."""
    found = session.get(Answer, answer_id)
    if found is None or not visibility.can_view(session, viewer, found):
        raise NotFound("There is no such answer.")
    return found


def edit(
    session: Session,
    *,
    editor: User,
    answer_id: int,
    body_md: str,
    summary: str = "",
    base_revision: int | None = None,
    approved_by: User | None = None,
) -> Answer:
    """Save an edit of an answer as a new revision (``approved_by``: see ``questions.edit``)."""
    authority = approved_by or editor
    found = get(session, answer_id, viewer=authority)
    if not posts.can_edit(authority, found):
        raise Forbidden("You can't edit this answer.")
    _check_body(body_md)
    if base_revision is not None and base_revision != found.revision_count:
        raise ValidationError(
            {
                "body": [
                    "Someone saved a newer version while you were editing. Your text is "
                    "below; open the answer again to see their change before saving."
                ]
            }
        )
    found.body_html = posts.render(body_md, linked=session)
    found.body_md = body_md
    approver = None if approved_by is None else posts.actor_label(session, found, approved_by)
    revisions.record_revision(
        session, found, editor=editor, summary=revisions.approved_summary(summary, approver)
    )
    posts.touch(session, found)
    session.flush()
    events.emit(session, events.PostEdited(post=found, editor=editor))
    return found


def delete(session: Session, *, actor: User, answer_id: int) -> Answer:
    """Soft-delete an answer (its author or a moderator)."""
    found = get(session, answer_id, viewer=actor)
    if not found.is_deleted:
        posts.soft_delete(session, actor=actor, post=found)
        audit.record_moderation(
            session,
            actor=actor,
            author_id=found.author_id,
            action="post.delete",
            target_type="post",
            target_id=found.id,
        )
    return found


def undelete(session: Session, *, actor: User, answer_id: int) -> Answer:
    """Restore a deleted answer (moderators)."""
    found = get(session, answer_id, viewer=actor)
    was_deleted = found.is_deleted
    posts.undelete(session, actor=actor, post=found)  # moderators only
    if was_deleted:
        audit.record(
            session, actor=actor, action="post.undelete", target_type="post", target_id=found.id
        )
    return found


def accept(session: Session, *, acceptor: User, answer_id: int) -> Question:
    """The asker accepts an answer; accepting the accepted one again undoes it."""
    found = get(session, answer_id)
    if not visibility.is_live(session, found):
        raise NotFound("There is no such answer.")
    question = session.get(Question, found.parent_id)
    if question is None or question.is_deleted:
        raise NotFound("There is no such question.")
    if question.author_id != acceptor.id:
        raise Forbidden("Only the person who asked can accept an answer.")
    old = question.accepted_answer
    new = None if question.accepted_answer_id == found.id else found
    question.accepted_answer = new
    question.last_activity_at = utcnow()
    events.emit(
        session,
        events.AnswerAccepted(question=question, old_answer=old, new_answer=new, acceptor=acceptor),
    )
    return question
