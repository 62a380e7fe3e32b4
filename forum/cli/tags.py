"""``forum tags recount``: check and repair the tags' stored counts of live posts."""

from __future__ import annotations

import click
from flask.cli import with_appcontext
from sqlalchemy import func, select

from forum.db import new_session
from forum.models import Tag
from forum.services import tags


@click.group("tags")
def tags_group() -> None:
    """Tags' stored counts."""


@tags_group.command("recount")
@click.option("--check", is_flag=True, help="Only report drift; change nothing (exit 1 on drift).")
@with_appcontext
def tags_recount(check: bool) -> None:
    """Compare every tag's stored question and article counts with its posts; fix drift."""
    with new_session() as session:
        total = session.scalar(select(func.count()).select_from(Tag)) or 0
        drift = tags.count_drift(session)
        for row in drift:
            click.echo(
                f"  {row.name}: stored {row.stored[0]} questions, {row.stored[1]} articles; "
                f"posts say {row.derived[0]} and {row.derived[1]}"
            )
        if not drift:
            click.echo(f"Checked {total} tags: no drift.")
            return
        if check:
            click.echo(f"Checked {total} tags: {len(drift)} drifted.")
            raise SystemExit(1)
        tags.recount(session)
        session.commit()
    click.echo(f"Fixed {len(drift)} of {total} tags.")
