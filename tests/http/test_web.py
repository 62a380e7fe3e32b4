"""Site-wide guarantees: CSRF on every state change, security headers, error pages, health."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from sqlalchemy.orm import Session
from werkzeug.routing import AnyConverter, IntegerConverter, Rule

from forum import access
from forum.models import Role
from tests.conftest import Browser
from tests.factories import make_user

STATE_CHANGING = {"POST", "PUT", "PATCH", "DELETE"}


def sample_url(app: Flask, rule: Rule) -> str:
    """A URL for ``rule`` with plausible values for its arguments."""
    values: dict[str, Any] = {}
    for name in rule.arguments:
        converter = rule._converters[name]
        if isinstance(converter, IntegerConverter):
            values[name] = 1
        elif isinstance(converter, AnyConverter):
            values[name] = sorted(converter.items)[0]
        else:
            values[name] = "amara"
    with app.test_request_context():
        from flask import url_for

        return url_for(rule.endpoint, **values)


#: Routes whose authority is a signed token in the URL, not the session: an email's one-click
#: unsubscribe (RFC 8058), which mail clients post without any page. test_email_delivery.py
#: checks that a forged token is refused.
TOKEN_AUTHORISED = {"notifications.unsubscribe"}


def state_changing_rules(app: Flask) -> list[Rule]:
    return [
        r
        for r in app.url_map.iter_rules()
        if r.methods and r.methods & STATE_CHANGING and r.endpoint not in TOKEN_AUTHORISED
    ]


def test_there_are_state_changing_routes_to_check(app: Flask) -> None:
    endpoints = {r.endpoint for r in state_changing_rules(app)}
    assert {"auth.login", "auth.register", "auth.logout", "admin.set_role"} <= endpoints


@pytest.mark.parametrize("token", [None, "forged-token"])
def test_every_state_changing_route_requires_csrf(
    app: Flask, browser: Browser, session: Session, token: str | None
) -> None:
    make_user(session, "amara", role=Role.ADMIN)
    session.commit()
    browser.login("amara")
    for rule in state_changing_rules(app):
        url = sample_url(app, rule)
        for method in sorted(rule.methods & STATE_CHANGING):  # type: ignore[operator]
            data = {} if token is None else {"csrf_token": token}
            response = browser.client.open(url, method=method, data=data)
            if rule.endpoint.split(".")[0] in access.SELF_CHECKED_BLUEPRINTS:
                # These take a bearer token, a signature or a secret of their own: a logged-in
                # browser's cookie is no authority there, so a forged cross-site request is
                # refused before anything (or the method changes nothing at all).
                assert response.status_code in {401, 403, 404, 405}, (rule.endpoint, method)
                continue
            assert response.status_code == 400, (rule.endpoint, method, response.status_code)
            assert "CSRF" in response.get_data(as_text=True), rule.endpoint


def get_urls(app: Flask) -> list[str]:
    return [
        sample_url(app, r)
        for r in app.url_map.iter_rules()
        if r.methods and "GET" in r.methods and r.endpoint != "static"
    ]


def assert_security_headers(response: Any) -> None:
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert "frame-ancestors 'none'" in csp and "style-src 'self'" in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "strict-origin-when-cross-origin"
    assert response.headers["X-Frame-Options"] == "DENY"


def test_security_headers_on_every_response(app: Flask, browser: Browser, session: Session) -> None:
    make_user(session, "amara", role=Role.ADMIN)
    session.commit()
    responses = [browser.get(url) for url in get_urls(app)]
    responses += [
        browser.get("/no/such/page"),
        browser.get("/static/css/forum.css"),
        browser.client.post("/login", data={}),
        browser.login("amara"),
    ]
    responses += [browser.get(url) for url in get_urls(app)]
    assert len(responses) > 10
    for response in responses:
        assert_security_headers(response)
        response.close()


def test_session_cookie_flags(browser: Browser, session: Session) -> None:
    make_user(session, "amara")
    session.commit()
    response = browser.login("amara")
    cookie = next(
        v for v in response.headers.getlist("Set-Cookie") if v.startswith("forum_session=")
    )
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_secure_cookies_when_configured(
    app_config: dict[str, Any], tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from forum import create_app
    from forum.db import get_engine

    monkeypatch.setenv("FORUM_INSTANCE_PATH", str(tmp_path / "secure"))
    app = create_app({**app_config, "SESSION_COOKIE_SECURE": True})
    client = app.test_client()
    response = client.get("/login", base_url="https://localhost")
    cookie = next(
        v for v in response.headers.getlist("Set-Cookie") if v.startswith("forum_session=")
    )
    assert "Secure" in cookie
    assert response.headers["Strict-Transport-Security"].startswith("max-age=")
    # The login page asks the database whether the demo is loaded: close its connection.
    get_engine(app).dispose()


@pytest.mark.parametrize(
    ("method", "path", "status", "title"),
    [
        ("GET", "/definitely/not/here", 404, "Page not found"),
        ("PUT", "/login", 405, "Method not allowed"),
        ("GET", "/logout", 405, "Method not allowed"),
    ],
)
def test_error_pages_use_the_site_layout(
    browser: Browser, method: str, path: str, status: int, title: str
) -> None:
    response = browser.client.open(path, method=method)
    assert response.status_code == status
    page = response.get_data(as_text=True)
    assert title in page and '<nav class="site-nav"' in page and "Traceback" not in page


def test_oversized_body_is_413(browser: Browser) -> None:
    response = browser.client.post("/login", data={"username": "x" * (3 * 1024 * 1024)})
    assert response.status_code == 413
    assert "Too large" in response.get_data(as_text=True)


def test_missing_csrf_is_400_in_the_layout(browser: Browser) -> None:
    response = browser.client.post("/register", data={"username": "kept"})
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "The CSRF token is missing." in page and '<nav class="site-nav"' in page


def test_unexpected_errors_are_500_without_a_trace(app: Flask) -> None:
    app.config["PROPAGATE_EXCEPTIONS"] = False

    def explode() -> str:
        raise RuntimeError("secret internals")

    app.add_url_rule("/explode", "explode", explode)
    response = app.test_client().get("/explode")
    assert response.status_code == 500
    page = response.get_data(as_text=True)
    assert "Something went wrong" in page and "secret internals" not in page
    assert "Traceback" not in page
    assert_security_headers(response)


def test_healthz_reports_database_and_search(browser: Browser) -> None:
    response = browser.get("/healthz")
    assert response.status_code == 200
    body = response.get_json()
    assert body["status"] == "ok"
    assert body["database"]["ok"] is True
    assert body["database"]["dialect"] in {"sqlite", "postgresql"}
    assert body["search"]["backend"] == "whoosh"
    assert body["search"]["ok"] is True
    assert body["search"]["pending"] == 0


def test_healthz_is_503_when_search_storage_is_unusable(app: Flask, tmp_path: Any) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("a file where the index directory should be")
    app.config["SEARCH_INDEX_DIR"] = str(blocker / "index")
    response = app.test_client().get("/healthz")
    assert response.status_code == 503
    assert response.get_json()["search"]["ok"] is False


def test_layout_is_accessible_and_works_without_script(browser: Browser) -> None:
    page = browser.get("/").get_data(as_text=True)
    assert '<html lang="en">' in page
    assert 'class="skip-link" href="#main"' in page
    for landmark in (
        '<header class="site-header">',
        '<nav class="site-nav" aria-label="Main">',
        '<main id="main"',
        '<footer class="site-footer">',
        'role="search"',
    ):
        assert landmark in page
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in page
    assert "<script>" not in page and "onclick" not in page and "style=" not in page
    assert 'href="/users"' in page  # People


def test_form_fields_have_stable_names(browser: Browser) -> None:
    page = browser.get("/register").get_data(as_text=True)
    for name in ("username", "email", "display_name", "password", "csrf_token"):
        assert f'name="{name}"' in page
    for field in ("username", "email", "display_name", "password"):
        assert f'<label for="{field}">' in page


def test_templates_hold_the_app_globals_in_one_plain_dict(app: Flask) -> None:
    # A ChainMap over the environment's globals is walked key by key by every render and
    # every {% from %} import; each template keeps a plain copy with the same names instead.
    for name in ("questions/detail.html", "macros/posts.html", "base.html"):
        template = app.jinja_env.get_template(name)
        assert type(template.globals) is dict
        assert template.globals == dict(app.jinja_env.globals)
    with app.test_request_context("/"):
        page = app.jinja_env.from_string(
            '{% from "macros/posts.html" import vote_widget %}{{ url_for("questions.index") }}'
        )
        assert page.render() == "/questions"
