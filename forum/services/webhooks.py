"""Webhooks: who is told about what, what each event says, and the outbox of deliveries.

Admins register an address with a secret, the events it wants and the shape of its bodies
(plain JSON for integrations, or Slack, Microsoft Teams or Mattermost incoming-webhook
messages). Each event is a non-critical subscriber of the bus (:func:`subscribe`): in the
action's own transaction it writes one ``WebhookDelivery`` row per webhook that wants it, with
the exact body to send. Nothing is sent here: ``forum.webhooks`` sends the rows once the
transaction has committed, so a rolled back action tells nobody.

Anonymous posts never reveal their author: payloads name people exactly as pages do
("Anonymous colleague", "Anonymous colleague (asker)").
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from html import unescape
from typing import Any
from urllib.parse import urlsplit

import bleach
from sqlalchemy import select
from sqlalchemy.orm import Session

from forum import events
from forum.db import utcnow
from forum.models import Post, TutorialRequest, User, Webhook, WebhookAttempt, WebhookDelivery
from forum.services import audit, posts, visibility
from forum.services.comments import ANONYMOUS_ASKER_LABEL
from forum.services.errors import NotFound, ValidationError
from forum.services.notification_events import post_link
from forum.services.text import single_line_errors

#: Every event a webhook may subscribe to, with how the admin pages describe it.
EVENTS: dict[str, str] = {
    "question.created": "A question is asked",
    "answer.created": "An answer is posted",
    "answer.accepted": "An answer is accepted",
    "article.published": "An article is published",
    "article.edited": "An article is edited",
    "article.stale": "An article is past its review-by date",
    "comment.created": "A comment is posted",
    "badge.awarded": "A member earns a badge",
    "tutorial_request.created": "A tutorial is requested",
    "circle_session.scheduled": "A circle session is scheduled",
    "bounty.started": "A bounty is offered on a question",
    "bounty.awarded": "A bounty is awarded to an answer",
}
#: How a delivery's body is shaped.
FORMATS: dict[str, str] = {
    "json": "JSON (for integrations)",
    "slack": "Slack incoming webhook",
    "teams": "Microsoft Teams incoming webhook",
    "mattermost": "Mattermost incoming webhook",
}
URL_MAX = 2000
SECRET_MIN = 8
SECRET_MAX = 200
#: Characters of plain text a payload's excerpt keeps at most.
EXCERPT_MAX = 300
#: How the audit log names what was done to a webhook (``actor`` None: the command line).
ACTION_LABELS: dict[str, str] = {
    "webhook.add": "Added a webhook",
    "webhook.edit": "Changed a webhook",
    "webhook.enable": "Enabled a webhook",
    "webhook.disable": "Paused a webhook",
    "webhook.remove": "Removed a webhook",
    "webhook.send_again": "Sent a webhook delivery again",
}
#: How long a delivery is retried before it is given up.
RETRY_FOR = dt.timedelta(days=1)

#: ``Session.info`` key of the function that makes absolute URLs: ``(endpoint, params) -> url``.
LINKS_KEY = "webhook_links"
#: ``Session.info`` flag: the transaction wrote deliveries (``forum.webhooks`` sends them).
PENDING_KEY = "webhooks_pending"

PENDING = "pending"
DELIVERED = "delivered"
FAILED = "failed"

Links = Callable[[str, dict[str, Any]], str]


# --- registration -----------------------------------------------------------------------------


@dataclass(frozen=True)
class WebhookData:
    """What an admin fills in for a webhook."""

    url: str
    secret: str
    events: list[str]
    format: str = "json"
    active: bool = True


def validate(data: WebhookData, *, secret_required: bool = True) -> dict[str, list[str]]:
    """Why ``data`` cannot be saved (field name → messages); empty when it can."""
    errors: dict[str, list[str]] = {}
    url = data.url.strip()
    parts = urlsplit(url)
    if not url:
        errors["url"] = ["Enter the address to send events to."]
    elif len(url) > URL_MAX:
        errors["url"] = [f"Use an address of at most {URL_MAX} characters."]
    elif single_line_errors(url) or any(ch.isspace() for ch in url):
        errors["url"] = ["An address has no spaces or control characters."]
    elif parts.scheme not in {"http", "https"} or not parts.hostname:
        errors["url"] = ["Use an http:// or https:// address."]
    secret = data.secret
    if secret or secret_required:
        if not secret.strip():
            errors["secret"] = ["Enter a secret; the receiver checks signatures with it."]
        elif len(secret) < SECRET_MIN or len(secret) > SECRET_MAX:
            errors["secret"] = [f"Use {SECRET_MIN} to {SECRET_MAX} characters."]
        elif single_line_errors(secret):
            errors["secret"] = single_line_errors(secret)
    unknown = [name for name in data.events if name not in EVENTS]
    if unknown:
        errors["events"] = [f"Unknown event: {', '.join(unknown)}."]
    elif not data.events:
        errors["events"] = ["Choose at least one event."]
    if data.format not in FORMATS:
        errors["format"] = [f"Choose one of: {', '.join(FORMATS)}."]
    return errors


def create(session: Session, *, actor: User | None, data: WebhookData) -> Webhook:
    """Register a webhook (ValidationError when ``data`` is refused)."""
    errors = validate(data)
    if errors:
        raise ValidationError(errors)
    webhook = Webhook(
        url=data.url.strip(),
        secret=data.secret,
        events=" ".join(_ordered(data.events)),
        format=data.format,
        active=data.active,
        created_by_id=actor.id if actor is not None else None,
    )
    session.add(webhook)
    session.flush()
    _audit(session, actor, "webhook.add", webhook, _described(webhook))
    return webhook


def _site(url: str) -> str:
    """An address without its path and query: chat services' incoming-webhook addresses carry
    their own secret there, and moderators read the audit log."""
    parts = urlsplit(url)
    path = "/…" if parts.path.strip("/") or parts.query else ""
    return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}{path}"


def _described(webhook: Webhook) -> str:
    """What the audit log says of a webhook: never its secret, nor its address's path."""
    state = "active" if webhook.active else "paused"
    events = ", ".join(webhook.event_names)
    return f"{_site(webhook.url)} ({webhook.format}, {state}; events: {events})"


