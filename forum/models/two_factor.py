"""Two-factor authentication: a member's TOTP secret and their single-use recovery codes."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import DateTime, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from forum.db import Base, CreatedAt, IntPK


class TotpSecret(Base):
    """A member's authenticator secret; two-factor is on once ``confirmed_at`` is set.

    ``last_step`` is the time step of the last code accepted, so a code is never used twice.
    """

    __tablename__ = "totp_secrets"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    secret: Mapped[str] = mapped_column(String(64))
    confirmed_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    last_step: Mapped[int | None]
    created_at: Mapped[CreatedAt]


class RecoveryCode(Base):
    """One single-use recovery code, kept as the SHA-256 of the code."""

    __tablename__ = "recovery_codes"

    id: Mapped[IntPK]
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    code_hash: Mapped[str] = mapped_column(String(64))
    used_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
