"""Alembic driven from the app: the schema is only ever created by migrations."""

from __future__ import annotations

from alembic import command
from alembic.config import Config
from flask import Flask

from forum.locations import MIGRATIONS_DIR


def alembic_config(database_url: str) -> Config:
    """An Alembic configuration for ``database_url`` using the project's migrations."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    # Alembic's ini interpolation treats % specially; URLs may contain escaped characters.
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def upgrade(app: Flask, revision: str = "heads") -> None:
    """Upgrade the app's database to ``revision``."""
    command.upgrade(_config_for(app), revision)


def downgrade(app: Flask, revision: str = "-1") -> None:
    """Downgrade the app's database to ``revision`` (one step by default)."""
    command.downgrade(_config_for(app), revision)


def _config_for(app: Flask) -> Config:
    from forum.db import get_engine

    config = alembic_config(app.config["DATABASE_URL"])
    # Share the app's engine so SQLite gets the same pragmas (WAL, foreign keys).
    config.attributes["engine"] = get_engine(app)
    return config
