"""Who may see what: members-only pages, and no writing before the address is confirmed.

- **Members only** (the default): a visitor asking for any page but the few a visitor needs
  (logging in, joining, password reset, email confirmation, the health check, metrics, static
  files and the secret per-member calendar feeds) is sent to the login page, which brings them
  back afterwards (a local ``next`` only). The REST API and the MCP server take a personal
  access token instead, and Atom feeds the member's secret in their address. What is not a
  page (JSON, the circle calendar ``.ics`` feeds, uploaded files) answers 401 instead of a
  redirect. ``FORUM_PUBLIC_READ=true``
  lets visitors read (GET and HEAD); writing always needs a login.
- **Confirmed address**: a member who registered on the site reads everything but sends no
  state-changing request (posts, votes, comments, drafts, uploads, ...) until they have
  followed the link sent to their address, except the few that manage the account itself.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, current_app, flash, redirect, request, url_for
from werkzeug.exceptions import MethodNotAllowed
from werkzeug.wrappers import Response

from forum.db import get_session
from forum.errors import render_error
from forum.services import two_factor
from forum.web import current_viewer, registration_policy

#: What a visitor may open on a members-only site.
OPEN_ENDPOINTS = frozenset(
    {
        "static",
        "auth.login",
        "auth.login_code",
        # Company sign-in: the round trip through the provider, and linking to a local account.
        "sso.oidc_login",
        "sso.oidc_callback",
        "sso.link",
        "auth.register",
        "auth.forgot_password",
        "auth.reset_password",
        "auth.verify_email",
        # A claim link: the person has no session yet; the link is the authority.
        "auth.claim",
        # An email's one-click unsubscribe link (RFC 8058): its signed token is the authority.
        "notifications.unsubscribe",
        "main.healthz",
        "observability.metrics",
        # The address holds the member's secret: calendar apps cannot log in.
        "circles.member_calendar",
    }
)
#: Not pages: a visitor gets 401 rather than a redirect to a login page they cannot use.
NOT_PAGES = frozenset({"circles.circle_calendar", "uploads.serve", "users.suggest"})
#: Areas that check each request themselves: a personal access token (the REST API, the MCP
#: server), the SCIM client's bearer token (scim), the secret in a feed's address (feeds), a
#: signed request (Slack).
SELF_CHECKED_BLUEPRINTS = frozenset({"api", "mcp", "scim", "feeds", "slack"})
#: What a member whose address is not confirmed yet may still send.
UNVERIFIED_MAY_SEND = frozenset(
    {
        "auth.logout",
        "auth.resend_verification",
        "users.edit_profile",
        "users.change_password",
        "users.logout_everywhere",
    }
)
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

LOGIN_FIRST = "Log in to see this: forum is open to members only."
CONFIRM_FIRST = (
    "Confirm your email address first: follow the link we sent to it, or send a new one "
    "with the button at the top of the page."
)


def _wants_json() -> bool:
    accept = request.accept_mimetypes
    return request.is_json or accept["application/json"] > accept["text/html"]


def members_only() -> Response | None:
    """Send visitors to the login page, unless the page is open to them."""
    if request.endpoint in OPEN_ENDPOINTS or request.blueprint in SELF_CHECKED_BLUEPRINTS:
        return None
    if isinstance(request.routing_exception, MethodNotAllowed):
        return None  # the 405 says only what the address's rule says to everyone
    if current_app.config["PUBLIC_READ"] and request.method in READ_METHODS:
        return None
    if current_viewer() is not None:
        return None
    if request.endpoint in NOT_PAGES or _wants_json():
        return render_error(401, LOGIN_FIRST)
    target = request.full_path.rstrip("?") if request.method in READ_METHODS else None
    if target == "/":
        target = None
    return redirect(url_for("auth.login", next=target))


def confirmed_to_write() -> Response | None:
    """Refuse state-changing requests of a member whose address is not confirmed yet."""
    if request.method in READ_METHODS or request.endpoint in UNVERIFIED_MAY_SEND:
        return None
    member = current_viewer()
    if member is None or member.email_verified:
        return None
    return render_error(403, CONFIRM_FIRST)


#: What staff who must set up two-factor authentication may still open.
SECOND_FACTOR_SETUP = frozenset(
    {
        "static",
        "auth.logout",
        "users.two_factor_settings",
        "users.two_factor_start",
        "users.two_factor_confirm",
    }
)
SET_UP_SECOND_FACTOR = "Staff accounts need two-factor authentication: set it up to continue."


def second_factor_for_staff() -> Response | None:
    """With ``REQUIRE_2FA_FOR_STAFF``, moderators and admins with a forum password use nothing
    but the two-factor set-up until they have turned it on."""
    if not current_app.config["REQUIRE_2FA_FOR_STAFF"] or request.endpoint in SECOND_FACTOR_SETUP:
        return None
    member = current_viewer()
    if member is None or not member.is_moderator or not two_factor.may_enrol(member):
        return None
    if two_factor.is_enabled(get_session(), member):
        return None
    if request.method in READ_METHODS and not _wants_json():
        flash(SET_UP_SECOND_FACTOR, "info")
        return redirect(url_for("users.two_factor_settings"))
    return render_error(403, SET_UP_SECOND_FACTOR)


def _template_context() -> dict[str, Any]:
    member = current_viewer()
    policy = registration_policy()
    return {
        "registration": policy,
        "may_invite": member is not None and policy.may_invite(member),
    }


def init_app(app: Flask) -> None:
    """Check every request (after CSRF and the login loader are wired)."""
    app.before_request(members_only)
    app.before_request(confirmed_to_write)
    app.before_request(second_factor_for_staff)
    app.context_processor(_template_context)
