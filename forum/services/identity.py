"""Members who sign in through a company identity provider (OpenID Connect or LDAP).

What a provider says about an account arrives as an ``ExternalAccount``, whatever the protocol.
``sign_in`` finds the member through the identities table (provider, subject); on a first sign-in
it creates the member (just-in-time provisioning). Every sign-in copies the mapped fields
(display name, email, department, job title) onto the member and, when groups are mapped to
roles, sets the role from the groups, so a member removed from a group loses the role at their
next sign-in. Provisioning and role changes are written to the audit log.

An existing local account is never taken over silently. When the provider's account carries the
email of a member who can log in with a password, and the provider says the address is verified,
``sign_in`` answers ``LinkNeeded``: the member proves the account is theirs by entering its
password once (``link``). An unverified address, or an account without a password, is refused.

When the policy names required groups (the groups allowed to use forum), an account in none of
them is refused (``NotAllowed``); a member it signs in as is deactivated through
``accounts.deactivate`` (sessions end, tokens are revoked), marked as the sign-in's doing, so
that a later sign-in from an allowed group reactivates them. A deactivation by anyone else
(an admin, the command line, SCIM) is never undone by a sign-in.

Departments must fit the managed list: a value the list knows (without regard to case and
spacing) is used in the list's spelling; an unknown one is left out (the member keeps the
department they had) unless the policy says to create it.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import select
from sqlalchemy.orm import Session

from forum.db import utcnow
from forum.models import AuditLog, Identity, Role, User
from forum.services import accounts, departments, two_factor
from forum.services.accounts import RESERVED_USERNAMES, USERNAME_RE
from forum.services.errors import Conflict, Forbidden, ValidationError
from forum.services.names import display_name_problems
from forum.services.passwords import verify_password
from forum.services.text import single_line_errors

PROVIDERS = frozenset({"oidc", "ldap"})
#: Longest values the members table holds.
NAME_MAX = 80
SUBJECT_MAX = 255

ACCOUNT_EXISTS = (
    "An account with this email address already exists. Ask an admin to link it to your "
    "company sign-in."
)
DEACTIVATED = "This account is deactivated."
NOT_ALLOWED = (
    "Your company account is not in a group allowed to use forum. Ask your IT team for access."
)
WRONG_PASSWORD = "This is not the password of that account."


@dataclass(frozen=True)
class ExternalAccount:
    """An account at an identity provider, as the provider describes it at sign-in."""

    provider: str
    subject: str
    username: str | None = None
    display_name: str | None = None
    email: str | None = None
    #: Whether the provider vouches that ``email`` belongs to the account holder.
    email_verified: bool = False
    department: str | None = None
    job_title: str | None = None
    #: The groups the account belongs to (names or identifiers, as the provider sends them).
    groups: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """Plain data (for keeping between two requests)."""
        data = asdict(self)
        data["groups"] = list(self.groups)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ExternalAccount:
        """The account ``to_dict`` described."""
        return cls(**{**data, "groups": tuple(data.get("groups") or ())})


def _casefolded(groups: Iterable[str]) -> frozenset[str]:
    return frozenset(g.strip().casefold() for g in groups if g and g.strip())


@dataclass(frozen=True)
class RoleMapping:
    """Which groups make a member an admin or a moderator (compared without case).

    With no group listed, roles are not managed by the provider: sign-ins leave them alone.
    """

    admin_groups: frozenset[str] = frozenset()
    moderator_groups: frozenset[str] = frozenset()

    @classmethod
    def of(cls, admin: Iterable[str] = (), moderator: Iterable[str] = ()) -> RoleMapping:
        """A mapping from the configured group lists."""
        return cls(_casefolded(admin), _casefolded(moderator))

    @property
    def enabled(self) -> bool:
        """Whether groups decide roles at all."""
        return bool(self.admin_groups or self.moderator_groups)

    def role_for(self, groups: Iterable[str]) -> Role:
        """The role the groups give: admin, else moderator, else member."""
        held = _casefolded(groups)
        if held & self.admin_groups:
            return Role.ADMIN
        if held & self.moderator_groups:
            return Role.MODERATOR
        return Role.MEMBER


@dataclass(frozen=True)
class SignInPolicy:
    """How sign-ins through one provider treat roles and departments."""

    roles: RoleMapping = field(default_factory=RoleMapping)
    #: Create departments the list does not know (else leave them out).
    create_departments: bool = False
    #: The groups allowed to sign in (any one suffices; casefolded). Empty: everyone.
    required_groups: frozenset[str] = frozenset()

    def allows(self, account: ExternalAccount) -> bool:
        """Whether ``account`` is in a group allowed to sign in (always, with none required)."""
        return not self.required_groups or bool(_casefolded(account.groups) & self.required_groups)

    @classmethod
    def of(
        cls,
        roles: RoleMapping | None = None,
        *,
        create_departments: bool = False,
        required_groups: Iterable[str] = (),
    ) -> SignInPolicy:
        """A policy from configured values (group names compare without case)."""
        return cls(
            roles=roles or RoleMapping(),
            create_departments=create_departments,
            required_groups=_casefolded(required_groups),
        )


@dataclass(frozen=True)
class NotAllowed:
    """The account is in no allowed group: refused, and its member (if any) deactivated."""

    user_id: int | None


def _refuse(session: Session, user: User | None, account: ExternalAccount) -> NotAllowed:
    """Refuse ``account``; deactivate the member it signs in as, unless already inactive."""
    if user is not None and user.is_active:
        try:
            accounts.deactivate(
                session, None, user, by_sso=f"not in an allowed {account.provider} group"
            )
        except ValidationError:
            # The last active admin stays active (refused all the same).
            pass
    return NotAllowed(user.id if user is not None else None)


@dataclass(frozen=True)
class LinkNeeded:
    """The provider's verified email belongs to a local account: its password must confirm."""

    user_id: int


