"""People: who knows about a topic (leaderboards join this page later)."""

from __future__ import annotations

from flask import Blueprint, abort, render_template, request
from flask.typing import ResponseReturnValue

from forum.db import get_session
from forum.services import experts, leaderboards
from forum.services.errors import ValidationError

bp = Blueprint("people", __name__, url_prefix="/people")


@bp.get("")
def index() -> ResponseReturnValue:
    """Members ranked by evidence in content matching ``q``."""
    text = request.args.get("q", "").strip()[:500]
    error = None
    found: list[experts.Expert] = []
    try:
        found = experts.find_experts(get_session(), text)
    except ValidationError as exc:
        error = "; ".join(exc.errors.get("q", []))
    boards = None
    if not text:
        # Without a topic the page shows the leaderboards.
        try:
            period = leaderboards.parse_period(request.args.get("period"))
        except ValidationError:
            abort(400, "Choose a period of week, month, quarter or all.")
        boards = leaderboards.leaderboards(
            get_session(),
            period=period,
            department=(request.args.get("department") or "").strip()[:80] or None,
            tag=(request.args.get("tag") or "").strip().lower()[:35] or None,
        )
    return render_template(
        "people/index.html", query=text, experts=found, error=error, boards=boards
    )
