"""forum: an internal knowledge-sharing wiki and Q&A forum for peer learning at work."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Build the application: configuration, extensions, blueprints, errors, commands."""
    app = Flask(
        __name__,
        instance_path=os.environ.get("FORUM_INSTANCE_PATH") or str(PROJECT_ROOT / "instance"),
        instance_relative_config=True,
        template_folder=str(PROJECT_ROOT / "templates"),
        static_folder=str(PROJECT_ROOT / "static"),
    )
    from forum import config
    from forum.web import TemplateEnvironment

    # Before anything creates app.jinja_env, which is built from this class once.
    app.jinja_environment = TemplateEnvironment
    config.configure(app, test_config)
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    if app.config["TRUSTED_PROXIES"]:
        hops = int(app.config["TRUSTED_PROXIES"])
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops, x_prefix=hops
        )

    register_extensions(app)
    register_blueprints(app)
    register_errorhandlers(app)
    register_commands(app)
    return app


def register_extensions(app: Flask) -> None:
    """Database, login, CSRF, rate limits and security headers."""
    from forum import db, observability, security
    from forum.extensions import csrf, limiter, login_manager
    from forum.web import init_login, init_templates

    # First, so every later hook (and its log lines) already sees the request id.
    observability.init_app(app)
    db.init_app(app)
    csrf.init_app(app)
    login_manager.init_app(app)
    limiter.init_app(app)
    security.init_app(app)
    init_login(app)
    init_templates(app)


def register_blueprints(app: Flask) -> None:
    """One blueprint per area."""
    from forum.blueprints import admin, auth, main, questions, tags, users, wiki
    from forum.blueprints import posts as post_views

    for blueprint in (main.bp, auth.bp, users.bp, admin.bp, wiki.bp):
        app.register_blueprint(blueprint)
    for blueprint in (questions.bp, post_views.bp, tags.bp):
        app.register_blueprint(blueprint)
    from forum.blueprints import badges

    app.register_blueprint(badges.bp)
    from forum.blueprints import people, search

    app.register_blueprint(search.bp)
    app.register_blueprint(people.bp)
    from forum.blueprints import moderation

    app.register_blueprint(moderation.bp)
    from forum.blueprints import analytics, gaps

    app.register_blueprint(gaps.bp)
    app.register_blueprint(analytics.bp)
    from forum.blueprints import circles

    app.register_blueprint(circles.bp)
    from forum.blueprints import notifications

    app.register_blueprint(notifications.bp)
    from forum.blueprints import mentoring, paths

    app.register_blueprint(mentoring.bp)
    app.register_blueprint(paths.bp)


def register_errorhandlers(app: Flask) -> None:
    """Error pages in the site layout."""
    from forum import errors

    errors.init_app(app)


def register_commands(app: Flask) -> None:
    """The ``forum`` command groups."""
    from forum import cli

    cli.init_app(app)