def _audit(session: Session, action: str, user: User, reason: str) -> None:
    # No actor: the identity provider decided, not a member.
    session.add(
        AuditLog(actor_id=None, action=action, target_type="user", target_id=user.id, reason=reason)
    )


def _check_account(account: ExternalAccount) -> None:
    if account.provider not in PROVIDERS:
        raise ValueError(f"unknown identity provider {account.provider!r}")
    if not account.subject or len(account.subject) > SUBJECT_MAX:
        raise ValidationError({"subject": ["The identity provider sent no usable account id."]})


def _email(value: str | None) -> str | None:
    if not value:
        return None
    try:
        return validate_email(value.strip(), check_deliverability=False).normalized.lower()
    except EmailNotValidError:
        return None


def _line(value: str | None, limit: int = NAME_MAX) -> str | None:
    """A single-line value trimmed to ``limit`` characters, or None."""
    if not value or single_line_errors(value):
        return None
    cleaned = " ".join(value.split())[:limit].strip()
    return cleaned or None


def _display_name(value: str | None) -> str | None:
    name = _line(value)
    return name if name and not display_name_problems(name) else None


def _username_base(account: ExternalAccount) -> str:
    candidates = [account.username, (account.email or "").split("@")[0], "member"]
    for raw in candidates:
        if not raw:
            continue
        text = unicodedata.normalize("NFKD", raw).encode("ascii", "ignore").decode().lower()
        text = re.sub(r"[^a-z0-9_.-]+", "-", text)
        text = re.sub(r"^[^a-z0-9]+|[^a-z0-9]+$", "", text)[:32]
        text = re.sub(r"[^a-z0-9]+$", "", text)
        if len(text) >= 3:
            return text
        if text:
            return (text + "-member")[:32]
    return "member"


def _free_username(session: Session, base: str) -> str:
    """``base``, or ``base-2``, ``base-3``... whichever is valid and not yet taken."""
    for number in range(1, 1000):
        suffix = "" if number == 1 else f"-{number}"
        name = base[: 32 - len(suffix)].rstrip("._-") + suffix
        if (
            USERNAME_RE.match(name)
            and name not in RESERVED_USERNAMES
            and session.scalar(select(User.id).where(User.username == name)) is None
        ):
            return name
    raise Conflict("No free username is left for this account.")


def free_username(session: Session, wanted: str, email: str | None = None) -> str:
    """A free username made from ``wanted`` (or the email's local part), for provisioning."""
    base = _username_base(
        ExternalAccount(provider="scim", subject="", username=wanted.split("@")[0], email=email)
    )
    return _free_username(session, base)


def clean_display_name(value: str | None) -> str | None:
    """``value`` as a display name on one line, or None when it is not a usable name."""
    return _display_name(value)


def clean_line(value: str | None) -> str | None:
    """``value`` on one line, trimmed to a member field's length, or None."""
    return _line(value)


def _provisioned(session: Session, user: User) -> bool:
    """Whether the identity provider created ``user`` through SCIM (no password of its own)."""
    return not user.password_hash and (
        session.scalar(
            select(Identity.id).where(Identity.provider == "scim", Identity.user_id == user.id)
        )
        is not None
    )


def _link_provisioned(
    session: Session, user: User, account: ExternalAccount, policy: SignInPolicy
) -> User:
    note = f"{account.provider} account {account.subject} (SCIM)"
    return _attach(session, user, account, policy, "sso.link", note)


def _department(session: Session, value: str | None, policy: SignInPolicy) -> str | None:
    """The listed spelling of ``value``; None when it is empty or unknown and not created."""
    name = _line(value, departments.NAME_MAX)
    if name is None:
        return None
    known = departments.by_name(session, name)
    if known is not None:
        return known.name
    if not policy.create_departments:
        return None
    try:
        return departments.ensure(session, name)
    except ValidationError:
        return None


