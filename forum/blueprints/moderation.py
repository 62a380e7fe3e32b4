"""Moderation and safety: the code of conduct, flags, the moderators' queue and the audit log."""

from __future__ import annotations

import math
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import login_required

from forum.db import get_session
from forum.forms.moderation import ConductForm, FlagForm, ModerationActionForm
from forum.models import Comment, Post
from forum.services import close_votes, conduct, moderation, reputation
from forum.services.comments import CommentRow
from forum.services.errors import Conflict, ValidationError
from forum.services.posts import PostRow
from forum.web import (
    admin_required,
    current_member,
    current_viewer,
    moderator_required,
    page_number,
    submit,
)
from forum.web import url_for as cached_url_for

bp = Blueprint("moderation", __name__)

AUDIT_PER_PAGE = 50


def _page_url(target: moderation.Target) -> str:
    url = url_for(target.page_endpoint, **target.page_params)
    return url + (f"#{target.anchor}" if target.anchor else "")


@bp.app_template_global()
def moderation_hidden(obj: Post | Comment | PostRow | CommentRow) -> bool:
    """Whether moderators hid this post or comment (pages show it to moderators with a banner)."""
    if obj.deleted_at is None:
        return False
    return moderation.is_hidden(get_session(), obj)


@bp.app_template_global()
def hidden_for_moderator(obj: Post | Comment | PostRow | CommentRow) -> bool:
    """Whether to show hidden content with a banner: to moderators, when moderators hid it."""
    user = current_viewer()
    return user is not None and user.is_moderator and moderation_hidden(obj)


@bp.app_template_global()
def flag_url(kind: str, obj: Post | Comment | PostRow | CommentRow) -> str | None:
    """Where the logged-in member flags a post or comment; None when they can't."""
    user = current_viewer()
    if user is None or obj.deleted_at is not None or user.id == obj.author_id:
        return None
    # Called for every post and comment on a page: the memoised builder.
    return cached_url_for("moderation.new_flag", target=f"{kind}:{obj.id}")


@bp.app_template_global()
def open_flags_count() -> int:
    """How many flags wait, for the header of moderators' pages (one count, moderators only)."""
    user = current_viewer()
    if user is None or not user.is_moderator:
        return 0
    return moderation.open_flag_count(get_session())


@bp.app_template_global()
def may_vote_close() -> bool:
    """Whether the member has the "vote to close" privilege (no query)."""
    return reputation.can(current_viewer(), "vote_close")


@bp.get("/conduct")
def conduct_page() -> ResponseReturnValue:
    """The code of conduct."""
    return render_template("moderation/conduct.html", conduct=conduct.current(get_session()))


@bp.route("/conduct/edit", methods=["GET", "POST"])
@admin_required
def conduct_edit() -> ResponseReturnValue:
    """Admins change the code of conduct; every version is kept."""
    member = current_member()
    db = get_session()
    form = ConductForm()
    history = conduct.history(db)
    if request.method == "GET":
        form.body.data = conduct.current(db).body_md
        return render_template("moderation/conduct_edit.html", form=form, history=history)
    if not form.validate_on_submit():
        return render_template("moderation/conduct_edit.html", form=form, history=history), 400
    submit(
        form,
        lambda: render_template("moderation/conduct_edit.html", form=form, history=history),
        conduct.edit,
        db,
        editor=member,
        body_md=form.body.data or "",
        summary=form.summary.data or "",
    )
    db.commit()
    flash("The code of conduct is updated.", "success")
    return redirect(url_for("moderation.conduct_page"))


def _flag_target() -> moderation.Target:
    raw = request.form.get("target") if request.method == "POST" else None
    raw = raw or request.args.get("target")
    try:
        kind, target_id = moderation.parse_target(raw)
    except ValidationError:
        abort(400, "Say which post or comment to flag, e.g. target=post:12.")
    return moderation.load_target(get_session(), kind, target_id)


def _render_flag(
    form: FlagForm, target: moderation.Target, status: int = 200
) -> ResponseReturnValue:
    return (
        render_template(
            "moderation/flag.html", form=form, target=target, page_url=_page_url(target)
        ),
        status,
    )


@bp.route("/flags/new", methods=["GET", "POST"])
@login_required
def new_flag() -> ResponseReturnValue:
    """The flag form for ``?target=post:<id>`` or ``comment:<id>``."""
    if request.method == "POST":
        return _submit_flag()
    member = current_member()
    db = get_session()
    target = _flag_target()
    form = FlagForm(target=target.ref)
    try:
        moderation.check_can_flag(db, member, target)
    except Conflict as exc:
        form.form_errors.append(str(exc))
        return _render_flag(form, target, 409)
    return _render_flag(form, target)


@bp.post("/flags")
@login_required
def create_flag() -> ResponseReturnValue:
    """Flag a post or comment for the moderators."""
    return _submit_flag()


def _submit_flag() -> ResponseReturnValue:
    member = current_member()
    db = get_session()
    target = _flag_target()
    form = FlagForm()
    form.target.data = target.ref
    if not form.validate_on_submit():
        return _render_flag(form, target, 400)
    try:
        submit(
            form,
            lambda: _render_flag(form, target),
            moderation.flag,
            db,
            reporter=member,
            target=target.ref,
            reason=form.reason.data or "",
            text=form.text.data or "",
        )
    except Conflict as exc:
        db.rollback()
        form.form_errors.append(str(exc))
        return _render_flag(form, target, 409)
    db.commit()
    flash("Thank you. The moderators will look at it.", "success")
    return redirect(_page_url(target))


