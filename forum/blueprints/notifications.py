"""The notification inbox, marking notifications read, delivery preferences per kind, following
questions and articles, and the unsubscribe links of emails (no login needed)."""

from __future__ import annotations

from typing import Any

from flask import (
    Blueprint,
    Flask,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_login import login_required
from werkzeug.routing import BuildError

from forum.db import get_session
from forum.delivery import read_unsubscribe_token
from forum.extensions import csrf
from forum.models import Notification, Post
from forum.services import follows, notifications
from forum.services.errors import ValidationError
from forum.web import current_member, current_viewer, page_number, post_url

bp = Blueprint("notifications", __name__)

CHANNEL_LABELS = {
    "inbox": "Inbox",
    "instant": "Inbox and email at once",
    "daily": "Inbox and daily digest",
    "weekly": "Inbox and weekly digest",
    "off": "Off",
}


@bp.app_template_global()
def follows_post(post: Post) -> bool:
    """Whether the signed-in member follows ``post`` (a question or an article)."""
    return follows.is_following(get_session(), current_viewer(), post)


@bp.post("/posts/<int:post_id>/follow")
@login_required
def follow(post_id: int) -> ResponseReturnValue:
    """Follow (``follow=1``) or stop following (``follow=0``) a question or an article."""
    db = get_session()
    member = current_member()
    wanted = request.form.get("follow", "1")
    if wanted not in {"0", "1"}:
        abort(400, "Say follow=1 or follow=0.")
    if wanted == "1":
        post = follows.follow(db, member, post_id)
        message = "You follow this now: new answers, comments and edits reach you."
    else:
        post = follows.followable(db, member, post_id)
        follows.unfollow(db, member, post_id)
        message = "You no longer follow this."
    db.commit()
    flash(message, "success")
    return redirect(post_url(post) or url_for("main.index"))


def _unsubscribe_request(token: str) -> tuple[int, list[str]]:
    app: Flask = current_app._get_current_object()  # type: ignore[attr-defined]
    found = read_unsubscribe_token(app, token)
    if found is None:
        abort(404, "This unsubscribe link is not valid. Choose what is emailed in your settings.")
    return found


@bp.get("/unsubscribe/<token>")
def unsubscribe_page(token: str) -> ResponseReturnValue:
    """What an email's unsubscribe link stops, with the one button that stops it.

    A GET never changes anything: mail scanners open links, people press the button.
    """
    _user_id, kinds = _unsubscribe_request(token)
    return render_template(
        "notifications/unsubscribe.html",
        token=token,
        labels=[notifications.KIND_LABELS[k] for k in kinds if k in notifications.KIND_LABELS],
        done=False,
    )


@bp.post("/unsubscribe/<token>")
@csrf.exempt
def unsubscribe(token: str) -> ResponseReturnValue:
    """Stop emailing the kinds the signed token names (they stay in the inbox).

    No login and no CSRF token: the token, signed with the site's key, is the authority, and
    mail clients post here on their own (RFC 8058 one-click, body
    ``List-Unsubscribe=One-Click``); it changes nothing but those preferences.
    """
    user_id, kinds = _unsubscribe_request(token)
    db = get_session()
    notifications.unsubscribe(db, user_id, kinds)
    db.commit()
    if request.form.get("List-Unsubscribe") == "One-Click":
        return "Unsubscribed.\n", 200, {"Content-Type": "text/plain; charset=utf-8"}
    return render_template(
        "notifications/unsubscribe.html",
        token=token,
        labels=[notifications.KIND_LABELS[k] for k in kinds if k in notifications.KIND_LABELS],
        done=True,
    )


@bp.app_template_global()
def notification_url(notification: Notification) -> str | None:
    """Where a notification leads, or None when that page no longer exists."""
    params: dict[str, Any] = dict(notification.params or {})
    try:
        return url_for(notification.endpoint, **params)
    except (BuildError, ValueError, TypeError):
        return None


@bp.get("/notifications")
@login_required
def inbox() -> ResponseReturnValue:
    """The member's notifications, newest first."""
    page = notifications.inbox(get_session(), current_member(), page=page_number())
    return render_template("notifications/inbox.html", inbox=page)


@bp.post("/notifications/<int:notification_id>/read")
@login_required
def mark_read(notification_id: int) -> ResponseReturnValue:
    """Mark one notification read; with ``open`` set, go on to the page it is about."""
    db = get_session()
    found = notifications.mark_read(db, current_member(), notification_id)
    db.commit()
    if request.form.get("open"):
        target = notification_url(found)
        if target:
            return redirect(target)
    return redirect(_back())


@bp.post("/notifications/read-all")
@login_required
def mark_all_read() -> ResponseReturnValue:
    """Mark every notification read."""
    db = get_session()
    changed = notifications.mark_all_read(db, current_member())
    db.commit()
    if changed:
        flash(f"Marked {changed} {'notification' if changed == 1 else 'notifications'} read.")
    return redirect(_back())


def _back() -> str:
    """The inbox page the form was on (only a page number is taken from the form)."""
    raw = request.form.get("page", "1")
    page = int(raw) if raw.isdigit() and 1 <= int(raw) <= 100_000 else 1
    return url_for("notifications.inbox", page=page) if page > 1 else url_for(".inbox")


@bp.route("/settings/notifications", methods=["GET", "POST"])
@login_required
def settings() -> ResponseReturnValue:
    """Choose inbox, instant email, a daily or weekly digest, or off for each kind."""
    db = get_session()
    member = current_member()
    chosen = notifications.preferences(db, member)
    errors: list[str] = []
    invalid: set[str] = set()
    if request.method == "POST":
        choices = {kind: request.form.get(f"kind-{kind}", "") for kind in notifications.KINDS}
        try:
            notifications.set_preferences(db, member, choices)
        except ValidationError as exc:
            db.rollback()
            errors = exc.messages
            invalid = {k for k, v in choices.items() if v not in notifications.CHANNELS}
            chosen = {
                k: (v if v in notifications.CHANNELS else chosen[k]) for k, v in choices.items()
            }
        else:
            db.commit()
            flash("Your notification settings are saved.", "success")
            return redirect(url_for(".settings"))
    status = 400 if errors else 200
    return (
        render_template(
            "notifications/settings.html",
            chosen=chosen,
            errors=errors,
            invalid=invalid,
            labels=notifications.KIND_LABELS,
            channels=CHANNEL_LABELS,
        ),
        status,
    )
