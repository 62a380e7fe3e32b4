"""The emails of access: confirm your address, reset your password, you are invited.

Non-critical subscribers of the access events (forum.services.access) compose each message
and hand it to forum.mail, which sends it after the commit in a background thread. Links are
built on ``FORUM_SITE_URL``, never on the request's Host header, so a forged header cannot
send a member a link to another site.
"""

from __future__ import annotations

from email.headerregistry import Address
from email.message import EmailMessage
from typing import Any
from urllib.parse import urlsplit

from flask import Flask
from sqlalchemy.orm import Session

from forum import events, mail
from forum.models import User


def _recipient(user: User) -> str:
    return str(Address(display_name=user.display_name, addr_spec=user.email or ""))


class AccountMail:
    """Composes and queues the access emails of one app."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self.config = app.config

    def link(self, endpoint: str, **values: Any) -> str:
        """An absolute address on ``SITE_URL`` (its path prefix included)."""
        parts = urlsplit(str(self.config["SITE_URL"]))
        adapter = self.app.url_map.bind(
            parts.netloc or "localhost",
            script_name=parts.path or "/",
            url_scheme=parts.scheme or "https",
        )
        return str(adapter.build(endpoint, values, force_external=True))

    def _send(self, session: Session, to: str, subject: str, text: str) -> None:
        def compose(sender: str) -> list[EmailMessage]:
            return [mail.build_message(sender=sender, to=to, subject=subject, text=text)]

        mail.queue_after_commit(session, self.config, compose)

    def verification(self, session: Session, event: events.EmailVerificationRequested) -> None:
        """Send the link that confirms a newly registered member's address."""
        days = int(self.config["EMAIL_VERIFICATION_DAYS"])
        link = self.link("auth.verify_email", token=event.token)
        self._send(
            session,
            _recipient(event.user),
            "Confirm your email address for forum",
            f"Hello {event.user.display_name},\n\n"
            f"Please confirm that {event.user.email} is your address by opening this link:\n\n"
            f"{link}\n\n"
            f"Until then you can read but not post. The link works for {days} days.\n"
            "If you did not register on forum, ignore this message.\n",
        )

    def password_reset(self, session: Session, event: events.PasswordResetRequested) -> None:
        """Send a password reset link."""
        minutes = int(self.config["PASSWORD_RESET_MINUTES"])
        link = self.link("auth.reset_password", token=event.token)
        self._send(
            session,
            _recipient(event.user),
            "Reset your forum password",
            f"Hello {event.user.display_name},\n\n"
            "Someone (hopefully you) asked to reset the password of your forum account "
            f"{event.user.username}. Choose a new password here:\n\n"
            f"{link}\n\n"
            f"The link works once, for {minutes} minutes. Setting a new password logs your "
            "account out everywhere.\n"
            "If you did not ask for this, ignore this message: your password stays as it is.\n",
        )

    def invitation(self, session: Session, event: events.MemberInvited) -> None:
        """Send an invitation link."""
        days = int(self.config["INVITATION_DAYS"])
        link = self.link("auth.register", token=event.token)
        self._send(
            session,
            event.invitation.email,
            f"{event.inviter.display_name} invites you to forum",
            f"Hello,\n\n{event.inviter.display_name} invites you to join forum, where "
            "colleagues share what they know and answer each other's questions.\n\n"
            f"Create your account here:\n\n{link}\n\n"
            f"The link works once, for {days} days.\n",
        )


def subscribe(bus: events.EventBus, app: Flask) -> None:
    """Send the access emails of ``app`` (non-critical: a failure never fails the action)."""
    sender = AccountMail(app)
    bus.subscribe(events.EmailVerificationRequested, sender.verification, critical=False)
    bus.subscribe(events.PasswordResetRequested, sender.password_reset, critical=False)
    bus.subscribe(events.MemberInvited, sender.invitation, critical=False)
