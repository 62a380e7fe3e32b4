"""``forum search sync|rebuild|retry|verify``: keep the index equal to the database."""

from __future__ import annotations

import time

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy.engine import Engine

from forum.db import get_engine, new_session
from forum.search import outbox, vectors
from forum.search.backends import get_backend, search_config
from forum.search.base import Backend, Busy
from forum.search.documents import count_documents


def current_backend() -> Backend:
    """The search backend the app is configured with."""
    return get_backend(search_config(current_app.config))


def rebuild_index(backend: Backend) -> int:
    """Rebuild the whole index with a progress bar and a summary; return the document count.

    Raises Busy when another process holds the index writer.
    """
    engine = get_engine()
    with new_session() as session:
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


def _vector_config() -> dict[str, str]:
    """The search config with two embedding threads (the CLI may use both cores; embedding
    every post uses two single-threaded processes instead), without the web workers' shared
    embedding service (sized for queries, not for every post)."""
    config = search_config(current_app.config)
    config["embed_threads"] = str(max(2, int(config["embed_threads"])))
    config["embed_socket"] = ""
    return config


def _semantic_off() -> str | None:
    from forum.search import semantic_off

    with new_session() as session:
        return semantic_off(session, _vector_config())


def _rate(item: tuple[int, float] | None) -> str | None:
    """A progress bar's posts per second (``item``: posts seen, seconds since the start)."""
    if item is None or item[1] <= 0:
        return None
    return f"{item[0] / item[1]:.1f} posts/s"


def embed_all(label: str = "Embedding") -> int:
    """Bring every post's vector up to date with a progress bar (posts whose vector matches
    the model and their text are skipped: an interrupted run resumes); return how many
    were embedded. Nothing when semantic ranking is off."""
    off = _semantic_off()
    if off is not None:
        click.echo(f"Vectors: semantic ranking is off ({off}).")
        return 0
    engine = get_engine()
    with new_session() as session:
        total = count_documents(session)
    started = time.monotonic()
    # Position, posts per second and the time left (posts already up to date pass quickly,
    # so a resumed run's first figures are high).
    with click.progressbar(
        length=total, label=label, show_pos=True, show_eta=True, item_show_func=_rate
    ) as bar:
        last = 0

        def progress(done: int) -> None:
            nonlocal last
            elapsed = time.monotonic() - started
            bar.update(max(0, done - last), current_item=(done, elapsed))
            last = done

        count = vectors.sync(engine, _vector_config(), progress=progress, processes=2)
    click.echo(f"Vectors: {count} embedded in {time.monotonic() - started:.1f} s.")
    return count


def _report_quarantined(engine: Engine) -> int:
    """Print the quarantined outbox rows, if any; return how many there are."""
    count, rows = outbox.quarantined(engine, limit=20)
    if count:
        click.echo(
            f"quarantined in the outbox: {count} (failed {outbox.MAX_ATTEMPTS} times; "
            "`forum search retry` puts them back in line)"
        )
        for row in rows:
            click.echo(f"  post {row.post_id}: {row.last_error}")
    return count


@click.group("search")
def search_group() -> None:
    """Keep the search index equal to the database."""


@search_group.command("sync")
@with_appcontext
def sync_command() -> None:
    """Apply every pending change (rebuilds first when the index schema is outdated)."""
    backend = current_backend()
    engine = get_engine()
    if not backend.schema_ok():
        click.echo("The index was written by another schema version: rebuilding.")
        rebuild_index(backend)
    try:
        applied = outbox.drain(engine, backend, timeout=30.0, budget=None)
        merged = backend.compact(timeout=30.0)
    except Busy as exc:
        raise click.ClickException(str(exc)) from None
    left, _age = outbox.pending(engine)
    click.echo(f"Applied {applied} pending change(s); {left} left.")
    _report_quarantined(engine)
    if merged:
        click.echo(f"Merged index segments: {merged} fewer.")
    embed_all()
    if left:
        raise SystemExit(1)


@search_group.command("rebuild")
@with_appcontext
def rebuild_command() -> None:
    """Build a fresh index beside the live one, swap it in, replay what changed meanwhile."""
    try:
        rebuild_index(current_backend())
    except Busy as exc:
        raise click.ClickException(str(exc)) from None
    embed_all()


@search_group.command("retry")
@with_appcontext
def retry_command() -> None:
    """Put quarantined outbox rows back in line and apply every pending change."""
    engine = get_engine()
    released = outbox.release_quarantined(engine)
    click.echo(f"Released {released} quarantined change(s).")
    try:
        applied = outbox.drain(engine, current_backend(), timeout=30.0, budget=None)
    except Busy as exc:
        raise click.ClickException(str(exc)) from None
    left, _age = outbox.pending(engine)
    click.echo(f"Applied {applied} pending change(s); {left} left.")
    if _report_quarantined(engine) or left:
        raise SystemExit(1)


@search_group.command("verify")
@click.option("--fix", is_flag=True, help="Repair the differences found.")
@with_appcontext
def verify_command(fix: bool) -> None:
    """Compare the index with the database and report (and with --fix repair) drift."""
    engine = get_engine()
    backend = current_backend()
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
    vectors_ok = _verify_vectors(engine, fix)
    stuck = _report_quarantined(engine)
    if not vectors_ok:
        raise SystemExit(1)
    if drift.ok and stuck:
        click.echo("The index matches the database, but quarantined changes wait.")
        raise SystemExit(1)
    if drift.ok:
        click.echo("The index matches the database.")
    elif fix:
        click.echo("Repaired.")
    else:
        click.echo("Run `forum search verify --fix` to repair.")
        raise SystemExit(1)


def _verify_vectors(engine: Engine, fix: bool) -> bool:
    """Report (and with ``fix`` repair) vectors missing, stale or left over; whether all is
    well afterwards."""
    off = _semantic_off()
    if off is not None:
        click.echo(f"vectors: semantic ranking is off ({off})")
        return True
    drift = vectors.verify(engine, _vector_config())
    other = f" ({drift.other_model} made by another model)" if drift.other_model else ""
    click.echo(
        f"vectors: {len(drift.missing)} missing, {len(drift.stale)} stale{other},"
        f" {len(drift.extra)} extra"
    )
    if drift.ok:
        return True
    if fix:
        embed_all()
        return True
    click.echo("Run `forum search verify --fix` (or `forum search sync`) to embed them.")
    return False
