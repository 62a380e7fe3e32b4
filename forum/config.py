"""Configuration: defaults, then instance/config.py, then FORUM_* environment variables."""

from __future__ import annotations

import os
import secrets
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

from flask import Flask

from forum.files import PRIVATE_FILE, make_private_dir, tighten

#: Settings every deployment starts from; each can be overridden by FORUM_<NAME>.
DEFAULTS: dict[str, Any] = {
    "SEARCH_BACKEND": "whoosh",
    "RATELIMIT_ENABLED": True,
    "RATELIMIT_STORAGE_URL": "memory://",
    "RATELIMIT_HEADERS_ENABLED": True,
    # Failed logins allowed before a 429, per account and per client address. A browser that
    # logged in to the account before counts its own failures apart from everyone else's.
    "LOGIN_LIMIT_PER_ACCOUNT": "5 per 15 minutes",
    "LOGIN_LIMIT_PER_IP": "20 per 15 minutes",
    "REGISTER_LIMIT_PER_IP": "10 per hour",
    # Wrong current passwords allowed on the change-password form, per account.
    "PASSWORD_CHECK_LIMIT": "5 per 15 minutes",
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
    # The signed cookie is sent again when it changes, and when its login session's last-seen
    # time is written (every few minutes, forum.web): not signed afresh on every response.
    "SESSION_REFRESH_EACH_REQUEST": False,
    "WTF_CSRF_TIME_LIMIT": None,
    # Number of reverse proxies in front of the app whose X-Forwarded-* headers are trusted.
    "TRUSTED_PROXIES": 0,
    # /metrics answers a request with "Authorization: Bearer <METRICS_TOKEN>". Without a token
    # only `forum run` (the development server) serves it to this host, and only when
    # TRUSTED_PROXIES is 0 and the request has no forwarding header; under gunicorn (whose
    # configuration sets METRICS_REQUIRE_TOKEN) or any other server, set METRICS_TOKEN.
    "METRICS_TOKEN": None,
    "METRICS_REQUIRE_TOKEN": False,
    "SQL_ECHO": False,
    "SQLITE_BUSY_TIMEOUT_MS": 10_000,
    # Threads serving requests in each process (FORUM_THREADS, which gunicorn.conf.py reads
    # too); unset under `forum run`, whose development server starts a thread per connection.
    "THREADS": None,
    # Database connections per process: kept open, and extra ones at peaks. Unset, they
    # follow THREADS (see forum.db.pool_settings). A request that gets no connection within
    # DB_POOL_TIMEOUT seconds answers 503 with Retry-After instead of waiting on.
    "DB_POOL_SIZE": None,
    "DB_MAX_OVERFLOW": None,
    "DB_POOL_TIMEOUT": 10,
    "USERS_PER_PAGE": 30,
    # Reputation points and privilege thresholds; see forum.services.reputation for the
    # names and defaults, e.g. {"daily_cap": 100} and {"downvote": 25}.
    "REPUTATION_RULES": {},
    "REPUTATION_THRESHOLDS": {},
    # A site holding fewer questions and articles than this counts as new: every member may
    # create tags whatever their reputation, since nobody has any yet (0: never relaxed).
    "NEW_SITE_POSTS": 50,
    # Votes of members with the "vote to close" privilege that close an open question (or
    # reopen a closed one); a moderator closes and reopens at once.
    "CLOSE_VOTES": 3,
    # Bounties: a question may carry one once it is BOUNTY_MIN_AGE_DAYS old; it runs
    # BOUNTY_DAYS, and its offerer may still award it BOUNTY_GRACE_HOURS after. Starting one
    # takes BOUNTY_MIN_REPUTATION (and the amount, leaving at least 1).
    "BOUNTY_MIN_AGE_DAYS": 2,
    "BOUNTY_DAYS": 7,
    "BOUNTY_GRACE_HOURS": 24,
    "BOUNTY_MIN_REPUTATION": 75,
    # Q&A: per-member limits on new questions and answers, votes and comments.
    "POST_RATE_LIMIT": "20 per hour",
    "VOTE_RATE_LIMIT": "120 per hour",
    "COMMENT_RATE_LIMIT": "60 per hour",
    "QUESTIONS_PER_PAGE": 30,
    # Requests whose cost grows with what members wrote: history and diff pages and searches per
    # client address; live previews and article create/edit submissions per member.
    "HISTORY_RATE_LIMIT": "60 per minute",
    "SEARCH_RATE_LIMIT": "60 per minute",
    # Seconds a search may run before it gives up and answers with what it has found.
    "SEARCH_TIME_LIMIT": 0.8,
    # How results are ranked: "hybrid" (lexical and semantic fused), "lexical" or "semantic".
    # Without the model (the `semantic` extra) ranking is lexical whatever this says.
    "SEARCH_RANKING": "hybrid",
    # onnxruntime threads per process for embedding (the CLI's sync and rebuild use 2).
    "SEARCH_EMBED_THREADS": 1,
    # The Unix socket of the host's embedding service (gunicorn.conf.py starts one and sets
    # this): queries and new posts are embedded there, so the model's memory counts once per
    # host. Unset: each process loads the model itself. SEARCH_EMBED_TIMEOUT: seconds to wait
    # for one text's vector (0.25 more per further text) before embedding in this process.
    "SEARCH_EMBED_SOCKET": None,
    "SEARCH_EMBED_TIMEOUT": 1.0,
    # Word pieces of a post read by the model (0: the model's own 128). Changing it changes
    # every vector's model key: `forum search sync` re-embeds every post.
    "SEARCH_EMBED_TOKENS": 0,
    "PREVIEW_RATE_LIMIT": "60 per minute",
    "SUGGEST_RATE_LIMIT": "120 per minute",
    "ARTICLE_RATE_LIMIT": "60 per hour",
    # REST API (/api/v1): requests per personal access token, whatever they do (questions,
    # answers, votes, comments and articles count against the limits above too).
    "API_RATE_LIMIT": "300 per minute",
    # Drafts saved as members type (a save every few seconds at most), per member.
    "DRAFT_RATE_LIMIT": "30 per minute",
    # Uploads (images and attachments): where the bytes live ("folder": UPLOAD_DIR, by default
    # uploads/ under the instance; "database": a table every app host sees), the largest file,
    # the most pixels an image may decode to, and how many files a member may send.
    "UPLOAD_STORAGE": "folder",
    "UPLOAD_DIR": None,
    "UPLOAD_MAX_BYTES": 8 * 1024 * 1024,
    "UPLOAD_MAX_PIXELS": 25_000_000,
    "UPLOAD_RATE_LIMIT": "30 per hour",
    # Learning circles: the IANA time zone new sessions are scheduled in unless changed.
    "DEFAULT_TIMEZONE": "Europe/London",
    # Email digests: smtp://[user:password@]host:port (smtps:// for TLS from the start;
    # ?starttls=1 to upgrade a plain connection), the sender, and the site's address for links.
    "SMTP_URL": None,
    "SMTP_TIMEOUT": 30,
    "MAIL_FROM": "forum <forum@localhost>",
    # The site's address for links outside a page: e-mail digests, webhook payloads, Atom feeds.
    "SITE_URL": "http://localhost:5000",
    # Webhooks (/admin/webhooks): seconds a delivery may take to connect and again to answer,
    # the first retry's wait (doubled each time) and the longest wait; retried for a day.
    # Deliveries are sent by a thread of the app after each commit; 0 (False) leaves them to
    # `forum webhooks deliver` run by a worker or cron job.
    "WEBHOOK_TIMEOUT": 5,
    "WEBHOOK_RETRY_BASE": 30,
    "WEBHOOK_RETRY_MAX": 3600,
    "WEBHOOKS_DELIVER_IN_APP": True,
    # Slack slash command (/integrations/slack/command): the Slack app's signing secret. Unset,
    # the endpoint answers 404.
    "SLACK_SIGNING_SECRET": None,
    # Instant email: sent by a thread of the app after the commit that queued it (False:
    # only by `forum mail send`), tried this many times, waiting RETRY_SECONDS × 2^n between.
    "MAIL_SEND_AFTER_COMMIT": True,
    "MAIL_MAX_ATTEMPTS": 6,
    "MAIL_RETRY_SECONDS": 60,
    # Who may see and join (docs/operations.md, "Access and registration"). Visitors are sent
    # to the login page unless PUBLIC_READ opens reading (never writing) to them.
    "PUBLIC_READ": False,
    # Visitors' pages are kept until the next write or for this many seconds (forum.pagecache).
    "PAGE_CACHE": True,
    "PAGE_CACHE_SECONDS": 60,
    # open | domain (emails under ALLOWED_EMAIL_DOMAINS only) | invite | sso (no local
    # registration or password login).
    "REGISTRATION": "open",
    "ALLOWED_EMAIL_DOMAINS": "",
    "MEMBERS_MAY_INVITE": False,
    "INVITATION_DAYS": 7,
    "INVITATION_RATE_LIMIT": "30 per hour",
    # Locally registered members confirm their email address before they can write.
    "REQUIRE_EMAIL_VERIFICATION": True,
    "EMAIL_VERIFICATION_DAYS": 3,
    "VERIFICATION_RESEND_LIMIT": "3 per hour",
    # Password reset links last an hour; requests are throttled per address and per client.
    "PASSWORD_RESET_MINUTES": 60,
    "PASSWORD_RESET_LIMIT_PER_ADDRESS": "3 per hour",
    "PASSWORD_RESET_LIMIT_PER_IP": "20 per hour",
    # Single sign-on (docs/identity.md). OpenID Connect: on when OIDC_ISSUER and OIDC_CLIENT_ID
    # are set; the login page offers "Sign in with OIDC_PROVIDER_NAME". Claim names say where
    # the member's fields come from; with OIDC_CLAIM_GROUPS and admin or moderator groups set,
    # the groups decide the role at every sign-in. Group lists: JSON lists or comma-separated.
    "OIDC_ISSUER": None,
    "OIDC_CLIENT_ID": None,
    "OIDC_CLIENT_SECRET": None,
    "OIDC_PROVIDER_NAME": "company account",
    "OIDC_SCOPES": "openid email profile",
    "OIDC_CLAIM_USERNAME": "preferred_username",
    "OIDC_CLAIM_DISPLAY_NAME": "name",
    "OIDC_CLAIM_EMAIL": "email",
    "OIDC_CLAIM_DEPARTMENT": "department",
    "OIDC_CLAIM_JOB_TITLE": "job_title",
    "OIDC_CLAIM_GROUPS": None,
    "OIDC_ADMIN_GROUPS": [],
    "OIDC_MODERATOR_GROUPS": [],
    # Only members of these groups (any one) may sign in; a member signing in without them is
    # refused and deactivated, and reactivated by a later sign-in from one of them.
    "OIDC_REQUIRED_GROUPS": [],
    "OIDC_TIMEOUT": 10,
    # LDAP / Active Directory: on when LDAP_URL is set; the login form's username and password
    # are checked against the directory when no local account matches them. Either bind
    # directly with LDAP_USER_DN_TEMPLATE, or search with the service account (LDAP_BIND_DN)
    # under LDAP_SEARCH_BASE with LDAP_SEARCH_FILTER ({username} is escaped). Groups come from
    # LDAP_GROUP_ATTRIBUTE on the entry (memberOf) or, with LDAP_GROUP_SEARCH_BASE, a search.
    "LDAP_URL": None,
    "LDAP_USER_DN_TEMPLATE": None,
    "LDAP_BIND_DN": None,
    "LDAP_BIND_PASSWORD": None,
    "LDAP_SEARCH_BASE": None,
    "LDAP_SEARCH_FILTER": "(uid={username})",
    "LDAP_START_TLS": False,
    "LDAP_CA_FILE": None,
    "LDAP_ATTR_SUBJECT": "entryUUID",
    "LDAP_ATTR_USERNAME": "uid",
    "LDAP_ATTR_DISPLAY_NAME": "displayName",
    "LDAP_ATTR_EMAIL": "mail",
    "LDAP_ATTR_DEPARTMENT": "departmentNumber",
    "LDAP_ATTR_JOB_TITLE": "title",
    "LDAP_GROUP_ATTRIBUTE": "memberOf",
    "LDAP_GROUP_SEARCH_BASE": None,
    "LDAP_GROUP_SEARCH_FILTER": "(&(objectClass=groupOfNames)(member={dn}))",
    "LDAP_ADMIN_GROUPS": [],
    "LDAP_MODERATOR_GROUPS": [],
    "LDAP_REQUIRED_GROUPS": [],
    "LDAP_TIMEOUT": 10,
    # Departments a provider names that the managed list lacks: created when true, else left
    # out (the member keeps the department they had).
    "SSO_CREATE_DEPARTMENTS": False,
    # SCIM 2.0 provisioning at /scim/v2 (docs/identity.md): off until a long random bearer
    # token is set; the identity provider sends it with every request.
    "SCIM_TOKEN": None,
    # Two-factor authentication (TOTP) for local accounts: when true, moderators and admins
    # without it are sent to set it up after login and cannot use the site until they have.
    "REQUIRE_2FA_FOR_STAFF": False,
    # Seconds between the right password and the code of the login's second step.
    "TWO_FACTOR_STEP_SECONDS": 300,
}

