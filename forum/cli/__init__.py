"""The ``forum`` command (also ``flask --app forum ...``): one module per command group."""

from __future__ import annotations

import os

from flask import Flask
from flask.cli import FlaskGroup

import forum
from forum.cli import (
    articles,
    bounties,
    content,
    db,
    digests,
    mail,
    ops,
    recognition,
    search,
    tags,
    tokens,
    uploads,
    users,
    webhooks,
)
from forum.files import PRIVATE_UMASK


def main() -> None:
    """Entry point of the ``forum`` console script."""
    # Databases, archives, exports and index files this process writes are this account's only.
    os.umask(PRIVATE_UMASK)
    cli = FlaskGroup(
        create_app=lambda: forum.create_app(), help="forum: knowledge sharing at work."
    )
    cli.main(prog_name="forum")


def init_app(app: Flask) -> None:
    """Register every command group on the app (so ``flask --app forum`` has them too)."""
    for command in (
        db.db_group,
        users.users_group,
        content.demo_command,
        content.import_group,
        content.export_group,
        content.content_group,
        search.search_group,
        uploads.uploads_group,
        recognition.reputation_group,
        recognition.badges_group,
        ops.backup_command,
        ops.restore_command,
        digests.digest_group,
        articles.articles_group,
        webhooks.webhooks_group,
        mail.mail_group,
        bounties.bounties_group,
        tokens.tokens_group,
        tags.tags_group,
    ):
        app.cli.add_command(command)
