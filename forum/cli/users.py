"""``forum users``: member accounts (create, deactivate, reactivate, claim links)."""

from __future__ import annotations

from collections.abc import Callable

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy.orm import Session

from forum.db import new_session
from forum.models import Role, User
from forum.services import accounts, claims, departments
from forum.services.errors import Conflict, NotFound, ValidationError
from forum.web import password_policy, site_url_for


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
    with new_session() as session:
        try:
            if department and department.strip():
                # The operator may name a department that is not listed yet: it is added.
                department = departments.ensure(session, department)
            user = accounts.register(
                session,
                username=username,
                password=password,
                profile=accounts.ProfileData(
                    display_name=display_name,
                    email=email,
                    department=department,
                    job_title=job_title,
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
        click.echo(f"Created {user.role.value} {user.username}.")


def _change(username: str, change: Callable[[Session, User | None, User], None]) -> User:
    """Apply ``change`` to the member named ``username`` as the operator; audited, committed."""
    with new_session(writes=True) as session:
        try:
            member = accounts.get_by_username(session, username)
            change(session, None, member)
            session.commit()
        except (NotFound, Conflict) as exc:
            raise click.ClickException(str(exc)) from None
        except ValidationError as exc:
            raise click.ClickException(" ".join(exc.messages)) from None
        return member


@users_group.command("deactivate")
@click.argument("username")
@with_appcontext
def users_deactivate(username: str) -> None:
    """Deactivate a member who left: login refused and every session ended at once."""
    member = _change(username, accounts.deactivate)
    click.echo(f"Deactivated {member.username}; their login sessions have ended.")


@users_group.command("reactivate")
@click.argument("username")
@with_appcontext
def users_reactivate(username: str) -> None:
    """Let a deactivated member log in again."""
    member = _change(username, accounts.reactivate)
    click.echo(f"Reactivated {member.username}.")


@users_group.command("claim-link")
@click.argument("username")
@click.option("--email", required=True, help="The member's work email (stored on the account).")
@with_appcontext
def users_claim_link(username: str, email: str) -> None:
    """Set an imported member's email and print a link that lets them choose a password.

    The link works once, for 7 days; printing a new one ends the earlier ones.
    """
    with new_session(writes=True) as session:
        try:
            member = accounts.get_by_username(session, username)
            token = claims.issue(
                session,
                actor=None,
                member=member,
                email=email,
                secret_key=str(current_app.secret_key),
            )
            session.commit()
        except NotFound as exc:
            raise click.ClickException(str(exc)) from None
        except ValidationError as exc:
            raise click.ClickException(" ".join(exc.messages)) from None
        click.echo(site_url_for("auth.claim", token=token))
