"""Fixtures: every database test runs on SQLite and, when configured, on PostgreSQL."""

from __future__ import annotations

import os
import re
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from forum import create_app
from forum.db import new_session
from forum.models import Base

PG_URL = os.environ.get("FORUM_TEST_DATABASE_URL")
REDIS_URL = os.environ.get("FORUM_TEST_REDIS_URL")
NO_PG = "FORUM_TEST_DATABASE_URL is not set: PostgreSQL variants need a server"
NO_REDIS = "FORUM_TEST_REDIS_URL is not set: Redis variants need a server"
TEST_PASSWORD = "correct horse battery"
#: Cheap scrypt parameters so tests stay fast; one test checks the production default.
TEST_HASH_METHOD = "scrypt:1024:8:1"

DATABASES = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param(
        "postgresql", id="postgresql", marks=pytest.mark.skipif(PG_URL is None, reason=NO_PG)
    ),
]


def pg_admin_url() -> str:
    """The configured PostgreSQL URL (its database is used only to create others)."""
    assert PG_URL is not None
    return PG_URL


def create_pg_database(name: str) -> str:
    """Create an empty PostgreSQL database ``name`` (dropping an old one) and return its URL."""
    admin = create_engine(pg_admin_url(), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return make_url(pg_admin_url()).set(database=name).render_as_string(hide_password=False)


def drop_pg_database(name: str) -> None:
    """Drop a database made by ``create_pg_database``."""
    admin = create_engine(pg_admin_url(), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def base_config(tmp_path: Path, database_url: str, **extra: Any) -> dict[str, Any]:
    """The configuration every test app starts from."""
    return {
        "TESTING": True,
        "SECRET_KEY": "test-secret-" + uuid.uuid4().hex,
        "DATABASE_URL": database_url,
        "SEARCH_INDEX_DIR": str(tmp_path / "search-index"),
        "PASSWORD_HASH_METHOD": TEST_HASH_METHOD,
        "RATELIMIT_ENABLED": False,
        # Searches give up after SEARCH_TIME_LIMIT seconds; on a machine busy with the whole
        # suite a pause can outlast the 0.8 s default and empty a result the test checks.
        # Tests of the limit itself set their own.
        "SEARCH_TIME_LIMIT": 20.0,
        # Vectors are embedded in a thread after each commit: tests rank lexically, so what a
        # search finds does not depend on that thread's timing. Semantic tests set "hybrid".
        "SEARCH_RANKING": "lexical",
        # Tests run on an established site unless they say otherwise (see test_new_site.py).
        "NEW_SITE_POSTS": 0,
        # Most tests read as visitors and register then post at once; the members-only default
        # and email confirmation have tests of their own (tests/http/test_access.py).
        "PUBLIC_READ": True,
        "REQUIRE_EMAIL_VERIFICATION": False,
        **extra,
    }


def migrate(url: str, tmp_path: Path) -> None:
    """Bring the database at ``url`` to the newest migration through the app."""
    from forum import migrate as migrations

    app = create_app(base_config(tmp_path, url))
    migrations.upgrade(app)
    from forum.db import get_engine

    get_engine(app).dispose()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file, copied for each test."""
    folder = tmp_path_factory.mktemp("sqlite-template")
    path = folder / "template.db"
    migrate(f"sqlite:///{path}", folder)
    return path


@pytest.fixture(scope="session")
def pg_database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A migrated PostgreSQL database for this test run, emptied before each test."""
    if PG_URL is None:
        pytest.skip(NO_PG)
    name = f"forum_test_{os.getpid()}"
    url = create_pg_database(name)
    migrate(url, tmp_path_factory.mktemp("pg"))
    yield url
    drop_pg_database(name)


def _truncate_all(url: str) -> None:
    engine = create_engine(url)
    tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    engine.dispose()


@pytest.fixture(params=DATABASES)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A migrated, empty database: a fresh SQLite copy, or the emptied PostgreSQL one."""
    if request.param == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        path = tmp_path / "forum.db"
        shutil.copyfile(template, path)
        return f"sqlite:///{path}"
    url: str = request.getfixturevalue("pg_database")
    _truncate_all(url)
    return url


@pytest.fixture
def app_config(tmp_path: Path, database_url: str) -> dict[str, Any]:
    """Configuration of the ``app`` fixture; tests may override keys before using ``app``."""
    return base_config(tmp_path, database_url)


@pytest.fixture
def app(
    app_config: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Flask]:
    """An application on a fresh database."""
    monkeypatch.setenv("FORUM_INSTANCE_PATH", str(tmp_path / "instance"))
    application = create_app(app_config)
    yield application
    from forum import aftercommit, delivery, webhooks
    from forum.db import get_engine
    from forum.search import vectors

    # Threads that may still use the engine: merged after-commit work, the email senders, and
    # a webhook dispatcher that would otherwise sleep until a retry and wake in a later test.
    aftercommit.wait_idle(60)
    vectors.wait(60)
    delivery.wait_idle(60)
    webhooks.dispatcher(application).stop(60)
    get_engine(application).dispose()


@pytest.fixture
def session(app: Flask) -> Iterator[Session]:
    """A session on the app's database, for arranging and checking data.

    No app context is held open: requests made meanwhile must get their own ``g``.
    """
    db = new_session(app)
    try:
        yield db
    finally:
        db.close()


@pytest.fixture(params=DATABASES)
def empty_app(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Flask]:
    """An app on a database with no tables at all (for migration tests)."""
    name = f"forum_empty_{os.getpid()}"
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'empty.db'}"
    else:
        url = create_pg_database(name)
    application = create_app(base_config(tmp_path, url))
    yield application
    from forum.db import get_engine

    get_engine(application).dispose()
    if request.param == "postgresql":
        drop_pg_database(name)


CSRF_META = re.compile(r'<meta name="csrf-token" content="([^"]+)"')


class Browser:
    """A test client that behaves like a person with a browser: it reads CSRF tokens."""

    def __init__(self, client: FlaskClient) -> None:
        self.client = client

    def csrf_token(self, path: str = "/") -> str:
        """The CSRF token of the current session, read from a page's meta tag."""
        # Followed: on a members-only site a visitor's "/" is the login page.
        response = self.client.get(path, follow_redirects=True)
        match = CSRF_META.search(response.get_data(as_text=True))
        assert match, f"no CSRF token on {path}"
        return match.group(1)

    def get(self, path: str, **kwargs: Any) -> Any:
        """GET a page."""
        return self.client.get(path, **kwargs)

    def post(self, path: str, data: dict[str, Any] | None = None, **kwargs: Any) -> Any:
        """POST a form with a valid CSRF token, as the page's form would."""
        form = {"csrf_token": self.csrf_token(), **(data or {})}
        return self.client.post(path, data=form, **kwargs)

    def register(
        self, username: str = "newhire", password: str = TEST_PASSWORD, **fields: str
    ) -> Any:
        """Register through the form."""
        form = {
            "username": username,
            "email": fields.pop("email", f"{username}@example.com"),
            "display_name": fields.pop("display_name", username.capitalize() + " Tester"),
            "password": password,
            **fields,
        }
        return self.post("/register", form)

    def login(self, username: str, password: str = TEST_PASSWORD, **kwargs: Any) -> Any:
        """Log in through the form."""
        return self.post("/login", {"username": username, "password": password}, **kwargs)

    def logout(self) -> Any:
        """Log out with the header's button."""
        return self.post("/logout")


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    """Flask's test client."""
    return app.test_client()


@pytest.fixture
def browser(client: FlaskClient) -> Browser:
    """A test client that handles CSRF like a browser."""
    return Browser(client)
