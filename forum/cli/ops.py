"""``forum backup OUT`` and ``forum restore IN [--force]``: the database and uploaded files."""

from __future__ import annotations

from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import with_appcontext

from forum import backup as backups
from forum import migrate
from forum.cli import search as search_commands
from forum.cli.uploads import current_folder
from forum.db import get_engine
from forum.search.base import Busy


def _progress(table: str, rows: int) -> None:
    click.echo(f"  {table}: {rows} rows")


@click.command("backup")
@click.argument("out", type=click.Path(dir_okay=False, path_type=Path))
@with_appcontext
def backup_command(out: Path) -> None:
    """Write the whole database and the uploaded files to OUT, a portable .tar.gz archive."""
    try:
        summary = backups.backup(
            get_engine(), out, uploads_dir=current_folder(), progress=_progress
        )
    except backups.BackupError as exc:
        raise click.ClickException(str(exc)) from None
    for note in summary.notes:
        click.echo(f"  note: {note}")
    revision = ", ".join(summary.revision) or "none"
    click.echo(
        f"Backup written to {out}: {summary.total_rows} rows in {len(summary.tables)} tables "
        f"and {summary.uploads} uploaded files (schema revision {revision})."
    )


@click.command("restore")
@click.argument("archive", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Replace the content of a database that is not empty.")
@click.option(
    "--no-search-rebuild",
    "skip_search",
    is_flag=True,
    help="Leave the search index alone (run `forum search rebuild` later).",
)
@with_appcontext
def restore_command(archive: Path, force: bool, skip_search: bool) -> None:
    """Load ARCHIVE (made by `forum backup`) into an empty database, then rebuild search."""
    app: Flask = current_app._get_current_object()  # type: ignore[attr-defined]
    try:
        backups.read_manifest(archive)
        # An empty database gets the schema first; a migrated one is left as it is.
        migrate.upgrade(app)
        summary = backups.restore(
            get_engine(),
            archive,
            force=force,
            uploads_dir=current_folder(),
            progress=_progress,
        )
    except backups.BackupError as exc:
        raise click.ClickException(str(exc)) from None
    for note in summary.notes:
        click.echo(f"  note: {note}")
    click.echo(
        f"Restored {summary.total_rows} rows in {len(summary.tables)} tables "
        f"and {summary.uploads} uploaded files."
    )
    if skip_search:
        click.echo("Search index not rebuilt: run `forum search rebuild` before serving.")
        return
    click.echo("Rebuilding the search index...")
    try:
        search_commands.rebuild_index(search_commands.current_backend())
    except Busy as exc:
        raise click.ClickException(str(exc)) from None
    except Exception as exc:  # noqa: BLE001 - the rows are in; say what is left to do
        raise click.ClickException(
            f"The rows are restored, but rebuilding the search index failed ({exc}); "
            "run `forum search rebuild`."
        ) from exc
