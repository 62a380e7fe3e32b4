"""Who may join and get back in: registration modes, email verification, invitations and
password reset links.

Links sent by email carry secrets. Invitation and password reset secrets are random and only
their SHA-256 is stored; each works once and expires. Email verification links are signed
(itsdangerous) with the member's id and address, so they need no table and stop working when
the address changes. The emails themselves are queued by the subscribers of the events emitted
here (forum.account_mail) and sent after the commit; the queued row keeps the link only until
it is sent or given up.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from collections.abc import Sequence
from dataclasses import dataclass

from itsdangerous import BadData, URLSafeTimedSerializer
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from forum import events
from forum.db import utcnow
from forum.models import AuditLog, Invitation, PasswordReset, Role, User
from forum.services import accounts, logins
from forum.services.errors import Forbidden, NotFound, ValidationError
from forum.services.passwords import password_problems

MODES = ("open", "domain", "invite", "sso")


@dataclass(frozen=True)
class RegistrationPolicy:
    """How newcomers join (``FORUM_REGISTRATION`` and its companions)."""

    mode: str = "open"
    allowed_domains: Sequence[str] = ()
    require_verification: bool = True
    members_may_invite: bool = False
    invitation_days: int = 7

    @property
    def local_accounts(self) -> bool:
        """Whether members register and log in with a password here (every mode but sso)."""
        return self.mode != "sso"

    @property
    def self_service(self) -> bool:
        """Whether anyone may open the registration form without an invitation."""
        return self.mode in ("open", "domain")

    def may_invite(self, member: User) -> bool:
        """Whether ``member`` may send invitations (invite mode only)."""
        return self.mode == "invite" and (member.is_admin or self.members_may_invite)


class VerificationSigner:
    """Signs and reads email verification tokens: the member's id and address, dated."""

    SALT = "forum.verify-email"

    def __init__(self, secret: str, max_age: dt.timedelta) -> None:
        self._serializer = URLSafeTimedSerializer(secret, salt=self.SALT)
        self.max_age = max_age

    def token(self, user: User) -> str:
        """A token confirming ``user``'s current address."""
        return str(self._serializer.dumps({"u": user.id, "e": user.email or ""}))

    def read(self, token: str) -> tuple[int, str]:
        """The member id and address a valid token names; ValidationError otherwise."""
        try:
            data = self._serializer.loads(token, max_age=int(self.max_age.total_seconds()))
        except BadData:
            raise ValidationError(
                {"token": ["This confirmation link is not valid or has expired."]}
            ) from None
        if not isinstance(data, dict) or not isinstance(data.get("u"), int):
            raise ValidationError({"token": ["This confirmation link is not valid."]})
        return data["u"], str(data.get("e") or "")


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _aware(moment: dt.datetime) -> dt.datetime:
    # SQLite hands back naive UTC times.
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.UTC)


def _audit(session: Session, actor: User | None, action: str, target_id: int, reason: str) -> None:
    session.add(
        AuditLog(
            actor_id=actor.id if actor is not None else None,
            action=action,
            target_type="invitation",
            target_id=target_id,
            reason=reason,
        )
    )


def email_domain_allowed(email: str, domains: Sequence[str]) -> bool:
    """Whether ``email`` is at one of ``domains`` exactly (case-insensitive; a subdomain is
    another domain and must be listed itself)."""
    domain = email.rpartition("@")[2].strip().lower().rstrip(".")
    return bool(domain) and domain in {d.lower() for d in domains}


# Registration ----------------------------------------------------------------------------


