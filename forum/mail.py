"""Sending email over SMTP, configured by one URL (``FORUM_SMTP_URL``).

``smtp://host:port`` is a plain connection, ``smtp://host:port?starttls=1`` upgrades it with
STARTTLS, ``smtps://host:port`` uses TLS from the start; ``user:password@`` (URL-encoded) logs in.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
import threading
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid, parseaddr
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from sqlalchemy.orm import Session

from forum import aftercommit

log = logging.getLogger(__name__)

_TRUE = {"1", "true", "yes", "on"}


class MailConfigError(ValueError):
    """The SMTP URL or sender address is unusable."""


@dataclass(frozen=True)
class SmtpSettings:
    """Where and how to connect."""

    host: str
    port: int
    username: str | None = None
    password: str | None = None
    starttls: bool = False
    tls: bool = False
    timeout: float = 30.0


def parse_smtp_url(url: str, *, timeout: float = 30.0) -> SmtpSettings:
    """Read ``smtp://[user:password@]host[:port][?starttls=1]`` or ``smtps://...``."""
    parts = urlsplit(url or "")
    if parts.scheme not in {"smtp", "smtps"} or not parts.hostname:
        raise MailConfigError(
            "FORUM_SMTP_URL must look like smtp://host:port or smtps://host:port."
        )
    tls = parts.scheme == "smtps"
    try:
        port = parts.port or (465 if tls else 25)
    except ValueError:
        raise MailConfigError("The port in FORUM_SMTP_URL is not a number.") from None
    query = parse_qs(parts.query)
    starttls = (query.get("starttls", ["0"])[-1].lower() in _TRUE) and not tls
    return SmtpSettings(
        host=parts.hostname,
        port=port,
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
        starttls=starttls,
        tls=tls,
        timeout=timeout,
    )


@dataclass(frozen=True)
class Attachment:
    """A text file sent along with a message (a calendar invitation, say)."""

    filename: str
    content: str
    #: The MIME subtype under ``text/``: ``calendar`` for an .ics file.
    subtype: str = "plain"


def build_message(
    *,
    sender: str,
    to: str,
    subject: str,
    text: str,
    html: str | None = None,
    headers: Mapping[str, str] | None = None,
    attachments: Iterable[Attachment] = (),
) -> EmailMessage:
    """A message with a plain-text body and, when given, an HTML alternative, extra headers
    (``List-Unsubscribe``, ...) and text attachments.

    Non-ASCII display names and subjects are encoded as RFC 2047 words by the email package.
    """
    if not parseaddr(sender)[1]:
        raise MailConfigError("FORUM_MAIL_FROM is not an email address.")
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = formatdate(localtime=False, usegmt=True)
    message["Message-ID"] = make_msgid(domain=parseaddr(sender)[1].rpartition("@")[2] or None)
    for name, value in (headers or {}).items():
        message[name] = value
    message.set_content(text)
    if html is not None:
        message.add_alternative(html, subtype="html")
    for attachment in attachments:
        message.add_attachment(
            attachment.content, subtype=attachment.subtype, filename=attachment.filename
        )
    return message


class Mailer:
    """One SMTP connection for a batch of messages (use as a context manager)."""

    def __init__(self, settings: SmtpSettings) -> None:
        self.settings = settings
        self._smtp: smtplib.SMTP | None = None

    def __enter__(self) -> Mailer:
        s = self.settings
        context = ssl.create_default_context()
        smtp: smtplib.SMTP
        if s.tls:
            smtp = smtplib.SMTP_SSL(s.host, s.port, timeout=s.timeout, context=context)
        else:
            smtp = smtplib.SMTP(s.host, s.port, timeout=s.timeout)
        try:
            smtp.ehlo()
            if s.starttls:
                smtp.starttls(context=context)
                smtp.ehlo()
            if s.username:
                smtp.login(s.username, s.password or "")
        except BaseException:
            smtp.close()
            raise
        self._smtp = smtp
        return self

    def send(self, message: EmailMessage) -> None:
        """Send one message; raises smtplib errors when the server refuses it."""
        if self._smtp is None:
            raise RuntimeError("Mailer is not connected; use it in a with block.")
        self._smtp.send_message(message)

    def __exit__(self, *_exc: object) -> None:
        if self._smtp is not None:
            try:
                self._smtp.quit()
            except smtplib.SMTPException:
                self._smtp.close()
            except OSError:
                self._smtp.close()
            self._smtp = None


