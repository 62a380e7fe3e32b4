"""What every token-authenticated request shares, on the REST API and the MCP server alike:
the token's one rate-limit budget, the rate-limit headers, and recording the token's use."""

from __future__ import annotations

from flask import Response, current_app, g
from sqlalchemy.exc import SQLAlchemyError

from forum.api.core import rate_limit_headers, token_key
from forum.db import new_session
from forum.extensions import limiter
from forum.limits import api_limit
from forum.services import tokens

#: Every operation counts against the token's one budget (shared by every route, and by /mcp).
per_token = limiter.shared_limit(
    api_limit, scope="api", key_func=token_key, override_defaults=False
)

_TOUCH_KEY = "forum.api.touch"


def remember_use(response: Response) -> Response:
    """After a request: note the token's use (written at teardown) and add the limit headers."""
    token = g.get("forum.api.token")
    if token is not None and response.status_code < 500 and tokens.needs_touch(token):
        g.setdefault(_TOUCH_KEY, token.id)
    return rate_limit_headers(response)


def record_use(exc: BaseException | None) -> None:
    """At teardown: write the token's last use, on a session of its own, never failing."""
    token_id = g.pop(_TOUCH_KEY, None)
    if token_id is None or exc is not None:
        return
    # The request's session may still hold SQLite's write lock; close it, write on a new one.
    request_session = g.pop("db_session", None)
    if request_session is not None:
        request_session.close()
    db = new_session(writes=True)
    try:
        tokens.touch(db, token_id)
        db.commit()
    except SQLAlchemyError:
        db.rollback()  # only a last-used time: never an error for it
        current_app.logger.warning("could not record the use of access token %s", token_id)
    finally:
        db.close()
