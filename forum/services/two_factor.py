"""Optional TOTP two-factor authentication for local accounts, with recovery codes.

A member with a password starts enrolment (``begin``: a new secret, shown as an
``otpauth://`` URI for their authenticator app) and turns it on with a code from the app
(``confirm``), which answers ten single-use recovery codes (only their SHA-256 is kept).
At login, after the password, ``verify`` takes a current code (each time step once) or an
unused recovery code. ``disable`` needs a code too. Turning it on or off is audited.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets

import pyotp
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from forum.db import utcnow
from forum.models import RecoveryCode, TotpSecret, User
from forum.services import accounts
from forum.services.errors import Conflict, Forbidden, ValidationError

RECOVERY_CODES = 10
#: Codes of the step before and after the current one count too (clocks drift).
VALID_WINDOW = 1
WRONG_CODE = "That code is not right: enter the current code from your app, or a recovery code."
_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"


def _hash(code: str) -> str:
    return hashlib.sha256(code.encode()).hexdigest()


def _normalised(code: str) -> str:
    return "".join(code.split()).replace("-", "").lower()


def _secret_row(session: Session, user: User) -> TotpSecret | None:
    return session.get(TotpSecret, user.id)


def is_enabled(session: Session, user: User) -> bool:
    """Whether ``user`` has confirmed two-factor authentication."""
    row = _secret_row(session, user)
    return row is not None and row.confirmed_at is not None


def may_enrol(user: User) -> bool:
    """Only local accounts (with a forum password) use the forum's two-factor."""
    return bool(user.password_hash)


def begin(session: Session, user: User) -> str:
    """A new secret for ``user`` (replacing an unconfirmed one); raises Conflict when
    two-factor is already on, Forbidden for accounts without a forum password."""
    if not may_enrol(user):
        raise Forbidden("Your company sign-in handles two-factor authentication.")
    row = _secret_row(session, user)
    if row is not None and row.confirmed_at is not None:
        raise Conflict("Two-factor authentication is already on.")
    secret = pyotp.random_base32()
    if row is None:
        session.add(TotpSecret(user_id=user.id, secret=secret))
    else:
        row.secret = secret
        row.last_step = None
    session.flush()
    return secret


def pending_secret(session: Session, user: User) -> str | None:
    """The secret of an enrolment not confirmed yet."""
    row = _secret_row(session, user)
    return row.secret if row is not None and row.confirmed_at is None else None


def provisioning_uri(secret: str, user: User, issuer: str) -> str:
    """The ``otpauth://`` URI an authenticator app takes (typed or as a QR code)."""
    return pyotp.TOTP(secret).provisioning_uri(name=user.username, issuer_name=issuer)


def _accept_totp(row: TotpSecret, code: str, now: dt.datetime) -> bool:
    """Whether ``code`` is a TOTP code of a step after the last one used (then noted)."""
    if not code.isdigit() or len(code) != 6:
        return False
    totp = pyotp.TOTP(row.secret)
    current = totp.timecode(now)
    for offset in range(-VALID_WINDOW, VALID_WINDOW + 1):
        step = current + offset
        if row.last_step is not None and step <= row.last_step:
            continue
        if secrets.compare_digest(totp.generate_otp(step), code):
            row.last_step = step
            return True
    return False


def confirm(
    session: Session, user: User, code: str, *, now: dt.datetime | None = None
) -> list[str]:
    """Turn two-factor on with a first code from the app; answers the recovery codes (shown
    once). Raises ValidationError on a wrong code, Conflict without a pending enrolment."""
    row = _secret_row(session, user)
    if row is None or row.confirmed_at is not None:
        raise Conflict("Start the set-up again: there is no pending enrolment.")
    if not _accept_totp(row, _normalised(code), now or utcnow()):
        raise ValidationError({"code": ["That code is not right: enter the current code."]})
    row.confirmed_at = utcnow()
    codes = _new_recovery_codes(session, user)
    accounts.audit(session, user, "member.2fa_on", user, "")
    session.flush()
    return codes


def _new_recovery_codes(session: Session, user: User) -> list[str]:
    session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    codes = []
    for _ in range(RECOVERY_CODES):
        code = "".join(secrets.choice(_ALPHABET) for _ in range(10))
        codes.append(f"{code[:5]}-{code[5:]}")
        session.add(RecoveryCode(user_id=user.id, code_hash=_hash(code)))
    return codes


def verify(session: Session, user: User, code: str, *, now: dt.datetime | None = None) -> bool:
    """Whether ``code`` is a current TOTP code (each step once) or an unused recovery code,
    which is then used up."""
    row = _secret_row(session, user)
    if row is None or row.confirmed_at is None:
        return False
    code = _normalised(code)
    if _accept_totp(row, code, now or utcnow()):
        session.flush()
        return True
    used = session.execute(
        update(RecoveryCode)
        .where(
            RecoveryCode.user_id == user.id,
            RecoveryCode.code_hash == _hash(code),
            RecoveryCode.used_at.is_(None),
        )
        .values(used_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    return bool(used.rowcount)  # type: ignore[attr-defined]


def recovery_codes_left(session: Session, user: User) -> int:
    """How many recovery codes ``user`` has not used."""
    rows = session.scalars(
        select(RecoveryCode.id).where(
            RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None)
        )
    )
    return len(rows.all())


def disable(session: Session, user: User, code: str) -> None:
    """Turn two-factor off after checking a code; raises ValidationError on a wrong one."""
    if not verify(session, user, code):
        raise ValidationError({"code": [WRONG_CODE]})
    row = _secret_row(session, user)
    if row is not None:
        session.delete(row)
    session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    accounts.audit(session, user, "member.2fa_off", user, "")
    session.flush()
