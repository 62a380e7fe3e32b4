"""Glue between Flask and the domain, and the one home of what views share.

The login loader and template helpers wire Flask to the domain; beside them sit the helpers
every blueprint writes its views with (who is asking and what they may do, get-or-404,
service errors shown on a form, the addresses of posts). They live here rather than in a
module of their own because they build on this module's pieces (``current_member``, the
URL cache, the template globals), and a blueprint imports its tools from ``forum.web`` (and
its rate limits from ``forum.limits``), never from another blueprint.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, MutableMapping
from functools import wraps
from typing import Any, ParamSpec, TypeVar
from urllib.parse import urlsplit

import flask
from flask import Flask, abort, current_app, g, make_response, request
from flask.globals import _cv_request
from flask.templating import Environment
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_required, login_user
from flask_wtf.csrf import CSRFError, generate_csrf, validate_csrf
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.exceptions import HTTPException
from wtforms.validators import ValidationError as WTFormsValidationError

from forum.db import WRITE_METHODS, Base, get_session, new_session, utcnow
from forum.extensions import csrf, login_manager
from forum.forms import BaseForm
from forum.models import Post, PostKind, User
from forum.search import Hit
from forum.services import logins
from forum.services.access import RegistrationPolicy, VerificationSigner
from forum.services.accounts import PasswordPolicy
from forum.services.errors import NotFound, ServiceError, ValidationError
from forum.services.posts import PostRow
from forum.services.questions import slugify

P = ParamSpec("P")
T = TypeVar("T")
M = TypeVar("M", bound=Base)

#: Header navigation: (label, endpoint).
NAVIGATION = [
    ("Knowledge base", "wiki.index"),
    ("Questions", "questions.index"),
    ("Tags", "tags.index"),
    ("People", "users.index"),
]
#: The programme pages, grouped in one header menu on wide screens: (label, endpoint).
PROGRAMMES = [
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


def registration_policy() -> RegistrationPolicy:
    """How newcomers join this app (FORUM_REGISTRATION and its companions)."""
    config = current_app.config
    return RegistrationPolicy(
        mode=config["REGISTRATION"],
        allowed_domains=tuple(config["ALLOWED_EMAIL_DOMAINS"]),
        require_verification=bool(config["REQUIRE_EMAIL_VERIFICATION"]),
        members_may_invite=bool(config["MEMBERS_MAY_INVITE"]),
        invitation_days=int(config["INVITATION_DAYS"]),
    )


def verification_signer() -> VerificationSigner:
    """Signs and reads the email confirmation links of this app."""
    return VerificationSigner(
        str(current_app.config["SECRET_KEY"]),
        dt.timedelta(days=int(current_app.config["EMAIL_VERIFICATION_DAYS"])),
    )


def current_viewer() -> User | None:
    """The logged-in member, or None for a visitor."""
    user = current_user._get_current_object()
    return user if isinstance(user, User) else None


def current_member() -> User:
    """The logged-in member (views behind ``login_required`` only)."""
    user = current_user._get_current_object()
    if not isinstance(user, User):
        abort(401)
    return user


def admin_required(view: Callable[P, T]) -> Callable[P, T]:
    """Only logged-in admins get past: visitors go to the login page, members see 403."""

    @wraps(view)
    @login_required
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        if not current_member().is_admin:
            abort(403, "Only admins can do this.")
        return view(*args, **kwargs)

    return wrapper


def moderator_required(view: Callable[P, T]) -> Callable[P, T]:
    """Only logged-in moderators (and admins) get past: visitors log in, members see 403."""

    @wraps(view)
    @login_required
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        if not current_member().is_moderator:
            abort(403, "Only moderators and admins can do this.")
        return view(*args, **kwargs)

    return wrapper


def form_checks_csrf(view: Callable[P, T]) -> Callable[P, T]:
    """The view's form checks the CSRF token itself, instead of the app-wide check.

    For the writing forms: a token that expired, or that belongs to a session since replaced
    (logged out and in again in another tab), fails the form's validation, so the view shows
    the form again with the member's text, a fresh token and a message saying what happened,
    rather than a bare 400 page. Such a view must validate its form before any change. If it
    cannot show its form (the post is gone, the member may not edit it), the answer is the
    usual CSRF 400 all the same, never an answer that depends on the object.
    """

    @wraps(view)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        if request.method not in WRITE_METHODS:
            return view(*args, **kwargs)
        field_name = current_app.config.get("WTF_CSRF_FIELD_NAME", "csrf_token")
        try:
            validate_csrf(request.form.get(field_name))
        except WTFormsValidationError as exc:
            refused = CSRFError(str(exc))
        else:
            return view(*args, **kwargs)
        try:
            return view(*args, **kwargs)
        except (HTTPException, ServiceError) as exc:
            raise refused from exc

    csrf.exempt(wrapper)
    return wrapper


def get_or_404(model: type[M], ident: int, message: str) -> M:
    """The row of ``model`` with primary key ``ident``; NotFound (a 404 saying ``message``)."""
    found = get_session().get(model, ident)
    if found is None:
        raise NotFound(message)
    return found


def submit(
    form: BaseForm,
    page: Callable[[], ResponseReturnValue],
    service: Callable[P, T],
    /,
    *args: P.args,
    **kwargs: P.kwargs,
) -> T:
    """``service(*args, **kwargs)``; if it refuses the input, answer 400 with ``page``.

    On a ValidationError the request's transaction is rolled back, the messages go next to
    the form's fields (which still hold what the member typed; names the form lacks go to
    the form as a whole) and the request ends with ``page()`` as a 400 response. ``page``
    runs after the rollback, so it may load afresh what it shows.
    """
    try:
        return service(*args, **kwargs)
    except ValidationError as exc:
        get_session().rollback()
        form.add_errors(exc.errors)
        response = make_response(page())
        response.status_code = 400
        abort(response)


def page_number() -> int:
    """The ``page`` query argument, at least 1; a malformed one is a 400."""
    raw = request.args.get("page", "1")
    if not raw.isdigit() or int(raw) < 1 or int(raw) > 100_000:
        abort(400, "The page number must be a positive whole number.")
    return int(raw)


#: Relative URLs remembered per app. Building one walks the URL map (tens of microseconds) and
#: a list page builds over a hundred, most of them the same from one request to the next.
URL_CACHE_SIZE = 8192
_URL_CACHE_KEY = "forum.urls"


def url_for(endpoint: str, /, **values: Any) -> str:
    """``flask.url_for``, remembering the URLs built in requests (same arguments, same URL).

    A URL depends only on the endpoint, the arguments and the request's base (script root,
    host, scheme), which are all part of the key. Anything else (blueprint-relative
    endpoints, ``_external``, ``_anchor`` and other options, values that are not plain
    strings or integers, apps with URL default functions) is built every time.
    """
    # The request context itself (one context variable), not three proxies: this runs
    # hundreds of times per page.
    ctx = _cv_request.get(None)
    if ctx is None or endpoint[:1] == "." or ctx.app.url_default_functions:
        return flask.url_for(endpoint, **values)
    for name, value in values.items():
        kind = type(value)
        if name[:1] == "_" or (kind is not str and kind is not int and value is not None):
            return flask.url_for(endpoint, **values)
    adapter = ctx.url_adapter
    if adapter is None:
        return flask.url_for(endpoint, **values)
    # Values are str, int or None, so equal keys mean equal arguments (True is not 1 here).
    key = (
        adapter.script_name,
        adapter.server_name,
        adapter.subdomain,
        adapter.url_scheme,
        endpoint,
        tuple(values.items()),
    )
    cache: dict[tuple[Any, ...], str] = ctx.app.extensions.setdefault(_URL_CACHE_KEY, {})
    url = cache.get(key)
    if url is None:
        url = flask.url_for(endpoint, **values)
        if len(cache) >= URL_CACHE_SIZE:
            # Arguments such as ?next= are unbounded: start over rather than grow.
            cache.clear()
        cache[key] = url
    return url


def site_url_for(endpoint: str, /, **values: Any) -> str:
    """An absolute link for an email or the terminal, on ``FORUM_SITE_URL``.

    Built from the configured address, never from the request's Host header (which a client
    chooses), and without a request (the ``forum`` command has none).
    """
    site = urlsplit(str(current_app.config["SITE_URL"]))
    adapter = current_app.url_map.bind(
        site.netloc, script_name=site.path or "/", url_scheme=site.scheme or "https"
    )
    return adapter.build(endpoint, values, force_external=True)


def question_url(question: Post | PostRow, **kwargs: Any) -> str:
    """The canonical address of a question (with its slug)."""
    return url_for(
        "questions.detail", question_id=question.id, slug=slugify(question.title), **kwargs
    )


def post_url(post: Post | Hit | None) -> str | None:
    """Where a post or search hit is read (an answer at its place on its question's page).

    None when there is nothing to link to: no post, a deleted one, an article without a slug.
    """
    if post is None:
        return None
    if isinstance(post, Hit):
        kind, question_id = post.kind, post.question_id
    elif post.deleted_at is not None:
        return None
    else:
        kind, question_id = str(post.kind), post.parent_id
    # Called for every post a profile or a result page lists: the memoised builder.
    if kind == PostKind.ARTICLE:
        return url_for("wiki.detail", slug=post.slug) if post.slug else None
    if kind == PostKind.ANSWER and question_id is not None:
        return url_for("questions.detail", question_id=question_id) + f"#post-{post.id}"
    return url_for("questions.detail", question_id=post.id)


def csrf_token() -> str:
    """The request's CSRF token, as ``flask_wtf.csrf.generate_csrf`` gives it.

    generate_csrf makes the token once per request and keeps it on ``g`` under the field
    name; a page asks for it once per form (dozens of times), so later calls read it there
    without generate_csrf's configuration look-ups.
    """
    ctx = _cv_request.get(None)
    if ctx is not None:
        field_name = ctx.app.config.get("WTF_CSRF_FIELD_NAME", "csrf_token")
        token = g.get(field_name)
        if isinstance(token, str):
            return token
    return str(generate_csrf())


#: The Flask-session key holding the secret of the login session (see forum.services.logins).
LOGIN_SESSION_KEY = "_login"
SESSION_ENDED = "Your login session has ended. Please log in again."
_TOUCH_KEY = "forum.login_to_touch"


def login_session_secret() -> str | None:
    """The secret naming this browser's login session, if it has one."""
    secret = flask.session.get(LOGIN_SESSION_KEY)
    return secret if isinstance(secret, str) else None


def start_login_session(user: User) -> None:
    """Log ``user`` in on this browser with a new server-side login session (committed)."""
    db = get_session()
    secret = logins.start(
        db,
        user,
        user_agent=request.user_agent.string,
        forget_before=utcnow() - current_app.permanent_session_lifetime,
    )
    db.commit()
    # A fresh session on login: nothing from before (a planted cookie) survives.
    flask.session.clear()
    flask.session.permanent = True
    flask.session[LOGIN_SESSION_KEY] = secret
    login_user(user)


def _load_user(user_id: str) -> User | None:
    # The signed cookie alone is not enough: its login session must still be open on the
    # server, so a copy of a logged-out cookie stays logged out.
    secret = login_session_secret()
    if secret is None:
        return None
    found = logins.load(
        get_session(), user_id, secret, idle_limit=current_app.permanent_session_lifetime
    )
    if found is None:
        # Ended elsewhere (logged out everywhere, a password reset, deactivation) or idle too
        # long: say so once, on the login page the members-only rule sends the browser to.
        flask.session.pop(LOGIN_SESSION_KEY, None)
        flask.flash(SESSION_ENDED, "info")
        return None
    user, login = found
    if logins.needs_touch(login):
        g.setdefault(_TOUCH_KEY, (login.id, user.id))
        # The cookie's expiry moves with the server's last-seen time.
        flask.session.modified = True
    return user


def _touch_login_session(exc: BaseException | None) -> None:
    touched = g.pop(_TOUCH_KEY, None)
    if touched is None or exc is not None:
        return
    login_id, user_id = touched
    # The request's own session may still hold SQLite's write lock (a POST that did not
    # commit); it is about to be closed anyway, so close it first and write on a new one.
    request_session = g.pop("db_session", None)
    if request_session is not None:
        request_session.close()
    db = new_session(writes=True)
    try:
        logins.touch(db, login_id, user_id)
        db.commit()
    except SQLAlchemyError:
        # Only a last-seen time: never turn a served page into an error for it.
        db.rollback()
        current_app.logger.warning("could not record login session %s as seen", login_id)
    finally:
        db.close()


def init_login(app: Flask) -> None:
    """Wire Flask-Login to the login sessions kept on the server."""
    login_manager.user_loader(_load_user)
    app.teardown_appcontext(_touch_login_session)


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


#: Each header link as (label, endpoint, area); the link is current on the pages of its area.
_NAVIGATION = {
    "navigation": [(label, endpoint, endpoint.split(".")[0]) for label, endpoint in NAVIGATION],
    "programmes": [(label, endpoint, endpoint.split(".")[0]) for label, endpoint in PROGRAMMES],
}


def _navigation() -> dict[str, Any]:
    return _NAVIGATION


class TemplateEnvironment(Environment):
    """Flask's Jinja environment, with each template's globals in one plain dict."""

    def make_globals(self, d: MutableMapping[str, Any] | None) -> MutableMapping[str, Any]:
        """The environment's globals overlaid with the template's own, as one dict.

        Jinja layers the two in a ChainMap, which every render and every ``{% from %}``
        import then walks key by key (about 50 µs per import with this app's globals).
        The app registers all its globals while it is set up, before any template loads,
        as Jinja asks, so a copy holds the same names and values.
        """
        return {**self.globals, **(d or {})}


def init_templates(app: Flask) -> None:
    """Filters and globals the templates share."""
    app.jinja_env.globals["url_for"] = url_for
    app.jinja_env.globals["csrf_token"] = csrf_token
    app.jinja_env.globals["question_url"] = question_url
    app.jinja_env.globals["post_url"] = post_url
    app.jinja_env.filters["timeago"] = _timeago
    app.jinja_env.filters["isotime"] = _isotime
    app.jinja_env.filters["exacttime"] = _exact_time
    app.context_processor(_navigation)
    app.jinja_env.trim_blocks = True
    app.jinja_env.lstrip_blocks = True
