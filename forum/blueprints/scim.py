"""SCIM 2.0 at /scim/v2 for an identity provider: Users, and the discovery resources.

Every request needs ``Authorization: Bearer FORUM_SCIM_TOKEN`` (compared in constant time);
cookies carry no authority here, so there is no CSRF token either. Answers and errors are
``application/scim+json``. The rules live in ``forum.services.scim``.
"""

from __future__ import annotations

import hmac
import json
from typing import Any

from flask import Blueprint, current_app, request
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response

from forum.db import get_session
from forum.extensions import csrf
from forum.services import scim
from forum.services.errors import Conflict, Forbidden, NotFound, ValidationError
from forum.web import site_url_for

bp = Blueprint("scim", __name__, url_prefix="/scim/v2")
csrf.exempt(bp)

MEDIA_TYPE = "application/scim+json"


def _answer(data: dict[str, Any], status: int = 200, **headers: str) -> Response:
    response = Response(json.dumps(data), status=status, mimetype=MEDIA_TYPE)
    response.headers.update(headers)
    return response


def _error(status: int, detail: str, scim_type: str | None = None) -> Response:
    data: dict[str, Any] = {"schemas": [scim.ERROR_SCHEMA], "status": str(status), "detail": detail}
    if scim_type:
        data["scimType"] = scim_type
    response = _answer(data, status)
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="forum-scim"'
    return response


@bp.before_request
def _authorise() -> Response | None:
    configured = current_app.config.get("SCIM_TOKEN")
    if not configured:
        return _error(401, "SCIM provisioning is off: set FORUM_SCIM_TOKEN.")
    scheme, _, sent = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(
        sent.strip().encode(), str(configured).encode()
    ):
        return _error(401, "Send the SCIM bearer token: Authorization: Bearer <token>.")
    scim.act_as_client(get_session())
    return None


@bp.errorhandler(ValidationError)
def _invalid(exc: ValidationError) -> Response:
    get_session().rollback()
    scim_type = "invalidFilter" if "filter" in exc.errors else "invalidValue"
    if "path" in exc.errors:
        scim_type = "invalidPath"
    return _error(400, " ".join(exc.messages), scim_type)


@bp.errorhandler(Conflict)
def _conflict(exc: Conflict) -> Response:
    get_session().rollback()
    return _error(409, str(exc), "uniqueness")


@bp.errorhandler(NotFound)
def _missing(exc: NotFound) -> Response:
    get_session().rollback()
    return _error(404, str(exc))


@bp.errorhandler(Forbidden)
def _forbidden(exc: Forbidden) -> Response:
    get_session().rollback()
    return _error(403, str(exc))


@bp.errorhandler(HTTPException)
def _http(exc: HTTPException) -> Response:
    get_session().rollback()
    return _error(exc.code or 500, exc.description or exc.name)


def _payload() -> dict[str, Any]:
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise _Syntax()
    return data


class _Syntax(Exception):
    pass


@bp.errorhandler(_Syntax)
def _syntax(_exc: _Syntax) -> Response:
    return _error(400, "The body must be a JSON object.", "invalidSyntax")


def _location(user_id: int) -> str:
    return site_url_for("scim.user", resource_id=str(user_id))


def _user_answer(user_id: str, status: int = 200) -> Response:
    session = get_session()
    user = scim.get(session, user_id)
    location = _location(user.id)
    return _answer(scim.resource(session, user, location), status, Location=location)


def _int_arg(name: str, default: int) -> int:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ValidationError({name: [f"{name} must be a whole number."]}) from None


@bp.get("/Users")
def users() -> Response:
    """List members, or find one with ``filter=userName eq "x"``; paged by startIndex/count."""
    session = get_session()
    user_name = scim.parse_filter(request.args.get("filter"))
    start = min(max(_int_arg("startIndex", 1), 1), 2**31 - 1)
    count = _int_arg("count", scim.MAX_RESULTS)
    rows, total = scim.search(session, user_name=user_name, start_index=start, count=count)
    return _answer(
        {
            "schemas": [scim.LIST_SCHEMA],
            "totalResults": total,
            "startIndex": start,
            "itemsPerPage": len(rows),
            "Resources": [scim.resource(session, user, _location(user.id)) for user in rows],
        }
    )


@bp.post("/Users")
def create_user() -> Response:
    """Provision a member."""
    session = get_session()
    user = scim.create(session, scim.fields(_payload()))
    session.commit()
    return _user_answer(str(user.id), 201)