def _audit(
    session: Session, actor: User | None, action: str, webhook: Webhook, reason: str
) -> None:
    audit.record(
        session,
        actor=actor,
        action=action,
        target_type="webhook",
        target_id=webhook.id,
        reason=reason,
    )


def update(session: Session, webhook: Webhook, *, actor: User | None, data: WebhookData) -> Webhook:
    """Change a webhook; an empty secret keeps the current one. Audited: what changed (a new
    secret is said to be new, never shown), and enabling or pausing as actions of their own."""
    errors = validate(data, secret_required=False)
    if errors:
        raise ValidationError(errors)
    url, events = data.url.strip(), " ".join(_ordered(data.events))
    changed = [
        name
        for name, differs in (
            ("address", url != webhook.url),
            ("secret", bool(data.secret) and data.secret != webhook.secret),
            ("events", events != webhook.events),
            ("format", data.format != webhook.format),
        )
        if differs
    ]
    toggled = data.active != webhook.active
    webhook.url = url
    if data.secret:
        webhook.secret = data.secret
    webhook.events = events
    webhook.format = data.format
    webhook.active = data.active
    session.flush()
    if changed:
        reason = f"Changed {', '.join(changed)}: {_described(webhook)}"
        _audit(session, actor, "webhook.edit", webhook, reason)
    if toggled:
        action = "webhook.enable" if webhook.active else "webhook.disable"
        _audit(session, actor, action, webhook, _site(webhook.url))
    return webhook


def set_active(session: Session, webhook: Webhook, *, actor: User | None, active: bool) -> None:
    """Enable or pause a webhook (audited when its state changes)."""
    if webhook.active == active:
        return
    webhook.active = active
    session.flush()
    _audit(
        session,
        actor,
        "webhook.enable" if active else "webhook.disable",
        webhook,
        _site(webhook.url),
    )


def delete(session: Session, webhook: Webhook, *, actor: User | None) -> None:
    """Remove a webhook with its deliveries and their attempts (audited)."""
    _audit(session, actor, "webhook.remove", webhook, _described(webhook))
    session.delete(webhook)
    session.flush()


def _ordered(names: Iterable[str]) -> list[str]:
    wanted = set(names)
    return [name for name in EVENTS if name in wanted]


