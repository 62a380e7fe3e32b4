"""The search page and the similar-question hints of the ask page."""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify, render_template, request, url_for
from flask.typing import ResponseReturnValue
from werkzeug.routing import BuildError

from forum import search
from forum.db import get_session
from forum.search import Hit
from forum.web import page_number

bp = Blueprint("search", __name__)

PER_PAGE = 20
#: What the empty search page teaches.
TIPS = [
    ("kubernetes rollout", "finds posts with every word first, then those with some of them"),
    ('"connection refused"', "an exact phrase"),
    ("vpn -windows", "leaves out posts mentioning windows"),
    ("docker OR podman", "either word"),
    ("tag:python", "posts with a tag"),
    ("user:amara", "posts by a member (anonymous questions never show up)"),
    (
        "is:question is:unanswered",
        "questions still waiting for an answer (also is:answer, is:article, is:tip,"
        " is:tutorial, is:answered, is:accepted)",
    ),
    ("score:>=3", "posts with at least 3 votes"),
    ("created:>2025-01-01", "posts written after a date"),
    ("deploy*", "words starting with deploy (at least 3 letters before the *)"),
]


def post_url(hit: Hit) -> str:
    """Where a result links to (the thread for an answer, at the answer)."""
    try:
        if hit.kind == "article" and hit.slug:
            return url_for("wiki.detail", slug=hit.slug)
        if hit.kind == "answer" and hit.question_id:
            return url_for("questions.detail", question_id=hit.question_id) + f"#post-{hit.id}"
        return url_for("questions.detail", question_id=hit.id)
    except BuildError:
        return "#"


@bp.get("/search")
def index() -> ResponseReturnValue:
    """Results for the query language in ``q``, with facets, snippets and "did you mean"."""
    text = request.args.get("q", "")[:2000]
    sort = request.args.get("sort", "relevance")
    db = get_session()
    page = search.search(db, text, sort=sort, page=page_number(), per_page=PER_PAGE)
    db.commit()  # a zero-result query was recorded
    ask_url = url_for("questions.ask") if "questions.ask" in current_app.view_functions else None
    return render_template(
        "search/index.html",
        result=page,
        tips=TIPS,
        post_url=post_url,
        sorts=search.SORTS,
        ask_url=ask_url,
    )


@bp.get("/search/similar")
def similar() -> ResponseReturnValue:
    """Up to 5 questions like the ``title`` being typed: JSON for the ask page, else HTML."""
    title = request.args.get("title", "")[:300]
    hits = search.similar(get_session(), title, limit=5)
    if request.accept_mimetypes.best == "application/json" or request.args.get("format") == "json":
        return jsonify(
            {
                "results": [
                    {
                        "id": h.id,
                        "title": h.title,
                        "url": post_url(h),
                        "answer_count": h.answer_count,
                        "accepted": h.accepted,
                    }
                    for h in hits
                ]
            }
        )
    return render_template("search/similar.html", hits=hits, title=title, post_url=post_url)
