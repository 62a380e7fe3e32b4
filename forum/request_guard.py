"""Refuse requests that carry a NUL character anywhere forum reads input from, before any view.

PostgreSQL text cannot hold NUL: a NUL reaching a query parameter fails the statement (a 500),
and SQLite, files and e-mail headers handle it no better. One check here, at the edge, answers
400 instead, for the path, the query string, form fields and file names, JSON bodies, cookies
and headers alike, so no view or service has to remember it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from flask import Flask, abort, request
from werkzeug.datastructures import MultiDict

NUL = "\x00"
#: How deep a JSON body is searched; deeper documents are refused rather than walked.
_JSON_DEPTH = 64
_TOO_DEEP = "The JSON body is nested too deeply."


def _any_nul(values: Iterable[str]) -> bool:
    return any(NUL in value for value in values)


def _pairs_have_nul(pairs: MultiDict[str, Any]) -> bool:
    """Every key and every value (not only the first per key) of a multi-valued mapping."""
    return any(NUL in key or NUL in str(value) for key, value in pairs.items(multi=True))


def _json_has_nul(value: Any, depth: int = 0) -> bool:
    if depth > _JSON_DEPTH:
        abort(400, description=_TOO_DEEP)
    if isinstance(value, str):
        return NUL in value
    if isinstance(value, dict):
        return any(NUL in key or _json_has_nul(item, depth + 1) for key, item in value.items())
    if isinstance(value, list):
        return any(_json_has_nul(item, depth + 1) for item in value)
    return False


def where_nul() -> str | None:
    """The part of the current request that holds a NUL character, or None."""
    if NUL in request.path:
        return "the address"
    if _pairs_have_nul(request.args):
        return "the query string"
    if _pairs_have_nul(request.cookies):
        return "a cookie"
    if _any_nul(value for _name, value in request.headers.items()):
        return "a header"
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return None
    if request.is_json:
        try:
            body = request.get_json(silent=True)
        except RecursionError:
            abort(400, description=_TOO_DEEP)
        return "the JSON body" if _json_has_nul(body) else None
    if request.mimetype == "application/x-www-form-urlencoded":
        # Keep the raw body (it is read whole to be parsed anyway): a signed request's view
        # (the Slack command) checks the signature of the exact bytes.
        request.get_data(cache=True)
    if _pairs_have_nul(request.form):
        return "a form field"
    if _any_nul(f.filename or "" for _name, f in request.files.items(multi=True)):
        return "a file name"
    return None


def reject_nul() -> None:
    """Answer 400 to a request carrying a NUL character (raw or %00-encoded)."""
    part = where_nul()
    if part is not None:
        abort(400, description=f"A NUL character in {part} is not allowed.")


def init_app(app: Flask) -> None:
    """Check every request before the views (and the other hooks after the request id) run."""
    app.before_request(reject_nul)