def register(
    session: Session,
    *,
    policy: RegistrationPolicy,
    signer: VerificationSigner,
    username: str,
    password: str,
    profile: accounts.ProfileData,
    password_policy: accounts.PasswordPolicy,
    invitation_token: str | None = None,
    now: dt.datetime | None = None,
) -> User:
    """Register a newcomer on the site, as the registration mode allows.

    ``domain``: the address must be under an allowed domain. ``invite``: the invitation must
    be valid; its address is the account's, already proven by the link, and the invitation is
    used up (audited). Otherwise the account starts unverified (when verification is required)
    and a confirmation link is sent.
    """
    now = now or utcnow()
    if not policy.local_accounts:
        raise Forbidden("Accounts come from the company sign-in; there is no registration here.")
    invitation = None
    if policy.mode == "invite":
        if not invitation_token:
            raise Forbidden("Joining is by invitation only.")
        invitation = find_invitation(session, invitation_token, now=now)
        profile.email = invitation.email
    elif policy.mode == "domain":
        email, _problems = accounts.normalise_email(profile.email)
        if email is not None and not email_domain_allowed(email, policy.allowed_domains):
            listed = ", ".join(f"@{d}" for d in policy.allowed_domains)
            raise ValidationError({"email": [f"Use your work email address ({listed})."]})
    verified = invitation is not None or not policy.require_verification
    user = accounts.register(
        session,
        username=username,
        password=password,
        profile=profile,
        policy=password_policy,
        role=Role.MEMBER,
        email_verified=verified,
    )
    session.flush()
    if invitation is not None:
        _use_invitation(session, invitation, user, now)
    if not verified:
        events.emit(session, events.EmailVerificationRequested(user=user, token=signer.token(user)))
    return user


def request_verification(session: Session, user: User, signer: VerificationSigner) -> bool:
    """Send ``user`` a new confirmation link; False when the address is already confirmed."""
    if user.email_verified or not user.email:
        return False
    events.emit(session, events.EmailVerificationRequested(user=user, token=signer.token(user)))
    return True


def verify_email(session: Session, signer: VerificationSigner, token: str) -> User:
    """Mark the address a confirmation link names as verified; ValidationError when the link
    is invalid, expired, or names an address the member no longer uses."""
    user_id, email = signer.read(token)
    user = session.get(User, user_id)
    if user is None or not user.is_active or (user.email or "") != email:
        raise ValidationError(
            {"token": ["This confirmation link is for an address the account no longer uses."]}
        )
    user.email_verified = True
    return user


# Invitations -----------------------------------------------------------------------------


def invite(
    session: Session,
    *,
    inviter: User,
    email: str,
    policy: RegistrationPolicy,
    now: dt.datetime | None = None,
) -> Invitation:
    """Invite ``email`` to register (audited); the link is emailed after the commit."""
    if policy.mode != "invite":
        raise Forbidden("Invitations are used only when joining is by invitation.")
    if not policy.may_invite(inviter):
        raise Forbidden("Only admins can invite colleagues.")
    address, problems = accounts.normalise_email(email)
    if address is None:
        raise ValidationError({"email": problems})
    if session.scalar(select(User.id).where(User.email == address)) is not None:
        raise ValidationError({"email": ["A member already uses this address."]})
    now = now or utcnow()
    token = secrets.token_urlsafe(32)
    invitation = Invitation(
        email=address,
        token_hash=_hash(token),
        invited_by_id=inviter.id,
        created_at=now,
        expires_at=now + dt.timedelta(days=policy.invitation_days),
    )
    session.add(invitation)
    session.flush()
    _audit(session, inviter, "invitation.create", invitation.id, address)
    events.emit(session, events.MemberInvited(invitation=invitation, inviter=inviter, token=token))
    return invitation


def find_invitation(session: Session, token: str, *, now: dt.datetime | None = None) -> Invitation:
    """The open invitation a link's token names; NotFound saying why it cannot be used."""
    invitation = session.scalar(select(Invitation).where(Invitation.token_hash == _hash(token)))
    if invitation is None:
        raise NotFound("This invitation link is not valid. Ask for a new invitation.")
    if invitation.used_at is not None:
        raise NotFound("This invitation has already been used. Log in instead.")
    if _aware(invitation.expires_at) <= (now or utcnow()):
        raise NotFound("This invitation has expired. Ask for a new invitation.")
    return invitation


