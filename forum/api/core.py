"""How every API operation runs, and the OpenAPI document built from the same declarations.

An operation is declared once with :meth:`Registry.operation`: its method and rule, the scope
it needs, the models of its query, body and response, and the errors it may answer. The same
declaration routes the request, authenticates the bearer token, checks the scope, validates
the input into the models, serialises the answer, and becomes the operation in
``/api/v1/openapi.json``.
"""

from __future__ import annotations

import base64
import binascii
import inspect
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import wraps
from typing import Any

import pydantic
from flask import Blueprint, Response, g, jsonify, request
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from forum.api import schemas
from forum.db import get_session
from forum.extensions import limiter
from forum.models import AccessToken, User
from forum.services import tokens

PROBLEM_JSON = "application/problem+json"
TITLES = {
    400: "Bad request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    413: "Too large",
    415: "Unsupported media type",
    422: "Invalid input",
    429: "Too many requests",
    500: "Internal server error",
    503: "Service unavailable",
}
#: What each documented error status means, for the OpenAPI document.
ERROR_DESCRIPTIONS = {
    400: "The request is malformed (not JSON, a NUL character, ...).",
    401: "No bearer token, or one that is unknown, expired or revoked.",
    403: "The token lacks the scope, or the member may not do this.",
    404: "There is no such object, or the member may not see it.",
    409: "The change clashes with one saved meanwhile.",
    413: "The body is larger than forum accepts.",
    422: "The input is invalid; `errors` says why, field by field.",
    429: "Too many requests with this token; wait `Retry-After` seconds.",
}
_TOKEN_KEY = "forum.api.token"


class ApiProblem(Exception):
    """Answer with a problem document."""

    def __init__(
        self,
        status: int,
        detail: str | None = None,
        *,
        errors: dict[str, list[str]] | None = None,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(detail or TITLES.get(status, "Error"))
        self.status = status
        self.detail = detail
        self.errors = errors
        self.headers = headers or {}
        self.extra = extra or {}


def problem_response(
    status: int,
    detail: str | None = None,
    *,
    errors: dict[str, list[str]] | None = None,
    headers: dict[str, str] | None = None,
    extra: dict[str, Any] | None = None,
) -> Response:
    """An ``application/problem+json`` response (RFC 9457)."""
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": TITLES.get(status, "Error"),
        "status": status,
        "detail": detail or ERROR_DESCRIPTIONS.get(status, TITLES.get(status, "Error")),
    }
    if errors is not None:
        body["errors"] = errors
    body.update(extra or {})
    response = jsonify(body)
    response.status_code = status
    response.mimetype = PROBLEM_JSON
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="forum"'
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def render_problem(exc: ApiProblem) -> Response:
    """The response for a raised ApiProblem."""
    return problem_response(
        exc.status, exc.detail, errors=exc.errors, headers=exc.headers, extra=exc.extra
    )


# ---------------------------------------------------------------- the token


def _bearer_secret() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, secret = header.partition(" ")
    if scheme.lower() != "bearer" or not secret.strip():
        return None
    return secret.strip()


def current_token() -> AccessToken | None:
    """The usable token the request carries (looked up once per request), or None."""
    if _TOKEN_KEY not in g:
        secret = _bearer_secret()
        found = tokens.authenticate(get_session(), secret) if secret else None
        setattr(g, _TOKEN_KEY, found)
    token: AccessToken | None = g.get(_TOKEN_KEY)
    return token


def require_token(scope: str | None) -> AccessToken:
    """The request's token, with ``scope``; 401 without a usable one, 403 without the scope."""
    token = current_token()
    if token is None:
        if _bearer_secret() is None:
            raise ApiProblem(401, "Send a personal access token: Authorization: Bearer <token>.")
        raise ApiProblem(
            401,
            "The token is unknown, expired or revoked, or its member is deactivated.",
            headers={"WWW-Authenticate": 'Bearer realm="forum", error="invalid_token"'},
        )
    if scope is not None and not tokens.has_scope(token, scope):
        raise ApiProblem(
            403,
            f"This token lacks the {scope!r} scope.",
            extra={"missing_scope": scope},
            headers={
                "WWW-Authenticate": f'Bearer realm="forum", error="insufficient_scope", '
                f'scope="{scope}"'
            },
        )
    return token


def token_member() -> User:
    """The member of the request's token (operations that need a token only)."""
    token = require_token(None)
    return token.user


def token_key() -> str:
    """Rate-limit key: the token (or, without a usable one, the client's address)."""
    token = current_token()
    return f"token:{token.id}" if token is not None else f"address:{request.remote_addr}"


def token_member_key() -> str:
    """Rate-limit key shared with the web pages' per-member budgets: the token's member."""
    token = current_token()
    return f"member:{token.user_id}" if token is not None else f"address:{request.remote_addr}"


