"""Migrations build exactly the models' schema, and downgrade cleanly, on both databases."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask import Flask
from sqlalchemy import inspect

from forum import migrate
from forum.db import get_engine
from forum.models import Base


def schema_differences(app: Flask) -> list[object]:
    with get_engine(app).connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        return list(compare_metadata(context, Base.metadata))


def test_upgrade_from_empty_gives_the_models_schema(empty_app: Flask) -> None:
    migrate.upgrade(empty_app)
    assert schema_differences(empty_app) == []


def test_downgrade_to_base_and_upgrade_again(empty_app: Flask) -> None:
    migrate.upgrade(empty_app)
    migrate.downgrade(empty_app, "base")
    tables = set(inspect(get_engine(empty_app)).get_table_names()) - {"alembic_version"}
    assert tables == set()
    migrate.upgrade(empty_app)
    assert schema_differences(empty_app) == []
