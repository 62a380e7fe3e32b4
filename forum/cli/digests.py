"""``forum digest send``: email each member their digest of notifications."""

from __future__ import annotations

import datetime as dt
import smtplib
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import click
from flask import Flask, current_app, url_for
from flask.cli import with_appcontext
from werkzeug.routing import BuildError

from forum.db import new_session
from forum.delivery import unsubscribe_headers, unsubscribe_url
from forum.mail import MailConfigError, Mailer, build_message, parse_smtp_url
from forum.models import Notification
from forum.services import digests


@dataclass
class DigestReport:
    """What one run did."""

    period: str
    sent: int = 0
    notifications: int = 0
    failed: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """One line for the terminal."""
        noun = "digest" if self.sent == 1 else "digests"
        line = (
            f"Sent {self.sent} {self.period} {noun} "
            f"({self.notifications} notification{'' if self.notifications == 1 else 's'})."
        )
        if self.failed:
            line += f" Not sent to {len(self.failed)}: {', '.join(self.failed)}."
        return line


def _link(notification: Notification) -> str | None:
    params: dict[str, Any] = dict(notification.params or {})
    try:
        return url_for(notification.endpoint, _external=True, **params)
    except (BuildError, ValueError, TypeError):
        return None


def _unsubscribe_link(app: Flask, user_id: int, kind: str) -> str:
    return unsubscribe_url(app, user_id, [kind])


def send_digests(app: Flask, period: str, *, now: dt.datetime | None = None) -> DigestReport:
    """Send every pending digest of ``period``; each member's items are marked once sent."""
    digests.period_length(period)
    url = app.config.get("SMTP_URL")
    if not url:
        raise MailConfigError("Set FORUM_SMTP_URL (e.g. smtp://localhost:25) to send digests.")
    settings = parse_smtp_url(str(url), timeout=float(app.config.get("SMTP_TIMEOUT", 30)))
    sender = str(app.config["MAIL_FROM"])
    report = DigestReport(period=period)
    with new_session(app) as session:
        pending = digests.pending(session, period, now=now)
        if not pending:
            return report
        with (
            app.test_request_context(base_url=str(app.config["SITE_URL"])),
            Mailer(settings) as mailer,
        ):
            inbox_url = url_for("notifications.inbox", _external=True)
            settings_url = url_for("notifications.settings", _external=True)
            for digest in pending:
                user_id = digest.user.id
                text = digests.compose(
                    digest,
                    period,
                    link=_link,
                    inbox_url=inbox_url,
                    settings_url=settings_url,
                    unsubscribe=partial(_unsubscribe_link, app, user_id),
                )
                try:
                    message = build_message(
                        sender=sender,
                        to=str(digest.user.email),
                        subject=text.subject,
                        text=text.text,
                        html=text.html,
                        headers=unsubscribe_headers(unsubscribe_url(app, user_id, text.kinds)),
                    )
                except ValueError:
                    # A stored address with a line break cannot become a header: skip this
                    # member (their items stay pending) rather than stop everyone's digest.
                    report.failed.append(digest.user.username)
                    continue
                try:
                    mailer.send(message)
                except (smtplib.SMTPRecipientsRefused, smtplib.SMTPDataError):
                    report.failed.append(digest.user.username)
                    continue
                digests.mark_emailed(session, digest.items, now=now)
                # Committed per member: a failure later in the run never resends this one.
                session.commit()
                report.sent += 1
                report.notifications += len(digest.items)
    return report


@click.group("digest")
def digest_group() -> None:
    """Email digests of notifications."""


@digest_group.command("send")
@click.option(
    "--period",
    type=click.Choice(sorted(digests.PERIODS)),
    default="daily",
    show_default=True,
    help="Which notifications to include: those of the last day or week.",
)
@with_appcontext
def digest_send(period: str) -> None:
    """Email each member who chose this period's digest for a kind their unsent notifications."""
    app: Flask = current_app._get_current_object()  # type: ignore[attr-defined]
    try:
        report = send_digests(app, period)
    except MailConfigError as exc:
        raise click.ClickException(str(exc)) from None
    except (OSError, smtplib.SMTPException) as exc:
        raise click.ClickException(f"Could not send mail: {exc}") from None
    click.echo(report.summary())
