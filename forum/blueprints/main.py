"""The home page and the health check."""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify, render_template
from flask.typing import ResponseReturnValue
from sqlalchemy import func, select, text

from forum.db import get_session
from forum.extensions import limiter
from forum.models import User
from forum.search import backend_status

bp = Blueprint("main", __name__)


@bp.get("/")
def index() -> ResponseReturnValue:
    """The home page: what forum is for and who is here."""
    session = get_session()
    newest = session.scalars(
        select(User)
        .where(User.is_active.is_(True))
        .order_by(User.created_at.desc(), User.id.desc())
        .limit(8)
    ).all()
    member_count = session.scalar(select(func.count()).select_from(User)) or 0
    return render_template("main/index.html", newest=newest, member_count=member_count)


@bp.get("/healthz")
@limiter.exempt
def healthz() -> ResponseReturnValue:
    """JSON status of the database and the search backend; 503 when either is down."""
    session = get_session()
    try:
        session.execute(text("SELECT 1"))
        database = {"ok": True, "dialect": session.get_bind().dialect.name}
    except Exception as exc:  # noqa: BLE001 - any failure means "down" here
        session.rollback()
        database = {"ok": False, "error": type(exc).__name__}
    search = backend_status(current_app.config)
    ok = database["ok"] and search["ok"]
    body = {"status": "ok" if ok else "degraded", "database": database, "search": search}
    return jsonify(body), 200 if ok else 503
