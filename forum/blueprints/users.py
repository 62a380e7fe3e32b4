"""People: the member directory, profiles and one's own settings."""

from __future__ import annotations

import math

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    g,
    jsonify,
    make_response,
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
from forum.forms.accounts import (
    ConfirmForm,
    PasswordForm,
    ProfileForm,
    TokenForm,
    TwoFactorCodeForm,
    TwoFactorStartForm,
)
from forum.limits import member_key, suggest_limit
from forum.services import (
    accounts,
    circles,
    departments,
    feeds,
    leaderboards,
    logins,
    mentions,
    skills,
    tokens,
    two_factor,
)
from forum.web import (
    current_member,
    current_viewer,
    login_session_secret,
    page_number,
    password_policy,
    submit,
)

bp = Blueprint("users", __name__)


@bp.get("/users")
def index() -> ResponseReturnValue:
    """Members by name, filterable by department and a name search."""
    db = get_session()
    page = page_number()
    department = request.args.get("department") or None
    query = (request.args.get("q") or "").strip()[:80] or None
    per_page = int(current_app.config["USERS_PER_PAGE"])
    members, total = accounts.list_members(
        db, department=department, query=query, page=page, per_page=per_page
    )
    return render_template(
        "users/index.html",
        members=members,
        total=total,
        page=page,
        pages=max(1, math.ceil(total / per_page)),
        department=department,
        query=query,
        departments=departments.names(db),
    )


@bp.get("/users/suggest")
@login_required
@limiter.limit(suggest_limit, key_func=member_key)
def suggest() -> ResponseReturnValue:
    """Members to offer after ``@`` (JSON): username and display name, nothing private."""
    found = mentions.suggest(get_session(), request.args.get("q", ""))
    response = jsonify(members=[{"username": u, "display_name": n} for u, n in found])
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.get("/users/<username>")
def profile(username: str) -> ResponseReturnValue:
    """A member's public profile."""
    db = get_session()
    user = accounts.get_by_username(db, username)
    recognition = leaderboards.profile(db, user, viewer=current_viewer())
    programs = skills.profile_programs(db, user)
    return render_template(
        "users/profile.html", user=user, recognition=recognition, programs=programs
    )


@bp.route("/settings/profile", methods=["GET", "POST"])
@login_required
def edit_profile() -> ResponseReturnValue:
    """Edit one's own profile."""
    user = current_member()
    form = ProfileForm(obj=user)
    db = get_session()
    form.department.offer(departments.names(db))
    if request.method == "GET":
        form.show_skills(skills.skills_of(db, user))
    if not form.validate_on_submit():
        status = 400 if request.method == "POST" else 200
        return render_template("users/edit_profile.html", form=form), status

    def save() -> None:
        accounts.update_profile(db, user, form.profile())
        if (choices := form.skills()) is not None:
            skills.set_skills(db, user, **choices)

    submit(form, lambda: render_template("users/edit_profile.html", form=form), save)
    db.commit()
    flash("Your profile is saved.", "success")
    return redirect(url_for("users.profile", username=user.username))


def _password_check_key() -> str:
    """Rate-limit bucket for current-password checks: the logged-in account."""
    return f"password-check:{getattr(current_user, 'id', 'visitor')}"


def _password_check_failed(_response: Response) -> bool:
    """Only a wrong current password counts against the limit."""
    return bool(g.get("password_check_failed"))


