"""Configuration order, the generated secret key and SQLite's settings."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from sqlalchemy import text

from forum import create_app
from forum.config import load_or_create_secret_key
from forum.db import get_engine


@pytest.fixture
def instance(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "instance"
    monkeypatch.setenv("FORUM_INSTANCE_PATH", str(folder))
    for name in ("FORUM_SECRET_KEY", "FORUM_DATABASE_URL", "FORUM_SEARCH_BACKEND"):
        monkeypatch.delenv(name, raising=False)
    return folder


def test_defaults_live_under_the_instance_folder(instance: Path) -> None:
    app = create_app()
    assert app.config["DATABASE_URL"] == f"sqlite:///{instance / 'forum.db'}"
    assert app.config["SEARCH_INDEX_DIR"] == str(instance / "search-index")
    assert app.config["SEARCH_BACKEND"] == "whoosh"
    assert app.config["RATELIMIT_ENABLED"] is True
    assert app.config["RATELIMIT_STORAGE_URI"] == "memory://"


def test_secret_key_is_generated_once_and_persisted(instance: Path) -> None:
    first = create_app().config["SECRET_KEY"]
    second = create_app().config["SECRET_KEY"]
    assert first == second
    assert len(first) == 64
    key_file = instance / "secret_key"
    assert key_file.read_text().strip() == first
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600


def test_each_instance_gets_its_own_key(tmp_path: Path) -> None:
    assert load_or_create_secret_key(tmp_path / "a") != load_or_create_secret_key(tmp_path / "b")


def test_instance_config_file_then_environment(
    instance: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    instance.mkdir(parents=True)
    (instance / "config.py").write_text(
        "SEARCH_BACKEND = 'postgres'\nUSERS_PER_PAGE = 7\nSECRET_KEY = 'from-file'\n"
    )
    app = create_app()
    assert app.config["SEARCH_BACKEND"] == "postgres"
    assert app.config["USERS_PER_PAGE"] == 7
    assert app.config["SECRET_KEY"] == "from-file"

    monkeypatch.setenv("FORUM_SECRET_KEY", "from-env")
    monkeypatch.setenv("FORUM_USERS_PER_PAGE", "9")
    monkeypatch.setenv("FORUM_RATELIMIT_ENABLED", "false")
    monkeypatch.setenv("FORUM_RATELIMIT_STORAGE_URL", "redis://127.0.0.1:6379/3")
    app = create_app()
    assert app.config["SECRET_KEY"] == "from-env"
    assert app.config["USERS_PER_PAGE"] == 9
    assert app.config["RATELIMIT_ENABLED"] is False
    assert app.config["RATELIMIT_STORAGE_URI"] == "redis://127.0.0.1:6379/3"
    assert not (instance / "secret_key").exists()


def test_unknown_search_backend_is_refused(instance: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FORUM_SEARCH_BACKEND", "elastic")
    with pytest.raises(ValueError, match="FORUM_SEARCH_BACKEND"):
        create_app()


def test_sqlite_runs_in_wal_mode_with_a_busy_timeout(instance: Path) -> None:
    app = create_app()
    with get_engine(app).connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA busy_timeout")).scalar() == 10_000
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
    get_engine(app).dispose()
