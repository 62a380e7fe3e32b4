"""Registration (by mode), email confirmation, invitations, login, password reset, logout."""

from __future__ import annotations

import datetime as dt
import secrets
from pathlib import Path

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    make_response,
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

from forum import demo, sso
from forum.db import begin_writing, get_session, utcnow
from forum.extensions import client_address, limiter
from forum.forms.accounts import (
    ClaimForm,
    ForgotPasswordForm,
    InvitationForm,
    LoginForm,
    RegisterForm,
    ResetPasswordForm,
    TwoFactorCodeForm,
)
from forum.limits import member_key
from forum.models import User
from forum.security import safe_next
from forum.services import access, accounts, claims, departments, logins, two_factor
from forum.services.errors import NotFound, ValidationError
from forum.sso import flow as sso_flow
from forum.web import (
    current_member,
    login_session_secret,
    password_policy,
    registration_policy,
    start_login_session,
    submit,
    verification_signer,
)

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


def _register_page(form: RegisterForm, token: str | None, invited: str | None) -> str:
    return render_template("auth/register.html", form=form, token=token, invited=invited)


@bp.route("/register", methods=["GET", "POST"])
@bp.route("/join/<token>", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["REGISTER_LIMIT_PER_IP"], methods=["POST"])
def register(token: str | None = None) -> ResponseReturnValue:
    """Create an account and log in, as the registration mode allows (an invitation's
    link is ``/join/<token>``)."""
    if current_user.is_authenticated:
        return redirect(url_for("main.index"))
    policy = registration_policy()
    if not policy.local_accounts:
        flash("Accounts come from the company sign-in: use it to log in.", "info")
        return redirect(url_for("auth.login"))
    db = get_session()
    invited = None
    if policy.mode == "invite":
        if token is None:
            return render_template("auth/invite_only.html", problem=None)
        try:
            invited = access.find_invitation(db, token).email
        except NotFound as exc:
            return render_template("auth/invite_only.html", problem=str(exc)), 404
    elif token is not None:
        abort(404)
    form = RegisterForm()
    if invited is not None:
        # The invitation's address is the account's: the field shows it, nothing else counts.
        form.email.data = invited
    form.department.offer(departments.names(db))
    if not form.validate_on_submit():
        status = 400 if request.method == "POST" else 200
        return _register_page(form, token, invited), status
    user = submit(
        form,
        lambda: _register_page(form, token, invited),
        access.register,
        db,
        policy=policy,
        signer=verification_signer(),
        username=form.username.data or "",
        password=form.password.data or "",
        profile=form.profile(),
        password_policy=password_policy(),
        invitation_token=token,
    )
    db.commit()
    _start_session(user)
    flash(f"Welcome to forum, {user.display_name}!", "success")
    if not user.email_verified:
        flash(
            f"We have sent a link to {user.email}: open it to confirm your address and start "
            "posting.",
            "info",
        )
    return redirect(url_for("users.profile", username=user.username))


def _login_page(form: LoginForm, next_url: str, status: int = 200) -> ResponseReturnValue:
    db = get_session()
    demo_loaded = demo.accounts_loaded(db)
    saved = Path(current_app.instance_path) / "demo-password.txt"
    hint = None
    if demo_loaded:
        hint = {
            "admin": demo.DEMO_ADMIN,
            "moderator": demo.DEMO_MODERATOR,
            "password_file": "instance/demo-password.txt" if saved.exists() else None,
        }
    return render_template("auth/login.html", form=form, next=next_url, demo=hint), status


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
    local = registration_policy().local_accounts
    ldap = sso.ldap_enabled(current_app.config)
    if not local and not ldap:
        # sso without a directory: no password login; the page says to use the company sign-in.
        return _login_page(form, next_url, 403 if request.method == "POST" else 200)
    if not form.validate_on_submit():
        return _login_page(form, next_url, 400 if request.method == "POST" else 200)
    db = get_session()
    # Under `sso` the form takes directory passwords only, never forum ones.
    user = (
        accounts.authenticate(
            db, form.username.data or "", form.password.data or "", password_policy()
        )
        if local
        else None
    )
    if user is None and ldap:
        signed_in = sso_flow.ldap_login(form, next_url)
        if signed_in is not None:
            return signed_in
    if user is None:
        form.form_errors.append(LOGIN_FAILED)
        return _login_page(form, next_url)
    db.commit()
    if two_factor.is_enabled(db, user):
        # The password is right; the login session starts only after the second step.
        session[PENDING_KEY] = _pending_serializer().dumps(
            {"u": user.id, "t": user.auth_token, "n": next_url}
        )
        return redirect(url_for("auth.login_code"))
    return _logged_in(user, next_url)


