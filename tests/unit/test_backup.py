"""Backups: one portable archive, restored row for row on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import io
import json
import os
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click
import pytest
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from forum import backup as backups
from forum import create_app, search
from forum.cli import search as search_commands
from forum.db import get_engine, new_session
from forum.models import (
    Answer,
    Base,
    Comment,
    CommentVote,
    Question,
    Revision,
    Role,
    Tag,
    TagFollow,
    TagSynonym,
    User,
    Vote,
)
from forum.search.base import Backend, Busy
from forum.search.documents import count_documents
from tests.conftest import (
    NO_PG,
    PG_URL,
    TEST_HASH_METHOD,
    base_config,
    create_pg_database,
    drop_pg_database,
)
from tests.factories import make_user

requires_pg = pytest.mark.skipif(PG_URL is None, reason=NO_PG)
MOMENT = dt.datetime(2026, 3, 14, 9, 26, 53, 589793, tzinfo=dt.UTC)


def fill(session: Session) -> None:
    """Content touching the awkward cases: cycles, self references, Unicode, times, flags."""
    from forum import demo

    demo.load(session, password="demo pass phrase", hash_method=TEST_HASH_METHOD)
    asker = make_user(session, "zoë", display_name="Zoë Ñúñez 🚀", bio='Line one\nline "two"')
    helper = make_user(session, "ops.helper", role=Role.MODERATOR, is_active=False)
    voter = make_user(session, "ops.voter", last_login_at=MOMENT)
    drill = Tag(name="restore-drill", excerpt="The drill", description_md="**yearly**")
    trip = Tag(name="round-trip")
    session.add_all([drill, trip])
    session.flush()
    question = Question(
        title="Why does my query return nothing?",
        body_md="`SELECT 1` — nothing?",
        body_html="<p><code>SELECT 1</code> — nothing?</p>",
        author_id=asker.id,
        tags=[drill, trip],
        created_at=MOMENT,
        is_anonymous=True,
    )
    session.add(question)
    session.flush()
    first = Answer(body_md="Check the WHERE clause.", author_id=helper.id, parent_id=question.id)
    second = Answer(body_md="Commit first.", author_id=voter.id, parent_id=question.id)
    session.add_all([first, second])
    session.flush()
    # A question pointing at a later row of its own table: restore must handle the cycle.
    question.accepted_answer_id = second.id
    question.answer_count = 2
    duplicate = Question(title="Empty results", body_md="dup", author_id=voter.id)
    session.add(duplicate)
    session.flush()
    duplicate.duplicate_of_id = question.id
    duplicate.closed_reason = "duplicate"
    duplicate.closed_at = MOMENT
    session.add(
        Revision(
            post_id=question.id,
            number=1,
            body_md=question.body_md,
            tags_text="restore-drill round-trip",
        )
    )
    session.add_all(
        [
            Vote(user_id=voter.id, post_id=question.id, value=1),
            Vote(user_id=helper.id, post_id=second.id, value=-1),
        ]
    )
    parent = Comment(post_id=question.id, author_id=helper.id, body_md="Which DB?", body_html="x")
    session.add(parent)
    session.flush()
    reply = Comment(
        post_id=question.id, author_id=asker.id, parent_id=parent.id, body_md="PG", body_html="y"
    )
    session.add(reply)
    session.flush()
    session.add(CommentVote(user_id=voter.id, comment_id=reply.id))
    session.add(TagFollow(user_id=asker.id, tag_id=drill.id))
    session.add(TagSynonym(name="roundtrip", tag_id=trip.id))
    session.commit()


def archive_rows(path: Path) -> dict[str, list[dict[str, Any]]]:
    """Every table's rows in an archive."""
    result: dict[str, list[dict[str, Any]]] = {}
    with tarfile.open(path, "r:gz") as archive:
        for member in archive.getmembers():
            if member.name.startswith("tables/"):
                handle = archive.extractfile(member)
                assert handle is not None
                name = member.name.removeprefix("tables/").removesuffix(".jsonl")
                result[name] = [json.loads(line) for line in handle.read().splitlines()]
    return result


