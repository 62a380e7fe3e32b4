"""Migrations build exactly the models' schema, and downgrade cleanly, on both databases."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask import Flask
from sqlalchemy import inspect

from forum import create_app, migrate
from forum.db import get_engine
from forum.models import Base
from tests.conftest import DATABASES, base_config, create_pg_database, drop_pg_database


@pytest.fixture(params=DATABASES)
def empty_app(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Flask]:
    """An app on a database with no tables at all."""
    name = f"forum_migrations_{os.getpid()}"
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'empty.db'}"
    else:
        url = create_pg_database(name)
    app = create_app(base_config(tmp_path, url))
    yield app
    get_engine(app).dispose()
    if request.param == "postgresql":
        drop_pg_database(name)


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
