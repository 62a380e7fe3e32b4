"""Drafts: autosave from the writing forms, "Save draft" without JavaScript, "My drafts"."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, jsonify, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import login_required

from forum.db import get_session
from forum.extensions import limiter
from forum.limits import draft_limit, member_key
from forum.models import Draft, Post, PostKind
from forum.security import safe_next
from forum.services import drafts
from forum.services.errors import ValidationError
from forum.web import current_member

bp = Blueprint("drafts", __name__)

#: Largest autosave request accepted (a draft keeps at most drafts.MAX_BODY characters).
MAX_AUTOSAVE_BYTES = 1024 * 1024


def form_url(draft: Draft) -> str:
    """The form a draft belongs to, where it is offered again."""
    if draft.kind == PostKind.QUESTION:
        return url_for("questions.ask")
    if draft.kind == PostKind.ANSWER:
        return url_for("questions.detail", question_id=draft.target_id) + "#answer"
    if draft.target_id:
        article = get_session().get(Post, draft.target_id)
        if article is not None and article.slug:
            return url_for("wiki.edit", slug=article.slug)
    return url_for("wiki.new")


def _target(raw: Any) -> int:
    if isinstance(raw, int) and not isinstance(raw, bool) and 0 <= raw < 2**31:
        return raw
    if isinstance(raw, str) and raw.isdigit() and len(raw) < 10:
        return int(raw)
    raise ValidationError({"target": ["The draft's target must be a post number."]})


def _text(fields: Any) -> drafts.DraftText:
    def value(name: str) -> str:
        raw = fields.get(name, "")
        if raw is None:
            return ""
        if not isinstance(raw, str):
            raise ValidationError({name: ["Must be text."]})
        return raw

    revision = value("base_revision").strip()
    return drafts.DraftText(
        title=value("title"),
        body=value("body"),
        tags=value("tags"),
        article_type=value("article_type"),
        base_revision=int(revision) if revision.isdigit() and len(revision) < 9 else None,
    )


@bp.post("/drafts/autosave")
@login_required
@limiter.limit(draft_limit, key_func=member_key)
def autosave() -> ResponseReturnValue:
    """Keep the form's text as a draft (JSON with an X-CSRFToken header); 204 when kept."""
    if (request.content_length or 0) > MAX_AUTOSAVE_BYTES:
        abort(413)
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        return jsonify(errors={"form": ["Send the draft as a JSON object."]}), 400
    db = get_session()
    try:
        drafts.save(
            db,
            owner=current_member(),
            kind=drafts.parse_kind(str(data.get("kind", ""))),
            target_id=_target(data.get("target", 0)),
            text=_text(data),
        )
    except ValidationError as exc:
        db.rollback()
        return jsonify(errors=exc.errors), 400
    db.commit()
    return "", 204


@bp.post("/drafts/save")
@login_required
@limiter.limit(draft_limit, key_func=member_key)
def save() -> ResponseReturnValue:
    """The "Save draft" button of a writing form: keep the text, then show the form again."""
    db = get_session()
    try:
        draft = drafts.save(
            db,
            owner=current_member(),
            kind=drafts.parse_kind(request.form.get("draft_kind", "")),
            target_id=_target(request.form.get("draft_target", "0")),
            text=_text(request.form),
        )
    except ValidationError as exc:
        db.rollback()
        abort(400, " ".join(exc.messages))
    db.commit()
    if draft is None:
        flash("There was nothing to save yet.", "info")
        return redirect(safe_next(request.form.get("next"), url_for("drafts.index")))
    flash("Your draft is saved. It waits for you in this form and under My drafts.", "success")
    return redirect(form_url(draft))


@bp.get("/drafts")
@login_required
def index() -> ResponseReturnValue:
    """The member's drafts, most recent first."""
    db = get_session()
    mine = drafts.list_for(db, current_member())
    return render_template(
        "drafts/index.html",
        drafts=[(d, form_url(d), drafts.target_title(db, d)) for d in mine],
    )


@bp.post("/drafts/<int:draft_id>/delete")
@login_required
def delete(draft_id: int) -> ResponseReturnValue:
    """Delete one of the member's drafts (404 for anyone else's)."""
    db = get_session()
    drafts.delete_draft(db, draft_id, current_member())
    db.commit()
    flash("The draft is deleted.", "info")
    return redirect(safe_next(request.form.get("next"), url_for("drafts.index")))
