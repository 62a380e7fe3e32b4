"""Single sign-on: OpenID Connect login and its return, and linking to a local account.

``/login/oidc`` sends the browser to the provider with a fresh state, nonce and PKCE challenge,
kept in the signed session; ``/login/oidc/callback`` accepts each state once, exchanges the code
and validates the ID token. ``/login/link`` asks for a local account's password once before a
provider's account is linked to it. LDAP has no routes: the login form checks the directory.
"""

from __future__ import annotations

import time
from typing import Any

from flask import Blueprint, abort, current_app, redirect, render_template, request, session
from flask.typing import ResponseReturnValue
from flask_login import current_user
from werkzeug.wrappers import Response

from forum import sso
from forum.db import get_session
from forum.errors import render_error
from forum.extensions import limiter
from forum.forms.accounts import LinkAccountForm
from forum.models import User
from forum.security import safe_next
from forum.services import identity, two_factor
from forum.services.identity import ExternalAccount
from forum.sso import flow, oidc
from forum.web import start_login_session, submit, url_for

bp = Blueprint("sso", __name__)

#: The Flask-session key of the OpenID Connect logins under way in this browser, by state.
PENDING_KEY = "sso_oidc"
#: Logins under way kept at once (several tabs), and seconds each may take at the provider.
PENDING_MAX = 3
PENDING_MAX_AGE = 600

UNAVAILABLE = "The company sign-in service could not be reached. Please try again in a moment."
REFUSED = (
    "This sign-in could not be completed (it was used already, or it expired). Please start again."
)


@bp.app_context_processor
def _sso_login_options() -> dict[str, Any]:
    """What the login page offers besides its form."""
    config = current_app.config
    return {
        "sso_oidc_name": config["OIDC_PROVIDER_NAME"] if sso.oidc_enabled(config) else None,
        "sso_ldap": sso.ldap_enabled(config),
    }


def _settings() -> oidc.OidcSettings:
    if not sso.oidc_enabled(current_app.config):
        abort(404)
    return oidc.OidcSettings.from_config(current_app.config)


@bp.get("/login/oidc")
def oidc_login() -> ResponseReturnValue:
    """Send the browser to the provider's login page."""
    settings = _settings()
    next_url = safe_next(request.args.get("next"), url_for("main.index"))
    if current_user.is_authenticated:
        return redirect(next_url)
    redirect_uri = url_for("sso.oidc_callback", _external=True)
    try:
        url, pending = oidc.authorization_request(settings, redirect_uri)
    except oidc.OidcError as exc:
        current_app.logger.warning("OpenID Connect provider unavailable: %s", exc)
        return render_error(502, UNAVAILABLE)
    waiting = {
        state: entry
        for state, entry in (session.get(PENDING_KEY) or {}).items()
        if time.time() - entry.get("at", 0) < PENDING_MAX_AGE
    }
    waiting[pending.state] = {
        "nonce": pending.nonce,
        "verifier": pending.code_verifier,
        "redirect_uri": pending.redirect_uri,
        "next": next_url,
        "at": int(time.time()),
    }
    session[PENDING_KEY] = dict(list(waiting.items())[-PENDING_MAX:])
    return redirect(url)


@bp.get("/login/oidc/callback")
def oidc_callback() -> ResponseReturnValue:
    """The provider's answer: each state is accepted once, then the ID token decides."""
    settings = _settings()
    waiting = dict(session.get(PENDING_KEY) or {})
    entry = waiting.pop(request.args.get("state", ""), None)
    session[PENDING_KEY] = waiting
    if entry is None or time.time() - entry.get("at", 0) >= PENDING_MAX_AGE:
        abort(400, REFUSED)
    next_url = safe_next(entry.get("next"), url_for("main.index"))
    if request.args.get("error"):
        # The member cancelled, or the provider refused them.
        return render_error(403, "The company sign-in did not let you in.")
    code = request.args.get("code")
    if not code:
        abort(400, REFUSED)
    pending = oidc.PendingLogin(
        state="",
        nonce=entry["nonce"],
        code_verifier=entry["verifier"],
        redirect_uri=entry["redirect_uri"],
    )
    try:
        claims = oidc.finish(settings, pending, code=code, issuer=request.args.get("iss"))
    except oidc.OidcError as exc:
        current_app.logger.warning("OpenID Connect sign-in refused: %s", exc)
        abort(400, REFUSED)
    account = oidc.account(claims, settings.claims)
    return flow.complete(account, sso.policy(current_app.config, "OIDC"), next_url)


def _link_key() -> str:
    pending = flow.pending_link()
    return f"sso-link:{pending['user'] if pending else 'none'}"


def _link_failed(response: Response) -> bool:
    return response.status_code != 302


@bp.route("/login/link", methods=["GET", "POST"])
@limiter.limit(
    lambda: current_app.config["LOGIN_LIMIT_PER_ACCOUNT"],
    methods=["POST"],
    key_func=_link_key,
    deduct_when=_link_failed,
    scope="sso-link",
)
def link() -> ResponseReturnValue:
    """Link the provider's account to the local account with its email, after its password
    (and a two-factor code when the account has two-factor authentication on)."""
    pending = flow.pending_link()
    if pending is None:
        return redirect(url_for("auth.login"))
    db = get_session()
    user = db.get(User, int(pending["user"]))
    if user is None:
        session.pop(flow.PENDING_LINK_KEY, None)
        return redirect(url_for("auth.login"))
    account = ExternalAccount.from_dict(pending["account"])
    form = LinkAccountForm()
    needs_code = two_factor.is_enabled(db, user)
    form.code.flags.required = needs_code

    def page() -> str:
        return render_template(
            "auth/link.html",
            form=form,
            member=user,
            account=account,
            needs_code=needs_code,
        )

    if not form.validate_on_submit():
        return page(), 400 if request.method == "POST" else 200
    policy = sso.policy(current_app.config, account.provider.upper())
    submit(
        form,
        page,
        identity.link,
        db,
        user,
        account,
        password=form.password.data or "",
        policy=policy,
        code=form.code.data,
    )
    db.commit()
    start_login_session(user)
    return redirect(safe_next(pending.get("next"), url_for("main.index")))
