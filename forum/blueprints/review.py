"""Suggested edits: the suggestion form on others' questions and answers, and the review queue."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request
from flask.typing import ResponseReturnValue
from flask_login import login_required

from forum.db import get_session
from forum.forms.questions import (
    AnswerForm,
    EditQuestionForm,
    SuggestedAnswerEditForm,
    SuggestedQuestionEditForm,
    SuggestionRejectForm,
)
from forum.models import Post, PostKind, SuggestedEdit
from forum.services import posts, suggested_edits
from forum.services.errors import Conflict, Forbidden, NotFound
from forum.services.posts import PostRow
from forum.web import (
    current_member,
    current_viewer,
    form_checks_csrf,
    question_url,
    submit,
    url_for,
)

bp = Blueprint("review", __name__)


@bp.app_template_global()
def suggest_edit_url(post: Post | PostRow) -> str | None:
    """Where the viewer suggests an edit of ``post``, when they may (no query)."""
    if not suggested_edits.can_suggest(current_viewer(), post):
        return None
    return url_for("review.suggest", post_id=post.id)


@bp.app_template_global()
def reviews_suggested_edits() -> bool:
    """Whether the viewer reviews suggested edits (their menu links the queue; no query)."""
    return suggested_edits.can_review(current_viewer())


def _post_page(post: Post) -> str:
    if post.kind is PostKind.ANSWER:
        question = get_session().get(Post, post.parent_id)
        if question is not None:
            return question_url(question) + f"#post-{post.id}"
    return question_url(post)


def _suggestion_form(post: Post) -> EditQuestionForm | AnswerForm:
    if post.kind is PostKind.QUESTION:
        return SuggestedQuestionEditForm()
    return SuggestedAnswerEditForm()


def _render_form(post: Post, form: EditQuestionForm | AnswerForm, message: str = "") -> str:
    return render_template(
        "review/suggest.html", post=post, form=form, back=_post_page(post), message=message
    )


@bp.route("/posts/<int:post_id>/suggest-edit", methods=["GET", "POST"])
@login_required
@form_checks_csrf
def suggest(post_id: int) -> ResponseReturnValue:
    """Suggest an edit of someone else's question or answer; it waits for review."""
    db = get_session()
    member = current_member()
    post = posts.get_post(db, post_id, viewer=member)
    if post.kind not in suggested_edits.KINDS or post.is_deleted:
        raise NotFound("There is no such question or answer.")
    if posts.can_edit(member, post):
        endpoint = "questions.edit" if post.kind is PostKind.QUESTION else "questions.edit_answer"
        key = "question_id" if post.kind is PostKind.QUESTION else "answer_id"
        return redirect(url_for(endpoint, **{key: post.id}))
    form = _suggestion_form(post)
    pending = suggested_edits.pending_for(db, post.id)
    if request.method == "GET":
        if isinstance(form, EditQuestionForm):
            form.title.data = post.title
            form.tags.data = " ".join(t.name for t in post.tags)
        form.body.data = post.body_md
        form.base_revision.data = str(post.revision_count)
        message = "An edit of this post is already waiting for review." if pending else ""
        return _render_form(post, form, message)
    if not form.validate_on_submit():
        return _render_form(post, form), 400
    title = (form.title.data or "") if isinstance(form, EditQuestionForm) else ""
    tags = form.tag_list() if isinstance(form, EditQuestionForm) else []
    try:
        suggestion = submit(
            form,
            lambda: _render_form(post, form),
            suggested_edits.suggest,
            db,
            proposer=member,
            post_id=post.id,
            title=title,
            body_md=form.body.data or "",
            tags=tags,
            summary=form.summary.data or "",
            base_revision=form.base_revision_number(),
        )
    except Conflict as exc:
        db.rollback()
        form.form_errors.append(str(exc))
        return _render_form(post, form), 409
    db.commit()
    flash("Thanks! Your edit waits for review; you will hear when it is decided.", "success")
    return redirect(url_for("review.detail", suggestion_id=suggestion.id))


@bp.get("/review/suggested-edits")
@login_required
def queue() -> ResponseReturnValue:
    """Suggested edits waiting for review, oldest first."""
    db = get_session()
    waiting = suggested_edits.queue(db, reviewer=current_member())
    return render_template(
        "review/queue.html", waiting=waiting, post_page=_post_page, me=current_member()
    )


def _render_detail(suggestion: SuggestedEdit, form: SuggestionRejectForm | None = None) -> str:
    db = get_session()
    member = current_member()
    return render_template(
        "review/detail.html",
        review=suggested_edits.review_of(db, suggestion),
        form=form or SuggestionRejectForm(),
        back=_post_page(suggestion.post),
        may_review=suggested_edits.can_review(member) and member.id != suggestion.proposer_id,
    )


@bp.get("/review/suggested-edits/<int:suggestion_id>")
@login_required
def detail(suggestion_id: int) -> ResponseReturnValue:
    """One suggestion: its summary and a diff from the post as it is; Approve or Reject."""
    suggestion = suggested_edits.get(get_session(), suggestion_id, viewer=current_member())
    return _render_detail(suggestion)


@bp.post("/review/suggested-edits/<int:suggestion_id>/<any(approve, reject):decision>")
@login_required
def decide(suggestion_id: int, decision: str) -> ResponseReturnValue:
    """Approve (apply as a revision) or reject (with a reason) a suggestion."""
    db = get_session()
    member = current_member()
    suggestion = suggested_edits.get(db, suggestion_id, viewer=member)
    if not suggested_edits.can_review(member):
        raise Forbidden("Only members who may edit others' posts review suggested edits.")
    form = SuggestionRejectForm()
    comment = (form.comment.data or "") if decision == "reject" else ""
    try:
        done = submit(
            form,
            lambda: _render_detail(suggestion, form),
            suggested_edits.approve if decision == "approve" else suggested_edits.reject,
            db,
            reviewer=member,
            suggestion_id=suggestion_id,
            comment=comment,
        )
    except Conflict as exc:
        db.rollback()
        flash(str(exc), "error")
        return redirect(url_for("review.detail", suggestion_id=suggestion_id))
    db.commit()
    if done.status == "approved":
        flash("The edit is applied; its author is told.", "success")
    else:
        flash("The suggestion is rejected; its author gets your reason.", "info")
    return redirect(url_for("review.queue"))