def get(session: Session, webhook_id: int) -> Webhook:
    """A webhook by id; NotFound otherwise."""
    webhook = session.get(Webhook, webhook_id)
    if webhook is None:
        raise NotFound("There is no such webhook.")
    return webhook


def list_webhooks(session: Session) -> list[Webhook]:
    """Every webhook, oldest first."""
    return list(session.scalars(select(Webhook).order_by(Webhook.id)))


def get_delivery(session: Session, delivery_id: int) -> WebhookDelivery:
    """A delivery by id; NotFound otherwise."""
    delivery = session.get(WebhookDelivery, delivery_id)
    if delivery is None:
        raise NotFound("There is no such delivery.")
    return delivery


def recent_deliveries(session: Session, webhook: Webhook, limit: int = 50) -> list[WebhookDelivery]:
    """A webhook's latest deliveries, newest first."""
    return list(
        session.scalars(
            select(WebhookDelivery)
            .where(WebhookDelivery.webhook_id == webhook.id)
            .order_by(WebhookDelivery.id.desc())
            .limit(limit)
        )
    )


def attempts_of(session: Session, delivery_ids: Iterable[int]) -> dict[int, list[WebhookAttempt]]:
    """The attempts at each of these deliveries, oldest first."""
    ids = sorted(set(delivery_ids))
    found: dict[int, list[WebhookAttempt]] = {i: [] for i in ids}
    if ids:
        for attempt in session.scalars(
            select(WebhookAttempt)
            .where(WebhookAttempt.delivery_id.in_(ids))
            .order_by(WebhookAttempt.id)
        ):
            found[attempt.delivery_id].append(attempt)
    return found


def send_again(
    session: Session,
    delivery: WebhookDelivery,
    *,
    actor: User | None,
    now: dt.datetime | None = None,
) -> None:
    """Queue a delivery again (same body and id), due now and retried for another day
    (audited)."""
    moment = now or utcnow()
    delivery.status = PENDING
    delivery.next_attempt_at = moment
    delivery.give_up_at = moment + RETRY_FOR
    session.flush()
    reason = f"Delivery {delivery.uuid} ({delivery.event}) to {_site(delivery.webhook.url)}"
    _audit(session, actor, "webhook.send_again", delivery.webhook, reason)
    session.info[PENDING_KEY] = True


# --- payloads ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Payload:
    """What one event says, before it is shaped for a receiver."""

    event: str
    id: int
    title: str
    excerpt: str
    url: str
    tags: list[str] = field(default_factory=list)
    #: The name pages show for who did it (None: nobody, e.g. an article going stale).
    actor_name: str | None = None
    #: Their profile's address; None when they are anonymous or nobody.
    actor_url: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """The JSON format's body."""
        actor = None
        if self.actor_name is not None:
            actor = {"name": self.actor_name, "url": self.actor_url}
        return {
            "event": self.event,
            "id": self.id,
            "title": self.title,
            "excerpt": self.excerpt,
            "tags": list(self.tags),
            "url": self.url,
            "actor": actor,
        }


def excerpt(html: str, limit: int = EXCERPT_MAX) -> str:
    """The start of a rendered (sanitised) text as plain text, at most ``limit`` characters."""
    text = " ".join(unescape(bleach.clean(html or "", tags=set(), strip=True)).split())
    if len(text) <= limit:
        return text
    return text[: limit - 1].rstrip() + "…"


def _slack_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


#: What a chat message says before the title.
HEADLINES: dict[str, str] = {
    "question.created": "New question",
    "answer.created": "New answer",
    "answer.accepted": "Answer accepted",
    "article.published": "New article",
    "article.edited": "Article edited",
    "article.stale": "Article due for review",
    "comment.created": "New comment",
    "badge.awarded": "Badge earned",
    "tutorial_request.created": "Tutorial requested",
    "circle_session.scheduled": "Circle session scheduled",
}


def _byline(payload: Payload) -> str:
    parts = []
    if payload.tags:
        parts.append("Tags: " + ", ".join(payload.tags))
    if payload.actor_name:
        parts.append("By " + payload.actor_name)
    return " · ".join(parts)


