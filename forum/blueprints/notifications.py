"""The notification inbox, marking notifications read, and delivery preferences per kind."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import login_required
from werkzeug.routing import BuildError

from forum.db import get_session
from forum.models import Notification
from forum.services import notifications
from forum.services.errors import ValidationError
from forum.web import current_member, page_number

bp = Blueprint("notifications", __name__)

CHANNEL_LABELS = {
    "inbox": "Inbox",
    "email": "Inbox and email digest",
    "off": "Off",
}


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
    """Choose inbox, email or off for each kind of notification."""
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