def _logged_in(user: User, next_url: str) -> Response:
    _start_session(user)
    if must_enrol_second_factor(user):
        flash("Staff accounts need two-factor authentication: set it up to continue.", "info")
        next_url = url_for("users.two_factor_settings")
    response = redirect(next_url)
    _remember_device(response, user)
    return response


def must_enrol_second_factor(user: User) -> bool:
    """Whether ``user`` is staff without two-factor where the site requires it of staff."""
    return (
        bool(current_app.config["REQUIRE_2FA_FOR_STAFF"])
        and user.is_moderator
        and two_factor.may_enrol(user)
        and not two_factor.is_enabled(get_session(), user)
    )


#: Where the login's first step (the right password) waits for the second (a code).
PENDING_KEY = "forum.login_pending"


def _pending_serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.secret_key or "", salt="forum.login-second-step")


def _pending_login() -> tuple[User, str] | None:
    """The member whose password was right moments ago in this browser, and where to go."""
    raw = session.get(PENDING_KEY)
    if not isinstance(raw, str):
        return None
    try:
        data = _pending_serializer().loads(
            raw, max_age=int(current_app.config["TWO_FACTOR_STEP_SECONDS"])
        )
    except BadData:
        return None
    user = get_session().get(User, data.get("u")) if isinstance(data, dict) else None
    # A password change or deactivation since the first step rotates the token.
    if user is None or not user.is_active or user.auth_token != data.get("t"):
        return None
    return user, str(data.get("n") or url_for("main.index"))


def _pending_key() -> str:
    """Rate-limit bucket for second-step codes: the account waiting for one."""
    pending = _pending_login()
    return f"login-code:{pending[0].id}" if pending else "login-code:none"


@bp.route("/login/code", methods=["GET", "POST"])
@limiter.limit(
    lambda: current_app.config["LOGIN_LIMIT_PER_ACCOUNT"],
    methods=["POST"],
    key_func=_pending_key,
    deduct_when=_login_failed,
    scope="login-code",
)
def login_code() -> ResponseReturnValue:
    """The login's second step: a code from the authenticator app, or a recovery code."""
    pending = _pending_login()
    if pending is None:
        session.pop(PENDING_KEY, None)
        flash("Log in again: the code must follow the password within a few minutes.", "info")
        return redirect(url_for("auth.login"))
    user, next_url = pending
    form = TwoFactorCodeForm()
    if not form.validate_on_submit():
        status = 400 if request.method == "POST" else 200
        return render_template("auth/login_code.html", form=form), status
    db = get_session()
    if not two_factor.verify(db, user, form.code.data or ""):
        db.rollback()
        form.code.errors = [two_factor.WRONG_CODE]
        return render_template("auth/login_code.html", form=form), 400
    db.commit()
    session.pop(PENDING_KEY, None)
    return _logged_in(user, next_url)


@bp.route("/claim/<token>", methods=["GET", "POST"])
def claim(token: str) -> ResponseReturnValue:
    """Take over an imported account with the link an admin sent: choose a password, log in.

    A link that is not valid, expired or used is a 404 saying which (``claims.find``).
    """
    db = get_session()
    _link, member = claims.find(db, token, secret_key=str(current_app.secret_key))
    form = ClaimForm()

    def page() -> str:
        return render_template("auth/claim.html", form=form, member=member, token=token)

    if not form.validate_on_submit():
        return page(), 400 if request.method == "POST" else 200
    if current_user.is_authenticated:
        # Someone else's session in this browser must not survive into the claimed account.
        logout_user()
    user = submit(
        form,
        page,
        claims.redeem,
        db,
        token,
        password=form.password.data or "",
        secret_key=str(current_app.secret_key),
        policy=password_policy(),
    )
    db.commit()
    _start_session(user)
    flash(f"Welcome to forum, {user.display_name}: the account is yours now.", "success")
    response = redirect(url_for("users.profile", username=user.username))
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


# Email confirmation --------------------------------------------------------------------


@bp.get("/verify-email/<token>")
def verify_email(token: str) -> ResponseReturnValue:
    """Confirm a member's address with the link sent to it."""
    db = get_session()
    begin_writing(db)
    try:
        user = access.verify_email(db, verification_signer(), token)
    except ValidationError as exc:
        db.rollback()
        return render_template("auth/verify_failed.html", problem=" ".join(exc.messages)), 400
    db.commit()
    flash(f"Thank you: {user.email} is confirmed. You can post now.", "success")
    return redirect(url_for("main.index"))


