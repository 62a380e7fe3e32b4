"""Members of the forum and their roles."""

from __future__ import annotations

import datetime as dt
import enum
import secrets

from sqlalchemy import DateTime, String, Text, false, true
from sqlalchemy.orm import Mapped, mapped_column

from forum.db import Base, CreatedAt, IntPK, value_enum


class Role(enum.StrEnum):
    """What a member may do beyond ordinary participation."""

    MEMBER = "member"
    MODERATOR = "moderator"
    ADMIN = "admin"


def new_auth_token() -> str:
    """A random token that ties login sessions to the current password."""
    return secrets.token_urlsafe(16)


class User(Base):
    """A member. ``username`` and ``email`` are stored lower-case and unique."""

    __tablename__ = "users"

    id: Mapped[IntPK]
    username: Mapped[str] = mapped_column(String(32), unique=True)
    email: Mapped[str | None] = mapped_column(String(254), unique=True)
    display_name: Mapped[str] = mapped_column(String(80))
    # None for accounts that cannot log in (imported, not yet claimed).
    password_hash: Mapped[str | None] = mapped_column(String(255))
    auth_token: Mapped[str] = mapped_column(String(32), default=new_auth_token)
    department: Mapped[str | None] = mapped_column(String(80))
    job_title: Mapped[str | None] = mapped_column(String(80))
    bio: Mapped[str | None] = mapped_column(Text)
    role: Mapped[Role] = mapped_column(
        value_enum(Role, 16),
        default=Role.MEMBER,
        server_default=Role.MEMBER.value,
    )
    reputation: Mapped[int] = mapped_column(default=0, server_default="0")
    # Kept by forum.services.notifications so the header needs no query to show it.
    unread_notifications: Mapped[int] = mapped_column(default=0, server_default="0")
    #: How many drafts the member keeps (forum.services.drafts keeps it): forms look for a
    #: draft only when there is one.
    draft_count: Mapped[int] = mapped_column(default=0, server_default="0")
    is_active: Mapped[bool] = mapped_column(default=True, server_default=true())
    #: When an admin last deactivated the member (kept after reactivation for the record).
    deactivated_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    #: Deactivated because the company sign-in left them out of the allowed group: a sign-in
    #: from that group reactivates them (any other deactivation stays until an admin's).
    deactivated_by_sso: Mapped[bool] = mapped_column(default=False, server_default=false())
    # False only for a member who registered on the site and has not yet followed the link
    # sent to their address; accounts made by admins, the CLI or the demo count as verified.
    email_verified: Mapped[bool] = mapped_column(default=True, server_default=true())
    created_at: Mapped[CreatedAt]
    last_login_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    # Kept by forum.services.logins at most every few minutes: the latest time the member was
    # seen, and the end of their previous visit (what the front page counts changes from).
    last_seen_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    previous_visit_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    # Whether the member takes mentees: 'open', 'limited' or 'closed'.
    mentoring_availability: Mapped[str] = mapped_column(
        String(8), default="open", server_default="open"
    )
    # People partners (HR) pair new members with buddies, as admins do.
    people_partner: Mapped[bool] = mapped_column(default=False, server_default=false())

    # Flask-Login protocol: properties rather than a mixin, so the model stays plain data.
    @property
    def is_authenticated(self) -> bool:
        """Every loaded member is authenticated; anonymous visitors are another class."""
        return True

    @property
    def is_anonymous(self) -> bool:
        """A member is never the anonymous visitor."""
        return False

    def get_id(self) -> str:
        """The session identifier: id and auth token, so a password change ends other sessions."""
        return f"{self.id}.{self.auth_token}"

    @property
    def is_moderator(self) -> bool:
        """Moderators and admins facilitate discussions."""
        return self.role in (Role.MODERATOR, Role.ADMIN)

    @property
    def is_admin(self) -> bool:
        """Admins manage members and settings."""
        return self.role is Role.ADMIN

    @property
    def initials(self) -> str:
        """Up to two initials of the display name, for the generated avatar."""
        parts = [p for p in self.display_name.split() if p[:1].isalnum()]
        letters = "".join(p[0] for p in parts[:2]) or self.username[:1]
        return letters.upper()

    def __repr__(self) -> str:
        return f"<User {self.username}>"
