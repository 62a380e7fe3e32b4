"""``forum tokens create``: personal access tokens for automation."""

from __future__ import annotations

import click
from flask.cli import with_appcontext

from forum.db import new_session
from forum.services import accounts, tokens
from forum.services.errors import NotFound, ValidationError


@click.group("tokens")
def tokens_group() -> None:
    """Manage personal access tokens for the REST API."""


@tokens_group.command("create")
@click.argument("username")
@click.option("--name", required=True, help="What uses the token, e.g. 'release notes'.")
@click.option(
    "--scope",
    "scopes",
    multiple=True,
    type=click.Choice(tokens.SCOPES),
    default=("read",),
    show_default=True,
    help="A scope to grant (repeat for both).",
)
@click.option(
    "--expires-days", type=int, default=None, help="Days until it expires (default: never)."
)
@with_appcontext
def tokens_create(
    username: str, name: str, scopes: tuple[str, ...], expires_days: int | None
) -> None:
    """Make a token for USERNAME and print its secret (shown this once only)."""
    with new_session(writes=True) as session:
        try:
            user = accounts.get_by_username(session, username)
            if not user.is_active:
                raise click.ClickException(f"{user.username} is deactivated.")
            _token, secret = tokens.create(
                session,
                user=user,
                name=name,
                scopes=list(scopes),
                expires_in_days=expires_days,
            )
            session.commit()
        except NotFound as exc:
            raise click.ClickException(str(exc)) from None
        except ValidationError as exc:
            raise click.ClickException(exc.messages[0] if exc.messages else str(exc)) from None
    click.echo(secret)
