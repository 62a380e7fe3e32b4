"""``forum webhooks add|list|enable|disable|remove|send-again|deliver``: webhooks, and sending
their deliveries. Changes are audited as done at the command line."""

from __future__ import annotations

import click
from flask import Flask, current_app
from flask.cli import with_appcontext
from sqlalchemy.orm import Session

from forum import webhooks as delivery
from forum.db import new_session
from forum.models import Webhook
from forum.services import webhooks
from forum.services.errors import NotFound, ValidationError


@click.group("webhooks")
def webhooks_group() -> None:
    """Webhooks: addresses told about what happens in the forum."""


@webhooks_group.command("add")
@click.argument("url")
@click.option("--secret", required=True, help="Signs every body (X-Forum-Signature-256).")
@click.option(
    "--event",
    "events",
    multiple=True,
    required=True,
    type=click.Choice(list(webhooks.EVENTS)),
    help="An event to send (repeat the option for several).",
)
@click.option(
    "--format",
    "body_format",
    default="json",
    show_default=True,
    type=click.Choice(list(webhooks.FORMATS)),
    help="The shape of each body: JSON, or a chat's incoming-webhook message.",
)
@with_appcontext
def add_command(url: str, secret: str, events: tuple[str, ...], body_format: str) -> None:
    """Register a webhook at URL (http:// or https://)."""
    with new_session(writes=True) as session:
        try:
            webhook = webhooks.create(
                session,
                actor=None,
                data=webhooks.WebhookData(
                    url=url, secret=secret, events=list(events), format=body_format
                ),
            )
        except ValidationError as exc:
            for field, messages in exc.errors.items():
                for message in messages:
                    click.echo(f"{field}: {message}", err=True)
            raise SystemExit(1) from None
        session.commit()
        click.echo(f"Added webhook {webhook.id}: {webhook.url} ({webhook.format}).")


@webhooks_group.command("list")
@with_appcontext
def list_command() -> None:
    """Every webhook: id, state, format, address and events."""
    with new_session() as session:
        found = webhooks.list_webhooks(session)
        if not found:
            click.echo("No webhooks.")
        for webhook in found:
            state = "active" if webhook.active else "paused"
            events = ", ".join(webhook.event_names)
            click.echo(f"{webhook.id}\t{state}\t{webhook.format}\t{webhook.url}\t{events}")


@webhooks_group.command("remove")
@click.argument("webhook_id", type=int)
@with_appcontext
def remove_command(webhook_id: int) -> None:
    """Remove a webhook with its deliveries."""
    with new_session(writes=True) as session:
        webhook = _found(session, webhook_id)
        url = webhook.url
        webhooks.delete(session, webhook, actor=None)
        session.commit()
    click.echo(f"Removed webhook {webhook_id} ({url}).")


def _found(session: Session, webhook_id: int) -> Webhook:
    try:
        return webhooks.get(session, webhook_id)
    except NotFound as exc:
        click.echo(str(exc), err=True)
        raise SystemExit(1) from None


@webhooks_group.command("enable")
@click.argument("webhook_id", type=int)
@with_appcontext
def enable_command(webhook_id: int) -> None:
    """Send a paused webhook its events again."""
    with new_session(writes=True) as session:
        webhooks.set_active(session, _found(session, webhook_id), actor=None, active=True)
        session.commit()
    click.echo(f"Webhook {webhook_id} is active.")


@webhooks_group.command("disable")
@click.argument("webhook_id", type=int)
@with_appcontext
def disable_command(webhook_id: int) -> None:
    """Pause a webhook: no events are queued for it until it is enabled."""
    with new_session(writes=True) as session:
        webhooks.set_active(session, _found(session, webhook_id), actor=None, active=False)
        session.commit()
    click.echo(f"Webhook {webhook_id} is paused.")


@webhooks_group.command("send-again")
@click.argument("delivery_id", type=int)
@with_appcontext
def send_again_command(delivery_id: int) -> None:
    """Queue a delivery again (same body and id); `forum webhooks deliver` or the app sends it."""
    with new_session(writes=True) as session:
        try:
            found = webhooks.get_delivery(session, delivery_id)
        except NotFound as exc:
            click.echo(str(exc), err=True)
            raise SystemExit(1) from None
        webhooks.send_again(session, found, actor=None)
        session.commit()
    click.echo(f"Delivery {delivery_id} is queued again.")


@webhooks_group.command("deliver")
@with_appcontext
def deliver_command() -> None:
    """Send every delivery that is due, once (for a worker or a cron job)."""
    app: Flask = current_app._get_current_object()  # type: ignore[attr-defined]
    tried = delivery.deliver_due(delivery.open_writer(app), delivery.settings_of(app.config))
    noun = "delivery" if tried == 1 else "deliveries"
    click.echo(f"Tried {tried} {noun}.")
