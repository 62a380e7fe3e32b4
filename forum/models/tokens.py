"""Personal access tokens: what lets a member's scripts use the REST API."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import DateTime, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from forum.db import Base, CreatedAt, IntPK
from forum.models.users import User


class AccessToken(Base):
    """One personal access token; only the SHA-256 of its secret is kept.

    ``scopes`` holds the granted scopes separated by spaces (``read``, ``write``).
    """

    __tablename__ = "access_tokens"

    id: Mapped[IntPK]
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(60))
    # A hash, not the secret: a copy of the table does not let anyone use the API.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # The first characters of the secret, so a member can tell their tokens apart.
    prefix: Mapped[str] = mapped_column(String(16))
    scopes: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[CreatedAt]
    expires_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    # Updated at most every minute, so reading through the API does not write on every call.
    last_used_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))

    user: Mapped[User] = relationship()

    @property
    def scope_list(self) -> list[str]:
        """The granted scopes, in a fixed order."""
        return sorted(set(self.scopes.split()))

    def __repr__(self) -> str:
        return f"<AccessToken {self.name!r} of user {self.user_id}>"


class FeedToken(Base):
    """A member's secret for feed addresses on a members-only site (feed readers cannot log in).

    Like the calendar secret, it is kept as it is: the member's pages show the address again.
    """

    __tablename__ = "feed_tokens"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    token: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[CreatedAt]

    user: Mapped[User] = relationship()