def _apply(session: Session, user: User, account: ExternalAccount, policy: SignInPolicy) -> None:
    """Copy what the provider says onto the member, and set the role from the groups."""
    if name := _display_name(account.display_name):
        user.display_name = name
    email = _email(account.email)
    if email and email != user.email:
        taken = session.scalar(select(User.id).where(User.email == email, User.id != user.id))
        if taken is None:
            user.email = email
    if department := _department(session, account.department, policy):
        user.department = department
    if (title := _line(account.job_title)) is not None:
        user.job_title = title
    if policy.roles.enabled:
        role = policy.roles.role_for(account.groups)
        if role is not user.role:
            before = user.role
            user.role = role
            session.flush()
            _audit(
                session,
                "sso.role",
                user,
                f"{before.value} → {role.value} from {account.provider} groups",
            )
    user.last_login_at = utcnow()


def _identity(session: Session, account: ExternalAccount) -> Identity | None:
    return session.scalar(
        select(Identity).where(
            Identity.provider == account.provider, Identity.subject == account.subject
        )
    )


def sign_in(
    session: Session, account: ExternalAccount, policy: SignInPolicy
) -> User | LinkNeeded | NotAllowed:
    """The member ``account`` signs in as, created on its first sign-in and updated after.

    Answers ``LinkNeeded`` when a local account with a password has the provider's verified
    email, and ``NotAllowed`` when the account is in none of the policy's required groups
    (its member, if it has one, is then deactivated: the caller commits). Raises ``Conflict``
    when another account has the email but cannot be linked (unverified email, or no password
    to confirm with) and ``Forbidden`` for a member deactivated other than by the sign-in.
    """
    _check_account(account)
    identity = _identity(session, account)
    if identity is not None:
        user = identity.user
        if not policy.allows(account):
            return _refuse(session, user, account)
        if not user.is_active:
            if not user.deactivated_by_sso:
                raise Forbidden(DEACTIVATED)
            accounts.reactivate(
                session,
                None,
                user,
                note=f"(by the company sign-in: in an allowed {account.provider} group again)",
            )
        _apply(session, user, account, policy)
        identity.last_login_at = utcnow()
        session.flush()
        return user

    if not policy.allows(account):
        return _refuse(session, None, account)
    email = _email(account.email)
    if email is not None:
        existing = session.scalar(select(User).where(User.email == email))
        if existing is not None:
            if not existing.is_active:
                raise Forbidden(DEACTIVATED)
            if account.email_verified and existing.password_hash:
                return LinkNeeded(existing.id)
            if account.email_verified and _provisioned(session, existing):
                # The company's directory made this member (SCIM): its sign-in is theirs.
                return _link_provisioned(session, existing, account, policy)
            raise Conflict(ACCOUNT_EXISTS)

    user = User(
        username=_free_username(session, _username_base(account)),
        email=email,
        display_name="",
        password_hash=None,
        role=Role.MEMBER,
    )
    user.display_name = _display_name(account.display_name) or user.username
    session.add(user)
    session.flush()
    note = f"{account.provider} account {account.subject}"
    return _attach(session, user, account, policy, "sso.provision", note)


def _attach(
    session: Session,
    user: User,
    account: ExternalAccount,
    policy: SignInPolicy,
    action: str,
    note: str,
) -> User:
    """Give ``user`` the external ``account``'s identity, audit it, apply the mapped fields."""
    session.add(
        Identity(
            provider=account.provider,
            subject=account.subject,
            user_id=user.id,
            last_login_at=utcnow(),
        )
    )
    _audit(session, action, user, note)
    _apply(session, user, account, policy)
    session.flush()
    return user


def link(
    session: Session,
    user: User,
    account: ExternalAccount,
    *,
    password: str,
    policy: SignInPolicy,
    code: str | None = None,
) -> User:
    """Link ``account`` to the local account ``user`` once its password confirms it.

    The conditions of ``sign_in``'s ``LinkNeeded`` are checked again: the provider's verified
    email is still the member's, and the provider's account is not linked to anyone yet.
    A member with two-factor authentication on confirms with a ``code`` as well (a current
    TOTP code or a recovery code), as at login. Raises ``ValidationError`` (field ``password``
    or ``code``) for a wrong password or code.
    """
    _check_account(account)
    if not user.is_active:
        raise Forbidden(DEACTIVATED)
    if not policy.allows(account):
        raise Forbidden(NOT_ALLOWED)
    email = _email(account.email)
    if not account.email_verified or email is None or email != user.email:
        raise Conflict(ACCOUNT_EXISTS)
    if _identity(session, account) is not None:
        raise Conflict("This company account is already linked to a member.")
    if not verify_password(user.password_hash, password):
        raise ValidationError({"password": [WRONG_PASSWORD]})
    if two_factor.is_enabled(session, user) and not two_factor.verify(session, user, code or ""):
        raise ValidationError({"code": [two_factor.WRONG_CODE]})
    session.add(
        Identity(
            provider=account.provider,
            subject=account.subject,
            user_id=user.id,
            last_login_at=utcnow(),
        )
    )
    _audit(session, "sso.link", user, f"{account.provider} account {account.subject}")
    _apply(session, user, account, policy)
    session.flush()
    return user


def identities_of(session: Session, user: User) -> list[Identity]:
    """The provider accounts that sign in as ``user``."""
    return list(
        session.scalars(select(Identity).where(Identity.user_id == user.id).order_by(Identity.id))
    )
