"""Votes and comments on any post: questions, answers and articles."""

from __future__ import annotations

from flask import (
    Blueprint,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_login import login_required

from forum.db import get_session
from forum.extensions import limiter
from forum.forms.questions import CommentForm
from forum.limits import commenting_limited, member_key, vote_limit, voting_limited
from forum.models import Answer, Post
from forum.security import safe_next
from forum.services import comments, posts, visibility, votes
from forum.services.errors import Forbidden, ValidationError
from forum.web import current_member, current_viewer, form_checks_csrf, question_url, submit

bp = Blueprint("posts", __name__)


@bp.app_template_global()
def post_visible(post: Post | None) -> bool:
    """Whether the viewer may see ``post`` (pages that name a linked post ask first)."""
    return post is not None and visibility.can_view(get_session(), current_viewer(), post)


def _wants_json() -> bool:
    accept = request.accept_mimetypes
    return accept["application/json"] > accept["text/html"]


def _post_page(post: Post) -> str:
    """Where a post is shown: the question page for questions and answers, else home."""
    if isinstance(post, Answer):
        question = get_session().get(Post, post.parent_id)
        if question is not None:
            return question_url(question) + f"#post-{post.id}"
    if post.kind.value == "question":
        return question_url(post)
    if post.slug:
        return url_for("wiki.detail", slug=post.slug)
    return "/"


def _back(default: str) -> str:
    return safe_next(request.form.get("next") or request.args.get("next"), default)


@bp.post("/posts/<int:post_id>/vote")
@login_required
@voting_limited
def vote(post_id: int) -> ResponseReturnValue:
    """Vote a post up (value=1) or down (value=-1); the same value again undoes the vote."""
    db = get_session()
    voter = current_member()
    # The vote must open its own transaction (see forum.services.votes): end the read one
    # the login check started.
    db.commit()
    try:
        value = votes.parse_value(request.form.get("value"))
        outcome = votes.cast(db, voter=voter, post_id=post_id, value=value)
    except ValidationError as exc:
        db.rollback()
        if _wants_json():
            return jsonify(error="Bad request", message=str(exc), status=400), 400
        flash("A vote is up or down.", "error")
        return redirect(_back("/")), 303
    db.commit()
    if _wants_json():
        return jsonify(post_id=post_id, score=outcome.score, my_vote=outcome.my_vote)
    flash(
        {1: "Voted up.", -1: "Voted down.", 0: "Your vote is withdrawn."}[outcome.my_vote],
        "success",
    )
    post = db.get(Post, post_id)
    return redirect(_back(_post_page(post) if post is not None else "/"), 303)


@bp.post("/comments/<int:comment_id>/vote")
@login_required
@limiter.limit(vote_limit, key_func=member_key)
def comment_vote(comment_id: int) -> ResponseReturnValue:
    """Up-vote a comment, or take the vote back."""
    db = get_session()
    voter = current_member()
    db.commit()
    outcome = votes.cast_on_comment(db, voter=voter, comment_id=comment_id)
    db.commit()
    if _wants_json():
        return jsonify(comment_id=comment_id, score=outcome.score, my_vote=outcome.my_vote)
    return redirect(_back("/"), 303)


@bp.post("/posts/<int:post_id>/comments")
@login_required
@commenting_limited
@form_checks_csrf
def add_comment(post_id: int) -> ResponseReturnValue:
    """Comment on a post, or reply to a comment (field parent_id)."""
    db = get_session()
    raw_parent = request.form.get("parent_id") or ""
    parent_id = int(raw_parent) if raw_parent.isdigit() and len(raw_parent) < 10 else None
    body = request.form.get("body") or ""
    form = CommentForm()

    def page() -> str:
        post = posts.get_post(db, post_id)
        return render_template(
            "questions/comment.html",
            form=form,
            post=post,
            back=_back(_post_page(post)),
            action="add",
            parent_id=parent_id,
        )

    if form.csrf_refused():
        return page(), 400
    comment = submit(
        form,
        page,
        comments.add,
        db,
        author=current_member(),
        post_id=post_id,
        body=body,
        parent_id=parent_id,
    )
    db.commit()
    flash("Your comment is posted.", "success")
    return redirect(_back(_post_page(comment.post)).split("#")[0] + f"#comment-{comment.id}")


@bp.route("/comments/<int:comment_id>/edit", methods=["GET", "POST"])
@login_required
@form_checks_csrf
def edit_comment(comment_id: int) -> ResponseReturnValue:
    """Edit one's comment within ten minutes of posting it."""
    db = get_session()
    comment = comments.get(db, comment_id)
    member = current_member()
    if not comments.can_edit(member, comment):
        raise Forbidden("Only the author can edit a comment, for 10 minutes after posting it.")
    form = CommentForm()
    back = _back(_post_page(comment.post))
    if request.method == "GET":
        form.body.data = comment.body_md
        return render_template(
            "questions/comment.html",
            form=form,
            post=comment.post,
            comment=comment,
            back=back,
            action="edit",
        )
    if form.csrf_refused():
        return render_template(
            "questions/comment.html",
            form=form,
            post=comment.post,
            comment=comment,
            back=back,
            action="edit",
        ), 400
    submit(
        form,
        lambda: render_template(
            "questions/comment.html",
            form=form,
            post=comment.post,
            comment=comment,
            back=back,
            action="edit",
        ),
        comments.edit,
        db,
        editor=member,
        comment_id=comment_id,
        body=form.body.data or "",
    )
    db.commit()
    flash("Your comment is updated.", "success")
    return redirect(back.split("#")[0] + f"#comment-{comment_id}")


@bp.route("/comments/<int:comment_id>/delete", methods=["GET", "POST"])
@login_required
def delete_comment(comment_id: int) -> ResponseReturnValue:
    """Delete a comment (its author or a moderator), after a confirmation page."""
    db = get_session()
    member = current_member()
    if request.method == "GET":
        comment = comments.get(db, comment_id)
        if not comments.can_delete(member, comment):
            raise Forbidden("Only the author or a moderator can delete this comment.")
        back = _back(_post_page(comment.post))
        excerpt = " ".join(comment.body_md.split())
        return render_template(
            "questions/delete.html",
            what="comment",
            title=excerpt if len(excerpt) <= 120 else excerpt[:119] + "…",
            action=url_for("posts.delete_comment", comment_id=comment.id),
            back=back,
            next=back,
            own=member.id == comment.author_id,
        )
    comment = comments.delete(db, actor=member, comment_id=comment_id)
    db.commit()
    flash("The comment is deleted.", "info")
    return redirect(_back(_post_page(comment.post)))