def slack_message(payload: Payload) -> dict[str, Any]:
    """A Slack incoming-webhook message: text, and blocks with the title's link."""
    headline = HEADLINES[payload.event]
    link = f"<{payload.url}|{_slack_escape(payload.title)}>"
    blocks: list[dict[str, Any]] = [
        {
            "type": "section",
            "text": {
                "type": "mrkdwn",
                "text": f"*{headline}:* {link}"
                + (f"\n{_slack_escape(payload.excerpt)}" if payload.excerpt else ""),
            },
        }
    ]
    if byline := _byline(payload):
        blocks.append(
            {"type": "context", "elements": [{"type": "mrkdwn", "text": _slack_escape(byline)}]}
        )
    return {"text": f"{headline}: {link}", "blocks": blocks}


def mattermost_message(payload: Payload) -> dict[str, Any]:
    """A Mattermost incoming-webhook message: text and an attachment with the title's link."""
    headline = HEADLINES[payload.event]
    fields = []
    if payload.tags:
        fields.append({"title": "Tags", "value": ", ".join(payload.tags), "short": True})
    if payload.actor_name:
        fields.append({"title": "By", "value": payload.actor_name, "short": True})
    return {
        "text": f"{headline}: [{payload.title}]({payload.url})",
        "attachments": [
            {
                "fallback": f"{headline}: {payload.title} {payload.url}",
                "title": payload.title,
                "title_link": payload.url,
                "text": payload.excerpt,
                "fields": fields,
            }
        ],
    }


def teams_message(payload: Payload) -> dict[str, Any]:
    """A Microsoft Teams incoming-webhook message (a MessageCard with an "Open" button)."""
    headline = HEADLINES[payload.event]
    facts = []
    if payload.tags:
        facts.append({"name": "Tags", "value": ", ".join(payload.tags)})
    if payload.actor_name:
        facts.append({"name": "By", "value": payload.actor_name})
    return {
        "@type": "MessageCard",
        "@context": "https://schema.org/extensions",
        "summary": f"{headline}: {payload.title}",
        "title": f"{headline}: {payload.title}",
        "text": payload.excerpt,
        "sections": [{"facts": facts}] if facts else [],
        "potentialAction": [
            {
                "@type": "OpenUri",
                "name": "Open in forum",
                "targets": [{"os": "default", "uri": payload.url}],
            }
        ],
    }


def body_for(format: str, payload: Payload) -> str:
    """The exact text POSTed to a webhook of this format."""
    shaped: dict[str, Any]
    if format == "slack":
        shaped = slack_message(payload)
    elif format == "mattermost":
        shaped = mattermost_message(payload)
    elif format == "teams":
        shaped = teams_message(payload)
    else:
        shaped = payload.as_dict()
    return json.dumps(shaped, ensure_ascii=False, separators=(",", ":"))


# --- the outbox -------------------------------------------------------------------------------


def queue(session: Session, payload: Payload) -> int:
    """Write a delivery for every active webhook subscribed to the event; how many."""
    webhooks = [
        w
        for w in session.scalars(select(Webhook).where(Webhook.active.is_(True)))
        if payload.event in w.event_names
    ]
    moment = utcnow()
    for webhook in webhooks:
        session.add(
            WebhookDelivery(
                webhook_id=webhook.id,
                uuid=str(uuid.uuid4()),
                event=payload.event,
                body=body_for(webhook.format, payload),
                status=PENDING,
                attempts=0,
                next_attempt_at=moment,
                give_up_at=moment + RETRY_FOR,
            )
        )
    if webhooks:
        session.flush()
        session.info[PENDING_KEY] = True
    return len(webhooks)


def _wanted(session: Session, event: str) -> bool:
    """Whether an active webhook wants ``event`` (checked before building its payload)."""
    return any(
        event in names.split()
        for names in session.scalars(select(Webhook.events).where(Webhook.active.is_(True)))
    )


def _link(session: Session, endpoint: str, params: dict[str, Any]) -> str:
    links: Links | None = session.info.get(LINKS_KEY)
    if links is None:
        raise RuntimeError("This session cannot build absolute links (forum.webhooks.init_app).")
    return links(endpoint, params)


def _post_url(session: Session, post: Post, anchor: str | None = None) -> str:
    endpoint, params = post_link(session, post)
    if anchor:
        params = {**params, "_anchor": anchor}
    return _link(session, endpoint, params)


def _member(session: Session, user: User | None) -> tuple[str | None, str | None]:
    if user is None:
        return None, None
    return user.display_name, _link(session, "users.profile", {"username": user.username})


