"""The forum command: migrations, demo content and member creation."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from flask import Flask
from sqlalchemy import func, inspect, select
from sqlalchemy.orm import Session

from forum.db import get_engine
from forum.demo.people import PEOPLE
from forum.models import Role, User
from forum.services.passwords import verify_password
from tests.conftest import TEST_HASH_METHOD


def test_demo_loads_people_once(app: Flask, session: Session) -> None:
    runner = app.test_cli_runner()
    result = runner.invoke(args=["demo", "--if-empty", "--password", "demo pass phrase"])
    assert result.exit_code == 0, result.output
    assert f"{len(PEOPLE)} people" in result.output
    users = session.scalars(select(User)).all()
    assert len(users) == len(PEOPLE) >= 12
    assert {u.department for u in users} >= {"Engineering", "Sales", "Support", "HR"}
    assert any(u.role is Role.ADMIN for u in users)
    assert all(verify_password(u.password_hash, "demo pass phrase") for u in users)

    again = runner.invoke(args=["demo", "--if-empty"])
    assert again.exit_code == 0 and "already has content" in again.output
    assert session.scalar(select(func.count()).select_from(User)) == len(PEOPLE)


def test_demo_generates_and_saves_a_password(app: Flask, session: Session) -> None:
    result = app.test_cli_runner().invoke(args=["demo"])
    assert result.exit_code == 0, result.output
    saved = Path(app.instance_path) / "demo-password.txt"
    password = saved.read_text().strip()
    assert len(password) >= 12 and password in result.output
    amara = session.scalars(select(User).where(User.username == "amara")).one()
    assert verify_password(amara.password_hash, password)


def test_users_create_admin(app: Flask, session: Session) -> None:
    runner = app.test_cli_runner()
    args = [
        "users",
        "create",
        "--username",
        "root.admin",
        "--email",
        "it@example.com",
        "--display-name",
        "IT Admin",
        "--password",
        "a long admin passphrase",
        "--admin",
    ]
    result = runner.invoke(args=args)
    assert result.exit_code == 0, result.output
    user = session.scalars(select(User).where(User.username == "root.admin")).one()
    assert user.role is Role.ADMIN
    assert user.password_hash and user.password_hash.startswith(TEST_HASH_METHOD + "$")

    duplicate = runner.invoke(args=args)
    assert duplicate.exit_code == 1
    assert "username: This username is already taken." in duplicate.output


def test_db_downgrade_and_upgrade(app: Flask) -> None:
    runner = app.test_cli_runner()
    assert runner.invoke(args=["db", "downgrade", "base"]).exit_code == 0
    assert "users" not in inspect(get_engine(app)).get_table_names()
    result = runner.invoke(args=["db", "upgrade"])
    assert result.exit_code == 0 and "upgraded to the newest revision" in result.output
    assert "users" in inspect(get_engine(app)).get_table_names()


def test_forum_console_script_runs_migrations_and_demo(tmp_path: Path) -> None:
    """The installed ``forum`` command works on a fresh instance folder, as `make run` uses it."""
    env = {
        **os.environ,
        "FORUM_INSTANCE_PATH": str(tmp_path / "instance"),
        "FORUM_PASSWORD_HASH_METHOD": TEST_HASH_METHOD,
        "FORUM_DEMO_PASSWORD": "demo phrase 1",
    }
    env.pop("FORUM_DATABASE_URL", None)
    forum = Path(sys.executable).with_name("forum")
    for args in (["db", "upgrade"], ["demo", "--if-empty"], ["demo", "--if-empty"]):
        done = subprocess.run(
            [str(forum), *args], env=env, capture_output=True, text=True, timeout=120, check=False
        )
        assert done.returncode == 0, done.stderr
    assert "already has content" in done.stdout
    assert (tmp_path / "instance" / "forum.db").exists()
    assert (tmp_path / "instance" / "secret_key").exists()
    flask = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "forum", "db", "--help"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert flask.returncode == 0 and "upgrade" in flask.stdout
