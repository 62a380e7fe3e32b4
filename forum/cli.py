"""The ``forum`` command: run, db, demo and users (also ``flask --app forum ...``)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
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


@import_group.command("markdown")
@click.argument(
    "directory", type=click.Path(exists=True, file_okay=False, path_type=Path)
)
@click.option(
    "--author",
    default=None,
    help="Username credited for files that name no known author (default: the first admin).",
)
@with_appcontext
def import_markdown(directory: Path, author: str | None) -> None:
    """Create or update articles from a folder of .md files (re-running changes nothing)."""
    from sqlalchemy import select

    from forum.interchange import markdown_io
    from forum.models import User

    session = new_session()
    try:
        query = select(User).order_by(User.id).limit(1)
        if author:
            query = query.where(User.username == author.lower())
        else:
            query = query.where(User.role == Role.ADMIN)
        default_author = session.scalar(query)
        if default_author is None:
            click.echo("No such member to credit: create one or pass --author.", err=True)
            raise SystemExit(1)
        files = markdown_io.markdown_files(directory)
        with click.progressbar(length=len(files), label="Importing articles") as bar:
            summary = markdown_io.import_directory(
                session, files, default_author=default_author, progress=lambda _p: bar.update(1)
            )
        session.commit()
    finally:
        session.close()
    for name, message in summary.failed:
        click.echo(f"  {name}: {message}", err=True)
    click.echo(f"Imported {len(files)} files: {summary.line()}.")


@import_group.command("stackexchange")
@click.argument("directory", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option(
    "--site-url",
    default=None,
    help="The site's address, for attribution links (default: https://<folder name>).",
)
@with_appcontext
def import_stackexchange(directory: Path, site_url: str | None) -> None:
    """Import a Stack Exchange data dump folder (running it again changes nothing)."""
    from forum.db import get_engine
    from forum.importers import stackexchange

    try:
        stackexchange.site_for(directory, site_url)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    session = new_session()
    try:
        summary = stackexchange.import_dump(
            session, directory, site_url=site_url, progress=_file_progress
        )
        session.commit()
    except stackexchange.DumpError as exc:
        session.rollback()
        raise click.ClickException(f"{exc}. Nothing was imported.") from None
    finally:
        session.close()
    summary.notes.append(
        stackexchange.sync_search(get_engine(), current_app.config, summary.search_mode)
    )
    click.echo(f"Imported {directory} as {summary.site}:")
    for line in summary.table():
        click.echo(f"  {line}")
    for note in summary.notes:
        click.echo(note)


@contextmanager
def _file_progress(label: str, length: int) -> Iterator[Callable[[int], None]]:
    """A progress bar over one file's bytes."""
    with click.progressbar(length=length, label=f"Reading {label}") as bar:
        yield bar.update


@export_group.command("markdown")
@click.argument("out_dir", type=click.Path(file_okay=False, path_type=Path))
@with_appcontext
def export_markdown(out_dir: Path) -> None:
    """Write every article as OUT_DIR/<slug>.md with YAML front matter."""
    from forum.interchange import markdown_io

    out_dir.mkdir(parents=True, exist_ok=True)
    session = new_session()
    try:
        items = list(markdown_io.all_articles(session))
        with click.progressbar(items, label="Exporting articles") as bar:
            for article in bar:
                markdown_io.export_article(article, out_dir)
    finally:
        session.close()
    click.echo(f"Exported {len(items)} articles to {out_dir}.")


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
    from forum.commands_recognition import badges_group, reputation_group

    app.cli.add_command(reputation_group)
    app.cli.add_command(badges_group)
    app.cli.add_command(demo_command)
    app.cli.add_command(users_group)
    app.cli.add_command(import_group)
    app.cli.add_command(export_group)
    from forum.search.cli import search_group

    app.cli.add_command(search_group)
    from forum import commands_ops

    commands_ops.init_app(app)
    from forum.commands_notifications import digest_group

    app.cli.add_command(digest_group)