@bp.route("/settings/password", methods=["GET", "POST"])
@limiter.limit(
    lambda: current_app.config["PASSWORD_CHECK_LIMIT"],
    methods=["POST"],
    key_func=_password_check_key,
    deduct_when=_password_check_failed,
    scope="password-check",
)
@login_required
def change_password() -> ResponseReturnValue:
    """Change one's password; other devices are logged out."""
    user = current_member()
    form = PasswordForm()
    if not form.validate_on_submit():
        status = 400 if request.method == "POST" else 200
        return render_template("users/change_password.html", form=form), status
    db = get_session()

    def refused() -> str:
        # The fields passed their validators: an error on the current password is the
        # service's "wrong password", the only failure the rate limit counts.
        g.password_check_failed = bool(form.current_password.errors)
        return render_template("users/change_password.html", form=form)

    submit(
        form,
        refused,
        accounts.change_password,
        db,
        user,
        current=form.current_password.data or "",
        new=form.new_password.data or "",
        policy=password_policy(),
    )
    logins.revoke_all(db, user, keep_secret=login_session_secret())
    db.commit()
    login_user(user)  # the session id changed with the token; keep this device logged in
    flash("Your password is changed. Other devices have been logged out.", "success")
    return redirect(url_for("users.profile", username=user.username))


def _two_factor_page(form: TwoFactorCodeForm | None = None, codes: list[str] | None = None) -> str:
    user = current_member()
    db = get_session()
    secret = two_factor.pending_secret(db, user)
    return render_template(
        "users/two_factor.html",
        enabled=two_factor.is_enabled(db, user),
        may_enrol=two_factor.may_enrol(user),
        uri=two_factor.provisioning_uri(secret, user, "forum") if secret else None,
        secret=secret,
        codes=codes,
        codes_left=two_factor.recovery_codes_left(db, user),
        start_form=TwoFactorStartForm(),
        form=form or TwoFactorCodeForm(formdata=None),
    )


@bp.get("/settings/two-factor")
@login_required
def two_factor_settings() -> ResponseReturnValue:
    """Two-factor authentication: on or off, and setting it up."""
    response = make_response(_two_factor_page())
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.post("/settings/two-factor/start")
@login_required
def two_factor_start() -> ResponseReturnValue:
    """Make a new secret to enter into an authenticator app."""
    if not TwoFactorStartForm().validate_on_submit():
        return _two_factor_page(), 400
    db = get_session()
    two_factor.begin(db, current_member())
    db.commit()
    return redirect(url_for("users.two_factor_settings"))


@bp.post("/settings/two-factor/confirm")
@limiter.limit(
    lambda: current_app.config["PASSWORD_CHECK_LIMIT"],
    key_func=_password_check_key,
    deduct_when=_password_check_failed,
    scope="password-check",
)
@login_required
def two_factor_confirm() -> ResponseReturnValue:
    """Turn two-factor on with a first code; the recovery codes are shown once."""
    form = TwoFactorCodeForm()
    if not form.validate_on_submit():
        return _two_factor_page(form), 400
    db = get_session()

    def refused() -> str:
        g.password_check_failed = True
        return _two_factor_page(form)

    codes = submit(form, refused, two_factor.confirm, db, current_member(), form.code.data or "")
    db.commit()
    flash("Two-factor authentication is on.", "success")
    response = make_response(_two_factor_page(codes=codes))
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.post("/settings/two-factor/disable")
@limiter.limit(
    lambda: current_app.config["PASSWORD_CHECK_LIMIT"],
    key_func=_password_check_key,
    deduct_when=_password_check_failed,
    scope="password-check",
)
@login_required
def two_factor_disable() -> ResponseReturnValue:
    """Turn two-factor off with a current code or a recovery code."""
    form = TwoFactorCodeForm()
    if not form.validate_on_submit():
        return _two_factor_page(form), 400
    db = get_session()

    def refused() -> str:
        g.password_check_failed = True
        return _two_factor_page(form)

    submit(form, refused, two_factor.disable, db, current_member(), form.code.data or "")
    db.commit()
    flash("Two-factor authentication is off.", "info")
    return redirect(url_for("users.two_factor_settings"))


@bp.get("/settings/sessions")
@login_required
def sessions() -> ResponseReturnValue:
    """The devices logged in to one's account, with a way to log out of all of them."""
    user = current_member()
    secret = login_session_secret()
    rows = [
        (login, logins.is_current(login, secret))
        for login in logins.active_sessions(get_session(), user)
    ]
    return render_template("users/sessions.html", sessions=rows)


