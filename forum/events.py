"""Domain events: the one way a service says that something happened.

A service that performs an action emits an event in its own transaction, once the action's
rows are flushed (ids assigned)::

    events.emit(session, events.VoteCast(post=post, voter=voter, old=old, new=new))

Subscribers are plain functions ``(session, event) -> None`` that run right away, in the
emitting transaction and in the order they subscribed. The app factory wires them in
(``forum.create_app`` → ``register_subscribers``); each subsystem names what it reacts to in
its own ``subscribe(bus)`` function, so ``grep -rn "VoteCast" forum`` finds every emitter and
every subscriber of an event.

Two kinds of subscriber:

- **critical** (reputation): part of the action. An exception fails the action, and the
  caller rolls the whole transaction back.
- **non-critical** (notifications): a side effect. It runs inside a SAVEPOINT; an exception
  undoes only its own writes, is logged, and the action goes on.

Badges and the search index do not subscribe here: they follow the rows a commit changed,
whoever changed them (``forum.services.badges.follow_commits`` and ``forum.search.init_app``),
and do their work after the commit. docs/architecture.md lists every event and subscriber.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy.orm import Session

from forum.models import (
    Bounty,
    CircleSession,
    Comment,
    Invitation,
    Post,
    SuggestedEdit,
    TutorialRequest,
    User,
)

log = logging.getLogger(__name__)

#: ``Session.info`` key of the bus that the app's sessions carry (see ``forum.db``).
BUS_KEY = "events"


class Event:
    """Base class of every domain event."""


@dataclass(frozen=True)
class QuestionAsked(Event):
    """A question was posted (its tags set, rows flushed)."""

    question: Post
    author: User


@dataclass(frozen=True)
class AnswerPosted(Event):
    """An answer was posted to ``question``."""

    answer: Post
    question: Post
    author: User


@dataclass(frozen=True)
class ArticleSaved(Event):
    """A tip or tutorial was published or edited (``created`` tells which)."""

    article: Post
    editor: User
    created: bool


@dataclass(frozen=True)
class PostEdited(Event):
    """A question or answer was edited (a new revision)."""

    post: Post
    editor: User


@dataclass(frozen=True)
class SuggestedEditReviewed(Event):
    """A reviewer approved or rejected a member's suggested edit of a question or answer."""

    suggestion: SuggestedEdit
    reviewer: User
    approved: bool


@dataclass(frozen=True)
class PostDeleted(Event):
    """A post was soft-deleted (it stays for history and undelete)."""

    post: Post
    actor: User


@dataclass(frozen=True)
class PostUndeleted(Event):
    """A soft-deleted post was brought back."""

    post: Post
    actor: User


@dataclass(frozen=True)
class VoteCast(Event):
    """``voter``'s vote on ``post`` changed from ``old`` to ``new`` (-1, 0 or 1)."""

    post: Post
    voter: User
    old: int
    new: int


@dataclass(frozen=True)
class AnswerAccepted(Event):
    """The accepted answer of ``question`` changed (``new_answer`` None: none is accepted)."""

    question: Post
    old_answer: Post | None
    new_answer: Post | None
    acceptor: User


@dataclass(frozen=True)
class ArticleMarkedHelpful(Event):
    """``member``'s helpful mark on ``article`` changed (None: no mark)."""

    article: Post
    member: User
    old: bool | None
    new: bool | None


@dataclass(frozen=True)
class CommentAdded(Event):
    """A comment was posted on ``post``."""

    comment: Comment
    post: Post
    author: User


@dataclass(frozen=True)
class CommentEdited(Event):
    """A comment's text changed."""

    comment: Comment
    editor: User


@dataclass(frozen=True)
class BadgeAwarded(Event):
    """A member earned a badge."""

    user_id: int
    badge_key: str
    badge_name: str


@dataclass(frozen=True)
class MemberWarned(Event):
    """The moderators sent ``recipient`` a warning about one of their posts or comments."""

    recipient: User
    text: str
    #: What the warning is about ("question", "answer", "comment", ...).
    subject: str
    endpoint: str
    params: dict[str, Any]


@dataclass(frozen=True)
class ArticleStale(Event):
    """A published article went past its review-by date (its owner is told once per period)."""

    article: Post


@dataclass(frozen=True)
class TutorialRequested(Event):
    """A member asked for a tutorial nobody has written yet."""

    request: TutorialRequest
    requester: User


