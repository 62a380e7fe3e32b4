"""Error pages in the site layout, and the mapping from service errors to status codes."""

from __future__ import annotations

from flask import Flask, Response, current_app, jsonify, make_response, render_template, request
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from werkzeug.exceptions import HTTPException, InternalServerError, MethodNotAllowed

from forum.db import get_session
from forum.services.errors import Conflict, Forbidden, NotFound

MESSAGES = {
    400: ("Bad request", "The request could not be understood. Please go back and try again."),
    401: ("Log in first", "Log in to see this."),
    403: ("Not allowed", "You don't have permission to do that."),
    404: ("Page not found", "There is nothing here. It may have been moved or deleted."),
    405: ("Method not allowed", "This address does not accept that kind of request."),
    409: ("Conflict", "That clashes with a change someone else just made."),
    413: ("Too large", "What you sent is larger than forum accepts."),
    429: (
        "Slow down",
        "Too many attempts in a short time. Please wait a few minutes and try again.",
    ),
    500: ("Something went wrong", "An unexpected error happened on our side. It has been logged."),
    503: ("Busy", "forum is busier than it can handle right now. Please try again in a moment."),
}
#: Where the REST API answers with problem documents.
API_PREFIX = "/api/v1"
#: Seconds a client is asked to wait after a 503 (the database was busy).
BUSY_RETRY_AFTER = 2


def _wants_json() -> bool:
    if request.is_json or request.path.startswith("/api/") or request.path == "/healthz":
        return True
    accept = request.accept_mimetypes
    return accept["application/json"] > accept["text/html"]


def render_error(status: int, detail: str | None = None) -> Response:
    """An error page (or JSON for API clients) with ``status``.

    Under /api/v1 it is a problem document (RFC 9457), whatever went wrong.
    """
    if request.path == API_PREFIX or request.path.startswith(API_PREFIX + "/"):
        from forum.api.core import problem_response

        return problem_response(status, detail)
    title, message = MESSAGES.get(status, MESSAGES[500] if status >= 500 else MESSAGES[400])
    if _wants_json():
        response = jsonify(error=title, message=detail or message, status=status)
    else:
        response = make_response(
            render_template(
                "errors/error.html", status=status, title=title, message=message, detail=detail
            )
        )
    response.status_code = status
    return response


def _handle_http(exc: HTTPException) -> Response:
    status = exc.code or 500
    generic = type(exc).description
    detail = exc.description if status in (400, 403, 404) and exc.description != generic else None
    response = render_error(status, detail)
    if isinstance(exc, MethodNotAllowed) and exc.valid_methods:
        response.headers["Allow"] = ", ".join(exc.valid_methods)
    return response


def _handle_csrf(exc: CSRFError) -> Response:
    return render_error(
        400,
        f"{exc.description} Reload the form and send it again: your browser's Back "
        "button still has what you typed.",
    )


def _handle_unexpected(_exc: InternalServerError) -> Response:
    # Flask has logged the exception; leave the broken transaction before rendering.
    get_session().rollback()
    return render_error(500)


def _handle_busy(exc: Exception) -> Response:
    """No database connection or SQLite write lock in time: 503, try again shortly."""
    if isinstance(exc, OperationalError) and "database is locked" not in str(exc.orig):
        raise exc
    current_app.logger.warning("Database busy, answering 503: %s", exc)
    try:
        get_session().rollback()
    except Exception:  # noqa: BLE001 - the answer is a 503 whatever state the session is in
        current_app.logger.exception("Rolling back after a busy database failed")
    title, message = MESSAGES[503]
    if _wants_json():
        response = jsonify(error=title, message=message, status=503)
    else:
        # Not the site layout, nor render_template's context processors: they load the
        # member, and loading the member may be what could not get the database.
        page = current_app.jinja_env.get_template("errors/busy.html")
        response = make_response(page.render(title=title, message=message))
    response.status_code = 503
    response.headers["Retry-After"] = str(BUSY_RETRY_AFTER)
    return response


def init_app(app: Flask) -> None:
    """Register the handlers."""
    app.register_error_handler(PoolTimeout, _handle_busy)
    app.register_error_handler(OperationalError, _handle_busy)
    app.register_error_handler(CSRFError, _handle_csrf)
    app.register_error_handler(InternalServerError, _handle_unexpected)
    app.register_error_handler(HTTPException, _handle_http)
    app.register_error_handler(NotFound, lambda exc: render_error(404, str(exc) or None))
    app.register_error_handler(Forbidden, lambda exc: render_error(403, str(exc) or None))
    app.register_error_handler(Conflict, lambda exc: render_error(409, str(exc) or None))
