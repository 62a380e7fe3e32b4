"""Registration, login and logout."""

from __future__ import annotations

import secrets

from flask import (
    Blueprint,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_required, logout_user
from itsdangerous import BadData, URLSafeTimedSerializer
from werkzeug.wrappers import Response

from forum import sso
from forum.db import get_session
from forum.extensions import limiter
from forum.forms.accounts import LoginForm, RegisterForm
from forum.models import User
from forum.security import safe_next
from forum.services import accounts, departments, logins
from forum.sso import flow as sso_flow
from forum.web import login_session_secret, password_policy, start_login_session, submit

bp = Blueprint("auth", __name__)

LOGIN_FAILED = "That username or email and password don't match an account."


#: A browser that has logged in to an account before carries this signed cookie, so that
#: others' failed attempts on that account never lock its owner out of their own devices.
DEVICE_COOKIE = "forum_device"
DEVICE_COOKIE_MAX_AGE = 365 * 24 * 3600
DEVICE_ACCOUNTS = 5


def _device_serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.secret_key or "", salt="forum.login-device")


def _known_device() -> tuple[str, list[int]] | None:
    """This browser's device id and the accounts that logged in from it, if it is known."""
    raw = request.cookies.get(DEVICE_COOKIE)
    if not raw:
        return None
    try:
        data = _device_serializer().loads(raw, max_age=DEVICE_COOKIE_MAX_AGE)
    except BadData:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("d"), str):
        return None
    accounts_ = [a for a in data.get("u", []) if isinstance(a, int)]
    return data["d"], accounts_


def _remember_device(response: Response, user: User) -> None:
    known = _known_device()
    device = known[0] if known else secrets.token_urlsafe(16)
    accounts_ = [user.id, *[a for a in (known[1] if known else []) if a != user.id]]
    response.set_cookie(
        DEVICE_COOKIE,
        _device_serializer().dumps({"d": device, "u": accounts_[:DEVICE_ACCOUNTS]}),
        max_age=DEVICE_COOKIE_MAX_AGE,
        httponly=True,
        samesite="Lax",
        secure=bool(current_app.config["SESSION_COOKIE_SECURE"]),
    )


def _login_account_key() -> str:
    """Rate-limit bucket for a login attempt: the account it names, per known device.

    Username and email of one account share a bucket. A browser that logged in to the account
    before has a bucket of its own, so failures elsewhere cannot lock the owner out. A name
    that matches no account gets a bucket per typed value, answered the same way.
    """
    typed = (request.form.get("username") or "").strip().lower()[:254]
    account = logins.account_id_for_login(get_session(), typed)
    if account is None:
        return "login-name:" + typed
    known = _known_device()
    if known is not None and account in known[1]:
        return f"login-account:{account}:device:{known[0]}"
    return f"login-account:{account}"


def _login_failed(response: Response) -> bool:
    """Only failed attempts count against the limits (a success redirects)."""
    return response.status_code != 302


def _start_session(user: User) -> None:
    """Log ``user`` in on this browser with a new server-side login session (committed)."""
    start_login_session(user)


@bp.route("/register", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["REGISTER_LIMIT_PER_IP"], methods=["POST"])
def register() -> ResponseReturnValue:
    """Create an account and log in."""
    if current_user.is_authenticated:
        return redirect(url_for("main.index"))
    form = RegisterForm()
    db = get_session()
    form.department.offer(departments.names(db))
    if not form.validate_on_submit():
        status = 400 if request.method == "POST" else 200
        return render_template("auth/register.html", form=form), status
    user = submit(
        form,
        lambda: render_template("auth/register.html", form=form),
        accounts.register,
        db,
        username=form.username.data or "",
        password=form.password.data or "",
        profile=form.profile(),
        policy=password_policy(),
    )
    db.commit()
    _start_session(user)
    flash(f"Welcome to forum, {user.display_name}!", "success")
    return redirect(url_for("users.profile", username=user.username))


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(
    lambda: current_app.config["LOGIN_LIMIT_PER_IP"],
    methods=["POST"],
    deduct_when=_login_failed,
    scope="login-ip",
)
@limiter.limit(
    lambda: current_app.config["LOGIN_LIMIT_PER_ACCOUNT"],
    methods=["POST"],
    key_func=_login_account_key,
    deduct_when=_login_failed,
    scope="login-account",
)
def login() -> ResponseReturnValue:
    """Log in with username or email and password."""
    next_url = safe_next(request.values.get("next"), url_for("main.index"))
    if current_user.is_authenticated:
        return redirect(next_url)
    form = LoginForm()
    if not form.validate_on_submit():
        status = 400 if request.method == "POST" else 200
        return render_template("auth/login.html", form=form, next=next_url), status
    db = get_session()
    user = accounts.authenticate(
        db, form.username.data or "", form.password.data or "", password_policy()
    )
    if user is None and sso.ldap_enabled(current_app.config):
        signed_in = sso_flow.ldap_login(form, next_url)
        if signed_in is not None:
            return signed_in
    if user is None:
        form.form_errors.append(LOGIN_FAILED)
        return render_template("auth/login.html", form=form, next=next_url), 200
    db.commit()
    _start_session(user)
    response = redirect(next_url)
    _remember_device(response, user)
    return response


@bp.post("/logout")
@login_required
def logout() -> ResponseReturnValue:
    """End the session, on the server too: a saved copy of the cookie no longer works."""
    secret = login_session_secret()
    if secret is not None:
        db = get_session()
        logins.revoke(db, secret)
        db.commit()
    logout_user()
    session.clear()
    flash("You have logged out.", "info")
    return redirect(url_for("main.index"))
