"""SCIM 2.0 provisioning of members (RFC 7643/7644, the User resource).

An identity provider creates, reads, finds (``userName eq "..."``), replaces, patches and
deletes members. The SCIM ``id`` is the member's id; the ``userName`` the provider chose is
kept as an identity (provider ``scim``, subject the lower-cased ``userName``), so the provider
finds the member again under its own name; a member the provider did not create is found by
username or email. Delete and ``active: false`` deactivate the member through
``accounts.deactivate`` (sessions end, tokens are revoked); ``active: true`` reactivates.

Nothing here knows HTTP: payloads are plain dicts, errors are ``forum.services.errors``
(``ValidationError`` with the key ``filter`` for an unsupported filter). Audit entries written
by a session marked with ``act_as_client`` say "(by the SCIM client)".
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import event, func, or_, select
from sqlalchemy.orm import Session, sessionmaker

from forum import db
from forum.models import AuditLog, Identity, User
from forum.services import accounts, identity
from forum.services.errors import Conflict, NotFound, ValidationError

PROVIDER = "scim"
USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
LIST_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
PATCH_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
ERROR_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:Error"
#: Most resources one list answer holds (``count`` above it is lowered).
MAX_RESULTS = 200
VIA_SCIM_KEY = "forum.via_scim"
CLIENT_NOTE = "(by the SCIM client)"

_FILTER = re.compile(r'^\s*userName\s+eq\s+"((?:[^"\\]|\\.)*)"\s*$', re.IGNORECASE)


# ---------------------------------------------------------------- attribution


def act_as_client(session: Session) -> None:
    """From now on, the audit entries ``session`` writes name the SCIM client as the actor."""
    session.info[VIA_SCIM_KEY] = True


def _attribute(session: Session, _context: Any, _instances: Any) -> None:
    if not session.info.get(VIA_SCIM_KEY):
        return
    for obj in session.new:
        if isinstance(obj, AuditLog) and CLIENT_NOTE not in (obj.reason or ""):
            obj.reason = f"{(obj.reason or '').strip()} {CLIENT_NOTE}".strip()[:4000]


def attribute_flushes(sessions: sessionmaker[Session]) -> None:
    """Mark the audit entries of SCIM-driven sessions (once per session factory)."""
    if db.first_listen(sessions, "scim.attribute"):
        event.listen(sessions, "before_flush", _attribute)


# ---------------------------------------------------------------- reading


def _scim_identity(session: Session, user: User) -> Identity | None:
    return session.scalar(
        select(Identity).where(Identity.provider == PROVIDER, Identity.user_id == user.id)
    )


def _iso(moment: dt.datetime | None) -> str | None:
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.isoformat()


def resource(session: Session, user: User, location: str) -> dict[str, Any]:
    """``user`` as a SCIM User resource; ``location`` is its address."""
    known = _scim_identity(session, user)
    data: dict[str, Any] = {
        "schemas": [USER_SCHEMA],
        "id": str(user.id),
        "userName": known.subject if known is not None else user.username,
        "displayName": user.display_name,
        "name": {"formatted": user.display_name},
        "active": user.is_active,
        "meta": {
            "resourceType": "User",
            "created": _iso(user.created_at),
            "location": location,
        },
    }
    if user.email:
        data["emails"] = [{"value": user.email, "type": "work", "primary": True}]
    if user.job_title:
        data["title"] = user.job_title
    return data


def get(session: Session, resource_id: str) -> User:
    """The member with SCIM id ``resource_id``; raises NotFound."""
    valid = resource_id.isascii() and resource_id.isdigit() and int(resource_id) < 2**31
    user = session.get(User, int(resource_id)) if valid else None
    if user is None:
        raise NotFound(f"No user has the id {resource_id!r}.")
    return user


def parse_filter(text: str | None) -> str | None:
    """The value of a ``userName eq "value"`` filter (None without a filter)."""
    if text is None or not text.strip():
        return None
    match = _FILTER.match(text)
    if match is None:
        raise ValidationError({"filter": ['Only the filter userName eq "value" is supported.']})
    return re.sub(r"\\(.)", r"\1", match.group(1))


def search(
    session: Session, *, user_name: str | None, start_index: int, count: int
) -> tuple[list[User], int]:
    """Members in id order (those whose userName is ``user_name`` when given), one page of
    ``count`` from the 1-based ``start_index``; with the total."""
    stmt = select(User)
    if user_name is not None:
        name = user_name.strip().lower()
        provisioned = select(Identity.user_id).where(
            Identity.provider == PROVIDER, Identity.subject == name
        )
        mine = select(Identity.user_id).where(Identity.provider == PROVIDER)
        stmt = stmt.where(
            or_(
                User.id.in_(provisioned),
                # Members the provider did not create, found by their own names.
                (~User.id.in_(mine)) & or_(User.username == name, User.email == name),
            )
        )
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    count = max(0, min(count, MAX_RESULTS))
    rows = session.scalars(stmt.order_by(User.id).offset(max(start_index, 1) - 1).limit(count))
    return list(rows), total


# ---------------------------------------------------------------- writing


@dataclass
class Fields:
    """What a User resource sets on a member (None: not given)."""

    user_name: str | None = None
    display_name: str | None = None
    email: str | None = None
    active: bool | None = None
    title: str | None = None


def _boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise ValidationError({"active": ["active must be true or false."]})


def _string(value: Any, attribute: str) -> str:
    if not isinstance(value, str):
        raise ValidationError({attribute: [f"{attribute} must be a string."]})
    return value


def _name(value: Any) -> str | None:
    if not isinstance(value, dict):
        raise ValidationError({"name": ["name must be an object."]})
    if isinstance(value.get("formatted"), str) and value["formatted"].strip():
        return str(value["formatted"])
    parts = [value.get("givenName"), value.get("familyName")]
    joined = " ".join(p for p in parts if isinstance(p, str) and p.strip())
    return joined or None


def _emails(value: Any) -> str | None:
    if not isinstance(value, list) or not all(isinstance(e, dict) for e in value):
        raise ValidationError({"emails": ["emails must be a list of objects."]})
    chosen = next((e for e in value if e.get("primary") is True), value[0] if value else None)
    if chosen is None:
        return None
    return _string(chosen.get("value"), "emails")


def fields(payload: dict[str, Any]) -> Fields:
    """The attributes a full User resource (POST, PUT) sets."""
    found = Fields()
    if "userName" in payload:
        found.user_name = _string(payload["userName"], "userName")
    if isinstance(payload.get("displayName"), str) and payload["displayName"].strip():
        found.display_name = payload["displayName"]
    elif "name" in payload:
        found.display_name = _name(payload["name"])
    if "emails" in payload:
        found.email = _emails(payload["emails"])
    if "active" in payload:
        found.active = _boolean(payload["active"])
    if "title" in payload:
        found.title = _string(payload["title"], "title")
    return found


def _checked(session: Session, values: Fields, user: User | None) -> Fields:
    """``values`` cleaned: userName lower-case and free, email valid and free, name valid."""
    if values.user_name is not None:
        name = values.user_name.strip().lower()
        if not name or len(name) > identity.SUBJECT_MAX:
            raise ValidationError({"userName": ["userName must be 1 to 255 characters."]})
        holder = session.scalar(
            select(Identity.user_id).where(Identity.provider == PROVIDER, Identity.subject == name)
        )
        if holder is not None and (user is None or holder != user.id):
            raise Conflict(f"Another user has the userName {name!r}.")
        values.user_name = name
    if values.email is not None:
        address, errors = accounts.normalise_email(values.email)
        if address is None:
            raise ValidationError({"emails": errors})
        taken = session.scalar(select(User.id).where(User.email == address))
        if taken is not None and (user is None or taken != user.id):
            raise Conflict("Another user has this email address.")
        values.email = address
    if values.display_name is not None:
        values.display_name = identity.clean_display_name(values.display_name)
        if values.display_name is None:
            raise ValidationError({"displayName": ["displayName is not a usable name."]})
    if values.title is not None:
        values.title = identity.clean_line(values.title)
    return values


def create(session: Session, values: Fields) -> User:
    """A new member from a provider's User resource; audited. Raises ValidationError when
    userName is missing, Conflict when the userName or email is another member's."""
    if not values.user_name:
        raise ValidationError({"userName": ["userName is required."]})
    values = _checked(session, values, None)
    assert values.user_name is not None
    email = values.email
    if email is None and "@" in values.user_name:
        address, _errors = accounts.normalise_email(values.user_name)
        if address is not None and session.scalar(select(User.id).where(User.email == address)):
            raise Conflict("Another user has this email address.")
        email = address
    username = identity.free_username(session, values.user_name, email)
    user = User(
        username=username,
        email=email,
        display_name=values.display_name or username,
        job_title=values.title,
        password_hash=None,
    )
    session.add(user)
    session.flush()
    session.add(Identity(provider=PROVIDER, subject=values.user_name, user_id=user.id))
    accounts.audit(session, None, "scim.provision", user, f"userName {values.user_name}")
    session.flush()
    if values.active is False:
        accounts.deactivate(session, None, user)
    return user


