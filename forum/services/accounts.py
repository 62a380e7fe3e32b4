"""Accounts: registration, authentication, profiles, passwords and roles."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from forum import events
from forum.db import utcnow
from forum.models import AuditLog, Role, User
from forum.models.users import new_auth_token
from forum.services import departments, logins
from forum.services.errors import Conflict, Forbidden, NotFound, ValidationError
from forum.services.names import display_name_problems
from forum.services.passwords import (
    hash_password,
    needs_rehash,
    password_problems,
    verify_password,
)
from forum.services.text import single_line_errors

USERNAME_RE = re.compile(r"^[a-z0-9][a-z0-9_.-]{1,30}[a-z0-9]$")
# Names that would be confusing in links, mentions or the header.
RESERVED_USERNAMES = frozenset(
    {
        "admin",
        "administrator",
        "anonymous",
        "api",
        "login",
        "logout",
        "me",
        "moderator",
        "new",
        "register",
        "root",
        "settings",
        "staff",
        "support",
        "system",
        "forum",
    }
)


@dataclass(frozen=True)
class PasswordPolicy:
    """How passwords are hashed and how strong they must be."""

    hash_method: str
    min_length: int = 10


@dataclass
class ProfileData:
    """The editable parts of a profile."""

    display_name: str
    email: str
    department: str | None = None
    job_title: str | None = None
    bio: str | None = None


def normalise_username(username: str) -> str:
    """Usernames compare case-insensitively; they are stored lower-case."""
    return username.strip().lower()


def _check_username(username: str) -> list[str]:
    if not USERNAME_RE.match(username):
        return [
            "Use 3–32 characters: lower-case letters, digits, '.', '_' or '-', "
            "starting and ending with a letter or digit."
        ]
    if username in RESERVED_USERNAMES:
        return ["This username is reserved; please choose another."]
    return []


def normalise_email(email: str) -> tuple[str | None, list[str]]:
    """The address lower-case as stored, or None with the messages saying what is wrong."""
    return _normalise_email(email)


def _normalise_email(email: str) -> tuple[str | None, list[str]]:
    try:
        result = validate_email(email.strip(), check_deliverability=False)
    except EmailNotValidError as exc:
        return None, [f"Enter a valid email address ({exc})."]
    return result.normalized.lower(), []


def checked_new_email(session: Session, email: str, *, member: User) -> str:
    """``email`` as ``member``'s new address, normalised; ValidationError on ``email`` when it
    is no address or another member's."""
    address, errors = _normalise_email(email)
    if address is None:
        raise ValidationError({"email": errors})
    if duplicate := _duplicates(session, username=None, email=address, exclude_id=member.id):
        raise ValidationError(duplicate)
    return address


def _check_profile(
    session: Session, data: ProfileData
) -> tuple[dict[str, list[str]], str | None, str | None]:
    """Per-field messages, the normalised email and the department as the list spells it."""
    errors: dict[str, list[str]] = {}
    if not data.display_name.strip():
        errors["display_name"] = ["Enter the name colleagues know you by."]
    elif len(data.display_name.strip()) > 80:
        errors["display_name"] = ["Use at most 80 characters."]
    elif name_problems := display_name_problems(data.display_name.strip()):
        errors["display_name"] = name_problems
    email, email_errors = _normalise_email(data.email)
    if email_errors:
        errors["email"] = email_errors
    if data.job_title and len(data.job_title.strip()) > 80:
        errors["job_title"] = ["Use at most 80 characters."]
    elif problems := single_line_errors(data.job_title):
        errors["job_title"] = problems
    department = None
    try:
        department = departments.resolve(session, data.department)
    except ValidationError as exc:
        errors.update(exc.errors)
    if data.bio and len(data.bio) > 5000:
        errors["bio"] = ["Use at most 5,000 characters."]
    return errors, email, department


def _clean(value: str | None) -> str | None:
    return value.strip() or None if value else None


