"""Atom feeds: new questions (all, per tag), articles, and a member's public activity."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, redirect, url_for
from flask.typing import ResponseReturnValue

from forum import webhooks
from forum.db import get_session
from forum.services import accounts, feeds
from forum.services import tags as tag_service

bp = Blueprint("feeds", __name__, url_prefix="/feeds")


def _atom(feed: feeds.Feed) -> Response:
    response = Response(feeds.render(feed), mimetype=feeds.MIME_TYPE)
    response.headers["Content-Type"] = f"{feeds.MIME_TYPE}; charset=utf-8"
    response.headers["Cache-Control"] = "public, max-age=300"
    return response


def _links() -> feeds.Links:
    return webhooks.links(current_app)


@bp.get("/questions.atom")
def questions() -> ResponseReturnValue:
    """The newest questions."""
    return _atom(feeds.questions_feed(get_session(), _links()))


@bp.get("/tags/<name>.atom")
def tag_questions(name: str) -> ResponseReturnValue:
    """The newest questions of one tag (a synonym redirects to its tag's feed)."""
    tag = tag_service.get_tag(get_session(), name)
    if tag.name != name:
        return redirect(url_for("feeds.tag_questions", name=tag.name), 301)
    return _atom(feeds.questions_feed(get_session(), _links(), tag))


@bp.get("/articles.atom")
def articles() -> ResponseReturnValue:
    """The newest tips and tutorials."""
    return _atom(feeds.articles_feed(get_session(), _links()))


@bp.get("/users/<username>.atom")
def member(username: str) -> ResponseReturnValue:
    """A member's latest public posts."""
    db = get_session()
    return _atom(feeds.member_feed(db, _links(), accounts.get_by_username(db, username)))
