"""The emails of access: confirm your address, reset your password, you are invited.

Non-critical subscribers of the access events (forum.services.access) compose each message
and queue it in the action's transaction (``mailqueue.enqueue_account``): the app's mail
sender (``forum.delivery``) sends it after the commit, retrying when the server fails. Links are
built on ``FORUM_SITE_URL``, never on the request's Host header, so a forged header cannot
send a member a link to another site.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from flask import Flask
from sqlalchemy.orm import Session

from forum import events
from forum.models import User
from forum.services import mailqueue


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

    @staticmethod
    def _send(session: Session, kind: str, member: User, subject: str, text: str) -> None:
        if member.email:
            mailqueue.enqueue_account(
                session,
                kind=kind,
                to_address=member.email,
                recipient=member,
                subject=subject,
                text=text,
            )

    def verification(self, session: Session, event: events.EmailVerificationRequested) -> None:
        """Send the link that confirms a newly registered member's address."""
        days = int(self.config["EMAIL_VERIFICATION_DAYS"])
        link = self.link("auth.verify_email", token=event.token)
        self._send(
            session,
            mailqueue.VERIFY,
            event.user,
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
            mailqueue.RESET,
            event.user,
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
        mailqueue.enqueue_account(
            session,
            kind=mailqueue.INVITE,
            to_address=event.invitation.email,
            recipient=None,
            subject=f"{event.inviter.display_name} invites you to forum",
            text=(
                f"Hello,\n\n{event.inviter.display_name} invites you to join forum, where "
                "colleagues share what they know and answer each other's questions.\n\n"
                f"Create your account here:\n\n{link}\n\n"
                f"The link works once, for {days} days.\n"
            ),
        )


def subscribe(bus: events.EventBus, app: Flask) -> None:
    """Send the access emails of ``app`` (non-critical: a failure never fails the action)."""
    sender = AccountMail(app)
    bus.subscribe(events.EmailVerificationRequested, sender.verification, critical=False)
    bus.subscribe(events.PasswordResetRequested, sender.password_reset, critical=False)
    bus.subscribe(events.MemberInvited, sender.invitation, critical=False)