@dataclass(frozen=True)
class CircleSessionScheduled(Event):
    """A circle's facilitator (or a moderator) scheduled a meeting or workshop."""

    item: CircleSession
    actor: User


@dataclass(frozen=True)
class MemberDeactivated(Event):
    """``member`` was deactivated (they left): login refused, every login session ended.

    ``actor`` is the admin who did it, or None for the operator at the command line.
    Subsystems that hand out their own credentials subscribe to revoke them.
    """

    member: User
    actor: User | None


@dataclass(frozen=True)
class MemberReactivated(Event):
    """A deactivated ``member`` may log in again (with new login sessions only)."""

    member: User
    actor: User | None


@dataclass(frozen=True)
class ContentFlagged(Event):
    """A member flagged a post or comment for the moderators."""

    flag_id: int
    reporter_id: int
    #: What was flagged ("question", "answer", "comment", ...) and the title it belongs to.
    subject: str
    title: str
    reason: str


@dataclass(frozen=True)
class FlagsResolved(Event):
    """A moderator resolved flags: ``outcome`` is "helpful" or "declined"."""

    reporter_ids: tuple[int, ...]
    outcome: str
    subject: str
    title: str


@dataclass(frozen=True)
class AuthorRevealed(Event):
    """A moderator looked up who asked an anonymous question (who and why stay in the log)."""

    question: Post


@dataclass(frozen=True)
class BountyStarted(Event):
    """``offerer`` put a bounty on ``question`` (its amount already left them)."""

    bounty: Bounty
    question: Post
    offerer: User


@dataclass(frozen=True)
class BountyAwarded(Event):
    """A bounty went to ``answer``: by its offerer, or half of it by itself (``automatic``)."""

    bounty: Bounty
    question: Post
    answer: Post
    automatic: bool


@dataclass(frozen=True)
class EmailVerificationRequested(Event):
    """A member who registered on the site is to confirm ``user.email`` with ``token``."""

    user: User
    token: str


@dataclass(frozen=True)
class PasswordResetRequested(Event):
    """Someone asked for a password reset link for ``user``; ``token`` is its secret."""

    user: User
    token: str


@dataclass(frozen=True)
class MemberInvited(Event):
    """``inviter`` invited ``invitation.email`` to register; ``token`` is the link's secret."""

    invitation: Invitation
    inviter: User
    token: str


E = TypeVar("E", bound=Event)
Handler = Callable[[Session, Any], None]


@dataclass(frozen=True)
class Subscriber:
    """One function subscribed to one event type."""

    handler: Handler
    critical: bool


class EventBus:
    """Who subscribed to which event, for one app."""

    def __init__(self) -> None:
        self._subscribers: dict[type[Event], list[Subscriber]] = {}

    def subscribe(
        self, event_type: type[E], handler: Callable[[Session, E], None], *, critical: bool
    ) -> None:
        """Run ``handler`` for every ``event_type`` emitted (once, however often called)."""
        subscribers = self._subscribers.setdefault(event_type, [])
        if all(s.handler is not handler for s in subscribers):
            subscribers.append(Subscriber(handler, critical))

    def subscribers(self, event_type: type[Event]) -> list[Subscriber]:
        """The subscribers of ``event_type``, in the order they subscribed."""
        return list(self._subscribers.get(event_type, ()))


class NotWired(RuntimeError):
    """The session carries no event bus: it was not made by the app's session factory."""


def bus_of(session: Session) -> EventBus:
    """The bus the session carries."""
    bus = session.info.get(BUS_KEY)
    if not isinstance(bus, EventBus):
        raise NotWired(
            "This session was not made by the app's session factory (forum.db.new_session), "
            "so nobody would hear its events."
        )
    return bus


def emit(session: Session, event: Event) -> None:
    """Tell ``event``'s subscribers, in the session's transaction."""
    for subscriber in bus_of(session).subscribers(type(event)):
        if subscriber.critical:
            subscriber.handler(session, event)
            continue
        try:
            with session.begin_nested():
                subscriber.handler(session, event)
        except Exception:  # noqa: BLE001 - a side effect never fails the action
            log.exception(
                "Subscriber %s of %s failed; the action goes on without it",
                getattr(subscriber.handler, "__qualname__", subscriber.handler),
                type(event).__name__,
            )
