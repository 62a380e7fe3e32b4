"""``forum bounties settle``: settle the bounties whose grace period is over (cron)."""

from __future__ import annotations

import click
from flask import Flask, current_app
from flask.cli import with_appcontext

from forum.db import new_session
from forum.services import bounties


@click.group("bounties")
def bounties_group() -> None:
    """Bounties on questions."""


@bounties_group.command("settle")
@with_appcontext
def settle_command() -> None:
    """Half-award or expire every bounty not awarded by the end of its grace period (safe to
    run again and from several places at once)."""
    app: Flask = current_app._get_current_object()  # type: ignore[attr-defined]
    with new_session(app, writes=True) as session:
        report = bounties.settle_due(session)
        session.commit()
    click.echo(report.summary())