def manifest(path: Path) -> dict[str, Any]:
    return backups.read_manifest(path)


def run(app: Flask, *args: str) -> click.testing.Result:
    result = app.test_cli_runner().invoke(args=list(args))
    return result


@pytest.fixture
def empty_sqlite_app(tmp_path: Path) -> Iterator[Flask]:
    """An app on a SQLite file with no tables yet."""
    folder = tmp_path / "target"
    folder.mkdir()
    app = create_app(base_config(folder, f"sqlite:///{folder / 'target.db'}"))
    yield app
    get_engine(app).dispose()


@pytest.fixture
def empty_pg_app(tmp_path: Path) -> Iterator[Flask]:
    """An app on a PostgreSQL database with no tables yet."""
    if PG_URL is None:
        pytest.skip(NO_PG)
    name = f"forum_restore_{os.getpid()}"
    folder = tmp_path / "pg-target"
    folder.mkdir()
    app = create_app(base_config(folder, create_pg_database(name)))
    yield app
    get_engine(app).dispose()
    drop_pg_database(name)


def test_archive_holds_every_table_in_dependency_order(
    app: Flask, session: Session, tmp_path: Path
) -> None:
    fill(session)
    out = tmp_path / "forum.tar.gz"
    result = run(app, "backup", str(out))
    assert result.exit_code == 0, result.output
    assert f"Backup written to {out}" in result.output
    meta = manifest(out)
    assert meta["format"] == "forum-backup" and meta["format_version"] == 1
    names = [t["name"] for t in meta["tables"]]
    assert names == [t.name for t in Base.metadata.sorted_tables]
    with get_engine(app).connect() as conn:
        assert meta["schema_revision"] == backups.schema_revision(conn) != []
    counts = {t["name"]: t["rows"] for t in meta["tables"]}
    assert counts == backups.row_counts(get_engine(app))
    assert counts["users"] >= 15 and counts["posts"] >= 4 and counts["comments"] >= 2
    rows = archive_rows(out)
    assert set(rows) == set(names)
    zoe = next(u for u in rows["users"] if u["username"] == "zoë")
    assert zoe["display_name"] == "Zoë Ñúñez 🚀" and zoe["role"] == "member"
    question = next(p for p in rows["posts"] if p["title"] == "Why does my query return nothing?")
    assert question["created_at"] == "2026-03-14T09:26:53.589793+00:00"
    assert question["kind"] == "question" and question["is_anonymous"] is True


def test_sqlite_to_sqlite_round_trip(
    app: Flask, session: Session, empty_sqlite_app: Flask, tmp_path: Path
) -> None:
    fill(session)
    first, second = tmp_path / "first.tar.gz", tmp_path / "second.tar.gz"
    assert run(app, "backup", str(first)).exit_code == 0
    result = run(empty_sqlite_app, "restore", str(first), "--no-search-rebuild")
    assert result.exit_code == 0, result.output
    assert "Restored" in result.output
    assert run(empty_sqlite_app, "backup", str(second)).exit_code == 0
    assert archive_rows(second) == archive_rows(first)


