"""``forum search sync|rebuild|verify``: keep the index equal to the database."""

from __future__ import annotations

import time

import click
from flask import current_app
from flask.cli import with_appcontext

from forum.db import get_engine
from forum.search import get_backend, outbox, search_config
from forum.search.base import Backend, Busy
from forum.search.documents import count_documents


def _backend() -> Backend:
    return get_backend(search_config(current_app.config))


def _schema_ok(backend: Backend) -> bool:
    check = getattr(backend, "schema_ok", None)
    return bool(check()) if check is not None else True


@click.group("search")
def search_group() -> None:
    """Keep the search index equal to the database."""


@search_group.command("sync")
@with_appcontext
def sync_command() -> None:
    """Apply every pending change (rebuilds first when the index schema is outdated)."""
    backend = _backend()
    engine = get_engine()
    if not _schema_ok(backend):
        click.echo("The index was written by another schema version: rebuilding.")
        _rebuild(backend)
    try:
        applied = outbox.drain(engine, backend, timeout=30.0)
        merged = backend.compact(timeout=30.0)
    except Busy as exc:
        raise click.ClickException(str(exc)) from None
    left, _age = outbox.pending(engine)
    click.echo(f"Applied {applied} pending change(s); {left} left.")
    if merged:
        click.echo(f"Merged index segments: {merged} fewer.")
    if left:
        raise SystemExit(1)


def _rebuild(backend: Backend) -> int:
    engine = get_engine()
    from sqlalchemy.orm import Session

    with Session(engine) as session:
        total = count_documents(session)
    started = time.monotonic()
    with click.progressbar(length=total, label="Indexing", show_pos=True) as bar:
        last = 0

        def progress(done: int) -> None:
            nonlocal last
            bar.update(max(0, done - last))
            last = done

        count = outbox.rebuild(engine, backend, progress)
    click.echo(f"Rebuilt the index: {count} document(s) in {time.monotonic() - started:.1f} s.")
    return count


@search_group.command("rebuild")
@with_appcontext
def rebuild_command() -> None:
    """Build a fresh index beside the live one, swap it in, replay what changed meanwhile."""
    try:
        _rebuild(_backend())
    except Busy as exc:
        raise click.ClickException(str(exc)) from None


@search_group.command("verify")
@click.option("--fix", is_flag=True, help="Repair the differences found.")
@with_appcontext
def verify_command(fix: bool) -> None:
    """Compare the index with the database and report (and with --fix repair) drift."""
    engine = get_engine()
    backend = _backend()
    left, _age = outbox.pending(engine)
    drift = outbox.verify(engine, backend, fix=fix)
    click.echo(
        f"missing: {len(drift.missing)}, stale: {len(drift.stale)}, extra: {len(drift.extra)},"
        f" pending in the outbox: {left}"
    )
    for label, ids in (("missing", drift.missing), ("stale", drift.stale), ("extra", drift.extra)):
        if ids:
            shown = ", ".join(str(i) for i in ids[:20])
            click.echo(f"  {label} post ids: {shown}{' …' if len(ids) > 20 else ''}")
    if drift.ok:
        click.echo("The index matches the database.")
    elif fix:
        click.echo("Repaired.")
    else:
        click.echo("Run `forum search verify --fix` to repair.")
        raise SystemExit(1)
