"""The Model Context Protocol server at /mcp: the streamable HTTP transport, stateless.

Each POST carries one JSON-RPC message (or, for a client of the 2025-03-26 revision, a batch
of them); a request gets its answer as one ``application/json`` body (the transport's JSON
response mode), or as a ``text/event-stream`` of one event per answer when the client accepts
only that; a notification or a response gets 202. No session id is issued and no
server-to-client stream is offered (GET and DELETE answer 405), which the transport allows.
A page of another site (a foreign ``Origin``) is refused with 403 (DNS rebinding), an unknown
``MCP-Protocol-Version`` with 400, a client accepting neither media type with 406.
``resources/list`` is paged with opaque cursors (``nextCursor``). Every request carries a
personal access token (``Authorization: Bearer``): cookies are no authority here, so there is
no CSRF token. The tools and resources are in ``forum.api.mcp_tools``.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit

import pydantic
from flask import Blueprint, Response, current_app, request
from flask.typing import ResponseReturnValue
from limits import parse

from forum.api import bookkeeping, mcp_tools
from forum.api.bookkeeping import per_token
from forum.api.core import ApiProblem, render_problem, require_token
from forum.db import get_session
from forum.extensions import csrf, limiter
from forum.limits import search_limit
from forum.services import tokens
from forum.services.errors import Forbidden, NotFound, ValidationError

bp = Blueprint("mcp", __name__)
csrf.exempt(bp)

#: Protocol revisions spoken (the handshake-era streamable HTTP transport), newest first.
PROTOCOL_VERSIONS = ("2025-11-25", "2025-06-18", "2025-03-26")
#: Assumed when a request names none (as the transport specifies).
DEFAULT_VERSION = "2025-03-26"
JSONRPC = "2.0"
PARSE_ERROR, INVALID_REQUEST, METHOD_NOT_FOUND, INVALID_PARAMS = -32700, -32600, -32601, -32602
RESOURCE_NOT_FOUND = -32002
INSTRUCTIONS = (
    "forum is the company's questions-and-answers site and knowledge base. Search before "
    "drafting; cite the links you get. draft_question and draft_answer only keep drafts: the "
    "member reviews and publishes them on the site."
)


#: The revision that still allowed JSON-RPC batches (arrays of messages); later ones send one.
BATCH_VERSION = "2025-03-26"
#: Messages in one batch at most (the HTTP request counts once against the token's budget).
BATCH_MAX = 20

Payload = dict[str, Any]


def _error(request_id: Any, code: int, message: str) -> Payload:
    return {"jsonrpc": JSONRPC, "id": request_id, "error": {"code": code, "message": message}}


def _result(request_id: Any, result: dict[str, Any]) -> Payload:
    return {"jsonrpc": JSONRPC, "id": request_id, "result": result}


def _json(payload: Any, status: int = 200) -> Response:
    return Response(json.dumps(payload), status=status, mimetype="application/json")


def _event_stream(payloads: list[Payload]) -> Response:
    """The answers as a server-sent event stream: one ``message`` event each, then the end."""
    body = "".join(f"event: message\ndata: {json.dumps(p)}\n\n" for p in payloads)
    response = Response(body, mimetype="text/event-stream")
    response.headers["Cache-Control"] = "no-store"
    return response


def _answer_style() -> str | None:
    """How answers to requests go back: ``json`` (one JSON body) or ``sse`` (an event stream,
    for a client that accepts only that); None when the client accepts neither."""
    if not request.headers.get("Accept"):
        return "json"
    accepted = request.accept_mimetypes
    if accepted["application/json"]:
        return "json"
    if accepted["text/event-stream"]:
        return "sse"
    return None


def _allowed_origin(origin: str) -> bool:
    """A browser page may drive the server only from this site (DNS rebinding protection)."""
    netloc = urlsplit(origin).netloc
    site = urlsplit(str(current_app.config.get("SITE_URL") or "")).netloc
    return bool(netloc) and netloc in {request.host, site}


def _refused(status: int, code: int, message: str) -> Response:
    """An HTTP error whose body is a JSON-RPC error without an id (as the transport says)."""
    return _json(_error(None, code, message), status)


@bp.errorhandler(ApiProblem)
def _problem(exc: ApiProblem) -> Response:
    get_session().rollback()
    return render_problem(exc)


# As on the REST API: RateLimit-* headers, and the token's last use recorded.
bp.after_request(bookkeeping.remember_use)
bp.teardown_request(bookkeeping.record_use)


@bp.route("/mcp", methods=["GET", "DELETE"])
def no_stream() -> ResponseReturnValue:
    """No server-initiated stream (GET) and no sessions to end (DELETE): 405, as the
    transport allows a server that offers neither."""
    return Response(status=405, headers={"Allow": "POST"})


@bp.post("/mcp")
@per_token
def endpoint() -> ResponseReturnValue:
    """A JSON-RPC message (or, in the 2025-03-26 revision, a batch) in; the answers out, as
    JSON or as an event stream; 202 when there is nothing to answer."""
    origin = request.headers.get("Origin")
    if origin is not None and not _allowed_origin(origin):
        return _refused(403, INVALID_REQUEST, "Requests from another site's pages are refused.")
    token = require_token(None)
    style = _answer_style()
    if style is None:
        return _refused(406, INVALID_REQUEST, "Accept application/json or text/event-stream.")
    if not request.is_json:
        raise ApiProblem(415, "Send the JSON-RPC message as application/json.")
    version = request.headers.get("MCP-Protocol-Version")
    if version is not None and version not in PROTOCOL_VERSIONS:
        return _refused(400, INVALID_REQUEST, f"Unsupported protocol version {version!r}.")
    try:
        message = json.loads(request.get_data(as_text=True))
    except ValueError:
        return _refused(400, PARSE_ERROR, "The body is not JSON.")
    tokens.act_through(get_session(), token)
    if isinstance(message, list):
        if version not in (None, BATCH_VERSION):
            return _refused(
                400, INVALID_REQUEST, f"Protocol version {version} sends one message per request."
            )
        if not message or len(message) > BATCH_MAX:
            return _refused(400, INVALID_REQUEST, f"Send 1 to {BATCH_MAX} messages in a batch.")
        answers = [a for a in (_dispatch(m, token) for m in message) if a is not None]
        if not answers:
            return Response(status=202)
        return _event_stream(answers) if style == "sse" else _json(answers)
    if not _well_formed(message):
        return _refused(400, INVALID_REQUEST, "Send one JSON-RPC 2.0 message.")
    answer = _dispatch(message, token)
    if answer is None:
        return Response(status=202)  # a notification or a response: nothing to answer
    return _event_stream([answer]) if style == "sse" else _json(answer)


def _well_formed(message: Any) -> bool:
    """A JSON-RPC 2.0 object whose method (if any) is a name and whose params an object."""
    return (
        isinstance(message, dict)
        and message.get("jsonrpc") == JSONRPC
        and isinstance(message.get("method", ""), str)
        and isinstance(message.get("params") or {}, dict)
    )


def _dispatch(message: Any, token: Any) -> Payload | None:
    """The answer to one message; None for a notification or a response."""
    if not _well_formed(message):
        return _error(None, INVALID_REQUEST, "Send JSON-RPC 2.0 messages.")
    if "method" not in message or "id" not in message:
        return None
    request_id = message["id"]
    method: str = message["method"]
    params: dict[str, Any] = message.get("params") or {}
    member = token.user
    if method == "initialize":
        asked = params.get("protocolVersion")
        return _result(
            request_id,
            {
                "protocolVersion": asked if asked in PROTOCOL_VERSIONS else PROTOCOL_VERSIONS[0],
                "capabilities": {
                    "tools": {"listChanged": False},
                    "resources": {"listChanged": False, "subscribe": False},
                },
                "serverInfo": {"name": "forum", "title": "forum", "version": "1"},
                "instructions": INSTRUCTIONS,
            },
        )
    if method == "ping":
        return _result(request_id, {})
    if method == "tools/list":
        if params.get("cursor") is not None:
            # Every tool fits on the one page: no cursor was ever given.
            return _error(request_id, INVALID_PARAMS, "Unknown cursor.")
        return _result(
            request_id, {"tools": [tool.definition() for tool in mcp_tools.TOOLS.values()]}
        )
    if method == "tools/call":
        return _call_tool(request_id, params, token)
    if method in ("resources/list", "resources/templates/list", "resources/read"):
        if not tokens.has_scope(token, "read"):
            return _error(request_id, INVALID_REQUEST, "This token lacks the 'read' scope.")
        if method == "resources/list":
            cursor = params.get("cursor")
            if cursor is not None and not isinstance(cursor, str):
                return _error(request_id, INVALID_PARAMS, "Unknown cursor.")
            try:
                listed, after = mcp_tools.list_resources(cursor)
            except mcp_tools.BadCursor:
                return _error(request_id, INVALID_PARAMS, "Unknown cursor.")
            page: dict[str, Any] = {"resources": listed}
            if after is not None:
                page["nextCursor"] = after
            return _result(request_id, page)
        if method == "resources/templates/list":
            if params.get("cursor") is not None:
                return _error(request_id, INVALID_PARAMS, "Unknown cursor.")
            return _result(request_id, {"resourceTemplates": mcp_tools.resource_templates()})
        uri = params.get("uri")
        if not isinstance(uri, str):
            return _error(request_id, INVALID_PARAMS, "Name the resource's uri.")
        try:
            content = mcp_tools.read_resource(uri, member)
        except (NotFound, Forbidden, pydantic.ValidationError):
            content = None
        if content is None:
            return _error(request_id, RESOURCE_NOT_FOUND, f"Resource not found: {uri}")
        text = json.dumps(content)
        return _result(
            request_id,
            {"contents": [{"uri": uri, "mimeType": "application/json", "text": text}]},
        )
    return _error(request_id, METHOD_NOT_FOUND, f"Method not found: {method}")


def _tool_error(request_id: Any, text: str) -> Payload:
    return _result(request_id, {"content": [{"type": "text", "text": text}], "isError": True})


def _count_search(token_id: int) -> bool:
    """Count a search against FORUM_SEARCH_RATE_LIMIT; False when the budget is spent."""
    if not limiter.enabled:
        return True
    return limiter.limiter.hit(parse(search_limit()), "mcp-search", f"token:{token_id}")


def _call_tool(request_id: Any, params: dict[str, Any], token: Any) -> Payload:
    name = params.get("name")
    tool = mcp_tools.TOOLS.get(name) if isinstance(name, str) else None
    if tool is None:
        return _error(request_id, INVALID_PARAMS, f"Unknown tool: {name}")
    if not tokens.has_scope(token, tool.scope):
        return _tool_error(
            request_id, f"This token lacks the {tool.scope!r} scope that {tool.name} needs."
        )
    raw = params.get("arguments") or {}
    try:
        arguments = tool.arguments.model_validate(raw)
    except pydantic.ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'arguments'}: {e['msg']}"
            for e in exc.errors(include_url=False, include_input=False)
        )
        return _tool_error(request_id, f"Invalid arguments: {problems}")
    if tool.name == "search" and not _count_search(token.id):
        return _tool_error(request_id, "Too many searches: wait a minute and try again.")
    try:
        data = tool.run(arguments, token.user)
    except (NotFound, Forbidden, mcp_tools.ToolRefused) as exc:
        get_session().rollback()
        return _tool_error(request_id, str(exc) or "There is no such object.")
    except ValidationError as exc:
        get_session().rollback()
        messages = [m for ms in exc.errors.values() for m in ms]
        return _tool_error(request_id, " ".join(messages) or "Invalid input.")
    except ApiProblem as exc:
        get_session().rollback()
        return _tool_error(request_id, exc.detail or "Refused.")
    current_app.logger.info("mcp tool %s called with token %s", tool.name, token.id)
    return _result(
        request_id,
        {
            "content": [{"type": "text", "text": json.dumps(data)}],
            "structuredContent": data,
            "isError": False,
        },
    )
