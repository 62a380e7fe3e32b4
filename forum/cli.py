"""The ``forum`` command: run, db, demo and users (also ``flask --app forum ...``)."""

from __future__ import annotations

from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import FlaskGroup, with_appcontext

from forum.db import new_session
from forum.models import Role
from forum.services import accounts
from forum.services.errors import ValidationError


def main() -> None:
    """Entry point of the ``forum`` console script."""
    from forum import create_app

    cli = FlaskGroup(create_app=lambda: create_app(), help="forum: knowledge sharing at work.")
    cli.main(prog_name="forum")


@click.group("db")
def db_group() -> None:
    """Create and migrate the database schema."""


@db_group.command("upgrade")
@click.argument("revision", default="heads")
@with_appcontext
def db_upgrade(revision: str) -> None:
    """Upgrade the database to REVISION (default: the newest)."""
    from forum import migrate

    migrate.upgrade(current_app._get_current_object(), revision)  # type: ignore[attr-defined]
    click.echo(
        f"Database upgraded to {'the newest revision' if revision == 'heads' else revision}."
    )


@db_group.command("downgrade")
@click.argument("revision", default="-1")
@with_appcontext
def db_downgrade(revision: str) -> None:
    """Downgrade the database to REVISION (default: one step back)."""
    from forum import migrate

    migrate.downgrade(current_app._get_current_object(), revision)  # type: ignore[attr-defined]
    click.echo(f"Database downgraded to {revision}.")


@db_group.command("revision")
@click.option("-m", "--message", required=True, help="What the revision changes.")
@with_appcontext
def db_revision(message: str) -> None:
    """Generate a migration from the difference between the models and the database."""
    from alembic import command

    from forum import migrate

    config = migrate.alembic_config(current_app.config["DATABASE_URL"])
    command.revision(config, message=message, autogenerate=True)


@click.command("demo")
@click.option("--if-empty", is_flag=True, help="Only load when the database has no members.")
@click.option(
    "--password",
    envvar="FORUM_DEMO_PASSWORD",
    default=None,
    help="Password of every demo account (default: a generated one, printed).",
)
@with_appcontext
def demo_command(if_empty: bool, password: str | None) -> None:
    """Load demo content for a fictional company."""
    from forum import demo

    session = new_session()
    try:
        if if_empty and not demo.database_is_empty(session):
            click.echo("The database already has content; demo content not loaded.")
            return
        result = demo.load(
            session,
            password=password,
            hash_method=current_app.config["PASSWORD_HASH_METHOD"],
            progress=lambda msg: click.echo(f"  {msg}"),
        )
        session.commit()
    finally:
        session.close()
    click.echo(f"Demo content loaded: {result.summary()}.")
    if result.password:
        if password is None:
            saved = Path(current_app.instance_path) / "demo-password.txt"
            saved.write_text(result.password + "\n", encoding="utf-8")
            saved.chmod(0o600)
            click.echo(
                f"Every demo account uses the password: {result.password} (saved in {saved})"
            )
        else:
            click.echo("Every demo account uses the password you gave.")
        click.echo("Log in as 'amara' (admin), 'jonas' (moderator) or any other demo member.")


@click.group("import")
def import_group() -> None:
    """Bring content in from other systems."""


@click.group("export")
def export_group() -> None:
    """Write content out in portable formats."""


@click.group("users")
def users_group() -> None:
    """Manage member accounts."""


@users_group.command("create")
@click.option("--username", prompt=True)
@click.option("--email", prompt=True)
@click.option("--display-name", prompt="Display name")
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
@click.option("--department", default=None)
@click.option("--job-title", default=None)
@click.option("--admin", "role", flag_value=Role.ADMIN.value, help="Make the member an admin.")
@click.option(
    "--moderator", "role", flag_value=Role.MODERATOR.value, help="Make the member a moderator."
)
@with_appcontext
def users_create(
    username: str,
    email: str,
    display_name: str,
    password: str,
    department: str | None,
    job_title: str | None,
    role: str | None,
) -> None:
    """Create a member (with --admin or --moderator, one with that role)."""
    from forum.web import password_policy

    session = new_session()
    try:
        user = accounts.register(
            session,
            username=username,
            password=password,
            profile=accounts.ProfileData(
                display_name=display_name, email=email, department=department, job_title=job_title
            ),
            policy=password_policy(),
            role=Role(role or Role.MEMBER.value),
        )
        session.commit()
    except ValidationError as exc:
        for field, messages in exc.errors.items():
            for message in messages:
                click.echo(f"{field}: {message}", err=True)
        raise SystemExit(1) from None
    finally:
        session.close()
    click.echo(f"Created {user.role.value} {user.username}.")


def init_app(app: Flask) -> None:
    """Register the command groups on the app (so ``flask --app forum`` has them too)."""
    app.cli.add_command(db_group)
    app.cli.add_command(demo_command)
    app.cli.add_command(users_group)
    app.cli.add_command(import_group)
    app.cli.add_command(export_group)
