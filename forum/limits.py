"""Rate limits of the views: their keys and configured rates (every blueprint takes them here)."""

from __future__ import annotations

from flask import current_app

from forum.extensions import client_address, limiter
from forum.web import current_viewer


def member_key() -> str:
    """Rate-limit key: the member (so colleagues behind one address don't share a budget)."""
    user = current_viewer()
    return f"member:{user.id}" if user is not None else f"address:{client_address()}"


def post_limit() -> str:
    """The configured limit on new questions, answers and tutorial requests, per member."""
    return str(current_app.config["POST_RATE_LIMIT"])


def vote_limit() -> str:
    """The configured limit on votes, per member."""
    return str(current_app.config["VOTE_RATE_LIMIT"])


def comment_limit() -> str:
    """The configured limit on comments, per member."""
    return str(current_app.config["COMMENT_RATE_LIMIT"])


def history_limit() -> str:
    """The configured limit on revision history and diff pages, per client."""
    return str(current_app.config["HISTORY_RATE_LIMIT"])


def preview_limit() -> str:
    """The configured limit on live article previews, per member."""
    return str(current_app.config["PREVIEW_RATE_LIMIT"])


def suggest_limit() -> str:
    """The configured limit on member suggestions while typing an @mention, per member."""
    return str(current_app.config["SUGGEST_RATE_LIMIT"])


def article_limit() -> str:
    """The configured limit on article create and edit submissions, per member."""
    return str(current_app.config["ARTICLE_RATE_LIMIT"])


def upload_limit() -> str:
    """The configured limit on uploaded files, per member."""
    return str(current_app.config["UPLOAD_RATE_LIMIT"])


def search_limit() -> str:
    """The configured limit on searches, per client."""
    return str(current_app.config["SEARCH_RATE_LIMIT"])


#: One budget for every history and diff page (a diff is the costly part of each).
history_limited = limiter.shared_limit(history_limit, scope="history")
#: One budget for creating and editing articles (each render and sanitise the whole text).
article_writes_limited = limiter.shared_limit(
    article_limit, scope="article-writes", key_func=member_key, methods=["POST"]
)


def draft_limit() -> str:
    """The configured limit on draft saves (autosave and the "Save draft" button), per member."""
    return str(current_app.config["DRAFT_RATE_LIMIT"])


def api_limit() -> str:
    """The configured limit on REST API requests, per token."""
    return str(current_app.config["API_RATE_LIMIT"])


# --- budgets the pages and the REST API share ------------------------------------------------
# One counter per member and action, whichever way the member acts: the pages key it by the
# logged-in member (``member_key``), the API by its token's member, both as ``member:<id>``, and
# a shared limit's bucket is its scope and key only (not the route). So a member cannot double
# their rate by alternating the pages and the API.

#: Scopes of the shared budgets.
ASKING = "asking"
ANSWERING = "answering"
VOTING = "voting"
COMMENTING = "commenting"

asking_limited = limiter.shared_limit(
    post_limit, scope=ASKING, key_func=member_key, methods=["POST"]
)
answering_limited = limiter.shared_limit(post_limit, scope=ANSWERING, key_func=member_key)
voting_limited = limiter.shared_limit(vote_limit, scope=VOTING, key_func=member_key)
commenting_limited = limiter.shared_limit(comment_limit, scope=COMMENTING, key_func=member_key)
