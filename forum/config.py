"""Configuration: defaults, then instance/config.py, then FORUM_* environment variables."""

from __future__ import annotations

import os
import secrets
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

from flask import Flask

#: Settings every deployment starts from; each can be overridden by FORUM_<NAME>.
DEFAULTS: dict[str, Any] = {
    "SEARCH_BACKEND": "whoosh",
    "RATELIMIT_ENABLED": True,
    "RATELIMIT_STORAGE_URL": "memory://",
    "RATELIMIT_HEADERS_ENABLED": True,
    # Failed logins allowed before a 429, per account and per client address.
    "LOGIN_LIMIT_PER_ACCOUNT": "5 per 15 minutes",
    "LOGIN_LIMIT_PER_IP": "20 per 15 minutes",
    "REGISTER_LIMIT_PER_IP": "10 per hour",
    # scrypt with N=2**17, r=8, p=1 (128 MiB, about 0.3 s here); hashes made with
    # other parameters are upgraded on the next successful login.
    "PASSWORD_HASH_METHOD": "scrypt:131072:8:1",
    "PASSWORD_MIN_LENGTH": 10,
    "MAX_CONTENT_LENGTH": 2 * 1024 * 1024,
    "SESSION_COOKIE_HTTPONLY": True,
    "SESSION_COOKIE_SAMESITE": "Lax",
    "SESSION_COOKIE_SECURE": False,
    "SESSION_COOKIE_NAME": "forum_session",
    "REMEMBER_COOKIE_HTTPONLY": True,
    "REMEMBER_COOKIE_SAMESITE": "Lax",
    "PERMANENT_SESSION_LIFETIME": timedelta(days=14),
    "WTF_CSRF_TIME_LIMIT": None,
    # Number of reverse proxies in front of the app whose X-Forwarded-* headers are trusted.
    "TRUSTED_PROXIES": 0,
    "SQL_ECHO": False,
    "SQLITE_BUSY_TIMEOUT_MS": 10_000,
    "USERS_PER_PAGE": 30,
    # Reputation points and privilege thresholds; see forum.services.reputation for the
    # names and defaults, e.g. {"daily_cap": 100} and {"downvote": 25}.
    "REPUTATION_RULES": {},
    "REPUTATION_THRESHOLDS": {},
    # Q&A: per-member limits on new questions and answers, votes and comments.
    "POST_RATE_LIMIT": "20 per hour",
    "VOTE_RATE_LIMIT": "120 per hour",
    "COMMENT_RATE_LIMIT": "60 per hour",
    "QUESTIONS_PER_PAGE": 30,
    # Learning circles: the IANA time zone new sessions are scheduled in unless changed.
    "DEFAULT_TIMEZONE": "Europe/London",
    # Email digests: smtp://[user:password@]host:port (smtps:// for TLS from the start;
    # ?starttls=1 to upgrade a plain connection), the sender, and the site's address for links.
    "SMTP_URL": None,
    "SMTP_TIMEOUT": 30,
    "MAIL_FROM": "forum <forum@localhost>",
    "SITE_URL": "http://localhost:5000",
}


def configure(app: Flask, test_config: dict[str, Any] | None) -> None:
    """Load settings: defaults, instance/config.py, then FORUM_* variables (or a test dict)."""
    app.config.from_mapping(DEFAULTS)
    if test_config is None:
        app.config.from_pyfile("config.py", silent=True)
        app.config.from_prefixed_env("FORUM")
    else:
        app.config.from_mapping(test_config)

    instance = Path(app.instance_path)
    app.config.setdefault("DATABASE_URL", f"sqlite:///{instance / 'forum.db'}")
    app.config.setdefault("SEARCH_INDEX_DIR", str(instance / "search-index"))
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = load_or_create_secret_key(instance / "secret_key")
    # Flask-Limiter reads its own names; forum documents the FORUM_RATELIMIT_STORAGE_URL one.
    app.config["RATELIMIT_STORAGE_URI"] = app.config["RATELIMIT_STORAGE_URL"]
    app.config["REMEMBER_COOKIE_SECURE"] = app.config["SESSION_COOKIE_SECURE"]
    if app.config["SEARCH_BACKEND"] not in {"whoosh", "postgres"}:
        backend = app.config["SEARCH_BACKEND"]
        raise ValueError(f"FORUM_SEARCH_BACKEND must be 'whoosh' or 'postgres', not {backend!r}")


def load_or_create_secret_key(path: Path) -> str:
    """Return the key stored at ``path``, creating it (mode 0600) on first use.

    Several worker processes may start at once: the file is created exclusively, and a
    process that loses the race reads the winner's key.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        for _ in range(50):
            key = path.read_text(encoding="ascii").strip()
            if key:
                return key
            # The winner has created the file but not yet written it.
            time.sleep(0.01)
        raise RuntimeError(f"{path} exists but is empty; delete it to generate a new key") from None
    key = secrets.token_hex(32)
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(key + "\n")
    return key
