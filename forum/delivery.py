"""Delivering email: the one queue of every email, the unsubscribe links notifications carry.

Queued mails (``forum.services.mailqueue``) go out in two ways, both through ``send_due``:

- after each commit that queued some, a thread of the app's process sends them
  (``follow_commits``; at most one such thread per app at a time). The request never waits
  for it and never sees its errors: a refused connection only moves the mails' next attempt
  on, with backoff;
- ``forum mail send`` (cron or a worker loop) sends whatever is due, retries included.

Every notification email names, in its body and in ``List-Unsubscribe`` (with RFC 8058's
``List-Unsubscribe-Post: List-Unsubscribe=One-Click``), an address that stops emailing the
kinds it is about, without a login: a token signed with the app's secret key naming the member
and the kinds (``unsubscribe_token``).
"""

from __future__ import annotations

import datetime as dt
import html
import logging
import smtplib
import threading
import weakref
from collections.abc import Iterable
from dataclasses import dataclass, field
from email.headerregistry import Address
from email.message import EmailMessage
from functools import partial
from typing import Any

from flask import Flask, url_for
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import event
from sqlalchemy.orm import Session
from werkzeug.routing import BuildError

from forum import aftercommit
from forum.db import first_listen, new_session, session_factory
from forum.mail import (
    Attachment,
    MailConfigError,
    Mailer,
    SmtpSettings,
    build_message,
    parse_smtp_url,
)
from forum.models import MailDelivery, User
from forum.services import mailqueue
from forum.services.notifications import KIND_LABELS

log = logging.getLogger(__name__)

_TOKEN_SALT = "forum.unsubscribe"
ONE_CLICK = "List-Unsubscribe=One-Click"


# --- unsubscribe links ------------------------------------------------------------------------


def _serializer(app: Flask) -> URLSafeSerializer:
    return URLSafeSerializer(str(app.config["SECRET_KEY"]), salt=_TOKEN_SALT)


def unsubscribe_token(app: Flask, user_id: int, kinds: Iterable[str]) -> str:
    """A token naming the member and the kinds it stops emailing (signed, never expires)."""
    return str(_serializer(app).dumps({"u": int(user_id), "k": sorted(set(kinds))}))


def read_unsubscribe_token(app: Flask, token: str) -> tuple[int, list[str]] | None:
    """The member and kinds a token names; None when it was not signed by this site."""
    try:
        data = _serializer(app).loads(token)
    except BadSignature:
        return None
    if not isinstance(data, dict):
        return None
    user_id, kinds = data.get("u"), data.get("k")
    if not isinstance(user_id, int) or not isinstance(kinds, list):
        return None
    if not all(isinstance(kind, str) for kind in kinds):
        return None
    return user_id, kinds


def unsubscribe_url(app: Flask, user_id: int, kinds: Iterable[str]) -> str:
    """The absolute unsubscribe address (inside a request context for ``SITE_URL``)."""
    return url_for(
        "notifications.unsubscribe",
        token=unsubscribe_token(app, user_id, kinds),
        _external=True,
    )


def unsubscribe_headers(url: str) -> dict[str, str]:
    """``List-Unsubscribe`` and the RFC 8058 one-click header for ``url``."""
    return {"List-Unsubscribe": f"<{url}>", "List-Unsubscribe-Post": ONE_CLICK}


# --- composing --------------------------------------------------------------------------------


def smtp_settings(app: Flask) -> SmtpSettings:
    """The configured SMTP server; MailConfigError when there is none."""
    url = app.config.get("SMTP_URL")
    if not url:
        raise MailConfigError("Set FORUM_SMTP_URL (e.g. smtp://localhost:25) to send email.")
    return parse_smtp_url(str(url), timeout=float(app.config.get("SMTP_TIMEOUT", 30)))


def retry_policy(app: Flask) -> mailqueue.RetryPolicy:
    """Attempts and backoff from the configuration."""
    return mailqueue.RetryPolicy(
        max_attempts=int(app.config["MAIL_MAX_ATTEMPTS"]),
        base_delay=float(app.config["MAIL_RETRY_SECONDS"]),
    )