def _post_author(session: Session, post: Post) -> tuple[str | None, str | None]:
    """The author as pages show them: never named when anonymous."""
    label = posts.author_label(post)
    if post.is_anonymous or post.author is None:
        return label, None
    return label, _link(session, "users.profile", {"username": post.author.username})


def _root(session: Session, post: Post) -> Post:
    if post.parent_id is not None:
        parent = session.get(Post, post.parent_id)
        if parent is not None:
            return parent
    return post


def _tags(post: Post) -> list[str]:
    return sorted(tag.name for tag in post.tags)


def webhook_question_asked(session: Session, event: events.QuestionAsked) -> None:
    """question.created"""
    if not _wanted(session, "question.created"):
        return
    question = event.question
    name, url = _post_author(session, question)
    queue(
        session,
        Payload(
            event="question.created",
            id=question.id,
            title=question.title or "",
            excerpt=excerpt(question.body_html),
            url=_post_url(session, question),
            tags=_tags(question),
            actor_name=name,
            actor_url=url,
        ),
    )


def webhook_answer_posted(session: Session, event: events.AnswerPosted) -> None:
    """answer.created"""
    if not _wanted(session, "answer.created"):
        return
    answer, question = event.answer, event.question
    name, url = _post_author(session, answer)
    queue(
        session,
        Payload(
            event="answer.created",
            id=answer.id,
            title=question.title or "",
            excerpt=excerpt(answer.body_html),
            url=_post_url(session, answer),
            tags=_tags(question),
            actor_name=name,
            actor_url=url,
        ),
    )


def webhook_answer_accepted(session: Session, event: events.AnswerAccepted) -> None:
    """answer.accepted (not an acceptance taken back)."""
    answer, question = event.new_answer, event.question
    if answer is None or not _wanted(session, "answer.accepted"):
        return
    name: str | None
    url: str | None
    if question.is_anonymous:
        name, url = posts.ANONYMOUS_LABEL, None
    else:
        name, url = _member(session, event.acceptor)
    queue(
        session,
        Payload(
            event="answer.accepted",
            id=answer.id,
            title=question.title or "",
            excerpt=excerpt(answer.body_html),
            url=_post_url(session, answer),
            tags=_tags(question),
            actor_name=name,
            actor_url=url,
        ),
    )


def webhook_article_saved(session: Session, event: events.ArticleSaved) -> None:
    """article.published (a new article) or article.edited."""
    name = "article.published" if event.created else "article.edited"
    article = event.article
    if not _wanted(session, name) or not visibility.is_live(session, article):
        return
    actor, url = _member(session, event.editor)
    queue(
        session,
        Payload(
            event=name,
            id=article.id,
            title=article.title or "",
            excerpt=excerpt(article.body_html),
            url=_post_url(session, article),
            tags=_tags(article),
            actor_name=actor,
            actor_url=url,
        ),
    )


def webhook_article_stale(session: Session, event: events.ArticleStale) -> None:
    """article.stale (nobody acted: the date passed)."""
    article = event.article
    if not _wanted(session, "article.stale") or not visibility.is_live(session, article):
        return
    queue(
        session,
        Payload(
            event="article.stale",
            id=article.id,
            title=article.title or "",
            excerpt=excerpt(article.body_html),
            url=_post_url(session, article),
            tags=_tags(article),
        ),
    )


def webhook_comment_added(session: Session, event: events.CommentAdded) -> None:
    """comment.created; the anonymous asker's comments in their thread stay anonymous."""
    if not _wanted(session, "comment.created"):
        return
    comment, post, author = event.comment, event.post, event.author
    root = _root(session, post)
    name: str | None
    url: str | None
    if root.is_anonymous and root.author_id == author.id:
        name, url = ANONYMOUS_ASKER_LABEL, None
    else:
        name, url = _member(session, author)
    queue(
        session,
        Payload(
            event="comment.created",
            id=comment.id,
            title=root.title or "",
            excerpt=excerpt(comment.body_html),
            url=_post_url(session, post, f"comment-{comment.id}"),
            tags=_tags(root),
            actor_name=name,
            actor_url=url,
        ),
    )


