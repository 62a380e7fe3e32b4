"""``forum reputation recalc`` and ``forum badges award``: recalculate, check and backfill."""

from __future__ import annotations

import click
from flask.cli import with_appcontext

from forum.db import new_session
from forum.services import accounts, badges, reputation


@click.group("reputation")
def reputation_group() -> None:
    """Check and repair reputation against the votes and acceptances."""


@reputation_group.command("recalc")
@click.option("--check", is_flag=True, help="Only report drift; change nothing (exit 1 on drift).")
@with_appcontext
def reputation_recalc(check: bool) -> None:
    """Recompute every member's reputation from scratch and report (or fix) drift."""
    with new_session() as session:
        report = reputation.recalc(session, fix=not check)
        if not check:
            session.commit()
    for drift in report.drift:
        click.echo(
            f"  {drift.username}: due {drift.due}, ledger {drift.ledger}, cached {drift.cached}"
        )
    if report.clean:
        click.echo(f"Checked {report.members} members: no drift.")
    elif check:
        click.echo(f"Checked {report.members} members: {len(report.drift)} drifted.")
        raise SystemExit(1)
    else:
        click.echo(
            f"Fixed {len(report.drift)} of {report.members} members "
            f"({report.events_written} ledger events written)."
        )


@click.group("badges")
def badges_group() -> None:
    """Award badges."""


@badges_group.command("award")
@click.option("--all", "everyone", is_flag=True, help="Every member (a backfill).")
@click.option("--user", "usernames", multiple=True, help="A member's username (repeatable).")
@with_appcontext
def badges_award(everyone: bool, usernames: tuple[str, ...]) -> None:
    """Award the badges members have earned and don't hold yet (safe to repeat)."""
    if not everyone and not usernames:
        raise click.UsageError("Give --all or at least one --user.")
    with new_session() as session:
        if everyone:
            ids = accounts.member_ids(session)
        else:
            found = accounts.ids_by_username(session, usernames)
            missing = sorted({u.lower() for u in usernames} - set(found))
            if missing:
                raise click.UsageError(f"No such member: {', '.join(missing)}")
            ids = list(found.values())
        with click.progressbar(length=len(ids), label="Awarding badges") as bar:
            awarded = badges.award_in_batches(session, ids, progress=bar.update)
        session.commit()
    click.echo(f"Awarded {awarded} new badges to {len(ids)} members checked.")