def _use_invitation(session: Session, invitation: Invitation, user: User, now: dt.datetime) -> None:
    # One statement that only an unused invitation matches: two registrations racing on one
    # link cannot both use it.
    claimed = session.execute(
        update(Invitation)
        .where(Invitation.id == invitation.id, Invitation.used_at.is_(None))
        .values(used_at=now, used_by_id=user.id)
        .execution_options(synchronize_session=False)
    )
    if not claimed.rowcount:  # type: ignore[attr-defined]
        raise NotFound("This invitation has already been used. Log in instead.")
    session.refresh(invitation)
    _audit(session, user, "invitation.accept", invitation.id, invitation.email)


def invitations(session: Session, viewer: User, *, limit: int = 50) -> list[Invitation]:
    """The latest invitations: all of them for admins, one's own for other members."""
    query = select(Invitation).order_by(Invitation.id.desc()).limit(limit)
    if not viewer.is_admin:
        query = query.where(Invitation.invited_by_id == viewer.id)
    return list(session.scalars(query))


# Password reset --------------------------------------------------------------------------


def request_password_reset(
    session: Session,
    email: str,
    *,
    lifetime: dt.timedelta,
    now: dt.datetime | None = None,
) -> None:
    """Email a reset link to the active member using ``email``, if there is one.

    The caller answers the same whether or not one exists, so the answer tells nobody which
    addresses have accounts.
    """
    address, _problems = accounts.normalise_email(email)
    if address is None:
        return
    user = session.scalar(select(User).where(User.email == address, User.is_active.is_(True)))
    if user is None:
        return
    token = secrets.token_urlsafe(32)
    now = now or utcnow()
    session.add(
        PasswordReset(
            user_id=user.id,
            token_hash=_hash(token),
            created_at=now,
            expires_at=now + lifetime,
        )
    )
    session.flush()
    events.emit(session, events.PasswordResetRequested(user=user, token=token))


def find_password_reset(
    session: Session, token: str, *, now: dt.datetime | None = None
) -> PasswordReset:
    """The unused, unexpired reset a link's token names; NotFound saying why not."""
    reset = session.scalar(select(PasswordReset).where(PasswordReset.token_hash == _hash(token)))
    if reset is None:
        raise NotFound("This password reset link is not valid. Ask for a new one.")
    if reset.used_at is not None:
        raise NotFound("This password reset link has already been used. Ask for a new one.")
    if _aware(reset.expires_at) <= (now or utcnow()):
        raise NotFound("This password reset link has expired. Ask for a new one.")
    return reset


def reset_password(
    session: Session,
    token: str,
    *,
    password: str,
    policy: accounts.PasswordPolicy,
    now: dt.datetime | None = None,
) -> User:
    """Set a new password with a reset link: the link and every other one of the member stop
    working, every login session of the member ends, and the address counts as confirmed."""
    now = now or utcnow()
    reset = find_password_reset(session, token, now=now)
    user = session.get(User, reset.user_id)
    if user is None or not user.is_active:
        raise NotFound("This password reset link is not valid. Ask for a new one.")
    problems = password_problems(
        password,
        min_length=policy.min_length,
        personal=[user.username, user.display_name, *((user.email or "").split("@")[:1])],
    )
    if problems:
        raise ValidationError({"password": problems})
    claimed = session.execute(
        update(PasswordReset)
        .where(PasswordReset.user_id == user.id, PasswordReset.used_at.is_(None))
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    if not claimed.rowcount:  # type: ignore[attr-defined]
        raise NotFound("This password reset link has already been used. Ask for a new one.")
    accounts.set_password(user, password, policy)
    logins.revoke_all(session, user)
    # Following a link sent to the address proves it.
    user.email_verified = True
    return user
