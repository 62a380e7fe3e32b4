"""Files holding secrets or data are readable by forum's own account only, whatever the umask."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import text

from forum import backup as backups
from forum import create_app
from forum.db import get_engine, make_engine
from forum.files import create_private_file, private_sqlite_file
from tests.conftest import TEST_HASH_METHOD, base_config


def mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


@pytest.fixture(autouse=True)
def permissive_umask() -> Iterator[None]:
    """A umask that lets everyone read new files, as many servers start with."""
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def test_backup_archive_and_its_members_are_private(app: Flask, tmp_path: Path) -> None:
    out = tmp_path / "backups" / "forum.tar.gz"
    backups.backup(get_engine(app), out)
    assert mode(out) == 0o600
    with tarfile.open(out, "r:gz") as archive:
        members = archive.getmembers()
    assert members and all(m.mode == 0o600 for m in members)


def test_an_old_partial_archive_is_replaced_not_reused(app: Flask, tmp_path: Path) -> None:
    out = tmp_path / "forum.tar.gz"
    elsewhere = tmp_path / "elsewhere.txt"
    elsewhere.write_text("keep me", encoding="utf-8")
    # A link left where the partial archive goes must not be written through.
    out.with_name(out.name + ".partial").symlink_to(elsewhere)
    backups.backup(get_engine(app), out)
    assert elsewhere.read_text(encoding="utf-8") == "keep me"
    assert mode(out) == 0o600


def test_restore_unpacks_tables_as_private_files(app: Flask, tmp_path: Path) -> None:
    out = tmp_path / "forum.tar.gz"
    backups.backup(get_engine(app), out)
    folder = tmp_path / "unpacked"
    folder.mkdir()
    backups._unpack(out, folder)
    unpacked = list(folder.iterdir())
    assert unpacked and all(mode(p) == 0o600 for p in unpacked)


def test_instance_folder_is_created_private(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    srv = tmp_path / "srv"
    srv.mkdir()
    srv.chmod(0o755)
    instance = srv / "forum" / "instance"
    monkeypatch.setenv("FORUM_INSTANCE_PATH", str(instance))
    app = create_app(base_config(tmp_path, f"sqlite:///{instance / 'forum.db'}"))
    get_engine(app).dispose()
    assert mode(instance) == 0o700
    assert mode(srv) == 0o755  # parents are not forum's to change


def test_an_existing_open_instance_folder_and_key_are_tightened(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    instance = tmp_path / "instance"
    instance.mkdir(mode=0o755)
    instance.chmod(0o755)
    key = instance / "secret_key"
    key.write_text("k" * 64 + "\n", encoding="ascii")
    key.chmod(0o644)
    monkeypatch.setenv("FORUM_INSTANCE_PATH", str(instance))
    config = base_config(tmp_path, f"sqlite:///{tmp_path / 'forum.db'}")
    del config["SECRET_KEY"]
    app = create_app(config)
    get_engine(app).dispose()
    assert app.config["SECRET_KEY"] == "k" * 64
    assert mode(instance) == 0o700 and mode(key) == 0o600


def test_an_instance_folder_given_through_a_link_is_tightened(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = tmp_path / "data"
    real.mkdir()
    real.chmod(0o755)
    (tmp_path / "instance").symlink_to(real, target_is_directory=True)
    monkeypatch.setenv("FORUM_INSTANCE_PATH", str(tmp_path / "instance"))
    app = create_app(base_config(tmp_path, f"sqlite:///{tmp_path / 'forum.db'}"))
    get_engine(app).dispose()
    assert mode(real) == 0o700


def test_a_new_secret_key_is_private(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    instance = tmp_path / "instance"
    monkeypatch.setenv("FORUM_INSTANCE_PATH", str(instance))
    config = base_config(tmp_path, f"sqlite:///{tmp_path / 'forum.db'}")
    del config["SECRET_KEY"]
    get_engine(create_app(config)).dispose()
    assert mode(instance / "secret_key") == 0o600 and mode(instance) == 0o700


def test_the_search_index_folder_is_private(app: Flask) -> None:
    assert mode(Path(app.config["SEARCH_INDEX_DIR"])) == 0o700


def test_sqlite_database_wal_and_shm_files_are_private(tmp_path: Path) -> None:
    database = tmp_path / "new.db"
    engine = make_engine(f"sqlite:///{database}")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (x INTEGER)"))
        conn.execute(text("INSERT INTO t VALUES (1)"))
        # While a connection is open the WAL and shared-memory files exist.
        files = [database, database.with_name("new.db-wal"), database.with_name("new.db-shm")]
        assert all(p.exists() for p in files)
        assert [mode(p) for p in files] == [0o600, 0o600, 0o600]
    engine.dispose()


def test_existing_open_sqlite_files_are_tightened(tmp_path: Path) -> None:
    database = tmp_path / "old.db"
    engine = make_engine(f"sqlite:///{database}")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (x INTEGER)"))
    engine.dispose()
    wal = database.with_name("old.db-wal")
    wal.touch()
    for path in (database, wal):
        path.chmod(0o644)
    private_sqlite_file(str(database))
    assert mode(database) == 0o600 and mode(wal) == 0o600


def test_a_private_file_never_writes_through_a_link(tmp_path: Path) -> None:
    target = tmp_path / "target"
    target.write_text("original", encoding="utf-8")
    link = tmp_path / "link"
    link.symlink_to(target)
    with create_private_file(link) as handle:
        handle.write(b"new")
    assert target.read_text(encoding="utf-8") == "original"
    assert not link.is_symlink() and mode(link) == 0o600


def test_the_forum_command_creates_private_files(tmp_path: Path) -> None:
    """Whatever the caller's umask, files the command writes (exports too) are 0600."""
    instance = tmp_path / "instance"
    env = {
        **os.environ,
        "FORUM_INSTANCE_PATH": str(instance),
        "FORUM_PASSWORD_HASH_METHOD": TEST_HASH_METHOD,
        "FORUM_DEMO_PASSWORD": "demo phrase 1",
    }
    env.pop("FORUM_DATABASE_URL", None)
    forum = Path(sys.executable).with_name("forum")
    out = tmp_path / "export"
    for args in (["db", "upgrade"], ["demo"], ["export", "markdown", str(out)]):
        done = subprocess.run(
            [str(forum), *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
            umask=0o022,
        )
        assert done.returncode == 0, done.stderr
    exported = list(out.glob("*.md"))
    assert exported and all(mode(p) == 0o600 for p in exported)
    assert mode(out) == 0o700
    assert mode(instance / "forum.db") == 0o600 and mode(instance / "secret_key") == 0o600
