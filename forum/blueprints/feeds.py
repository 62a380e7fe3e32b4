"""Atom feeds: new questions (all, per tag), articles, and a member's public activity.

On a members-only site a feed reader cannot log in: feed addresses carry the member's feed
secret (``?key=``), which pages put in the addresses they link. Without it (or a login) a feed
answers 401. With ``FORUM_PUBLIC_READ`` the plain addresses work for everyone.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, current_app, redirect, request, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy.exc import SQLAlchemyError

from forum import webhooks
from forum.db import get_session, new_session
from forum.errors import render_error
from forum.models import User
from forum.services import accounts, feeds
from forum.services import tags as tag_service
from forum.web import current_viewer

bp = Blueprint("feeds", __name__, url_prefix="/feeds")

NEEDS_KEY = (
    "This feed needs its secret address: copy the feed link from a page of forum while logged in."
)


@bp.before_request
def _member_or_secret() -> Response | None:
    """On a members-only site: a logged-in member, or the secret of an active member."""
    if current_app.config["PUBLIC_READ"] or current_viewer() is not None:
        return None
    if feeds.member_by_feed_token(get_session(), request.args.get("key")) is None:
        response = render_error(401, NEEDS_KEY)
        response.headers["Cache-Control"] = "no-store"
        return response
    return None


def _secret(member_id: int) -> str | None:
    """The member's feed secret, made (in its own short transaction) on first use."""
    known = feeds.existing_feed_token(get_session(), member_id)
    if known is not None:
        return known
    db = new_session(writes=True)
    try:
        member = db.get(User, member_id)
        if member is None:
            return None
        token = feeds.feed_token(db, member)
        db.commit()
        return token
    except SQLAlchemyError:
        db.rollback()
        current_app.logger.warning("could not make a feed secret for member %s", member_id)
        return None
    finally:
        db.close()


@bp.app_template_global()
def feed_url(endpoint: str, **values: Any) -> str:
    """A feed's address for the page's viewer: with their secret on a members-only site."""
    member = current_viewer()
    if not current_app.config["PUBLIC_READ"] and member is not None:
        key = _secret(member.id)
        if key is not None:
            values["key"] = key
    return url_for(endpoint, **values)


def _atom(feed: feeds.Feed) -> Response:
    response = Response(feeds.render(feed), mimetype=feeds.MIME_TYPE)
    response.headers["Content-Type"] = f"{feeds.MIME_TYPE}; charset=utf-8"
    public = current_app.config["PUBLIC_READ"]
    response.headers["Cache-Control"] = "public, max-age=300" if public else "private, max-age=300"
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
        key = request.args.get("key")
        return redirect(url_for("feeds.tag_questions", name=tag.name, key=key), 301)
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