def rate_limit_headers(response: Response) -> Response:
    """The RateLimit-* headers (and Retry-After on a 429) of the limit nearest to running out."""
    current = limiter.current_limit
    if current is None:
        return response
    reset = max(0, int(current.reset_at - time.time()))
    response.headers["RateLimit-Limit"] = str(current.limit.amount)
    response.headers["RateLimit-Remaining"] = str(max(0, current.remaining))
    response.headers["RateLimit-Reset"] = str(reset)
    response.headers["RateLimit-Policy"] = f"{current.limit.amount};w={current.limit.get_expiry()}"
    if response.status_code == 429:
        response.headers["Retry-After"] = str(max(1, reset))
    return response


# ---------------------------------------------------------------- paging


def encode_cursor(page: int) -> str:
    """An opaque cursor for the page after this one."""
    return base64.urlsafe_b64encode(f"p{page + 1}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> int:
    """The page a cursor names (1 without one); 422 for a cursor this API did not give."""
    if not cursor:
        return 1
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raw = ""
    if not re.fullmatch(r"p[1-9][0-9]{0,5}", raw):
        raise ApiProblem(422, "Unknown cursor.", errors={"cursor": ["Unknown cursor."]})
    return int(raw[1:])


def next_cursor(page: int, per_page: int, total: int) -> str | None:
    """The cursor of the next page, or None on the last one."""
    return encode_cursor(page) if page * per_page < total else None


# ---------------------------------------------------------------- operations


@dataclass(frozen=True)
class Operation:
    """One documented API operation."""

    method: str
    rule: str
    endpoint: str
    summary: str
    description: str
    tag: str
    scope: str | None
    query: type[BaseModel] | None
    body: type[BaseModel] | None
    response: type[BaseModel] | None
    status: int
    errors: tuple[int, ...]
    content_type: str = "application/json"


_PATH_PARAM = re.compile(r"<(?:(\w+):)?(\w+)>")


def _pydantic_errors(exc: pydantic.ValidationError, prefix: str = "") -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    for error in exc.errors(include_url=False, include_input=False):
        where = ".".join(str(part) for part in error["loc"]) or "body"
        errors.setdefault(prefix + where, []).append(str(error["msg"]))
    return errors


@dataclass
class Registry:
    """The operations of one blueprint, and the OpenAPI document they make."""

    blueprint: Blueprint
    title: str
    version: str
    description: str
    operations: list[Operation] = field(default_factory=list)
    extra_models: list[type[BaseModel]] = field(default_factory=list)

    def operation(
        self,
        method: str,
        rule: str,
        *,
        summary: str,
        tag: str,
        scope: str | None,
        response: type[BaseModel] | None,
        status: int = 200,
        query: type[BaseModel] | None = None,
        body: type[BaseModel] | None = None,
        errors: Sequence[int] = (),
        limits: Sequence[Callable[[Callable[..., Any]], Callable[..., Any]]] = (),
        content_type: str = "application/json",
    ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """Declare and route an operation; the view gets ``query=``/``body=`` models."""

        def decorate(view: Callable[..., Any]) -> Callable[..., Any]:
            codes = set(errors) | {400, 429}
            if scope is not None:
                codes |= {401, 403}
            if _PATH_PARAM.search(rule):
                codes.add(404)
            if body is not None:
                codes |= {413, 415, 422}
            if query is not None:
                codes.add(422)
            doc = " ".join(inspect.cleandoc(view.__doc__ or "").split())
            self.operations.append(
                Operation(
                    method=method,
                    rule=rule,
                    endpoint=view.__name__,
                    summary=summary,
                    description=doc,
                    tag=tag,
                    scope=scope,
                    query=query,
                    body=body,
                    response=response,
                    status=status,
                    errors=tuple(sorted(codes)),
                    content_type=content_type,
                )
            )

            @wraps(view)
            def run(**kwargs: Any) -> Any:
                for name, value in kwargs.items():
                    if isinstance(value, int) and not 1 <= value <= schemas.MAX_ID:
                        raise ApiProblem(404, f"There is no object with this {name}.")
                if scope is not None:
                    token = require_token(scope)
                    tokens.act_through(get_session(), token)
                if query is not None:
                    fields = query.model_fields
                    raw = {k: v for k, v in request.args.items() if k in fields}
                    try:
                        kwargs["query"] = query.model_validate(raw)
                    except pydantic.ValidationError as exc:
                        raise ApiProblem(
                            422, "The query is invalid.", errors=_pydantic_errors(exc)
                        ) from None
                if body is not None:
                    kwargs["body"] = _parse_body(body)
                result = view(**kwargs)
                if isinstance(result, Response):
                    return result
                if result is None:
                    return Response(status=status)
                answer = jsonify(result.model_dump(mode="json"))
                answer.status_code = status
                return answer

            wrapped: Callable[..., Any] = run
            for limit in limits:
                wrapped = limit(wrapped)
            self.blueprint.add_url_rule(
                rule, endpoint=view.__name__, view_func=wrapped, methods=[method]
            )
            return view

        return decorate

    # ------------------------------------------------------------ the document

    def document(self, server: str) -> dict[str, Any]:
        """The OpenAPI 3.1 document of every declared operation."""
        models: set[type[BaseModel]] = {schemas.Problem, *self.extra_models}
        for op in self.operations:
            models |= {m for m in (op.query, op.body, op.response) if m is not None}
        ordered = sorted(models, key=lambda m: m.__name__)
        _keys, defs = models_json_schema(
            [(m, "serialization" if m not in _inputs(self) else "validation") for m in ordered],
            ref_template="#/components/schemas/{model}",
        )
        components = defs.get("$defs", {})
        paths: dict[str, dict[str, Any]] = {}
        for op in self.operations:
            path, parameters = _openapi_path(op.rule)
            if op.query is not None:
                parameters += _query_parameters(op.query)
            entry: dict[str, Any] = {
                "operationId": op.endpoint,
                "summary": op.summary,
                "description": op.description,
                "tags": [op.tag],
                "parameters": parameters,
                "responses": self._responses(op),
            }
            if op.scope is not None:
                entry["security"] = [{"bearerAuth": [op.scope]}]
                entry["x-required-scope"] = op.scope
            else:
                entry["security"] = []
            if op.body is not None:
                entry["requestBody"] = {
                    "required": True,
                    "content": {"application/json": {"schema": _ref(op.body)}},
                }
            paths.setdefault(path, {})[op.method.lower()] = entry
        return {
            "openapi": "3.1.0",
            "info": {
                "title": self.title,
                "version": self.version,
                "description": self.description,
            },
            "servers": [{"url": server}],
            "paths": paths,
            "components": {
                "schemas": components,
                "securitySchemes": {
                    "bearerAuth": {
                        "type": "http",
                        "scheme": "bearer",
                        "description": "A personal access token made at /settings/tokens.",
                    }
                },
            },
        }

    def _responses(self, op: Operation) -> dict[str, Any]:
        responses: dict[str, Any] = {}
        if op.response is not None:
            responses[str(op.status)] = {
                "description": op.response.__doc__.strip().splitlines()[0]
                if op.response.__doc__
                else "OK",
                "content": {op.content_type: {"schema": _ref(op.response)}},
                "headers": _rate_headers(),
            }
        else:
            responses[str(op.status)] = {"description": "Done", "headers": _rate_headers()}
        for code in op.errors:
            model = schemas.EditConflictProblem if code == 409 else schemas.Problem
            headers = _rate_headers()
            if code in (401, 403):
                headers["WWW-Authenticate"] = {"schema": {"type": "string"}}
            if code == 429:
                headers["Retry-After"] = {"schema": {"type": "integer"}}
            responses[str(code)] = {
                "description": ERROR_DESCRIPTIONS.get(code, TITLES.get(code, "Error")),
                "content": {PROBLEM_JSON: {"schema": _ref(model)}},
                "headers": headers,
            }
        return responses


def _inputs(registry: Registry) -> set[type[BaseModel]]:
    return {m for op in registry.operations for m in (op.query, op.body) if m is not None}


def _ref(model: type[BaseModel]) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{model.__name__}"}


def _rate_headers() -> dict[str, Any]:
    return {
        name: {"description": text, "schema": {"type": "integer"}}
        for name, text in (
            ("RateLimit-Limit", "Requests allowed in the window of the nearest limit."),
            ("RateLimit-Remaining", "Requests left in that window."),
            ("RateLimit-Reset", "Seconds until that window starts again."),
        )
    }


def _openapi_path(rule: str) -> tuple[str, list[dict[str, Any]]]:
    parameters: list[dict[str, Any]] = []

    def replace(match: re.Match[str]) -> str:
        converter, name = match.group(1), match.group(2)
        schema: dict[str, Any]
        if converter == "int":
            schema = {"type": "integer", "minimum": 1, "maximum": schemas.MAX_ID}
        else:
            schema = {"type": "string", "minLength": 1, "maxLength": 200, "pattern": "^[^/]+$"}
        parameters.append({"name": name, "in": "path", "required": True, "schema": schema})
        return "{" + name + "}"

    return _PATH_PARAM.sub(replace, rule), parameters


def _query_parameters(model: type[BaseModel]) -> list[dict[str, Any]]:
    schema = model.model_json_schema()
    required = set(schema.get("required", []))
    parameters = []
    for name, prop in schema.get("properties", {}).items():
        prop = dict(prop)
        description = prop.pop("description", None)
        prop.pop("title", None)
        options = prop.pop("anyOf", None)
        if options:
            # A query parameter is left out rather than null.
            concrete = [o for o in options if o.get("type") != "null"]
            prop.update(concrete[0] if len(concrete) == 1 else {"anyOf": concrete})
        if prop.get("default", 0) is None:
            prop.pop("default")
        parameter: dict[str, Any] = {
            "name": name,
            "in": "query",
            "required": name in required,
            "schema": prop,
        }
        if description:
            parameter["description"] = description
        parameters.append(parameter)
    return parameters


def _parse_body(model: type[BaseModel]) -> BaseModel:
    if not request.is_json:
        raise ApiProblem(415, "Send the body as JSON (Content-Type: application/json).")
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise ApiProblem(400, "The body must be a JSON object.")
    try:
        return model.model_validate(data)
    except pydantic.ValidationError as exc:
        raise ApiProblem(422, "The body is invalid.", errors=_pydantic_errors(exc)) from None
