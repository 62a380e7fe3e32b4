"""Glue between Flask and the domain: the login loader, template helpers, view utilities."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import Flask, abort, current_app, request
from flask_login import current_user

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


def _navigation() -> dict[str, Any]:
    items = [
        (label, endpoint)
        for label, endpoint in NAVIGATION
        if endpoint in current_app.view_functions
    ]
    return {
        "navigation": items,
        "search_enabled": "search.index" in current_app.view_functions,
    }


def init_templates(app: Flask) -> None:
    """Filters and globals the templates share."""
    app.jinja_env.filters["timeago"] = _timeago
    app.jinja_env.filters["isotime"] = _isotime
    app.jinja_env.filters["exacttime"] = _exact_time
    app.context_processor(_navigation)
    app.jinja_env.trim_blocks = True
    app.jinja_env.lstrip_blocks = True
