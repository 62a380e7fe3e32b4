"""``forum users create``: member accounts."""

from __future__ import annotations

import click
from flask.cli import with_appcontext

from forum.db import new_session
from forum.models import Role
from forum.services import accounts, departments
from forum.services.errors import ValidationError
from forum.web import password_policy


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
