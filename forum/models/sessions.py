"""Login sessions kept on the server, so logging out ends a session for good."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import DateTime, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from forum.db import Base, CreatedAt, IntPK


class LoginSession(Base):
    """One login on one device; the cookie carries a secret whose SHA-256 is ``key_hash``."""

    __tablename__ = "login_sessions"

    id: Mapped[IntPK]
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    # A hash, not the secret: a copy of the table does not let anyone into an account.
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_agent: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[CreatedAt]
    # Updated at most every few minutes, so ordinary requests do not write.
    last_seen_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))

    @property
    def is_active(self) -> bool:
        """Until logged out (here, everywhere, or by a password change)."""
        return self.revoked_at is None

    def __repr__(self) -> str:
        return f"<LoginSession {self.id} of user {self.user_id}>"
