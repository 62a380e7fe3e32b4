"""The search page and the similar-question hints of the ask page."""

from __future__ import annotations

from flask import Blueprint, jsonify, render_template, request, url_for
from flask.typing import ResponseReturnValue

from forum import pagecache, search
from forum.db import get_session
from forum.extensions import limiter
from forum.limits import search_limit
from forum.web import current_viewer, page_number, post_url

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


@bp.get("/search")
@limiter.limit(search_limit)
def index() -> ResponseReturnValue:
    """Results for the query language in ``q``, with facets, snippets and "did you mean"."""
    text = request.args.get("q", "")[:2000]
    sort = request.args.get("sort", "relevance")
    page_no = page_number()
    db = get_session()
    viewer = current_viewer()

    def content() -> tuple[str, bool]:
        page = search.search(
            db,
            text,
            sort=sort,
            page=page_no,
            per_page=PER_PAGE,
            member_id=viewer.id if viewer is not None else None,
        )
        db.commit()  # a member's zero-result query was recorded
        html = render_template(
            "search/_content.html",
            result=page,
            tips=TIPS,
            sorts=search.SORTS,
            ask_url=url_for("questions.ask"),
        )
        # Results read the same for everyone; a search that found nothing is made again each
        # time, so every member's fruitless search is recorded (the knowledge gaps count them),
        # and so is one cut short by the time limit.
        return html, page.results.total > 0 and not page.results.timed_out

    return render_template(
        "search/index.html",
        text=text,
        content=pagecache.kept_fragment(f"{request.full_path}:{PER_PAGE}", content),
    )


@bp.get("/search/similar")
def similar() -> ResponseReturnValue:
    """Up to 5 questions and articles like the ``title`` being typed: JSON for the ask page,
    else HTML."""
    title = request.args.get("title", "")[:300]
    hits = search.similar(get_session(), title, limit=5, kinds=search.ASK_KINDS)
    if request.accept_mimetypes.best == "application/json" or request.args.get("format") == "json":
        return jsonify(
            {
                "results": [
                    {
                        "id": h.id,
                        "kind": h.kind,
                        "title": h.title,
                        "url": post_url(h),
                        "answer_count": h.answer_count,
                        "accepted": h.accepted,
                    }
                    for h in hits
                ]
            }
        )
    return render_template("search/similar.html", hits=hits, title=title)
