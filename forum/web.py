"""Glue between Flask and the domain: the login loader, template helpers, view utilities."""

from __future__ import annotations

import datetime as dt
from collections.abc import MutableMapping
from typing import Any

import flask
from flask import Flask, abort, current_app, g, request
from flask.globals import _cv_request
from flask.templating import Environment
from flask_login import current_user
from flask_wtf.csrf import generate_csrf

from forum.db import get_session, utcnow
from forum.extensions import login_manager
from forum.models import User
from forum.services import accounts
from forum.services.accounts import PasswordPolicy

#: Header navigation: (label, endpoint). An area appears once its blueprint is registered.
NAVIGATION = [
    ("Knowledge base", "wiki.index"),
    ("Questions", "questions.index"),
    ("Tags", "tags.index"),
    ("People", "users.index"),
    ("Mentoring", "mentoring.index"),
    ("Circles", "circles.index"),
    ("Paths", "paths.index"),
    ("Gaps", "gaps.index"),
]


def password_policy() -> PasswordPolicy:
    """The password policy configured for this app."""
    return PasswordPolicy(
        hash_method=current_app.config["PASSWORD_HASH_METHOD"],
        min_length=int(current_app.config["PASSWORD_MIN_LENGTH"]),
    )


def current_viewer() -> User | None:
    """The logged-in member, or None for a visitor."""
    user = current_user._get_current_object()
    return user if isinstance(user, User) else None


def current_member() -> User:
    """The logged-in member (views behind ``login_required`` only)."""
    user = current_user._get_current_object()
    if not isinstance(user, User):
        abort(401)
    return user


def page_number() -> int:
    """The ``page`` query argument, at least 1; a malformed one is a 400."""
    raw = request.args.get("page", "1")
    if not raw.isdigit() or int(raw) < 1 or int(raw) > 100_000:
        abort(400, "The page number must be a positive whole number.")
    return int(raw)


#: Relative URLs remembered per app. Building one walks the URL map (tens of microseconds) and
#: a list page builds over a hundred, most of them the same from one request to the next.
URL_CACHE_SIZE = 8192
_URL_CACHE_KEY = "forum.urls"


def url_for(endpoint: str, /, **values: Any) -> str:
    """``flask.url_for``, remembering the URLs built in requests (same arguments, same URL).

    A URL depends only on the endpoint, the arguments and the request's base (script root,
    host, scheme), which are all part of the key. Anything else (blueprint-relative
    endpoints, ``_external``, ``_anchor`` and other options, values that are not plain
    strings or integers, apps with URL default functions) is built every time.
    """
    # The request context itself (one context variable), not three proxies: this runs
    # hundreds of times per page.
    ctx = _cv_request.get(None)
    if ctx is None or endpoint[:1] == "." or ctx.app.url_default_functions:
        return flask.url_for(endpoint, **values)
    for name, value in values.items():
        kind = type(value)
        if name[:1] == "_" or (kind is not str and kind is not int and value is not None):
            return flask.url_for(endpoint, **values)
    adapter = ctx.url_adapter
    if adapter is None:
        return flask.url_for(endpoint, **values)
    # Values are str, int or None, so equal keys mean equal arguments (True is not 1 here).
    key = (
        adapter.script_name,
        adapter.server_name,
        adapter.subdomain,
        adapter.url_scheme,
        endpoint,
        tuple(values.items()),
    )
    cache: dict[tuple[Any, ...], str] = ctx.app.extensions.setdefault(_URL_CACHE_KEY, {})
    url = cache.get(key)
    if url is None:
        url = flask.url_for(endpoint, **values)
        if len(cache) >= URL_CACHE_SIZE:
            # Arguments such as ?next= are unbounded: start over rather than grow.
            cache.clear()
        cache[key] = url
    return url


def csrf_token() -> str:
    """The request's CSRF token, as ``flask_wtf.csrf.generate_csrf`` gives it.

    generate_csrf makes the token once per request and keeps it on ``g`` under the field
    name; a page asks for it once per form (dozens of times), so later calls read it there
    without generate_csrf's configuration look-ups.
    """
    ctx = _cv_request.get(None)
    if ctx is not None:
        field_name = ctx.app.config.get("WTF_CSRF_FIELD_NAME", "csrf_token")
        token = g.get(field_name)
        if isinstance(token, str):
            return token
    return str(generate_csrf())


def _load_user(session_id: str) -> User | None:
    return accounts.load_session_user(get_session(), session_id)


def init_login(app: Flask) -> None:
    """Wire Flask-Login to the accounts service."""
    login_manager.user_loader(_load_user)


def _timeago(value: dt.datetime | None) -> str:
    if value is None:
        return ""
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    seconds = int((utcnow() - value).total_seconds())
    if seconds < 60:
        return "just now"
    for unit, size in (
        ("year", 31_536_000),
        ("month", 2_592_000),
        ("day", 86_400),
        ("hour", 3_600),
        ("minute", 60),
    ):
        if seconds >= size:
            count = seconds // size
            return f"{count} {unit}{'s' if count != 1 else ''} ago"
    return "just now"


def _isotime(value: dt.datetime | None) -> str:
    if value is None:
        return ""
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _exact_time(value: dt.datetime | None) -> str:
    if value is None:
        return ""
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC).strftime("%d %b %Y, %H:%M UTC")


_NAVIGATION_KEY = "forum.navigation"


def _navigation() -> dict[str, Any]:
    # Every page renders the header: work out its links once per app. Each item is
    # (label, endpoint, area); the link is current when the page's endpoint is in its area.
    cached: dict[str, Any] | None = current_app.extensions.get(_NAVIGATION_KEY)
    if cached is None:
        views = current_app.view_functions
        cached = {
            "navigation": [
                (label, endpoint, endpoint.split(".")[0])
                for label, endpoint in NAVIGATION
                if endpoint in views
            ],
            "search_enabled": "search.index" in views,
        }
        current_app.extensions[_NAVIGATION_KEY] = cached
    return cached


class TemplateEnvironment(Environment):
    """Flask's Jinja environment, with each template's globals in one plain dict."""

    def make_globals(self, d: MutableMapping[str, Any] | None) -> MutableMapping[str, Any]:
        """The environment's globals overlaid with the template's own, as one dict.

        Jinja layers the two in a ChainMap, which every render and every ``{% from %}``
        import then walks key by key (about 50 µs per import with this app's globals).
        The app registers all its globals while it is set up, before any template loads,
        as Jinja asks, so a copy holds the same names and values.
        """
        return {**self.globals, **(d or {})}


def init_templates(app: Flask) -> None:
    """Filters and globals the templates share."""
    app.jinja_env.globals["url_for"] = url_for
    app.jinja_env.globals["csrf_token"] = csrf_token
    app.jinja_env.filters["timeago"] = _timeago
    app.jinja_env.filters["isotime"] = _isotime
    app.jinja_env.filters["exacttime"] = _exact_time
    app.context_processor(_navigation)
    app.jinja_env.trim_blocks = True
    app.jinja_env.lstrip_blocks = True