@bp.get("/Users/<resource_id>")
def user(resource_id: str) -> Response:
    """One member."""
    return _user_answer(resource_id)


@bp.put("/Users/<resource_id>")
def replace_user(resource_id: str) -> Response:
    """Replace a member's attributes (``active`` deactivates or reactivates)."""
    session = get_session()
    payload = _payload()
    scim.replace(session, scim.get(session, resource_id), payload)
    session.commit()
    return _user_answer(resource_id)


@bp.patch("/Users/<resource_id>")
def patch_user(resource_id: str) -> Response:
    """Change some attributes with add/replace operations."""
    session = get_session()
    payload = _payload()
    scim.patch(session, scim.get(session, resource_id), payload)
    session.commit()
    return _user_answer(resource_id)


@bp.delete("/Users/<resource_id>")
def delete_user(resource_id: str) -> Response:
    """Deprovision: the member is deactivated, their content kept."""
    session = get_session()
    scim.delete(session, scim.get(session, resource_id))
    session.commit()
    return Response(status=204)


@bp.get("/ServiceProviderConfig")
def service_provider_config() -> Response:
    """What this server supports."""
    return _answer(
        {
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"],
            "patch": {"supported": True},
            "bulk": {"supported": False, "maxOperations": 0, "maxPayloadSize": 0},
            "filter": {"supported": True, "maxResults": scim.MAX_RESULTS},
            "changePassword": {"supported": False},
            "sort": {"supported": False},
            "etag": {"supported": False},
            "authenticationSchemes": [
                {
                    "type": "oauthbearertoken",
                    "name": "Bearer token",
                    "description": "The token set in FORUM_SCIM_TOKEN.",
                    "primary": True,
                }
            ],
            "meta": {"resourceType": "ServiceProviderConfig"},
        }
    )


def _attribute(name: str, kind: str = "string", **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "type": kind,
        "multiValued": False,
        "required": False,
        "caseExact": False,
        "mutability": "readWrite",
        "returned": "default",
        "uniqueness": "none",
        **extra,
    }


USER_SCHEMA_DOCUMENT: dict[str, Any] = {
    "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Schema"],
    "id": scim.USER_SCHEMA,
    "name": "User",
    "description": "A member of the forum.",
    "attributes": [
        _attribute("userName", required=True, uniqueness="server"),
        _attribute("displayName"),
        _attribute(
            "name",
            "complex",
            subAttributes=[
                _attribute("formatted"),
                _attribute("givenName"),
                _attribute("familyName"),
            ],
        ),
        _attribute(
            "emails",
            "complex",
            multiValued=True,
            subAttributes=[
                _attribute("value"),
                _attribute("type"),
                _attribute("primary", "boolean"),
            ],
        ),
        _attribute("title"),
        _attribute("active", "boolean"),
    ],
    "meta": {"resourceType": "Schema"},
}


@bp.get("/Schemas")
def schemas() -> Response:
    """The User schema, in a list."""
    document = {**USER_SCHEMA_DOCUMENT}
    document["meta"] = {
        **document["meta"],
        "location": site_url_for("scim.schema", schema_id=scim.USER_SCHEMA),
    }
    return _answer(
        {
            "schemas": [scim.LIST_SCHEMA],
            "totalResults": 1,
            "startIndex": 1,
            "itemsPerPage": 1,
            "Resources": [document],
        }
    )


@bp.get("/Schemas/<schema_id>")
def schema(schema_id: str) -> Response:
    """The User schema."""
    if schema_id != scim.USER_SCHEMA:
        return _error(404, f"No schema {schema_id!r}.")
    return _answer(USER_SCHEMA_DOCUMENT)


USER_TYPE: dict[str, Any] = {
    "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ResourceType"],
    "id": "User",
    "name": "User",
    "endpoint": "/Users",
    "schema": scim.USER_SCHEMA,
    "meta": {"resourceType": "ResourceType"},
}


@bp.get("/ResourceTypes")
def resource_types() -> Response:
    """The one resource type: User."""
    return _answer(
        {
            "schemas": [scim.LIST_SCHEMA],
            "totalResults": 1,
            "startIndex": 1,
            "itemsPerPage": 1,
            "Resources": [USER_TYPE],
        }
    )


@bp.get("/ResourceTypes/User")
def user_type() -> Response:
    """The User resource type."""
    return _answer(USER_TYPE)