def _link(endpoint: str | None, params: dict[str, Any]) -> str | None:
    if not endpoint:
        return None
    try:
        return url_for(endpoint, _external=True, **params)
    except (BuildError, ValueError, TypeError):
        return None


def compose(app: Flask, row: MailDelivery, member: User | None) -> EmailMessage:
    """The message for one queued row (inside a request context for ``SITE_URL``).

    ValueError when the address cannot become a header.
    """
    if row.kind in mailqueue.ACCOUNT_KINDS:
        return compose_account(app, row, member)
    if member is None:
        raise ValueError("a notification email needs its member")
    link = _link(row.endpoint, dict(row.params or {}))
    stop = unsubscribe_url(app, member.id, [row.kind])
    settings_url = url_for("notifications.settings", _external=True)
    label = KIND_LABELS.get(row.kind, row.kind)
    lines = [row.text, ""]
    if link:
        lines += [link, ""]
    lines += [
        "--",
        f"You get this email at once for: {label}.",
        f"Stop emailing me these: {stop}",
        f"Choose what is emailed: {settings_url}",
    ]
    text = html.escape(row.text)
    if link:
        text = f'<a href="{html.escape(link, quote=True)}">{text}</a>'
    body_html = (
        '<!doctype html><html><head><meta charset="utf-8">'
        f"<title>{html.escape(row.subject)}</title></head><body>"
        f"<p>{text}</p><hr><p>You get this email at once for: {html.escape(label)}.</p>"
        f'<p><a href="{html.escape(stop, quote=True)}">Stop emailing me these</a> · '
        f'<a href="{html.escape(settings_url, quote=True)}">Choose what is emailed</a></p>'
        "</body></html>"
    )
    to = str(Address(display_name=member.display_name, addr_spec=row.to_address))
    attachments = [Attachment("session.ics", row.ics, "calendar")] if row.ics else []
    return build_message(
        sender=str(app.config["MAIL_FROM"]),
        to=to,
        subject=row.subject,
        text="\n".join(lines) + "\n",
        html=body_html,
        headers=unsubscribe_headers(stop),
        attachments=attachments,
    )


def compose_account(app: Flask, row: MailDelivery, member: User | None) -> EmailMessage:
    """An account email: its text as written (it carries its own link), no unsubscribe
    footer (it is the answer to something just asked for)."""
    to = (
        str(Address(display_name=member.display_name, addr_spec=row.to_address))
        if member is not None
        else row.to_address
    )
    return build_message(
        sender=str(app.config["MAIL_FROM"]), to=to, subject=row.subject, text=row.text
    )


# --- sending ----------------------------------------------------------------------------------


@dataclass
class SendReport:
    """What one ``send_due`` did."""

    sent: int = 0
    retrying: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """One line for the terminal."""
        line = f"Sent {self.sent} {'email' if self.sent == 1 else 'emails'}"
        if self.retrying:
            line += f", {self.retrying} to retry later"
        if self.failed:
            line += f", {self.failed} given up"
        return line + "."


def _claim(
    app: Flask, now: dt.datetime | None, limit: int
) -> list[tuple[MailDelivery, User | None]]:
    """Claim due rows (committed at once); rows whose member is gone are given up."""
    with new_session(app, writes=True) as session:
        claimed: list[tuple[MailDelivery, User | None]] = []
        for row in mailqueue.claim_due(session, now=now, limit=limit):
            member = session.get(User, row.recipient_id) if row.recipient_id else None
            if row.kind == mailqueue.INVITE:
                # An invitation goes to an address, not yet to a member.
                claimed.append((row, None))
                continue
            if member is None or not member.is_active:
                mailqueue.give_up(row, "The member's account is closed.")
                continue
            claimed.append((row, member))
        session.commit()
        return claimed


