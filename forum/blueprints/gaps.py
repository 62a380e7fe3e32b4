"""Knowledge gaps (/gaps) and tutorial requests (/requests)."""

from __future__ import annotations

import math

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import login_required

from forum.db import get_session
from forum.extensions import limiter
from forum.forms.requests import FulfilForm, TutorialRequestForm
from forum.limits import member_key, post_limit
from forum.models import Post, TutorialRequest
from forum.services import gaps, tutorial_requests
from forum.services.errors import ValidationError
from forum.services.tutorial_requests import Fulfilment
from forum.web import current_member, current_viewer, page_number, submit

bp = Blueprint("gaps", __name__)

PER_PAGE = 20


@bp.app_template_global()
def fulfilled_requests(article: Post) -> list[TutorialRequest]:
    """The tutorial requests an article fulfilled (shown on the article's page)."""
    return tutorial_requests.requests_for_article(get_session(), article)


@bp.get("/gaps")
def index() -> ResponseReturnValue:
    """Tags by need: questions, unanswered share, helpers, searches and requests."""
    db = get_session()
    try:
        department = gaps.parse_department(db, request.args.get("department"))
        days = gaps.parse_period(request.args.get("period"))
    except ValidationError as exc:
        abort(400, " ".join(next(iter(exc.errors.values()))))
    tag = (request.args.get("tag") or "").strip().lower()[:35] or None
    report = gaps.gap_report(db, department=department)
    return render_template(
        "gaps/index.html",
        report=report,
        failures=gaps.search_failures(db, days=days, tag=tag),
        days=days,
        periods=sorted(gaps.PERIODS),
        failure_tag=tag,
    )


@bp.get("/requests")
def requests() -> ResponseReturnValue:
    """Tutorial requests, most +1s first; open or fulfilled."""
    db = get_session()
    try:
        status = tutorial_requests.parse_status(request.args.get("status"))
    except ValidationError as exc:
        abort(400, " ".join(exc.errors["status"]))
    tag = (request.args.get("tag") or "").strip().lower()[:35] or None
    page = page_number()
    rows, total = tutorial_requests.list_requests(
        db, status=status, tag=tag, page=page, per_page=PER_PAGE
    )
    return render_template(
        "requests/index.html",
        requests=rows,
        total=total,
        status=status,
        statuses=list(tutorial_requests.LISTED_STATUSES),
        tag=tag,
        page=page,
        pages=max(1, math.ceil(total / PER_PAGE)),
        supported=tutorial_requests.supported_by(db, current_viewer(), [r.id for r in rows]),
    )


def _render_new(form: TutorialRequestForm, status: int = 200) -> ResponseReturnValue:
    return render_template("requests/new.html", form=form), status


@bp.route("/requests/new", methods=["GET", "POST"])
@login_required
@limiter.limit(post_limit, key_func=member_key, methods=["POST"])
def new_request() -> ResponseReturnValue:
    """Ask for a tutorial."""
    form = TutorialRequestForm()
    if request.method == "GET":
        form.tags.data = request.args.get("tags", "")[:200]
        return _render_new(form)
    if not form.validate_on_submit():
        return _render_new(form, 400)
    db = get_session()
    created = submit(
        form,
        lambda: _render_new(form),
        tutorial_requests.create,
        db,
        requester=current_member(),
        title=form.title.data or "",
        details_md=form.details.data or "",
        tags=form.tag_list(),
    )
    db.commit()
    flash("Your request is posted. Colleagues can +1 it, and authors can pick it up.", "success")
    return redirect(url_for("gaps.request_detail", request_id=created.id))


def _render_detail(
    item: TutorialRequest, form: FulfilForm | None = None, status: int = 200
) -> ResponseReturnValue:
    db = get_session()
    viewer = current_viewer()
    return (
        render_template(
            "requests/detail.html",
            item=item,
            supporters=tutorial_requests.supporters(db, item),
            supported=item.id in tutorial_requests.supported_by(db, viewer, [item.id]),
            form=form or FulfilForm(),
            viewer=viewer,
            may_confirm=tutorial_requests.can_confirm(viewer, item, item.article),
            may_reopen=tutorial_requests.can_reopen(viewer, item),
        ),
        status,
    )


