"""Operations commands: ``forum backup OUT`` and ``forum restore IN [--force]``."""

from __future__ import annotations

from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import with_appcontext

from forum import backup as backups
from forum.db import get_engine


def _progress(table: str, rows: int) -> None:
    click.echo(f"  {table}: {rows} rows")


@click.command("backup")
@click.argument("out", type=click.Path(dir_okay=False, path_type=Path))
@with_appcontext
def backup_command(out: Path) -> None:
    """Write the whole database to OUT, a portable .tar.gz archive."""
    try:
        summary = backups.backup(get_engine(), out, progress=_progress)
    except backups.BackupError as exc:
        raise click.ClickException(str(exc)) from None
    for note in summary.notes:
        click.echo(f"  note: {note}")
    revision = ", ".join(summary.revision) or "none"
    click.echo(
        f"Backup written to {out}: {summary.total_rows} rows in {len(summary.tables)} tables "
        f"(schema revision {revision})."
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
    from forum import migrate

    app: Flask = current_app._get_current_object()  # type: ignore[attr-defined]
    try:
        backups.read_manifest(archive)
        # An empty database gets the schema first; a migrated one is left as it is.
        migrate.upgrade(app)
        summary = backups.restore(get_engine(), archive, force=force, progress=_progress)
    except backups.BackupError as exc:
        raise click.ClickException(str(exc)) from None
    for note in summary.notes:
        click.echo(f"  note: {note}")
    click.echo(f"Restored {summary.total_rows} rows in {len(summary.tables)} tables.")
    if skip_search:
        click.echo("Search index not rebuilt: run `forum search rebuild` before serving.")
        return
    try:
        _rebuild_search(app)
    except click.ClickException:
        raise
    except Exception as exc:  # noqa: BLE001 - the rows are in; say what is left to do
        raise click.ClickException(
            f"The rows are restored, but rebuilding the search index failed ({exc}); "
            "run `forum search rebuild`."
        ) from exc


def _rebuild_search(app: Flask) -> None:
    """Run `forum search rebuild` when the search commands are installed."""
    context = click.get_current_context()
    search = app.cli.get_command(context, "search")
    rebuild = search.get_command(context, "rebuild") if isinstance(search, click.Group) else None
    if rebuild is None:
        click.echo("No search index to rebuild in this version of forum.")
        return
    click.echo("Rebuilding the search index...")
    context.invoke(rebuild)


def init_app(app: Flask) -> None:
    """Register the operations commands."""
    app.cli.add_command(backup_command)
    app.cli.add_command(restore_command)