def _duplicates(
    session: Session, *, username: str | None, email: str | None, exclude_id: int | None = None
) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    checks = (("username", User.username, username), ("email", User.email, email))
    for field, column, value in checks:
        if value is None:
            continue
        query = select(User.id).where(column == value)
        if exclude_id is not None:
            query = query.where(User.id != exclude_id)
        if session.scalar(query) is not None:
            errors[field] = [f"This {field} is already taken."]
    return errors


def register(
    session: Session,
    *,
    username: str,
    password: str,
    profile: ProfileData,
    policy: PasswordPolicy,
    role: Role = Role.MEMBER,
    email_verified: bool = True,
) -> User:
    """Validate and stage a new member; raises ValidationError with per-field messages.

    ``email_verified`` is False for a member who registered on the site and still has to
    follow the link sent to their address (forum.services.access); accounts made by admins,
    the CLI or the demo count as verified.
    """
    username = normalise_username(username)
    errors, email, department = _check_profile(session, profile)
    if username_errors := _check_username(username):
        errors["username"] = username_errors
    problems = password_problems(
        password,
        min_length=policy.min_length,
        personal=[username, profile.display_name, *(profile.email.split("@")[:1])],
    )
    if problems:
        errors["password"] = problems
    for field, messages in _duplicates(session, username=username, email=email).items():
        errors.setdefault(field, []).extend(messages)
    if errors:
        raise ValidationError(errors)

    user = User(
        username=username,
        email=email,
        display_name=profile.display_name.strip(),
        department=department,
        job_title=_clean(profile.job_title),
        bio=_clean(profile.bio),
        password_hash=hash_password(password, policy.hash_method),
        role=role,
        email_verified=email_verified,
    )
    try:
        with session.begin_nested():
            session.add(user)
    except IntegrityError:
        # Someone registered the same name between the check and the insert.
        raise ValidationError(
            _duplicates(session, username=username, email=email)
            or {"username": ["This username or email is already taken."]}
        ) from None
    return user


def authenticate(
    session: Session, login: str, password: str, policy: PasswordPolicy
) -> User | None:
    """The member with this username or email and password, or None.

    The hash is upgraded when it was made with older parameters. An unknown login
    costs the same hashing work as a wrong password, so timing does not tell them apart.
    """
    login = login.strip().lower()
    user = session.scalar(select(User).where((User.username == login) | (User.email == login)))
    if user is None or not user.password_hash:
        verify_password(_dummy_hash(policy.hash_method), password)
        return None
    if not verify_password(user.password_hash, password) or not user.is_active:
        return None
    if needs_rehash(user.password_hash, policy.hash_method):
        user.password_hash = hash_password(password, policy.hash_method)
    user.last_login_at = utcnow()
    return user


_DUMMY_HASHES: dict[str, str] = {}


def _dummy_hash(method: str) -> str:
    if method not in _DUMMY_HASHES:
        _DUMMY_HASHES[method] = hash_password("not a real password", method)
    return _DUMMY_HASHES[method]


def get_by_username(session: Session, username: str) -> User:
    """The member named ``username``; raises NotFound."""
    user = session.scalar(select(User).where(User.username == normalise_username(username)))
    if user is None:
        raise NotFound(f"No member is called {username!r}.")
    return user


def update_profile(session: Session, user: User, profile: ProfileData) -> None:
    """Change a member's profile; raises ValidationError."""
    errors, email, department = _check_profile(session, profile)
    for field, messages in _duplicates(
        session, username=None, email=email, exclude_id=user.id
    ).items():
        errors.setdefault(field, []).extend(messages)
    if errors:
        raise ValidationError(errors)
    user.display_name = profile.display_name.strip()
    user.email = email
    user.department = department
    user.job_title = _clean(profile.job_title)
    user.bio = _clean(profile.bio)