@requires_pg
def test_sqlite_to_postgresql_to_sqlite_keeps_every_row(
    tmp_path: Path, sqlite_template: Path, empty_pg_app: Flask, empty_sqlite_app: Flask
) -> None:
    import shutil

    source_db = tmp_path / "source.db"
    shutil.copyfile(sqlite_template, source_db)
    source = create_app(base_config(tmp_path, f"sqlite:///{source_db}"))
    session = new_session(source)
    try:
        fill(session)
    finally:
        session.close()
    from_sqlite, from_pg, back = (tmp_path / f"{n}.tar.gz" for n in ("sqlite", "pg", "back"))
    assert run(source, "backup", str(from_sqlite)).exit_code == 0
    get_engine(source).dispose()

    # The search rebuild would consume the outbox rows, which are compared too.
    result = run(empty_pg_app, "restore", str(from_sqlite), "--no-search-rebuild")
    assert result.exit_code == 0, result.output
    assert run(empty_pg_app, "backup", str(from_pg)).exit_code == 0
    result = run(empty_sqlite_app, "restore", str(from_pg), "--no-search-rebuild")
    assert result.exit_code == 0, result.output
    assert run(empty_sqlite_app, "backup", str(back)).exit_code == 0

    original = archive_rows(from_sqlite)
    assert sum(len(rows) for rows in original.values()) > 30
    assert archive_rows(from_pg) == original
    assert archive_rows(back) == original
    assert manifest(from_pg)["dialect"] == "postgresql"

    # Sequences were moved past the restored ids: new rows get fresh ones.
    pg_session = new_session(empty_pg_app)
    try:
        highest = pg_session.scalar(select(func.max(User.id)))
        newcomer = make_user(pg_session, "after.restore")
        pg_session.commit()
        assert highest is not None and newcomer.id > highest
        question = pg_session.scalars(
            select(Question).where(Question.title == "Why does my query return nothing?")
        ).one()
        assert question.accepted_answer is not None
        assert question.accepted_answer.body_md == "Commit first."
        assert question.created_at == MOMENT
    finally:
        pg_session.close()


def test_restore_refuses_a_database_with_content(
    app: Flask, session: Session, tmp_path: Path
) -> None:
    fill(session)
    out = tmp_path / "forum.tar.gz"
    assert run(app, "backup", str(out)).exit_code == 0
    make_user(session, "written.after.backup")
    session.commit()

    refused = run(app, "restore", str(out))
    assert refused.exit_code == 1
    assert "not empty" in refused.output and "--force" in refused.output
    assert session.scalar(select(User).where(User.username == "written.after.backup"))

    forced = run(app, "restore", str(out), "--force", "--no-search-rebuild")
    assert forced.exit_code == 0, forced.output
    session.rollback()  # end the read transaction: see what the restore committed
    assert session.scalar(select(User).where(User.username == "written.after.backup")) is None
    again = tmp_path / "again.tar.gz"
    assert run(app, "backup", str(again)).exit_code == 0
    assert archive_rows(again) == archive_rows(out)


def test_a_failed_restore_changes_nothing(
    app: Flask, session: Session, empty_sqlite_app: Flask, tmp_path: Path
) -> None:
    fill(session)
    good = tmp_path / "good.tar.gz"
    assert run(app, "backup", str(good)).exit_code == 0
    # The same archive with one row fewer in posts than its manifest promises.
    broken = tmp_path / "broken.tar.gz"
    with tarfile.open(good, "r:gz") as source, tarfile.open(broken, "w:gz") as target:
        for member in source.getmembers():
            handle = source.extractfile(member)
            assert handle is not None
            data = handle.read()
            if member.name == "tables/votes.jsonl":
                data = b"\n".join(data.splitlines()[:-1]) + b"\n"
                member.size = len(data)
            target.addfile(member, io.BytesIO(data))
    result = run(empty_sqlite_app, "restore", str(broken))
    assert result.exit_code == 1
    votes = next(t["rows"] for t in manifest(good)["tables"] if t["name"] == "votes")
    assert f"votes: the archive lists {votes} rows but holds {votes - 1}" in result.output
    assert backups.row_counts(get_engine(empty_sqlite_app))["users"] == 0


def test_restore_refuses_what_is_not_a_forum_backup(
    empty_sqlite_app: Flask, tmp_path: Path
) -> None:
    stranger = tmp_path / "stranger.tar.gz"
    with tarfile.open(stranger, "w:gz") as archive:
        data = json.dumps({"format": "something-else"}).encode()
        info = tarfile.TarInfo("manifest.json")
        info.size = len(data)
        archive.addfile(info, io.BytesIO(data))
    result = run(empty_sqlite_app, "restore", str(stranger))
    assert result.exit_code == 1 and "not a forum backup" in result.output