@bp.post("/settings/sessions/logout-all")
@login_required
def logout_everywhere() -> ResponseReturnValue:
    """End every login session of one's account, this one included."""
    user = current_member()
    db = get_session()
    logins.revoke_all(db, user)
    db.commit()
    logout_user()
    session.clear()
    flash("You have logged out on every device.", "info")
    return redirect(url_for("auth.login"))


def _tokens_page(form: TokenForm, secret: str | None = None) -> str:
    user = current_member()
    return render_template(
        "users/tokens.html",
        form=form,
        secret=secret,
        tokens=tokens.list_tokens(get_session(), user),
        usable=tokens.is_usable,
    )


@bp.route("/settings/tokens", methods=["GET", "POST"])
@login_required
def access_tokens() -> ResponseReturnValue:
    """Personal access tokens for the REST API: make one (its secret is shown once), see
    when each was last used, revoke them."""
    form = TokenForm()
    if not form.validate_on_submit():
        status = 400 if request.method == "POST" else 200
        return _tokens_page(form), status
    db = get_session()
    _token, secret = submit(
        form,
        lambda: _tokens_page(form),
        tokens.create,
        db,
        user=current_member(),
        name=form.name.data or "",
        scopes=form.scopes(),
        expires_in_days=form.expiry_days(),
    )
    db.commit()
    # Shown on this answer only: the secret is never stored, so it cannot be shown again.
    response = make_response(_tokens_page(TokenForm(formdata=None), secret=secret))
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.post("/settings/tokens/<int:token_id>/revoke")
@login_required
def revoke_token(token_id: int) -> ResponseReturnValue:
    """Revoke one of one's tokens: it stops working at once."""
    db = get_session()
    token = tokens.revoke(db, user=current_member(), token_id=token_id)
    db.commit()
    flash(f"The token “{token.name}” is revoked.", "info")
    return redirect(url_for("users.access_tokens"))


#: The secrets a member can replace on the feed settings page: what each is called there.
FEED_SECRETS = {"feed": "feed", "calendar": "calendar"}


def _feed_secrets_page(error: str | None = None, which: str | None = None) -> str:
    db = get_session()
    member = current_member()
    key = feeds.feed_token(db, member)
    calendar = circles.calendar_token(db, member)
    db.commit()
    return render_template(
        "users/feed_secrets.html",
        feed=url_for("feeds.questions", key=key, _external=True),
        public_read=current_app.config["PUBLIC_READ"],
        calendar=url_for("circles.member_calendar", token=calendar, _external=True),
        form=ConfirmForm(formdata=None),
        error=error,
        which=which,
    )


@bp.get("/settings/feeds")
@login_required
def feed_secrets() -> ResponseReturnValue:
    """One's secret feed addresses (Atom feeds, the circles calendar) and how to replace them."""
    response = make_response(_feed_secrets_page())
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.post("/settings/feeds/regenerate")
@login_required
def regenerate_feed_secret() -> ResponseReturnValue:
    """Replace the feed or the calendar secret after a confirmation: old addresses stop working."""
    which = request.form.get("which", "")
    if which not in FEED_SECRETS:
        abort(400, "Choose which address to replace.")
    if not ConfirmForm().validate_on_submit() or request.form.get("confirm") != "yes":
        error = "Tick the box to confirm that the old address should stop working."
        return _feed_secrets_page(error, which), 400
    db = get_session()
    if which == "feed":
        feeds.regenerate_feed_token(db, current_member())
    else:
        circles.regenerate_calendar_token(db, current_member())
    db.commit()
    flash(
        f"New {FEED_SECRETS[which]} address made. Subscribe to it again; "
        "the old one no longer works.",
        "success",
    )
    return redirect(url_for("users.feed_secrets"))
