"""Login sessions kept on the server, and the account a login form names."""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import secrets

from sqlalchemy import Integer, Select, String, bindparam, case, delete, select, update
from sqlalchemy.orm import Session

from forum.db import utcnow
from forum.models import LoginSession, User
from forum.models.users import new_auth_token

#: How stale ``last_seen_at`` may get before a request records it (so most requests never write).
TOUCH_INTERVAL = dt.timedelta(minutes=5)
USER_AGENT_LENGTH = 200
#: A member unseen for this long starts a new visit when they come back.
VISIT_GAP = dt.timedelta(hours=1)


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def start(
    session: Session,
    user: User,
    *,
    user_agent: str | None = None,
    forget_before: dt.datetime | None = None,
) -> str:
    """Stage a new login session for ``user``; returns the secret its cookie carries.

    The member's sessions that ended or went unused before ``forget_before`` are deleted, so
    the table holds no more than each member's recent logins.
    """
    if forget_before is not None:
        session.execute(
            delete(LoginSession).where(
                LoginSession.user_id == user.id,
                (LoginSession.revoked_at < forget_before)
                | (LoginSession.last_seen_at < forget_before),
            )
        )
    secret = secrets.token_urlsafe(32)
    record_visit(session, user.id)
    session.add(
        LoginSession(
            user_id=user.id,
            key_hash=_hash(secret),
            user_agent=(user_agent or "")[:USER_AGENT_LENGTH] or None,
            last_seen_at=utcnow(),
        )
    )
    session.flush()
    return secret


@functools.cache
def _load_statement() -> Select[User, LoginSession]:
    """Built once (every signed-in request runs it): the member and secret are parameters."""
    return (
        select(User, LoginSession)
        .join(LoginSession, LoginSession.user_id == User.id)
        .where(
            LoginSession.key_hash == bindparam("key_hash", type_=String),
            LoginSession.revoked_at.is_(None),
            User.id == bindparam("member_id", type_=Integer),
        )
    )


def load(
    session: Session, user_id: str, secret: str, *, idle_limit: dt.timedelta | None = None
) -> tuple[User, LoginSession] | None:
    """The active member and login session for a cookie's ``<id>.<auth token>`` and secret.

    One indexed query; a revoked session, a rotated auth token, a deactivated member or a
    session unused for longer than ``idle_limit`` is None.
    """
    member_id, _, token = user_id.partition(".")
    if not member_id.isdigit() or not token or not secret:
        return None
    row = session.execute(
        _load_statement(), {"key_hash": _hash(secret), "member_id": int(member_id)}
    ).first()
    if row is None:
        return None
    user, login = row
    if not user.is_active or user.auth_token != token:
        return None
    if idle_limit is not None and _age(login.last_seen_at) > idle_limit:
        # However the cookie was kept alive (a copy, a changed clock), the server decides.
        return None
    return user, login


def _age(moment: dt.datetime | None, now: dt.datetime | None = None) -> dt.timedelta:
    if moment is None:
        return dt.timedelta.max
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)  # SQLite returns naive UTC
    return (now or utcnow()) - moment


def needs_touch(login: LoginSession, now: dt.datetime | None = None) -> bool:
    """Whether the session's last-seen time is older than ``TOUCH_INTERVAL``."""
    return _age(login.last_seen_at, now) >= TOUCH_INTERVAL


def touch(session: Session, login_id: int, user_id: int) -> None:
    """Record that the session (and so its member) was used now."""
    session.execute(
        update(LoginSession).where(LoginSession.id == login_id).values(last_seen_at=utcnow())
    )
    record_visit(session, user_id)


def record_visit(session: Session, user_id: int, now: dt.datetime | None = None) -> None:
    """Record that the member was seen ``now``.

    Seen again after ``VISIT_GAP`` or more, the member starts a new visit: the time they were
    last seen becomes the end of their previous visit. One statement; callers write it at most
    every ``TOUCH_INTERVAL`` per login session, not on every request.
    """
    now = now or utcnow()
    new_visit = User.last_seen_at.is_not(None) & (User.last_seen_at < now - VISIT_GAP)
    session.execute(
        update(User)
        .where(User.id == user_id)
        .values(
            previous_visit_at=case((new_visit, User.last_seen_at), else_=User.previous_visit_at),
            last_seen_at=now,
        )
        .execution_options(synchronize_session=False)
    )


def revoke(session: Session, secret: str) -> None:
    """End the login session whose cookie carries ``secret`` (logging out on this device)."""
    session.execute(
        update(LoginSession)
        .where(LoginSession.key_hash == _hash(secret), LoginSession.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )


def revoke_all(session: Session, user: User, *, keep_secret: str | None = None) -> int:
    """End every login session of ``user`` but the one carrying ``keep_secret``; returns how many.

    The auth token rotates too, so any cookie made before sessions were kept ends as well.
    """
    query = update(LoginSession).where(
        LoginSession.user_id == user.id, LoginSession.revoked_at.is_(None)
    )
    if keep_secret:
        query = query.where(LoginSession.key_hash != _hash(keep_secret))
    result = session.execute(query.values(revoked_at=utcnow()))
    user.auth_token = new_auth_token()
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def active_sessions(session: Session, user: User) -> list[LoginSession]:
    """The member's login sessions that have not ended, most recently used first."""
    return list(
        session.scalars(
            select(LoginSession)
            .where(LoginSession.user_id == user.id, LoginSession.revoked_at.is_(None))
            .order_by(LoginSession.last_seen_at.desc(), LoginSession.id.desc())
        )
    )


def is_current(login: LoginSession, secret: str | None) -> bool:
    """Whether ``login`` is the session whose cookie carries ``secret``."""
    return bool(secret) and login.key_hash == _hash(secret or "")


def account_id_for_login(session: Session, login: str) -> int | None:
    """The id of the account a login form's username-or-email names, or None."""
    login = login.strip().lower()
    if not login:
        return None
    return session.scalar(
        select(User.id).where((User.username == login) | (User.email == login)).limit(1)
    )
