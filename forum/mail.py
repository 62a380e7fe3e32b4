"""Sending email over SMTP, configured by one URL (``FORUM_SMTP_URL``).

``smtp://host:port`` is a plain connection, ``smtp://host:port?starttls=1`` upgrades it with
STARTTLS, ``smtps://host:port`` uses TLS from the start; ``user:password@`` (URL-encoded) logs in.
Nothing here sends on its own: every email is a row of the one queue
(``forum.services.mailqueue``), sent by ``forum.delivery`` with these pieces.
"""

from __future__ import annotations

import smtplib
import ssl
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid, parseaddr
from urllib.parse import parse_qs, unquote, urlsplit

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
