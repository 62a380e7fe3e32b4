"""``forum articles notify-stale``: tell owners their articles are due for review (cron)."""

from __future__ import annotations

import click
from flask import Flask, current_app
from flask.cli import with_appcontext

from forum.db import new_session
from forum.services import article_life


@click.group("articles")
def articles_group() -> None:
    """The knowledge base's articles."""


@articles_group.command("notify-stale")
@with_appcontext
def notify_stale_command() -> None:
    """Notify the owner of each article past its review-by date, once per staleness period.

    Owners who chose e-mail for "My articles" get it in their next ``forum digest send``.
    """
    app: Flask = current_app._get_current_object()  # type: ignore[attr-defined]
    with new_session(app, writes=True) as session:
        count = article_life.notify_stale(session)
        session.commit()
    noun = "article" if count == 1 else "articles"
    click.echo(f"Told the owners of {count} stale {noun}.")
