"""forum: an internal knowledge-sharing wiki and Q&A forum for peer learning at work."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from forum import locations


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Build the application: configuration, extensions, blueprints, errors, commands."""
    app = Flask(
        __name__,
        instance_path=str(locations.instance_path()),
        instance_relative_config=True,
        template_folder=str(locations.TEMPLATES_DIR),
        static_folder=str(locations.STATIC_DIR),
    )
    from forum import config
    from forum.web import TemplateEnvironment

    # Before anything creates app.jinja_env, which is built from this class once.
    app.jinja_environment = TemplateEnvironment
    config.configure(app, test_config)
    protect_data_folders(app)
    if app.config["TRUSTED_PROXIES"]:
        hops = int(app.config["TRUSTED_PROXIES"])
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops, x_prefix=hops
        )

    register_extensions(app)
    register_subscribers(app)
    register_blueprints(app)
    register_errorhandlers(app)
    register_commands(app)
    return app


def protect_data_folders(app: Flask) -> None:
    """The instance folder (key, SQLite database) and the search index: this account's only."""
    from forum.files import make_private_dir

    make_private_dir(Path(app.instance_path))
    if app.config["SEARCH_BACKEND"] == "whoosh":
        try:
            make_private_dir(Path(app.config["SEARCH_INDEX_DIR"]))
        except OSError:
            pass  # the search health check reports an unusable index folder


def register_extensions(app: Flask) -> None:
    """Database, login, CSRF, rate limits and security headers."""
    from forum import (
        access,
        aftercommit,
        body_limits,
        db,
        observability,
        pagecache,
        request_guard,
        security,
    )
    from forum.extensions import csrf, limiter, login_manager
    from forum.web import init_login, init_templates

    # Before every other hook: work after a request's commits waits for its response.
    aftercommit.init_app(app)
    # First, so every later hook (and its log lines) already sees the request id.
    observability.init_app(app)
    body_limits.init_app(app)
    # Next, so no other hook or view ever sees a NUL character from the request.
    request_guard.init_app(app)
    db.init_app(app)
    csrf.init_app(app)
    login_manager.init_app(app)
    limiter.init_app(app)
    security.init_app(app)
    init_login(app)
    init_templates(app)
    # After CSRF and the login loader: visitors to the login page, unconfirmed members read.
    access.init_app(app)
    # After the access checks: a members-only site never serves a kept page to a visitor.
    pagecache.init_app(app)


def register_subscribers(app: Flask) -> None:
    """Who reacts to what happens. Domain events (forum.events): reputation (critical),
    notifications, account mail and webhook deliveries (sent after the commit). Every commit:
    badges and the search index follow the rows it changed, and queued email is sent."""
    from forum import account_mail, db, delivery, events, search, webhooks
    from forum.services import (
        badges,
        bounties,
        close_votes,
        notification_events,
        reputation,
        scim,
        suggested_edits,
        tags,
        tokens,
    )
    from forum.services import webhooks as webhook_events

    bus = events.EventBus()
    reputation.subscribe(bus)
    suggested_edits.subscribe(bus)
    notification_events.subscribe(bus)
    webhook_events.subscribe(bus)
    tokens.subscribe(bus)
    account_mail.subscribe(bus, app)
    db.carry(app, events.BUS_KEY, bus)
    rules = reputation.configure(
        app.config["REPUTATION_RULES"],
        app.config["REPUTATION_THRESHOLDS"],
        app.config["NEW_SITE_POSTS"],
    )
    db.carry(app, reputation.RULES_KEY, rules)
    db.carry(app, close_votes.CONFIG_KEY, int(app.config["CLOSE_VOTES"]))
    db.carry(
        app,
        bounties.CONFIG_KEY,
        bounties.configure(
            app.config["BOUNTY_MIN_AGE_DAYS"],
            app.config["BOUNTY_DAYS"],
            app.config["BOUNTY_GRACE_HOURS"],
            app.config["BOUNTY_MIN_REPUTATION"],
        ),
    )
    badges.follow_commits(db.session_factory(app))
    tags.keep_counts(db.session_factory(app))
    tokens.attribute_flushes(db.session_factory(app))
    scim.attribute_flushes(db.session_factory(app))
    search.init_app(app)
    webhooks.init_app(app)
    delivery.follow_commits(app)


def register_blueprints(app: Flask) -> None:
    """One blueprint per area."""
    from forum.blueprints import (
        admin,
        analytics,
        api,
        auth,
        badges,
        bounties,
        circles,
        drafts,
        feeds,
        gaps,
        main,
        mcp,
        mentoring,
        moderation,
        notifications,
        paths,
        people,
        posts,
        questions,
        review,
        scim,
        search,
        slack,
        sso,
        tags,
        uploads,
        users,
        webhooks,
        wiki,
    )

    for area in (
        main,
        auth,
        sso,
        users,
        admin,
        wiki,
        questions,
        bounties,
        posts,
        tags,
        badges,
        search,
        people,
        moderation,
        review,
        gaps,
        analytics,
        circles,
        notifications,
        mentoring,
        paths,
        drafts,
        uploads,
        webhooks,
        feeds,
        api,
        mcp,
        slack,
        scim,
    ):
        app.register_blueprint(area.bp)


def register_errorhandlers(app: Flask) -> None:
    """Error pages in the site layout."""
    from forum import errors

    errors.init_app(app)


def register_commands(app: Flask) -> None:
    """The ``forum`` command groups."""
    from forum import cli

    cli.init_app(app)
