"""The home page and the health check."""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify, render_template
from flask.typing import ResponseReturnValue
from flask_login import current_user
from sqlalchemy import text

from forum import pagecache
from forum.db import get_session
from forum.extensions import limiter
from forum.search import backend_status
from forum.services import home, questions
from forum.web import current_member

bp = Blueprint("main", __name__)


@bp.get("/")
def index() -> ResponseReturnValue:
    """The front page: a member's day at a glance, or what the forum holds for a visitor."""
    session = get_session()
    if current_user.is_authenticated:
        page = home.member_home(session, current_member(), with_articles=False)
        tagged = False

        def latest_articles() -> str:
            nonlocal tagged
            tagged = True
            articles = home.latest_articles(session, tags_with=page.waiting)
            return render_template("main/_latest_articles.html", articles=articles)

        # The latest articles read the same for every member: kept until the next write.
        latest = pagecache.kept_fragment("main.index:latest-articles", latest_articles)
        if not tagged:
            questions.load_tags(session, page.waiting)
        return render_template("main/member.html", home=page, latest_articles=latest)
    return render_template("main/index.html", overview=home.overview(session))


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
