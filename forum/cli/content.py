"""Content in and out: ``forum demo``, ``forum import``, ``forum export``, ``forum content``."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext

from forum import demo
from forum.db import get_engine, new_session
from forum.files import create_private_file
from forum.importers import stackexchange
from forum.interchange import markdown_io
from forum.services import accounts, stored_html


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
    with new_session() as session:
        result = demo.load(
            session,
            password=password,
            hash_method=current_app.config["PASSWORD_HASH_METHOD"],
            only_if_empty=if_empty,
            progress=lambda msg: click.echo(f"  {msg}"),
        )
        session.commit()
    if result.skipped:
        click.echo("The database already has content; demo content not loaded.")
        return
    click.echo(f"Demo content loaded: {result.summary()}.")
    if result.password:
        if password is None:
            saved = Path(current_app.instance_path) / "demo-password.txt"
            with create_private_file(saved) as handle:
                handle.write((result.password + "\n").encode("utf-8"))
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
@click.argument("directory", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option(
    "--author",
    default=None,
    help="Username credited for files that name no known author (default: the first admin).",
)
@with_appcontext
def import_markdown(directory: Path, author: str | None) -> None:
    """Create or update articles from a folder of .md files (re-running changes nothing)."""
    with new_session() as session:
        default_author = accounts.credited_member(session, author)
        if default_author is None:
            click.echo("No such member to credit: create one or pass --author.", err=True)
            raise SystemExit(1)
        scan = markdown_io.scan_markdown_files(directory)
        files = scan.files
        with click.progressbar(length=len(files), label="Importing articles") as bar:
            summary = markdown_io.import_directory(
                session, files, default_author=default_author, progress=lambda _p: bar.update(1)
            )
        session.commit()
    for name, message in summary.failed:
        click.echo(f"  {name}: {message}", err=True)
    for name, reason in scan.skipped:
        click.echo(f"  skipped {name}: {reason}", err=True)
    skipped = f", {len(scan.skipped)} skipped" if scan.skipped else ""
    click.echo(f"Imported {len(files)} files: {summary.line()}{skipped}.")
    if summary.failed:
        # The rest is imported and committed; the status tells scripts that some files were not.
        raise SystemExit(1)


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
    try:
        stackexchange.site_for(directory, site_url)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    with new_session() as session:
        try:
            summary = stackexchange.import_dump(
                session, directory, site_url=site_url, progress=_file_progress
            )
        except stackexchange.DumpError as exc:
            session.rollback()
            raise click.ClickException(f"{exc}. Nothing was imported.") from None
        session.commit()
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
    out_dir.mkdir(parents=True, exist_ok=True)
    with new_session() as session:
        items = list(markdown_io.all_articles(session))
        with click.progressbar(items, label="Exporting articles") as bar:
            for article in bar:
                markdown_io.export_article(article, out_dir)
    click.echo(f"Exported {len(items)} articles to {out_dir}.")


@click.group("content")
def content_group() -> None:
    """Maintain stored member content."""


@content_group.command("resanitize")
@with_appcontext
def resanitize_command() -> None:
    """Apply the current HTML policy (no images load) to HTML saved before it."""
    with new_session(writes=True) as session:
        report = stored_html.resanitize(session)
        session.commit()
    for name, count in sorted(report.changed.items()):
        click.echo(f"  {name}: {count} rows")
    click.echo(f"Rewrote {report.total} stored HTML values.")
