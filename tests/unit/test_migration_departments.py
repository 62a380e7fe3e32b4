"""The departments migration turns the typed-in values into one list, case aside."""

from __future__ import annotations

from flask import Flask
from sqlalchemy import select

from forum import migrate
from forum.db import get_engine
from tests.unit.test_migrations_practice import insert, schema_differences, table


def test_typed_departments_become_one_list(empty_app: Flask) -> None:
    migrate.upgrade(empty_app, "0018_visits")
    spelled = {
        "ann": "Engineering",
        "bob": "engineering",
        "cy": " Engineering ",
        "dee": "ENGINEERING",
        "eve": "sales",
        "fay": None,
    }
    with get_engine(empty_app).begin() as conn:
        for name, department in spelled.items():
            insert(
                conn,
                "users",
                username=name,
                display_name=name.title(),
                auth_token="t" * 16,
                department=department,
            )
        for title, department in (("Older", "engineering"), ("Newer", "Engineering")):
            insert(
                conn,
                "learning_paths",
                title=title,
                description_md="",
                description_html="",
                onboarding_department=department,
            )

    migrate.upgrade(empty_app)

    assert schema_differences(empty_app) == []
    with get_engine(empty_app).connect() as conn:
        departments = table(conn, "departments")
        listed = conn.execute(select(departments.c.name, departments.c.key)).all()
        users = table(conn, "users")
        members = dict(conn.execute(select(users.c.username, users.c.department)).all())
        paths = table(conn, "learning_paths")
        onboarding = dict(conn.execute(select(paths.c.title, paths.c.onboarding_department)).all())
    # The spelling most members used wins (ties go to the capitalised one).
    assert sorted(listed) == [("Engineering", "engineering"), ("sales", "sales")]
    assert members == {
        "ann": "Engineering",
        "bob": "Engineering",
        "cy": "Engineering",
        "dee": "Engineering",
        "eve": "sales",
        "fay": None,
    }
    assert onboarding == {"Older": "Engineering", "Newer": None}