REGISTRATION_MODES = ("open", "domain", "invite", "sso")


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
    app.config.setdefault(
        "SEARCH_VECTOR_DIR", str(Path(app.config["SEARCH_INDEX_DIR"]).parent / "search-vectors")
    )
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = load_or_create_secret_key(instance / "secret_key")
    # Flask-Limiter reads its own names; forum documents the FORUM_RATELIMIT_STORAGE_URL one.
    app.config["RATELIMIT_STORAGE_URI"] = app.config["RATELIMIT_STORAGE_URL"]
    app.config["REMEMBER_COOKIE_SECURE"] = app.config["SESSION_COOKIE_SECURE"]
    if app.config["UPLOAD_STORAGE"] not in {"folder", "database"}:
        storage = app.config["UPLOAD_STORAGE"]
        raise ValueError(f"FORUM_UPLOAD_STORAGE must be 'folder' or 'database', not {storage!r}")
    app.config["REGISTRATION"] = str(app.config["REGISTRATION"]).strip().lower()
    if app.config["REGISTRATION"] not in REGISTRATION_MODES:
        mode = app.config["REGISTRATION"]
        raise ValueError(
            f"FORUM_REGISTRATION must be one of {', '.join(REGISTRATION_MODES)}, not {mode!r}"
        )
    app.config["ALLOWED_EMAIL_DOMAINS"] = email_domains(app.config["ALLOWED_EMAIL_DOMAINS"])
    if app.config["REGISTRATION"] == "domain" and not app.config["ALLOWED_EMAIL_DOMAINS"]:
        raise ValueError("FORUM_REGISTRATION=domain needs FORUM_ALLOWED_EMAIL_DOMAINS")
    if app.config.get("OIDC_REQUIRED_GROUPS") and not app.config.get("OIDC_CLAIM_GROUPS"):
        # Without the claim no account shows a group: every sign-in would be refused.
        raise ValueError("FORUM_OIDC_REQUIRED_GROUPS needs FORUM_OIDC_CLAIM_GROUPS")
    if app.config["SEARCH_BACKEND"] not in {"whoosh", "postgres"}:
        backend = app.config["SEARCH_BACKEND"]
        raise ValueError(f"FORUM_SEARCH_BACKEND must be 'whoosh' or 'postgres', not {backend!r}")
    app.config["SEARCH_RANKING"] = str(app.config["SEARCH_RANKING"]).strip().lower()
    if app.config["SEARCH_RANKING"] not in {"hybrid", "lexical", "semantic"}:
        ranking = app.config["SEARCH_RANKING"]
        raise ValueError(
            f"FORUM_SEARCH_RANKING must be 'hybrid', 'lexical' or 'semantic', not {ranking!r}"
        )


def email_domains(value: str | list[str] | tuple[str, ...] | None) -> tuple[str, ...]:
    """``"example.com, Example.org"`` (or a list) as lower-case domains without duplicates."""
    items = value.split(",") if isinstance(value, str) else list(value or ())
    domains: list[str] = []
    for item in items:
        domain = str(item).strip().lower().lstrip("@").rstrip(".")
        if domain and domain not in domains:
            domains.append(domain)
    return tuple(domains)


def load_or_create_secret_key(path: Path) -> str:
    """Return the key stored at ``path``, creating it (mode 0600) on first use.

    Several worker processes may start at once: the file is created exclusively, and a
    process that loses the race reads the winner's key.
    """
    make_private_dir(path.parent)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE)
    except FileExistsError:
        tighten(path, PRIVATE_FILE)
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
