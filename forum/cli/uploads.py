"""``forum uploads verify``: every upload row has its bytes, and every stored file has a row."""

from __future__ import annotations

from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext

from forum.db import new_session
from forum.services import uploads

#: Names listed per kind of drift; the counts cover the rest.
SHOWN = 20


def current_folder() -> Path:
    """The folder backend's folder, as configured."""
    return uploads.upload_folder(current_app.config, current_app.instance_path)


@click.group("uploads")
def uploads_group() -> None:
    """Uploaded images and attachments."""


@uploads_group.command("verify")
@with_appcontext
def verify_command() -> None:
    """Report uploads whose bytes are missing or damaged, and stored files without an upload."""
    with new_session() as session:
        report = uploads.verify(session, current_folder())
    click.echo(
        f"checked: {report.checked}, missing: {len(report.missing)}, "
        f"damaged: {len(report.damaged)}, orphaned: {len(report.orphans)}"
    )
    for label, names in (
        ("missing (a row without its file)", report.missing),
        ("damaged (the file differs from its checksum)", report.damaged),
        ("orphaned (a file without a row)", report.orphans),
    ):
        if names:
            click.echo(f"  {label}:")
            for name in names[:SHOWN]:
                click.echo(f"    {name}")
            if len(names) > SHOWN:
                click.echo(f"    … and {len(names) - SHOWN} more")
    if not report.ok:
        click.echo(
            "Restore missing or damaged files from a backup; orphaned files are not served "
            "and may be deleted."
        )
        raise SystemExit(1)
    click.echo("Every upload has its file, and every file its upload.")
