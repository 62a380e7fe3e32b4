"""The instant-email queue: rows written with the action, sent after its commit.

A row is staged by :func:`enqueue` in the transaction that causes it (a notification on the
``instant`` channel, a reminder), so a rolled back action sends nothing. Whoever sends
(the app's background sender after a commit, ``forum mail send``) first *claims* the due rows
in a short transaction of its own (:func:`claim_due`: one attempt counted, the row leased for
a while so no other sender takes it), sends them without holding a transaction, then records
each outcome (:func:`record_sent`, :func:`record_failure`). A failed attempt is retried after
``base_delay * 2 ** (attempts - 1)`` seconds; after ``max_attempts`` the row is ``failed``.
A sender that dies mid-way leaves its rows leased: they fall due again once the lease ends.

The account emails (confirm an address, reset a password, an invitation, an imported
account's claim link) are rows of the same queue (:func:`enqueue_account`), so they are sent,
retried and listed on ``/admin/mail`` like the others. Their text carries a secret link: the
admins' page shows their subject, recipient and state only, and the text is erased once the
mail is sent or given up.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from forum.db import utcnow
from forum.models import MailDelivery, User

#: ``Session.info`` flag: this transaction queued mail (the sender wakes after its commit).
PENDING_KEY = "mail_pending"
STATES = ("queued", "sent", "failed")
MAX_SUBJECT = 300
#: Kinds of the account emails; their text holds a secret link (never shown, erased once done).
VERIFY = "account.verify"
RESET = "account.reset"
INVITE = "account.invite"
CLAIM = "account.claim"
ACCOUNT_KINDS = frozenset({VERIFY, RESET, INVITE, CLAIM})
#: What an account email's text becomes once it is sent or given up.
ERASED = ""
#: How long a claimed row is left to its sender before another may take it.
LEASE = dt.timedelta(minutes=10)


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently a mail is retried."""

    max_attempts: int = 6
    base_delay: float = 60.0
    max_delay: float = 6 * 3600.0

    def delay(self, attempts: int) -> dt.timedelta:
        """The wait before the next attempt, after ``attempts`` attempts (1, 2, 4, ... × base)."""
        seconds = self.base_delay * 2 ** max(attempts - 1, 0)
        return dt.timedelta(seconds=min(seconds, self.max_delay))


def subject_line(text: str) -> str:
    """A one-line subject from a notification's text."""
    line = " ".join(text.split())
    return line if len(line) <= 150 else line[:149] + "…"


def enqueue(
    session: Session,
    *,
    recipient: User,
    kind: str,
    subject: str,
    text: str,
    endpoint: str | None = None,
    params: dict[str, Any] | None = None,
    ics: str | None = None,
    key: str | None = None,
    now: dt.datetime | None = None,
) -> MailDelivery | None:
    """Stage one email to ``recipient`` (None when they have no address or it is queued already
    under ``key``); it goes out after the commit."""
    if not recipient.email or not recipient.is_active:
        return None
    if key is not None and session.scalar(select(MailDelivery.id).where(MailDelivery.key == key)):
        return None
    row = MailDelivery(
        recipient_id=recipient.id,
        to_address=recipient.email,
        kind=kind,
        subject=subject_line(subject)[:MAX_SUBJECT],
        text=text,
        endpoint=endpoint,
        params=dict(params or {}),
        ics=ics,
        key=key,
        state="queued",
        attempts=0,
        next_attempt_at=now or utcnow(),
    )
    session.add(row)
    session.info[PENDING_KEY] = True
    return row


def enqueue_account(
    session: Session,
    *,
    kind: str,
    to_address: str,
    recipient: User | None,
    subject: str,
    text: str,
    now: dt.datetime | None = None,
) -> MailDelivery:
    """Stage one account email (``kind`` in :data:`ACCOUNT_KINDS`) to ``to_address``, for
    ``recipient`` when it is a member's (an invitation has none yet); it goes out after the
    commit, plain text, without an unsubscribe footer."""
    if kind not in ACCOUNT_KINDS:
        raise ValueError(f"not an account email: {kind}")
    row = MailDelivery(
        recipient_id=recipient.id if recipient is not None else None,
        to_address=to_address,
        kind=kind,
        subject=subject_line(subject)[:MAX_SUBJECT],
        text=text,
        params={},
        state="queued",
        attempts=0,
        next_attempt_at=now or utcnow(),
    )
    session.add(row)
    session.info[PENDING_KEY] = True
    return row


def _done(row: MailDelivery) -> None:
    if row.kind in ACCOUNT_KINDS:
        row.text = ERASED


def claim_due(
    session: Session, *, now: dt.datetime | None = None, limit: int = 50
) -> list[MailDelivery]:
    """Take up to ``limit`` due rows for sending: each counts an attempt and is leased.

    The caller commits at once (before sending). On PostgreSQL rows another sender holds
    are skipped; SQLite's writers take turns, so a claim there is atomic anyway.
    """
    moment = now or utcnow()
    query = (
        select(MailDelivery)
        .where(MailDelivery.state == "queued", MailDelivery.next_attempt_at <= moment)
        .order_by(MailDelivery.next_attempt_at, MailDelivery.id)
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    rows = list(session.scalars(query))
    for row in rows:
        row.attempts += 1
        row.next_attempt_at = moment + LEASE
    session.flush()
    return rows


def record_sent(row: MailDelivery, *, now: dt.datetime | None = None) -> None:
    """The server accepted the mail."""
    row.state = "sent"
    row.sent_at = now or utcnow()
    row.last_error = None
    _done(row)


def record_failure(
    row: MailDelivery, error: str, policy: RetryPolicy, *, now: dt.datetime | None = None
) -> None:
    """An attempt failed: try again later with backoff, or give up after the last attempt."""
    row.last_error = error[:2000]
    if row.attempts >= policy.max_attempts:
        row.state = "failed"
        _done(row)
        return
    row.next_attempt_at = (now or utcnow()) + policy.delay(row.attempts)


def give_up(row: MailDelivery, reason: str) -> None:
    """A mail that can never go out (its member left, its address is unusable)."""
    row.state = "failed"
    row.last_error = reason
    _done(row)


def has_due(session: Session, *, now: dt.datetime | None = None) -> bool:
    """Whether any queued row is due."""
    moment = now or utcnow()
    return bool(
        session.scalar(
            select(MailDelivery.id)
            .where(MailDelivery.state == "queued", MailDelivery.next_attempt_at <= moment)
            .limit(1)
        )
    )


def recent(session: Session, *, state: str | None = None, limit: int = 100) -> list[MailDelivery]:
    """The newest deliveries (optionally of one state), for the admins' page."""
    query = select(MailDelivery).order_by(MailDelivery.created_at.desc(), MailDelivery.id.desc())
    if state in STATES:
        query = query.where(MailDelivery.state == state)
    return list(session.scalars(query.limit(limit)))


def counts(session: Session) -> dict[str, int]:
    """How many rows are in each state."""
    found = dict(
        session.execute(select(MailDelivery.state, func.count()).group_by(MailDelivery.state)).all()
    )
    return {state: int(found.get(state, 0)) for state in STATES}