def webhook_badge_awarded(session: Session, event: events.BadgeAwarded) -> None:
    """badge.awarded (badges are public on profiles; actions under the mask earn none)."""
    if not _wanted(session, "badge.awarded"):
        return
    member = session.get(User, event.user_id)
    if member is None:
        return
    name, url = _member(session, member)
    queue(
        session,
        Payload(
            event="badge.awarded",
            id=event.user_id,
            title=event.badge_name,
            excerpt=f"{member.display_name} earned the badge {event.badge_name}.",
            url=_link(session, "badges.detail", {"key": event.badge_key}),
            actor_name=name,
            actor_url=url,
        ),
    )


def webhook_tutorial_requested(session: Session, event: events.TutorialRequested) -> None:
    """tutorial_request.created"""
    if not _wanted(session, "tutorial_request.created"):
        return
    request: TutorialRequest = event.request
    name, url = _member(session, event.requester)
    queue(
        session,
        Payload(
            event="tutorial_request.created",
            id=request.id,
            title=request.title,
            excerpt=excerpt(request.details_html),
            url=_link(session, "gaps.request_detail", {"request_id": request.id}),
            tags=sorted(tag.name for tag in request.tags),
            actor_name=name,
            actor_url=url,
        ),
    )


def webhook_circle_session_scheduled(
    session: Session, event: events.CircleSessionScheduled
) -> None:
    """circle_session.scheduled"""
    if not _wanted(session, "circle_session.scheduled"):
        return
    item = event.item
    circle = item.circle
    start = item.starts_at.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    agenda = excerpt(item.agenda_html)
    name, url = _member(session, event.actor)
    queue(
        session,
        Payload(
            event="circle_session.scheduled",
            id=item.id,
            title=f"{circle.name}: {item.title}",
            excerpt=f"{start}. {agenda}".strip() if agenda else start,
            url=_link(session, "circles.session_detail", {"session_id": item.id}),
            tags=sorted(tag.name for tag in circle.tags),
            actor_name=name,
            actor_url=url,
        ),
    )


def webhook_bounty_started(session: Session, event: events.BountyStarted) -> None:
    """bounty.started."""
    if not _wanted(session, "bounty.started"):
        return
    question, bounty = event.question, event.bounty
    name, url = _member(session, event.offerer)
    queue(
        session,
        Payload(
            event="bounty.started",
            id=bounty.id,
            title=question.title or "",
            excerpt=f"A +{bounty.amount} bounty on this question, for a week.",
            url=_post_url(session, question),
            tags=_tags(question),
            actor_name=name,
            actor_url=url,
        ),
    )


def webhook_bounty_awarded(session: Session, event: events.BountyAwarded) -> None:
    """bounty.awarded (an automatic award names nobody)."""
    if not _wanted(session, "bounty.awarded"):
        return
    question, bounty, answer = event.question, event.bounty, event.answer
    name: str | None = None
    url: str | None = None
    if not event.automatic:
        name, url = _member(session, bounty.offerer)
    how = " automatically (half)" if event.automatic else ""
    queue(
        session,
        Payload(
            event="bounty.awarded",
            id=bounty.id,
            title=question.title or "",
            excerpt=f"+{bounty.awarded_amount} bounty awarded{how}: {excerpt(answer.body_html)}",
            url=_post_url(session, answer),
            tags=_tags(question),
            actor_name=name,
            actor_url=url,
        ),
    )


def subscribe(bus: events.EventBus) -> None:
    """Queue deliveries (non-critical: a failure never fails the action)."""
    bus.subscribe(events.QuestionAsked, webhook_question_asked, critical=False)
    bus.subscribe(events.AnswerPosted, webhook_answer_posted, critical=False)
    bus.subscribe(events.AnswerAccepted, webhook_answer_accepted, critical=False)
    bus.subscribe(events.ArticleSaved, webhook_article_saved, critical=False)
    bus.subscribe(events.ArticleStale, webhook_article_stale, critical=False)
    bus.subscribe(events.CommentAdded, webhook_comment_added, critical=False)
    bus.subscribe(events.BadgeAwarded, webhook_badge_awarded, critical=False)
    bus.subscribe(events.TutorialRequested, webhook_tutorial_requested, critical=False)
    bus.subscribe(events.CircleSessionScheduled, webhook_circle_session_scheduled, critical=False)
    bus.subscribe(events.BountyStarted, webhook_bounty_started, critical=False)
    bus.subscribe(events.BountyAwarded, webhook_bounty_awarded, critical=False)
