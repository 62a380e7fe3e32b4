"""The Model Context Protocol server at /mcp: the streamable HTTP transport, stateless.

Each POST carries one JSON-RPC message; a request gets its answer as one
``application/json`` response (the transport's JSON response mode), a notification or a
response gets 202. No session id is issued and no server-to-client stream is offered (GET
answers 405), which the transport allows. Every request carries a personal access token
(``Authorization: Bearer``): cookies are no authority here, so there is no CSRF token. The
tools and resources are in ``forum.api.mcp_tools``.
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


def _message(payload: dict[str, Any], status: int = 200) -> Response:
    response = Response(json.dumps(payload), status=status, mimetype="application/json")
    return response


def _error(request_id: Any, code: int, message: str, status: int = 200) -> Response:
    return _message(
        {"jsonrpc": JSONRPC, "id": request_id, "error": {"code": code, "message": message}},
        status,
    )


def _result(request_id: Any, result: dict[str, Any]) -> Response:
    return _message({"jsonrpc": JSONRPC, "id": request_id, "result": result})


def _same_origin() -> bool:
    """A browser's page on another site may not drive the server (DNS rebinding)."""
    origin = request.headers.get("Origin")
    if origin is None:
        return True
    return urlsplit(origin).netloc == request.host


@bp.errorhandler(ApiProblem)
def _problem(exc: ApiProblem) -> Response:
    get_session().rollback()
    return render_problem(exc)


# As on the REST API: RateLimit-* headers, and the token's last use recorded.
bp.after_request(bookkeeping.remember_use)
bp.teardown_request(bookkeeping.record_use)


@bp.route("/mcp", methods=["GET", "DELETE"])
def no_stream() -> ResponseReturnValue:
    """No server-initiated stream and no sessions to end."""
    return Response(status=405, headers={"Allow": "POST"})


@bp.post("/mcp")
@per_token
def endpoint() -> ResponseReturnValue:
    """One JSON-RPC message in; its answer (or 202) out."""
    if not _same_origin():
        raise ApiProblem(403, "Requests from another site's pages are refused.")
    token = require_token(None)
    if not request.is_json:
        raise ApiProblem(415, "Send the JSON-RPC message as application/json.")
    version = request.headers.get("MCP-Protocol-Version")
    if version is not None and version not in PROTOCOL_VERSIONS:
        return _error(None, INVALID_REQUEST, f"Unsupported protocol version {version!r}.", 400)
    try:
        message = json.loads(request.get_data(as_text=True))
    except ValueError:
        return _error(None, PARSE_ERROR, "The body is not JSON.", 400)
    if not isinstance(message, dict) or message.get("jsonrpc") != JSONRPC:
        return _error(None, INVALID_REQUEST, "Send one JSON-RPC 2.0 message.", 400)
    if "method" not in message or "id" not in message:
        return Response(status=202)  # a notification or a response: nothing to answer
    request_id = message["id"]
    method = message["method"]
    params = message.get("params") or {}
    if not isinstance(method, str) or not isinstance(params, dict):
        return _error(request_id, INVALID_REQUEST, "Invalid request.", 400)
    tokens.act_through(get_session(), token)
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
        return _result(
            request_id, {"tools": [tool.definition() for tool in mcp_tools.TOOLS.values()]}
        )
    if method == "tools/call":
        return _call_tool(request_id, params, token)
    if method in ("resources/list", "resources/templates/list", "resources/read"):
        if not tokens.has_scope(token, "read"):
            return _error(request_id, INVALID_REQUEST, "This token lacks the 'read' scope.")
        if method == "resources/list":
            return _result(request_id, {"resources": mcp_tools.list_resources()})
        if method == "resources/templates/list":
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


def _tool_error(request_id: Any, text: str) -> Response:
    return _result(request_id, {"content": [{"type": "text", "text": text}], "isError": True})


def _count_search(token_id: int) -> bool:
    """Count a search against FORUM_SEARCH_RATE_LIMIT; False when the budget is spent."""
    if not limiter.enabled:
        return True
    return limiter.limiter.hit(parse(search_limit()), "mcp-search", f"token:{token_id}")


def _call_tool(request_id: Any, params: dict[str, Any], token: Any) -> Response:
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