@bp.get("/requests/<int:request_id>")
def request_detail(request_id: int) -> ResponseReturnValue:
    """A request with who wants it and, once fulfilled, the article."""
    return _render_detail(tutorial_requests.get(get_session(), request_id))


@bp.post("/requests/<int:request_id>/plus-one")
@login_required
def plus_one(request_id: int) -> ResponseReturnValue:
    """+1 a colleague's request."""
    db = get_session()
    tutorial_requests.plus_one(db, user=current_member(), request_id=request_id)
    db.commit()
    flash("Thanks: your +1 is counted. You'll hear when the tutorial exists.", "success")
    return redirect(_back(request_id))


@bp.post("/requests/<int:request_id>/plus-one/undo")
@login_required
def undo_plus_one(request_id: int) -> ResponseReturnValue:
    """Take back one's +1."""
    db = get_session()
    tutorial_requests.undo_plus_one(db, user=current_member(), request_id=request_id)
    db.commit()
    flash("Your +1 is taken back.", "success")
    return redirect(_back(request_id))


def _back(request_id: int) -> str:
    """Where to go after a +1: the list it came from (same site only), else the request."""
    target = request.form.get("next", "")
    if target.startswith("/requests") and not target.startswith("//"):
        return target
    return url_for("gaps.request_detail", request_id=request_id)


@bp.post("/requests/<int:request_id>/fulfil")
@login_required
def fulfil(request_id: int) -> ResponseReturnValue:
    """Mark an article as fulfilling the request."""
    db = get_session()
    item = tutorial_requests.get(db, request_id)
    form = FulfilForm()
    if not form.validate_on_submit():
        return _render_detail(item, form, 400)

    def propose() -> tuple[Post, Fulfilment]:
        post = tutorial_requests.resolve_reference(db, form.article.data or "")
        return post, tutorial_requests.fulfil(
            db, actor=current_member(), request_id=item.id, post_id=post.id
        )

    post, done = submit(form, lambda: _render_detail(item, form), propose)
    db.commit()
    if not done.confirmed:
        flash(
            f"“{done.article.title}” is proposed. The requester or a moderator confirms it.",
            "success",
        )
        return redirect(url_for("gaps.request_detail", request_id=item.id))
    current_app.logger.info("tutorial request %s fulfilled by post %s", item.id, post.id)
    flash(
        f"Marked as fulfilled by “{done.article.title}”. "
        f"{done.notified} {'colleague was' if done.notified == 1 else 'colleagues were'} told.",
        "success",
    )
    return redirect(url_for("gaps.request_detail", request_id=item.id))


@bp.post("/requests/<int:request_id>/confirm")
@login_required
def confirm(request_id: int) -> ResponseReturnValue:
    """Confirm the proposed article (requester or moderator)."""
    db = get_session()
    done = tutorial_requests.confirm(db, actor=current_member(), request_id=request_id)
    db.commit()
    current_app.logger.info("tutorial request %s fulfilled by post %s", request_id, done.article.id)
    flash(
        f"Confirmed: “{done.article.title}” fulfils the request. "
        f"{done.notified} {'colleague was' if done.notified == 1 else 'colleagues were'} told.",
        "success",
    )
    return redirect(url_for("gaps.request_detail", request_id=request_id))


@bp.post("/requests/<int:request_id>/reopen")
@login_required
def reopen(request_id: int) -> ResponseReturnValue:
    """Reopen a fulfilled request, or decline a proposed article."""
    db = get_session()
    tutorial_requests.reopen(db, actor=current_member(), request_id=request_id)
    db.commit()
    flash("The request is open again.", "success")
    return redirect(url_for("gaps.request_detail", request_id=request_id))
