"""Personal access tokens: creating, listing and revoking them, and knowing who holds one.

A token's secret is shown once when it is made; only its SHA-256 is stored. A token works
while it is neither revoked nor expired and its member is active. Work done with a token is
attributed to it: a session whose ``info`` names the token (``VIA_TOKEN_KEY``) says "via token
NAME" in the summary of every revision and the reason of every audit entry it writes (only
"via an access token" under an anonymous asker's mask, since a token's name may say who they
are).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from typing import Any

from sqlalchemy import event, select, update
from sqlalchemy.orm import Session, sessionmaker

from forum import db, events
from forum.db import utcnow
from forum.models import AccessToken, AuditLog, Revision, User
from forum.services.errors import NotFound, ValidationError
from forum.services.text import single_line_errors

SCOPES = ("read", "write")
NAME_MAX = 60
#: Every secret starts with this, so leaked tokens are easy to recognise (and to scan for).
SECRET_PREFIX = "fpat_"
#: Characters of the secret kept to tell tokens apart in lists.
SHOWN_PREFIX = 12
MAX_EXPIRY_DAYS = 3650
#: How stale ``last_used_at`` may get before a request records a use.
TOUCH_INTERVAL = dt.timedelta(minutes=1)
#: ``Session.info`` key naming the token a session acts through.
VIA_TOKEN_KEY = "forum.via_token"


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _aware(moment: dt.datetime) -> dt.datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.UTC)


def create(
    session: Session,
    *,
    user: User,
    name: str,
    scopes: list[str],
    expires_in_days: int | None,
    now: dt.datetime | None = None,
) -> tuple[AccessToken, str]:
    """Stage a new token for ``user``; returns it with its secret (shown once, never stored)."""
    errors: dict[str, list[str]] = {}
    name = (name or "").strip()
    if not name:
        errors["name"] = ["Name the token after what uses it, e.g. “release notes script”."]
    elif len(name) > NAME_MAX:
        errors["name"] = [f"Use at most {NAME_MAX} characters."]
    elif problems := single_line_errors(name):
        errors["name"] = problems
    chosen = sorted(set(scopes))
    if not chosen:
        errors["scopes"] = ["Choose at least one scope: read, write or both."]
    elif any(scope not in SCOPES for scope in chosen):
        errors["scopes"] = ["Scopes are read and write."]
    if expires_in_days is not None and not 1 <= expires_in_days <= MAX_EXPIRY_DAYS:
        errors["expires"] = [f"A token expires after 1 to {MAX_EXPIRY_DAYS} days, or never."]
    if errors:
        raise ValidationError(errors)
    moment = now or utcnow()
    secret = SECRET_PREFIX + secrets.token_urlsafe(32)
    token = AccessToken(
        user_id=user.id,
        name=name,
        token_hash=_hash(secret),
        prefix=secret[:SHOWN_PREFIX],
        scopes=" ".join(chosen),
        created_at=moment,
        expires_at=moment + dt.timedelta(days=expires_in_days) if expires_in_days else None,
    )
    session.add(token)
    session.flush()
    return token, secret


def list_tokens(session: Session, user: User) -> list[AccessToken]:
    """The member's tokens, newest first (revoked ones too, marked so)."""
    return list(
        session.scalars(
            select(AccessToken)
            .where(AccessToken.user_id == user.id)
            .order_by(AccessToken.created_at.desc(), AccessToken.id.desc())
        )
    )


def revoke(session: Session, *, user: User, token_id: int) -> AccessToken:
    """Revoke one of the member's own tokens (someone else's is 'not found'); twice is fine."""
    token = session.get(AccessToken, token_id)
    if token is None or token.user_id != user.id:
        raise NotFound("There is no such token.")
    if token.revoked_at is None:
        token.revoked_at = utcnow()
    return token


def revoke_all(session: Session, user: User) -> int:
    """Revoke every token of a member (when the account is closed); returns how many."""
    result = session.execute(
        update(AccessToken)
        .where(AccessToken.user_id == user.id, AccessToken.revoked_at.is_(None))
        .values(revoked_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)


def revoke_tokens_of_deactivated(session: Session, event: events.MemberDeactivated) -> None:
    """A member who left keeps no working token, even if they are reactivated later."""
    revoke_all(session, event.member)


def subscribe(bus: events.EventBus) -> None:
    """Revoke tokens with the deactivation (critical: the two stand or fall together)."""
    bus.subscribe(events.MemberDeactivated, revoke_tokens_of_deactivated, critical=True)


def is_expired(token: AccessToken, now: dt.datetime | None = None) -> bool:
    """Whether the token's expiry has passed."""
    return token.expires_at is not None and _aware(token.expires_at) <= (now or utcnow())


def is_usable(token: AccessToken, now: dt.datetime | None = None) -> bool:
    """Neither revoked nor expired."""
    return token.revoked_at is None and not is_expired(token, now)


def authenticate(
    session: Session, secret: str, *, now: dt.datetime | None = None
) -> AccessToken | None:
    """The usable token whose secret this is, with its active member loaded; else None."""
    if not secret.startswith(SECRET_PREFIX) or len(secret) > 200:
        return None
    token = session.scalar(
        select(AccessToken)
        .join(User, User.id == AccessToken.user_id)
        .where(AccessToken.token_hash == _hash(secret), User.is_active.is_(True))
    )
    if token is None or not is_usable(token, now):
        return None
    return token


def has_scope(token: AccessToken, scope: str) -> bool:
    """Whether the token was granted ``scope``."""
    return scope in token.scope_list


def needs_touch(token: AccessToken, now: dt.datetime | None = None) -> bool:
    """Whether this use should be recorded (the last one is older than ``TOUCH_INTERVAL``)."""
    last = token.last_used_at
    return last is None or (now or utcnow()) - _aware(last) >= TOUCH_INTERVAL


def touch(session: Session, token_id: int, now: dt.datetime | None = None) -> None:
    """Record a use of the token."""
    session.execute(
        update(AccessToken)
        .where(AccessToken.id == token_id)
        .values(last_used_at=now or utcnow())
        .execution_options(synchronize_session=False)
    )


# ---------------------------------------------------------------- attribution


def act_through(session: Session, token: AccessToken) -> None:
    """From now on, what ``session`` writes is attributed to ``token``."""
    session.info[VIA_TOKEN_KEY] = token.name


def _note(text: str, via: str, limit: int) -> str:
    text = text.strip()
    note = f"({via})"
    room = limit - len(note) - 1
    return f"{text[:room]} {note}" if text else note


def _revision_via(revision: Revision, name: str) -> str:
    post = revision.post
    if post is not None and post.is_anonymous:
        editor_id = revision.editor.id if revision.editor is not None else revision.editor_id
        author_id = post.author.id if post.author is not None else post.author_id
        if editor_id is not None and editor_id == author_id:
            return "via an access token"
    return f"via token {name}"


def _attribute(session: Session, _context: Any, _instances: Any) -> None:
    name = session.info.get(VIA_TOKEN_KEY)
    if not name:
        return
    for obj in session.new:
        if isinstance(obj, Revision):
            obj.summary = _note(obj.summary or "", _revision_via(obj, name), 300)
        elif isinstance(obj, AuditLog):
            obj.reason = _note(obj.reason or "", f"via token {name}", 4000)


def attribute_flushes(sessions: sessionmaker[Session]) -> None:
    """Attribute the revisions and audit entries of token-driven sessions (once per factory)."""
    if db.first_listen(sessions, "tokens.attribute"):
        event.listen(sessions, "before_flush", _attribute)
