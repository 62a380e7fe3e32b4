"""Migrations as operators run them: step back one revision and forward again; data migrations."""

from __future__ import annotations

import datetime as dt
from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask import Flask
from sqlalchemy import Connection, MetaData, Table, func, select

from forum import migrate
from forum.db import get_engine
from forum.models import Base

NOW = dt.datetime(2026, 5, 1, 12, 0, tzinfo=dt.UTC)


def script() -> ScriptDirectory:
    return ScriptDirectory.from_config(migrate.alembic_config("sqlite://"))


def alembic(app: Flask) -> Any:
    config = migrate.alembic_config(app.config["DATABASE_URL"])
    config.attributes["engine"] = get_engine(app)
    return config


def current_heads(app: Flask) -> set[str]:
    with get_engine(app).connect() as conn:
        return set(MigrationContext.configure(conn).get_current_heads())


def schema_differences(app: Flask) -> list[object]:
    with get_engine(app).connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        return list(compare_metadata(context, Base.metadata))


def test_every_head_steps_back_one_revision_and_forward_again(empty_app: Flask) -> None:
    migrate.upgrade(empty_app)
    heads = set(script().get_heads())
    assert current_heads(empty_app) == heads
    assert schema_differences(empty_app) == []
    for head in sorted(heads):
        parent = script().get_revision(head).down_revision
        command.downgrade(alembic(empty_app), f"{head}@-1")
        now = current_heads(empty_app)
        assert head not in now, head
        assert now <= (heads - {head}) | {parent}, (head, now)
        migrate.upgrade(empty_app)
        assert current_heads(empty_app) == heads, head
        assert schema_differences(empty_app) == [], head


def table(conn: Connection, name: str) -> Table:
    """A table as it is in the database now (the models may be ahead of it)."""
    return Table(name, MetaData(), autoload_with=conn)


def insert(conn: Connection, name: str, **values: Any) -> int:
    target = table(conn, name)
    return int(conn.execute(target.insert().values(**values).returning(target.c.id)).scalar_one())


def test_recount_migration_fixes_counters_of_existing_posts(empty_app: Flask) -> None:
    migrate.upgrade(empty_app, "0001_initial")
    people = {}
    with get_engine(empty_app).begin() as conn:
        for name in ("ana", "ben", "cy"):
            people[name] = insert(
                conn, "users", username=name, display_name=name.title(), auth_token="t" * 16
            )

        def post(kind: str, **values: Any) -> int:
            return insert(
                conn,
                "posts",
                kind=kind,
                body_md="text",
                body_html="<p>text</p>",
                author_id=people["ana"],
                # Counters as an old import left them: all wrong.
                score=7,
                answer_count=5,
                comment_count=9,
                **values,
            )

        question = post("question", title="Where are the build logs?")
        quiet = post("question", title="Nobody answered this")
        live = post("answer", parent_id=question)
        post("answer", parent_id=question)
        post("answer", parent_id=question, deleted_at=NOW)
        votes = table(conn, "votes")
        conn.execute(
            votes.insert(),
            [
                {"user_id": people["ben"], "post_id": question, "value": 1},
                {"user_id": people["cy"], "post_id": question, "value": 1},
                {"user_id": people["cy"], "post_id": live, "value": -1},
            ],
        )
        comments = table(conn, "comments")
        for post_id, author, deleted_at in [
            (question, "ben", None),
            (question, "cy", None),
            (question, "cy", NOW),
            (live, "ana", None),
        ]:
            conn.execute(
                comments.insert().values(
                    post_id=post_id,
                    author_id=people[author],
                    body_md="a comment",
                    body_html="<p>a comment</p>",
                    deleted_at=deleted_at,
                )
            )

    migrate.upgrade(empty_app, "0007_ops")

    with get_engine(empty_app).connect() as conn:
        posts = table(conn, "posts")
        counters = {
            row.id: (row.score, row.answer_count, row.comment_count)
            for row in conn.execute(select(posts))
        }
    assert counters[question] == (2, 2, 2)  # the deleted answer and comment do not count
    assert counters[quiet] == (0, 0, 0)
    assert counters[live] == (-1, 0, 1)

    # The rest of the migrations still apply on top of the data, to the models' schema.
    migrate.upgrade(empty_app)
    assert schema_differences(empty_app) == []
    with get_engine(empty_app).connect() as conn:
        posts = table(conn, "posts")
        assert conn.scalar(select(posts.c.score).where(posts.c.id == question)) == 2
        # Later migrations that rebuild a table (SQLite's batch mode copies it and drops the
        # old one) keep the rows that point at it: authors, votes and comments survive.
        assert set(conn.scalars(select(posts.c.author_id))) == {people["ana"]}
        assert conn.scalar(select(func.count()).select_from(table(conn, "votes"))) == 3
        comments = table(conn, "comments")
        assert conn.scalar(select(func.count(comments.c.author_id))) == 4


def test_recount_migration_leaves_correct_counters_and_timestamps_alone(empty_app: Flask) -> None:
    migrate.upgrade(empty_app, "0001_initial")
    with get_engine(empty_app).begin() as conn:
        author = insert(conn, "users", username="dee", display_name="Dee", auth_token="t" * 16)
        stamped = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
        question = insert(
            conn,
            "posts",
            kind="question",
            title="Already right",
            body_md="x",
            body_html="x",
            author_id=author,
            updated_at=stamped,
        )
    migrate.upgrade(empty_app, "0007_ops")
    command.downgrade(alembic(empty_app), "0007_ops@-1")
    migrate.upgrade(empty_app, "0007_ops")
    with get_engine(empty_app).connect() as conn:
        posts = table(conn, "posts")
        row = conn.execute(select(posts).where(posts.c.id == question)).one()
    assert (row.score, row.answer_count, row.comment_count) == (0, 0, 0)
    updated = row.updated_at if row.updated_at.tzinfo else row.updated_at.replace(tzinfo=dt.UTC)
    assert updated == stamped


def test_zero_result_migration_normalises_existing_searches(empty_app: Flask) -> None:
    migrate.upgrade(empty_app, "0015_search_layout")
    with get_engine(empty_app).begin() as conn:
        insert(conn, "zero_result_queries", query="Kafka  LAG", created_at=NOW)
        insert(conn, "zero_result_queries", query="kafka lag", created_at=NOW)
        insert(conn, "search_outbox", post_id=7, created_at=NOW)
    migrate.upgrade(empty_app)
    with get_engine(empty_app).connect() as conn:
        rows = conn.execute(
            select(table(conn, "zero_result_queries").c["normalized", "day", "user_id"])
        ).all()
        outbox = conn.execute(
            select(table(conn, "search_outbox").c["attempts", "quarantined_at"])
        ).one()
    # Searchers were never recorded before: old rows stay, one each, with no member.
    assert [tuple(r) for r in rows] == [
        ("kafka  lag", NOW.date(), None),
        ("kafka lag", NOW.date(), None),
    ]
    assert tuple(outbox) == (0, None)