@bp.post("/verify-email/send")
@login_required
@limiter.limit(
    lambda: current_app.config["VERIFICATION_RESEND_LIMIT"],
    key_func=member_key,
    scope="verify-resend",
)
def resend_verification() -> ResponseReturnValue:
    """Send the confirmation link again (throttled per member)."""
    db = get_session()
    user = current_member()
    if access.request_verification(db, user, verification_signer()):
        db.commit()
        flash(f"We have sent a new link to {user.email}.", "info")
    return redirect(url_for("main.index"))


# Invitations ---------------------------------------------------------------------------


def _invitations_page(form: InvitationForm) -> str:
    listed = access.invitations(get_session(), current_member())
    return render_template(
        "auth/invitations.html", form=form, invitations=listed, now=utcnow(), aware=_aware
    )


def _aware(moment: dt.datetime) -> dt.datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.UTC)


@bp.route("/invitations", methods=["GET", "POST"])
@login_required
@limiter.limit(
    lambda: current_app.config["INVITATION_RATE_LIMIT"],
    key_func=member_key,
    methods=["POST"],
    scope="invitations",
)
def invitations() -> ResponseReturnValue:
    """Invite colleagues by email (admins, or every member when allowed; invite mode only)."""
    policy = registration_policy()
    if policy.mode != "invite":
        abort(404)
    member = current_member()
    if not policy.may_invite(member):
        abort(403, "Only admins can invite colleagues.")
    form = InvitationForm()
    if not form.validate_on_submit():
        status = 400 if request.method == "POST" else 200
        return _invitations_page(form), status
    db = get_session()
    invitation = submit(
        form,
        lambda: _invitations_page(form),
        access.invite,
        db,
        inviter=member,
        email=form.email.data or "",
        policy=policy,
    )
    db.commit()
    flash(
        f"Invitation sent to {invitation.email}; the link works for {policy.invitation_days} days.",
        "success",
    )
    return redirect(url_for("auth.invitations"))


# Password reset ------------------------------------------------------------------------


def _reset_address_key() -> str:
    """Rate-limit bucket of a reset request: the address typed, however it is spelled."""
    typed = (request.form.get("email") or "").strip().lower()[:254]
    return "reset-address:" + typed


def _local_passwords_only() -> None:
    if not registration_policy().local_accounts:
        abort(404)


@bp.route("/password/forgot", methods=["GET", "POST"])
@limiter.limit(
    lambda: current_app.config["PASSWORD_RESET_LIMIT_PER_IP"],
    methods=["POST"],
    key_func=client_address,
    scope="reset-ip",
)
@limiter.limit(
    lambda: current_app.config["PASSWORD_RESET_LIMIT_PER_ADDRESS"],
    methods=["POST"],
    key_func=_reset_address_key,
    scope="reset-address",
)
def forgot_password() -> ResponseReturnValue:
    """Ask for a password reset link; the answer is the same whether or not the address
    belongs to an account."""
    _local_passwords_only()
    form = ForgotPasswordForm()
    if not form.validate_on_submit():
        status = 400 if request.method == "POST" else 200
        return render_template("auth/forgot_password.html", form=form, sent=None), status
    db = get_session()
    minutes = int(current_app.config["PASSWORD_RESET_MINUTES"])
    access.request_password_reset(db, form.email.data or "", lifetime=dt.timedelta(minutes=minutes))
    db.commit()
    return render_template(
        "auth/forgot_password.html", form=form, sent=form.email.data, minutes=minutes
    )


@bp.route("/password/reset/<token>", methods=["GET", "POST"])
def reset_password(token: str) -> ResponseReturnValue:
    """Choose a new password with a reset link; every session of the account ends."""
    _local_passwords_only()
    db = get_session()
    form = ResetPasswordForm()

    def page(problem: str | None = None) -> Response:
        # The address holds the secret; the site's referrer policy sends only the origin to
        # other sites, and the page loads nothing from elsewhere.
        return make_response(
            render_template("auth/reset_password.html", form=form, token=token, problem=problem)
        )

    try:
        access.find_password_reset(db, token)
    except NotFound as exc:
        response = page(str(exc))
        response.status_code = 404
        return response
    if not form.validate_on_submit():
        response = page()
        response.status_code = 400 if request.method == "POST" else 200
        return response
    submit(
        form,
        page,
        access.reset_password,
        db,
        token,
        password=form.password.data or "",
        policy=password_policy(),
    )
    db.commit()
    # Every session of the account has ended, this browser's too if it had one.
    logout_user()
    session.clear()
    flash("Your new password is set and every session of your account has ended. Log in.", "info")
    return redirect(url_for("auth.login"))
