"""Accounts at an outside identity provider (OpenID Connect, LDAP) that sign in as a member."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import DateTime, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from forum.db import Base, CreatedAt, IntPK
from forum.models.users import User


class Identity(Base):
    """One provider's account (``provider``, ``subject``) and the member it signs in as.

    ``subject`` is the provider's stable identifier: the ID token's ``sub`` for OpenID Connect,
    the entry's ``entryUUID`` (``objectGUID`` in Active Directory) for LDAP. A member may have
    several identities; an identity belongs to one member.
    """

    __tablename__ = "identities"
    __table_args__ = (UniqueConstraint("provider", "subject"),)

    id: Mapped[IntPK]
    provider: Mapped[str] = mapped_column(String(16))
    subject: Mapped[str] = mapped_column(String(255))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[CreatedAt]
    last_login_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))

    user: Mapped[User] = relationship()

    def __repr__(self) -> str:
        return f"<Identity {self.provider}:{self.subject}>"