def _attempt(
    app: Flask, claimed: list[tuple[MailDelivery, User | None]]
) -> tuple[dict[int, str | None], bool]:
    """Send the claimed rows over one connection: each row's error (None: sent), and
    whether the server could not be reached at all."""
    outcome: dict[int, str | None] = {}
    messages: list[tuple[MailDelivery, EmailMessage]] = []
    with app.test_request_context(base_url=str(app.config["SITE_URL"])):
        for row, member in claimed:
            try:
                messages.append((row, compose(app, row, member)))
            except ValueError as exc:
                outcome[row.id] = f"Unusable address or header: {exc}"
    try:
        with Mailer(smtp_settings(app)) as mailer:
            for row, message in messages:
                try:
                    mailer.send(message)
                except (
                    smtplib.SMTPRecipientsRefused,
                    smtplib.SMTPSenderRefused,
                    smtplib.SMTPDataError,
                ) as exc:
                    outcome[row.id] = f"Refused by the server: {exc}"
                else:
                    outcome[row.id] = None
    except (OSError, smtplib.SMTPException) as exc:
        error = f"Could not reach the mail server: {exc}"
        for row, _message in messages:
            outcome.setdefault(row.id, error)
        return outcome, True
    return outcome, False


def send_due(app: Flask, *, now: dt.datetime | None = None, batch: int = 50) -> SendReport:
    """Send every queued mail that is due, in batches; record each outcome.

    Raises MailConfigError when no SMTP server is configured. Stops early (the rest stays
    due) when the server cannot be reached.
    """
    smtp_settings(app)  # refuse before claiming anything
    policy = retry_policy(app)
    report = SendReport()
    while True:
        claimed = _claim(app, now, batch)
        if not claimed:
            return report
        outcome, unreachable = _attempt(app, claimed)
        with new_session(app, writes=True) as session:
            for row, _member in claimed:
                stored = session.get(MailDelivery, row.id)
                if stored is None:
                    continue
                error = outcome.get(row.id)
                if error is None:
                    mailqueue.record_sent(stored, now=now)
                    report.sent += 1
                    continue
                mailqueue.record_failure(stored, error, policy, now=now)
                if stored.state == "failed":
                    report.failed += 1
                else:
                    report.retrying += 1
                report.errors.append(error)
            session.commit()
        if unreachable or len(claimed) < batch:
            return report


# --- after each commit ------------------------------------------------------------------------

_LOCK = threading.Lock()
#: The thread sending each app's mail, while one runs.
_RUNNERS: dict[Flask, threading.Thread] = {}
#: Apps whose mail was queued again while their thread was sending.
_AGAIN: set[Flask] = set()


def wake(app: Flask) -> None:
    """Send due mail in a thread of its own (or tell the running one to go round again)."""
    if not app.config.get("SMTP_URL") or not app.config.get("MAIL_SEND_AFTER_COMMIT"):
        return
    with _LOCK:
        runner = _RUNNERS.get(app)
        if runner is not None and runner.is_alive():
            _AGAIN.add(app)
            return
        # Not a daemon: a server stopping gracefully lets it finish what it took.
        thread = threading.Thread(target=_run, args=(app,), name="forum-mail")
        _RUNNERS[app] = thread
        thread.start()


def _run(app: Flask) -> None:
    while True:
        try:
            send_due(app)
        except Exception:  # noqa: BLE001 - never raised into anyone; the queue keeps the mail
            log.exception("Sending queued mail failed; `forum mail send` will retry")
        with _LOCK:
            if app in _AGAIN:
                _AGAIN.discard(app)
                continue
            _RUNNERS.pop(app, None)
            return


def wait_idle(timeout: float) -> bool:
    """Wait up to ``timeout`` seconds for mail threads to finish (tests, tools)."""
    with _LOCK:
        threads = list(_RUNNERS.values())
    for thread in threads:
        thread.join(timeout)
    with _LOCK:
        return not any(t.is_alive() for t in _RUNNERS.values())


def _after_commit(app: Flask, session: Session) -> None:
    if session.in_nested_transaction():
        return
    if session.info.pop(mailqueue.PENDING_KEY, False):
        aftercommit.defer(session, partial(wake, app))


def follow_commits(app: Flask) -> None:
    """Wake the app's mail sender after every commit that queued mail."""
    factory = session_factory(app)
    if not first_listen(factory, __name__):
        return
    aftercommit.attach(factory)
    # SQLAlchemy keeps a factory's listeners for as long as its session class lives, and the
    # app holds that class: a listener holding the app would keep every app made alive.
    app_ref = weakref.ref(app)

    def after_commit(session: Session) -> None:
        found = app_ref()
        if found is not None:
            _after_commit(found, session)

    event.listen(factory, "after_commit", after_commit)
