"""Participation analytics for admins (/admin/analytics)."""

from __future__ import annotations

from flask import Blueprint, abort, render_template, request
from flask.typing import ResponseReturnValue

from forum.db import get_session
from forum.services import analytics
from forum.web import admin_required

bp = Blueprint("analytics", __name__, url_prefix="/admin")


@bp.get("/analytics")
@admin_required
def index() -> ResponseReturnValue:
    """Active members, questions, first-answer times and helpers by week and department."""
    db = get_session()
    department = (request.args.get("department") or "").strip() or None
    choices = analytics.departments(db)
    if department is not None and department not in choices:
        abort(400, "Choose a department from the list.")
    report = analytics.report(db, department=department)
    return render_template(
        "analytics/index.html",
        report=report,
        format_duration=analytics.format_duration,
        anonymous_row=analytics.ANONYMOUS,
    )
