"""Claiming imported members: an admin sends a link, the person sets a password with it.

Members imported from a Stack Exchange dump have no password and no email. An admin gives
one an email address and issues a claim link: a random secret, signed with the site's secret
key and a timestamp (``itsdangerous``), valid for :data:`LIFETIME` and usable once. Only the
secret's SHA-256 is stored, so a copy of the table claims nothing. Issuing a new link ends
the member's earlier ones.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets

from itsdangerous import BadData, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from forum.db import utcnow
from forum.models import ClaimLink, User
from forum.services import accounts, logins
from forum.services.errors import Forbidden, NotFound, ValidationError
from forum.services.passwords import password_problems

#: How long a claim link works.
LIFETIME = dt.timedelta(days=7)
_SALT = "forum.claim-link"

INVALID = "This claim link is not valid. Ask an admin for a new one."
EXPIRED = "This claim link has expired. Ask an admin for a new one."
USED = "This claim link was already used: log in with the password you chose."


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _serializer(secret_key: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret_key, salt=_SALT)


def claimable(member: User) -> bool:
    """Whether ``member`` is an active account nobody can log in to yet (imported)."""
    return member.is_active and not member.password_hash


def issue(
    session: Session,
    *,
    actor: User | None,
    member: User,
    email: str,
    secret_key: str,
    now: dt.datetime | None = None,
) -> str:
    """Set ``member``'s email and stage a claim link for it; returns the link's signed token.

    ``actor`` None is the operator at the command line. Audited; raises ValidationError on
    the ``email`` field (an unusable or taken address, a member who can already log in).
    """
    if actor is not None and not actor.is_admin:
        raise Forbidden("Only admins can send claim links.")
    if not member.is_active:
        raise ValidationError({"email": ["Reactivate this member before sending a claim link."]})
    if member.password_hash:
        raise ValidationError(
            {"email": ["This member can already log in; only imported members are claimed."]}
        )
    address = accounts.checked_new_email(session, email, member=member)
    now = now or utcnow()
    member.email = address
    session.execute(delete(ClaimLink).where(ClaimLink.user_id == member.id))
    secret = secrets.token_urlsafe(32)
    session.add(
        ClaimLink(
            user_id=member.id,
            token_hash=_hash(secret),
            email=address,
            created_by_id=actor.id if actor is not None else None,
            expires_at=now + LIFETIME,
        )
    )
    accounts.audit(session, actor, "member.claim_link", member, f"sent to {address}")
    session.flush()
    return _serializer(secret_key).dumps(secret)


def _aware(moment: dt.datetime) -> dt.datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)  # SQLite: naive UTC


def find(
    session: Session, token: str, *, secret_key: str, now: dt.datetime | None = None
) -> tuple[ClaimLink, User]:
    """The usable link a token names and its member; raises NotFound with the reason."""
    try:
        secret = _serializer(secret_key).loads(token, max_age=int(LIFETIME.total_seconds()))
    except SignatureExpired:
        raise NotFound(EXPIRED) from None
    except BadData:
        raise NotFound(INVALID) from None
    if not isinstance(secret, str):
        raise NotFound(INVALID)
    row = session.execute(
        select(ClaimLink, User)
        .join(User, User.id == ClaimLink.user_id)
        .where(ClaimLink.token_hash == _hash(secret))
    ).first()
    if row is None:
        raise NotFound(INVALID)
    link, member = row
    if link.used_at is not None:
        raise NotFound(USED)
    if _aware(link.expires_at) <= (now or utcnow()):
        raise NotFound(EXPIRED)
    if not claimable(member) or member.email != link.email:
        raise NotFound(INVALID)
    return link, member


def redeem(
    session: Session,
    token: str,
    *,
    password: str,
    secret_key: str,
    policy: accounts.PasswordPolicy,
    now: dt.datetime | None = None,
) -> User:
    """Set the member's password with a claim link, used up by it; returns the member.

    Raises NotFound for a link that cannot be used, ValidationError on ``password``.
    """
    link, member = find(session, token, secret_key=secret_key, now=now)
    problems = password_problems(
        password,
        min_length=policy.min_length,
        personal=[member.username, member.display_name, *(link.email.split("@")[:1])],
    )
    if problems:
        raise ValidationError({"password": problems})
    accounts.set_password(member, password, policy)
    link.used_at = now or utcnow()
    logins.revoke_all(session, member)
    accounts.audit(session, member, "member.claimed", member, f"claimed through {link.email}")
    session.flush()
    return member


def compose(member: User, link: str) -> tuple[str, str]:
    """The subject and text of the email that carries a claim link."""
    subject = "Your account on forum is waiting for you"
    days = LIFETIME.days
    text = (
        f"Hello {member.display_name},\n\n"
        f"Your questions and answers were brought over to forum, the company's knowledge base,\n"
        f"under the username {member.username}. To take the account over, choose a password\n"
        f"with this link (it works once, for {days} days):\n\n"
        f"{link}\n\n"
        "If you did not expect this message, you can ignore it.\n"
    )
    return subject, text
