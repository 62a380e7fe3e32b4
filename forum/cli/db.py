"""``forum db upgrade|downgrade|revision``: the database schema."""

from __future__ import annotations

import click
from alembic import command
from flask import Flask, current_app
from flask.cli import with_appcontext

from forum import migrate


@click.group("db")
def db_group() -> None:
    """Create and migrate the database schema."""


@db_group.command("upgrade")
@click.argument("revision", default="heads")
@with_appcontext
def db_upgrade(revision: str) -> None:
    """Upgrade the database to REVISION (default: the newest)."""
    app: Flask = current_app._get_current_object()  # type: ignore[attr-defined]
    migrate.upgrade(app, revision)
    click.echo(
        f"Database upgraded to {'the newest revision' if revision == 'heads' else revision}."
    )


@db_group.command("downgrade")
@click.argument("revision", default="-1")
@with_appcontext
def db_downgrade(revision: str) -> None:
    """Downgrade the database to REVISION (default: one step back)."""
    app: Flask = current_app._get_current_object()  # type: ignore[attr-defined]
    migrate.downgrade(app, revision)
    click.echo(f"Database downgraded to {revision}.")


@db_group.command("revision")
@click.option("-m", "--message", required=True, help="What the revision changes.")
@with_appcontext
def db_revision(message: str) -> None:
    """Generate a migration from the difference between the models and the database."""
    config = migrate.alembic_config(current_app.config["DATABASE_URL"])
    command.revision(config, message=message, autogenerate=True)