def update(session: Session, user: User, values: Fields) -> None:
    """Apply the given attributes to ``user`` (PUT and PATCH); ``active`` deactivates or
    reactivates through ``accounts``."""
    values = _checked(session, values, user)
    if values.user_name is not None:
        known = _scim_identity(session, user)
        if known is None:
            session.add(Identity(provider=PROVIDER, subject=values.user_name, user_id=user.id))
        else:
            known.subject = values.user_name
    if values.display_name is not None:
        user.display_name = values.display_name
    if values.email is not None:
        user.email = values.email
    if values.title is not None:
        user.job_title = values.title or None
    session.flush()
    if values.active is False and (user.is_active or user.deactivated_by_sso):
        # Also keeps out a member the company sign-in deactivated (see accounts.deactivate).
        accounts.deactivate(session, None, user)
    elif values.active is True and not user.is_active:
        accounts.reactivate(session, None, user)


def replace(session: Session, user: User, payload: dict[str, Any]) -> None:
    """PUT: the resource as sent (userName required)."""
    values = fields(payload)
    if not values.user_name:
        raise ValidationError({"userName": ["userName is required."]})
    update(session, user, values)


_PATHS = {
    "active": "active",
    "username": "userName",
    "displayname": "displayName",
    "name": "name",
    "name.formatted": "name",
    "emails": "emails",
    'emails[type eq "work"].value': "email",
    "emails.value": "email",
    "title": "title",
}


