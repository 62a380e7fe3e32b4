"""Registration, login and logout."""

from __future__ import annotations

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
from flask_login import current_user, login_required, login_user, logout_user
from werkzeug.wrappers import Response

from forum.db import get_session
from forum.extensions import limiter
from forum.forms.accounts import LoginForm, RegisterForm
from forum.models import User
from forum.security import safe_next
from forum.services import accounts
from forum.services.errors import ValidationError
from forum.web import password_policy

bp = Blueprint("auth", __name__)

LOGIN_FAILED = "That username or email and password don't match an account."


def _login_account_key() -> str:
    """Rate-limit key for the account named in the login form."""
    return "login-account:" + (request.form.get("username") or "").strip().lower()[:254]


def _login_failed(response: Response) -> bool:
    """Only failed attempts count against the limits (a success redirects)."""
    return response.status_code != 302


def _start_session(user: User) -> None:
    # A fresh session on login: nothing from before (a planted cookie) survives.
    session.clear()
    session.permanent = True
    login_user(user)


@bp.route("/register", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["REGISTER_LIMIT_PER_IP"], methods=["POST"])
def register() -> ResponseReturnValue:
    """Create an account and log in."""
    if current_user.is_authenticated:
        return redirect(url_for("main.index"))
    form = RegisterForm()
    if not form.validate_on_submit():
        status = 400 if request.method == "POST" else 200
        return render_template("auth/register.html", form=form), status
    db = get_session()
    try:
        user = accounts.register(
            db,
            username=form.username.data or "",
            password=form.password.data or "",
            profile=form.profile(),
            policy=password_policy(),
        )
    except ValidationError as exc:
        form.add_errors(exc.errors)
        return render_template("auth/register.html", form=form), 400
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
    if user is None:
        form.form_errors.append(LOGIN_FAILED)
        return render_template("auth/login.html", form=form, next=next_url), 200
    db.commit()
    _start_session(user)
    return redirect(next_url)


@bp.post("/logout")
@login_required
def logout() -> ResponseReturnValue:
    """End the session."""
    logout_user()
    session.clear()
    flash("You have logged out.", "info")
    return redirect(url_for("main.index"))