def _render_queue(
    errors: dict[int, dict[str, list[str]]] | None = None,
    typed: dict[int, dict[str, str]] | None = None,
    status: int = 200,
) -> ResponseReturnValue:
    items = moderation.queue(get_session(), viewer=current_member())
    return (
        render_template(
            "moderation/queue.html",
            items=items,
            errors=errors or {},
            typed=typed or {},
            page_url=_page_url,
        ),
        status,
    )


@bp.get("/moderation")
@moderator_required
def queue() -> ResponseReturnValue:
    """Open flags grouped by what they concern, with the actions moderators take."""
    return _render_queue()


@bp.post("/moderation/flags/<int:flag_id>/<action>")
@moderator_required
def act(flag_id: int, action: str) -> ResponseReturnValue:
    """Dismiss, edit, hide, delete or warn: resolves every open flag on the target."""
    moderator = current_member()
    if action not in moderation.ACTIONS:
        abort(404, "There is no such moderation action.")
    db = get_session()
    form = ModerationActionForm()
    if not form.validate_on_submit():
        return _queue_errors(flag_id, form.errors, form)
    if action in moderation.DESTRUCTIVE and form.confirmed.data != "yes":
        # Hiding and deleting take a second step: a page that says what happens (no script).
        target = moderation.flagged_target(db, moderator=moderator, flag_id=flag_id)
        return render_template(
            "moderation/confirm.html",
            action=action,
            flag_id=flag_id,
            target=target,
            note=form.note.data or "",
            page_url=_page_url(target),
        )
    outcome = submit(
        form,
        lambda: _queue_errors(flag_id, form.errors, form),
        moderation.act,
        db,
        moderator=moderator,
        flag_id=flag_id,
        action=action,
        note=form.note.data or "",
        warning=form.warning.data or "",
        resolve=bool(form.resolve.data),
    )
    db.commit()
    if action == "edit" and outcome.target.edit_endpoint:
        flash("The flags are resolved. Edit the post; the edit is kept in its history.", "info")
        return redirect(url_for(outcome.target.edit_endpoint, **outcome.target.edit_params))
    warned = "The member has been sent the moderators' note."
    if action == "warn" and not outcome.resolved:
        warned += f" The flags stay open; the {outcome.target.label} stays visible."
    flash(
        {
            "dismiss": "Flags dismissed: no action needed. The flaggers are told it was declined.",
            "hide": f"The {outcome.target.label} is hidden from members.",
            "delete": f"The {outcome.target.label} is deleted.",
            "warn": warned,
        }[action],
        "success",
    )
    return redirect(url_for("moderation.queue"))


def _unhide(kind: str, target_id: int) -> ResponseReturnValue:
    moderator = current_member()
    db = get_session()
    form = ModerationActionForm()
    if not form.validate_on_submit():
        abort(400, f"Keep the note to {moderation.MAX_NOTE} characters.")
    # Not hidden by the moderators (or unknown): the Conflict / NotFound pages say so.
    target = moderation.unhide(
        db, moderator=moderator, kind=kind, target_id=target_id, note=form.note.data or ""
    )
    db.commit()
    flash(f"The {target.label} is visible to members again.", "success")
    return redirect(_page_url(target))


@bp.post("/moderation/comments/<int:comment_id>/unhide")
@moderator_required
def unhide_comment(comment_id: int) -> ResponseReturnValue:
    """Show members a comment the moderators hid (moderators and admins)."""
    return _unhide("comment", comment_id)


@bp.post("/moderation/posts/<int:post_id>/unhide")
@moderator_required
def unhide_post(post_id: int) -> ResponseReturnValue:
    """Show members a question, answer or article the moderators hid (moderators and admins)."""
    return _unhide("post", post_id)


def _queue_errors(flag_id: int, errors: Any, form: ModerationActionForm) -> ResponseReturnValue:
    typed = {flag_id: {"note": form.note.data or "", "warning": form.warning.data or ""}}
    return _render_queue({flag_id: dict(errors)}, typed, 400)


@bp.get("/moderation/audit")
@moderator_required
def audit() -> ResponseReturnValue:
    """Every moderator action, newest first, filtered by action."""
    moderator = current_member()
    db = get_session()
    action = request.args.get("action", "").strip()[:64] or None
    page = page_number()
    entries, total = moderation.audit_log(
        db, viewer=moderator, action=action, page=page, per_page=AUDIT_PER_PAGE
    )
    return render_template(
        "moderation/audit.html",
        entries=entries,
        total=total,
        page=page,
        pages=max(1, math.ceil(total / AUDIT_PER_PAGE)),
        action=action,
        actions=moderation.audit_actions(db),
        labels=moderation.ACTION_LABELS,
    )


@bp.get("/flags/mine")
@login_required
def my_flags() -> ResponseReturnValue:
    """The member's own flags and what the moderators decided about each."""
    return render_template(
        "moderation/my_flags.html",
        flags=moderation.my_flags(get_session(), current_member()),
        reasons=moderation.REASONS,
    )


@bp.get("/moderation/close-votes")
@login_required
def close_votes_queue() -> ResponseReturnValue:
    """Questions with pending close or reopen votes (members with the privilege, moderators)."""
    entries = close_votes.review_queue(get_session(), viewer=current_member())
    return render_template(
        "moderation/close_votes.html", entries=entries, needed=close_votes.needed(get_session())
    )
