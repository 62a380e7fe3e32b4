"""``forum mail send`` and ``forum mail reminders``: the mail queue (instant emails, reminders,
account emails, claim links), for cron or a worker loop."""

from __future__ import annotations

import smtplib
from urllib.parse import urlsplit

import click
from flask import Flask, current_app
from flask.cli import with_appcontext

from forum import delivery
from forum.db import new_session
from forum.mail import MailConfigError
from forum.services import bounties, reminders


@click.group("mail")
def mail_group() -> None:
    """Email: send what is queued, queue the reminders that are due."""


@mail_group.command("send")
@with_appcontext
def send_command() -> None:
    """Send every queued email that is due once (retries included), then stop."""
    app: Flask = current_app._get_current_object()  # type: ignore[attr-defined]
    try:
        report = delivery.send_due(app)
    except MailConfigError as exc:
        raise click.ClickException(str(exc)) from None
    except (OSError, smtplib.SMTPException) as exc:
        raise click.ClickException(f"Could not send mail: {exc}") from None
    click.echo(report.summary())


@mail_group.command("reminders")
@with_appcontext
def reminders_command() -> None:
    """Remind members of circle sessions starting within a day (once per session and start
    time, with the .ics attached to emailed reminders) and owners of articles due for review
    (once per period), and settle the bounties that are due. Emailed reminders go out after
    the commit or with `forum mail send`."""
    app: Flask = current_app._get_current_object()  # type: ignore[attr-defined]
    domain = urlsplit(str(app.config["SITE_URL"])).hostname or "localhost"
    with new_session(app, writes=True) as session:
        report = reminders.run(session, domain=domain)
        session.commit()
    click.echo(
        f"Reminded {report.members} member(s) of {report.sessions} circle session(s); "
        f"told the owners of {report.articles} stale article(s)."
    )
    # The periodic run settles the bounties that are due as well (`forum bounties settle`).
    with new_session(app, writes=True) as session:
        settled = bounties.settle_due(session)
        session.commit()
    click.echo(settled.summary())