def change_password(
    session: Session, user: User, *, current: str, new: str, policy: PasswordPolicy
) -> None:
    """Set a new password after checking the current one; other login sessions end."""
    errors: dict[str, list[str]] = {}
    if not verify_password(user.password_hash, current):
        errors["current_password"] = ["This is not your current password."]
    problems = password_problems(
        new,
        min_length=policy.min_length,
        personal=[user.username, user.display_name, *((user.email or "").split("@")[:1])],
    )
    if problems:
        errors["new_password"] = problems
    if errors:
        raise ValidationError(errors)
    set_password(user, new, policy)


def set_password(user: User, password: str, policy: PasswordPolicy) -> None:
    """Store a new hash and rotate the token that existing login sessions carry."""
    user.password_hash = hash_password(password, policy.hash_method)
    user.auth_token = new_auth_token()


#: How the audit log names what admins do to members.
ACTION_LABELS: dict[str, str] = {
    "member.role": "Changed a member's role",
    "member.deactivate": "Deactivated a member",
    "member.reactivate": "Reactivated a member",
    "member.claim_link": "Sent a claim link",
    "member.claimed": "Claimed an imported account",
    "member.2fa_on": "Turned two-factor authentication on",
    "member.2fa_off": "Turned two-factor authentication off",
    "scim.provision": "Provisioned a member through SCIM",
}


def audit(session: Session, actor: User | None, action: str, member: User, reason: str) -> None:
    """Write one audit row about ``member`` (``actor`` None: the operator at the command line)."""
    session.add(
        AuditLog(
            actor_id=actor.id if actor is not None else None,
            action=action,
            target_type="user",
            target_id=member.id,
            reason=reason,
        )
    )


def _require_admin(actor: User | None, what: str) -> None:
    if actor is not None and not actor.is_admin:
        raise Forbidden(f"Only admins can {what}.")


def _active_admins(session: Session) -> int:
    return (
        session.scalar(
            select(func.count())
            .select_from(User)
            .where(User.role == Role.ADMIN, User.is_active.is_(True))
        )
        or 0
    )


def set_role(session: Session, *, actor: User | None, user: User, role: Role) -> None:
    """Change a member's role; audited.

    Only admins may (``actor`` None: the operator at the command line); the last active admin
    stays an admin, and an admin cannot demote themselves.
    """
    _require_admin(actor, "change roles")
    if user.role is role:
        return
    if user.role is Role.ADMIN and user.is_active and _active_admins(session) <= 1:
        raise ValidationError({"role": ["forum needs at least one admin."]})
    if actor is not None and actor.id == user.id:
        raise ValidationError({"role": ["Ask another admin to change your own role."]})
    audit(session, actor, "member.role", user, f"{user.role.value} → {role.value}")
    user.role = role


def deactivate(
    session: Session, actor: User | None, member: User, *, by_sso: str | None = None
) -> None:
    """Offboard ``member``: login refused, every login session ended at once; audited.

    Their content stays under their name, marked as a former member's, and they leave every
    suggestion, match and leaderboard (which all look at ``users.is_active``). Emits
    ``MemberDeactivated`` so subsystems with credentials of their own revoke them.
    ``by_sso`` (why the company sign-in refused them) marks a deactivation that a sign-in from
    the allowed group undoes; deactivating such a member again (an admin) makes it one that
    only an admin undoes.
    """
    _require_admin(actor, "deactivate members")
    if not member.is_active and member.deactivated_by_sso and by_sso is None:
        member.deactivated_by_sso = False
        audit(session, actor, "member.deactivate", member, "kept out whatever their groups say")
        session.flush()
        return
    if not member.is_active:
        raise Conflict(f"{member.display_name} is already deactivated.")
    if actor is not None and actor.id == member.id:
        raise ValidationError({"member": ["You cannot deactivate yourself."]})
    if member.role is Role.ADMIN and _active_admins(session) <= 1:
        raise ValidationError({"member": ["forum needs at least one active admin."]})
    member.is_active = False
    member.deactivated_at = utcnow()
    member.deactivated_by_sso = by_sso is not None
    # Rotates the auth token too: no cookie made before survives a later reactivation.
    ended = logins.revoke_all(session, member)
    reason = f"{ended} login session(s) ended"
    if by_sso is not None:
        reason = f"{reason} (by the company sign-in: {by_sso})"
    audit(session, actor, "member.deactivate", member, reason)
    session.flush()
    events.emit(session, events.MemberDeactivated(member=member, actor=actor))


