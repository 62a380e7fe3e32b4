"""Who may join and get back in: invitations and password reset links."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import DateTime, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from forum.db import Base, CreatedAt, IntPK


class Invitation(Base):
    """An invitation to register with ``email``; the link carries a secret hashed here."""

    __tablename__ = "invitations"

    id: Mapped[IntPK]
    email: Mapped[str] = mapped_column(String(254), index=True)
    # SHA-256 of the link's secret: a copy of the table lets nobody register.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    invited_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    created_at: Mapped[CreatedAt]
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    used_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    used_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    def __repr__(self) -> str:
        return f"<Invitation {self.id} for {self.email}>"


class PasswordReset(Base):
    """A password reset link sent to a member; single use, short-lived, stored as a hash."""

    __tablename__ = "password_resets"

    id: Mapped[IntPK]
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[CreatedAt]
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    used_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))

    def __repr__(self) -> str:
        return f"<PasswordReset {self.id} of user {self.user_id}>"