def patch(session: Session, user: User, payload: dict[str, Any]) -> None:
    """PATCH: ``add`` and ``replace`` operations on active, userName, displayName, name,
    emails and title (with or without a path)."""
    operations = payload.get("Operations")
    if not isinstance(operations, list) or not operations:
        raise ValidationError({"Operations": ["Send a list of Operations."]})
    values = Fields()
    for operation in operations:
        if not isinstance(operation, dict):
            raise ValidationError({"Operations": ["Each operation must be an object."]})
        op = str(operation.get("op", "")).lower()
        if op not in ("add", "replace"):
            raise ValidationError({"op": ["Only add and replace operations are supported."]})
        path = operation.get("path")
        value = operation.get("value")
        if path is None:
            if not isinstance(value, dict):
                raise ValidationError({"value": ["Without a path, value must be an object."]})
            found = fields(value)
            if isinstance(value.get("name.formatted"), str):
                found.display_name = value["name.formatted"]
        else:
            target = _PATHS.get(str(path).strip().lower())
            if target is None:
                raise ValidationError({"path": [f"The path {path!r} is not supported."]})
            found = fields({target: value}) if target != "email" else Fields(email=value)
            if target == "email":
                found.email = _string(value, "emails")
        for key, new in vars(found).items():
            if new is not None:
                setattr(values, key, new)
    update(session, user, values)


def delete(session: Session, user: User) -> None:
    """DELETE: deactivate the member (their content stays); a deactivated one is left as is,
    unless the company sign-in deactivated them: from now on only an admin reactivates them."""
    if user.is_active or user.deactivated_by_sso:
        accounts.deactivate(session, None, user)