def send_all(settings: SmtpSettings, messages: Iterable[EmailMessage]) -> int:
    """Send every message over one connection; returns how many were sent."""
    sent = 0
    with Mailer(settings) as mailer:
        for message in messages:
            mailer.send(message)
            sent += 1
    return sent


@dataclass
class Delivery:
    """What became of a message sent after a commit: ``sent`` once the server took it,
    ``error`` when it could not be delivered (both unset while the commit has not happened)."""

    sent: bool = False
    error: str | None = None


def send_after_commit(session: Session, settings: SmtpSettings, message: EmailMessage) -> Delivery:
    """Send ``message`` once ``session``'s transaction has committed (never if it rolls back).

    A mail server that is down or refuses the message never fails the action: the failure is
    logged and recorded on the returned ``Delivery``, which the caller reads after its commit.
    """
    delivery = Delivery()

    def job() -> None:
        try:
            send_all(settings, [message])
        except (OSError, smtplib.SMTPException) as exc:
            delivery.error = str(exc) or exc.__class__.__name__
            log.warning("could not send %r to %s: %s", message["Subject"], message["To"], exc)
        else:
            delivery.sent = True

    aftercommit.defer(session, job)
    return delivery


# Sending after the commit, off the request's path ------------------------------------------

#: One thread sends the messages of every request, one after another: a slow or unreachable
#: SMTP server delays mail, never a page. Not a daemon: a server stopping finishes the queue.
_EXECUTOR = ThreadPoolExecutor(max_workers=1, thread_name_prefix="forum-mail")
_PENDING: set[Future[None]] = set()
_PENDING_LOCK = threading.Lock()


def queue_after_commit(
    session: Session, config: Mapping[str, Any], compose: Callable[[str], list[EmailMessage]]
) -> None:
    """Send the messages ``compose(sender)`` makes once ``session``'s transaction commits.

    Sending happens in a background thread; a missing or failing SMTP server is logged and
    never fails the request (a rolled back transaction sends nothing).
    """
    aftercommit.defer(session, lambda: _queue(config, compose))


def _queue(config: Mapping[str, Any], compose: Callable[[str], list[EmailMessage]]) -> None:
    url = config.get("SMTP_URL")
    try:
        messages = compose(str(config.get("MAIL_FROM") or ""))
    except MailConfigError:
        log.exception("Mail not sent: FORUM_MAIL_FROM is not usable")
        return
    if not url:
        for message in messages:
            log.warning(
                "Mail not sent (FORUM_SMTP_URL is not set): %r to %s",
                str(message["Subject"]),
                message["To"],
            )
        return
    try:
        settings = parse_smtp_url(str(url), timeout=float(config.get("SMTP_TIMEOUT") or 30))
    except MailConfigError:
        log.exception("Mail not sent: FORUM_SMTP_URL is not usable")
        return
    future = _EXECUTOR.submit(_deliver, settings, messages)
    with _PENDING_LOCK:
        _PENDING.add(future)
    future.add_done_callback(_forget)


def _forget(future: Future[None]) -> None:
    with _PENDING_LOCK:
        _PENDING.discard(future)


def _deliver(settings: SmtpSettings, messages: list[EmailMessage]) -> None:
    try:
        send_all(settings, messages)
    except (smtplib.SMTPException, OSError):
        log.exception(
            "Mail to %s could not be sent through %s:%s",
            ", ".join(str(m["To"]) for m in messages),
            settings.host,
            settings.port,
        )


def wait_idle(timeout: float) -> bool:
    """Wait up to ``timeout`` seconds for queued messages to be sent (or fail); for tests."""
    with _PENDING_LOCK:
        pending = set(_PENDING)
    if not pending:
        return True
    _done, not_done = wait(pending, timeout=timeout)
    return not not_done
