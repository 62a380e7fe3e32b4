"""After a provider vouched for an account: find the member, then log them in or ask to link.

Shared by the OpenID Connect routes (``forum.blueprints.sso``) and the login form's LDAP path
(``forum.blueprints.auth``).
"""

from __future__ import annotations

import time
from typing import Any

import flask
from flask import current_app, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from werkzeug.wrappers import Response

from forum import sso
from forum.db import get_session
from forum.errors import render_error
from forum.forms.accounts import LoginForm
from forum.services import identity
from forum.services.identity import ExternalAccount, LinkNeeded, NotAllowed, SignInPolicy
from forum.web import start_login_session

#: The Flask-session key of a sign-in waiting for the local account's password.
PENDING_LINK_KEY = "sso_link"
#: Seconds the member has to enter that password.
LINK_MAX_AGE = 600


def complete(account: ExternalAccount, policy: SignInPolicy, next_url: str) -> Response:
    """Log in the member ``account`` signs in as, or ask them to confirm a link first.

    An account in none of the allowed groups gets a 403 page, and the member it signs in as
    stays deactivated (committed here). Service errors (a deactivated member, an email another
    account holds) propagate and become 403 and 409 pages.
    """
    db = get_session()
    result = identity.sign_in(db, account, policy)
    if isinstance(result, NotAllowed):
        db.commit()
        current_app.logger.warning(
            "%s sign-in of %s refused: in no allowed group (member %s)",
            account.provider,
            account.subject,
            result.user_id,
        )
        return render_error(403, identity.NOT_ALLOWED)
    if isinstance(result, LinkNeeded):
        db.rollback()
        flask.session[PENDING_LINK_KEY] = {
            "account": account.to_dict(),
            "user": result.user_id,
            "next": next_url,
            "at": int(time.time()),
        }
        return redirect(url_for("sso.link"))
    db.commit()
    start_login_session(result)
    return redirect(next_url)


def pending_link() -> dict[str, Any] | None:
    """The sign-in waiting for a password, if there is one and it is recent."""
    pending = flask.session.get(PENDING_LINK_KEY)
    if not isinstance(pending, dict) or time.time() - pending.get("at", 0) > LINK_MAX_AGE:
        return None
    return pending


DIRECTORY_UNAVAILABLE = "The company directory could not be reached. Please try again in a moment."


def ldap_login(form: LoginForm, next_url: str) -> ResponseReturnValue | None:
    """The login form's username and password checked against the directory.

    None when the directory does not know them (the form says they don't match); otherwise the
    answer: logged in, asked to link, or the form again when the directory is unreachable.
    """
    from forum.sso import ldap  # ldap3 loads only where a directory is configured

    settings = ldap.LdapSettings.from_config(current_app.config)
    try:
        account = ldap.authenticate(settings, form.username.data or "", form.password.data or "")
    except ldap.DirectoryUnavailable as exc:
        current_app.logger.warning("LDAP directory unavailable: %s", exc)
        form.form_errors.append(DIRECTORY_UNAVAILABLE)
        return render_template("auth/login.html", form=form, next=next_url), 503
    if account is None:
        return None
    return complete(account, sso.policy(current_app.config, "LDAP"), next_url)