def reactivate(session: Session, actor: User | None, member: User, *, note: str = "") -> None:
    """Let a deactivated member log in again; audited (with ``note``), emits
    ``MemberReactivated``."""
    _require_admin(actor, "reactivate members")
    if member.is_active:
        raise Conflict(f"{member.display_name} is not deactivated.")
    member.is_active = True
    member.deactivated_by_sso = False
    audit(session, actor, "member.reactivate", member, note)
    session.flush()
    events.emit(session, events.MemberReactivated(member=member, actor=actor))


#: The admin list's filters of members' state.
STATES = ("active", "deactivated", "all")


def admin_list(
    session: Session,
    *,
    query: str | None = None,
    role: Role | None = None,
    state: str = "all",
    page: int = 1,
    per_page: int = 30,
) -> tuple[list[User], int]:
    """Members as admins see them, deactivated ones included: searched by name, username or
    email, filtered by role and state, ordered by name; with the total count."""
    stmt = select(User)
    if state == "active":
        stmt = stmt.where(User.is_active.is_(True))
    elif state == "deactivated":
        stmt = stmt.where(User.is_active.is_(False))
    if role is not None:
        stmt = stmt.where(User.role == role)
    if query and query.strip():
        text = query.strip().lower()
        like = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        stmt = stmt.where(
            or_(
                func.lower(User.display_name).like(like, escape="\\"),
                User.username.like(like, escape="\\"),
                User.email.like(like, escape="\\"),
            )
        )
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = session.scalars(
        stmt.order_by(func.lower(User.display_name), User.id)
        .limit(per_page)
        .offset((max(page, 1) - 1) * per_page)
    ).all()
    return list(rows), total


def list_members(
    session: Session,
    *,
    department: str | None = None,
    query: str | None = None,
    page: int = 1,
    per_page: int = 30,
) -> tuple[list[User], int]:
    """Members ordered by name, optionally filtered, with the total count."""
    stmt = select(User).where(User.is_active.is_(True))
    if department:
        stmt = stmt.where(User.department == department)
    if query:
        like = f"%{query.strip().lower()}%"
        stmt = stmt.where(func.lower(User.display_name).like(like) | User.username.like(like))
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = session.scalars(
        stmt.order_by(func.lower(User.display_name), User.id)
        .limit(per_page)
        .offset((max(page, 1) - 1) * per_page)
    ).all()
    return list(rows), total


def credited_member(session: Session, username: str | None) -> User | None:
    """Whom imported content with no known author is credited to: the member named
    ``username``, or without a name the first admin (None when there is no such member)."""
    query = select(User).order_by(User.id).limit(1)
    if username:
        query = query.where(User.username == username.lower())
    else:
        query = query.where(User.role == Role.ADMIN)
    return session.scalar(query)


def member_ids(session: Session) -> list[int]:
    """Every member's id, in order."""
    return list(session.scalars(select(User.id).order_by(User.id)))


def ids_by_username(session: Session, usernames: Iterable[str]) -> dict[str, int]:
    """The ids of the members among ``usernames`` (compared lower-case), by username."""
    wanted = sorted({name.lower() for name in usernames})
    rows = session.execute(select(User.username, User.id).where(User.username.in_(wanted)))
    return {str(username): int(user_id) for username, user_id in rows}