def test_restore_refuses_tables_it_does_not_know(
    app: Flask, empty_sqlite_app: Flask, tmp_path: Path
) -> None:
    good = tmp_path / "good.tar.gz"
    assert run(app, "backup", str(good)).exit_code == 0
    meta = manifest(good)
    meta["tables"].append({"name": "telepathy_links", "rows": 0})
    odd = tmp_path / "odd.tar.gz"
    with tarfile.open(odd, "w:gz") as archive:
        data = json.dumps(meta).encode()
        info = tarfile.TarInfo("manifest.json")
        info.size = len(data)
        archive.addfile(info, io.BytesIO(data))
    result = run(empty_sqlite_app, "restore", str(odd))
    assert result.exit_code == 1 and "telepathy_links" in result.output


def test_restore_rebuilds_the_search_index_after_the_rows_are_in(
    app: Flask, session: Session, empty_sqlite_app: Flask, tmp_path: Path
) -> None:
    fill(session)
    out = tmp_path / "forum.tar.gz"
    assert run(app, "backup", str(out)).exit_code == 0
    try:
        result = run(empty_sqlite_app, "restore", str(out))
        assert result.exit_code == 0, result.output
        assert "Rebuilding the search index" in result.output
        with new_session(empty_sqlite_app) as target:
            documents = count_documents(target)
        assert documents > 0
        assert f"Rebuilt the index: {documents} document(s)" in result.output
        verified = run(empty_sqlite_app, "search", "verify")
        assert verified.exit_code == 0, verified.output
        assert "The index matches the database." in verified.output
    finally:
        search.close_backends()


def test_a_failed_search_rebuild_is_reported_after_the_rows_are_in(
    app: Flask,
    session: Session,
    empty_sqlite_app: Flask,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fill(session)
    out = tmp_path / "forum.tar.gz"
    assert run(app, "backup", str(out)).exit_code == 0

    def read_only(_backend: Backend) -> int:
        raise OSError("index directory is read-only")

    monkeypatch.setattr(search_commands, "rebuild_index", read_only)
    result = run(empty_sqlite_app, "restore", str(out))
    assert result.exit_code == 1
    assert "rows are restored" in result.output and "forum search rebuild" in result.output
    assert "index directory is read-only" in result.output
    posts = backups.row_counts(get_engine(app))["posts"]
    assert backups.row_counts(get_engine(empty_sqlite_app))["posts"] == posts


def test_a_busy_index_writer_stops_the_restore_rebuild_with_its_reason(
    app: Flask,
    session: Session,
    empty_sqlite_app: Flask,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fill(session)
    out = tmp_path / "forum.tar.gz"
    assert run(app, "backup", str(out)).exit_code == 0

    def busy(_backend: Backend) -> int:
        raise Busy("another process is applying search changes")

    monkeypatch.setattr(search_commands, "rebuild_index", busy)
    result = run(empty_sqlite_app, "restore", str(out))
    assert result.exit_code == 1
    assert "Error: another process is applying search changes" in result.output
    assert "rows are restored" not in result.output


def test_times_are_written_in_utc_whatever_the_database_returns() -> None:
    column = User.__table__.c.last_login_at
    naive = dt.datetime(2026, 1, 2, 3, 4, 5)
    assert backups.encode_value(column, naive) == "2026-01-02T03:04:05+00:00"
    plus_two = dt.datetime(2026, 1, 2, 5, 4, 5, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    assert backups.encode_value(column, plus_two) == "2026-01-02T03:04:05+00:00"
    assert backups.decode_value(column, "2026-01-02T03:04:05+00:00") == naive.replace(tzinfo=dt.UTC)
    assert backups.encode_value(User.__table__.c.role, Role.ADMIN) == "admin"
