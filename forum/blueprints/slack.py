"""Slack slash command: ``/forum search <words>`` and ``/forum ask <title>``.

Slack signs each request with the app's signing secret (``FORUM_SLACK_SIGNING_SECRET``):
``X-Slack-Signature`` is ``v0=`` and the hex HMAC-SHA256 of ``v0:<timestamp>:<body>``; a
request older (or newer) than five minutes is refused so a captured one cannot be replayed.
Without a configured secret the endpoint does not exist (404). Answers are ephemeral: only
the member who typed the command sees them. Search answers list what a visitor of the site
could find, with titles and links only (no authors, so nothing under the anonymous mask).
"""

from __future__ import annotations

import hashlib
import hmac
import time
from typing import Any

from flask import Blueprint, Response, abort, current_app, jsonify, request
from flask.typing import ResponseReturnValue

from forum import search
from forum.db import get_session
from forum.extensions import csrf, limiter
from forum.limits import search_limit
from forum.web import post_url, url_for

bp = Blueprint("slack", __name__, url_prefix="/integrations/slack")
csrf.exempt(bp)

#: How far a request's timestamp may be from now, in seconds.
REPLAY_WINDOW = 5 * 60
#: Results a search answers with.
RESULTS = 5
#: Slack's slash command bodies are small; anything larger is not from Slack.
MAX_BODY = 16 * 1024
USAGE = "Try `/forum search <words>` or `/forum ask <question title>`."


def signature_ok(secret: str, timestamp: str, body: bytes, signature: str, now: float) -> bool:
    """Slack's v0 signature of ``body`` at ``timestamp``, within the replay window."""
    try:
        sent_at = int(timestamp)
    except ValueError:
        return False
    if abs(now - sent_at) > REPLAY_WINDOW:
        return False
    base = b"v0:" + timestamp.encode() + b":" + body
    expected = "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, signature)


def _escape(text: str) -> str:
    """Slack's mrkdwn escapes (its link syntax uses < | >)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _site(path: str) -> str:
    return str(current_app.config["SITE_URL"]).rstrip("/") + path


def _answer(text: str, **extra: Any) -> Response:
    return jsonify({"response_type": "ephemeral", "text": text, **extra})


def _team_key() -> str:
    return "slack:" + request.form.get("team_id", "")[:64]


@bp.before_request
def _verify() -> ResponseReturnValue | None:
    secret = current_app.config.get("SLACK_SIGNING_SECRET")
    if not secret:
        abort(404)
    if (request.content_length or 0) > MAX_BODY:
        abort(413)
    body = request.get_data(cache=True)
    if not signature_ok(
        str(secret),
        request.headers.get("X-Slack-Request-Timestamp", ""),
        body,
        request.headers.get("X-Slack-Signature", ""),
        time.time(),
    ):
        abort(401, "The request is not signed by Slack with this site's secret, or it is stale.")
    return None


@bp.post("/command")
@limiter.limit(search_limit, key_func=_team_key)
def command() -> ResponseReturnValue:
    """Answer ``search <words>`` with the top results, ``ask <title>`` with the ask page."""
    verb, _, rest = request.form.get("text", "").strip().partition(" ")
    rest = rest.strip()
    if verb.lower() == "search" and rest:
        found = search.search(get_session(), rest[:500], per_page=RESULTS, record_zero=False)
        hits = found.results.hits
        if not hits:
            return _answer(f"Nothing found for “{_escape(rest)}”.")
        lines = []
        for hit in hits:
            url = post_url(hit)
            if url is not None:
                lines.append(f"• <{_site(url)}|{_escape(hit.title)}>")
        more = _site(url_for("search.index", q=rest))
        lines.append(f"<{more}|All {found.results.total} results>")
        return _answer(f"Results for “{_escape(rest)}”:\n" + "\n".join(lines))
    if verb.lower() == "ask" and rest:
        link = _site(url_for("questions.ask", title=rest[:300]))
        return _answer(f"<{link}|Ask “{_escape(rest[:300])}” on forum> (the form opens filled in).")
    return _answer(USAGE)
