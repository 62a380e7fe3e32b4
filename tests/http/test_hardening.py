"""Production hardening: HTTPS-only cookies and HSTS, trusted proxies, shared rate-limit storage."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask, request
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from forum import create_app
from forum.db import get_engine
from tests.conftest import Browser
from tests.factories import make_user


@pytest.fixture
def make_app(
    app_config: dict[str, Any], tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Any]:
    """Build apps with extra settings on the test database."""
    built: list[Flask] = []

    def build(**settings: Any) -> Flask:
        monkeypatch.setenv("FORUM_INSTANCE_PATH", str(tmp_path / f"instance{len(built)}"))
        app = create_app({**app_config, **settings})

        @app.get("/_whoami")
        def whoami() -> dict[str, Any]:
            return {"addr": request.remote_addr, "secure": request.is_secure}

        built.append(app)
        return app

    yield build
    for app in built:
        get_engine(app).dispose()


def session_cookie(response: Any) -> str:
    return next(v for v in response.headers.getlist("Set-Cookie") if v.startswith("forum_session="))


def test_no_hsts_over_plain_http(client: FlaskClient) -> None:
    response = client.get("/login")
    assert "Strict-Transport-Security" not in response.headers


def test_hsts_over_https(make_app: Any) -> None:
    app = make_app(SESSION_COOKIE_SECURE=True)
    response = app.test_client().get("/login", base_url="https://forum.example")
    hsts = response.headers["Strict-Transport-Security"]
    assert "max-age=31536000" in hsts and "includeSubDomains" in hsts


def test_cookies_are_not_secure_by_default(browser: Browser, session: Session) -> None:
    make_user(session, "amara")
    session.commit()
    assert "Secure" not in session_cookie(browser.login("amara"))


def test_secure_setting_marks_session_and_remember_cookies(make_app: Any) -> None:
    app = make_app(SESSION_COOKIE_SECURE=True)
    assert app.config["REMEMBER_COOKIE_SECURE"] is True
    response = app.test_client().get("/login", base_url="https://forum.example")
    cookie = session_cookie(response)
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_forwarded_headers_are_ignored_without_trusted_proxies(make_app: Any) -> None:
    client = make_app().test_client()
    headers = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.5"}
    response = client.get("/_whoami", headers=headers)
    assert response.get_json() == {"addr": "127.0.0.1", "secure": False}
    assert "Strict-Transport-Security" not in client.get("/login", headers=headers).headers


def test_one_trusted_proxy_gives_the_client_address_and_scheme(make_app: Any) -> None:
    client = make_app(TRUSTED_PROXIES=1, SESSION_COOKIE_SECURE=True).test_client()
    # The proxy appends the address it saw; anything the client put before it is not trusted.
    headers = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "198.51.100.1, 203.0.113.5"}
    response = client.get("/_whoami", headers=headers)
    assert response.get_json() == {"addr": "203.0.113.5", "secure": True}
    page = client.get("/login", headers=headers)
    assert page.headers["Strict-Transport-Security"].startswith("max-age=")
    assert "Secure" in session_cookie(page)


def test_rate_limit_storage_comes_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    monkeypatch.setenv("FORUM_INSTANCE_PATH", str(tmp_path / "instance"))
    monkeypatch.setenv("FORUM_DATABASE_URL", f"sqlite:///{tmp_path / 'env.db'}")
    monkeypatch.setenv("FORUM_RATELIMIT_STORAGE_URL", "redis://127.0.0.1:6379/3")
    monkeypatch.setenv("FORUM_SESSION_COOKIE_SECURE", "true")
    monkeypatch.setenv("FORUM_TRUSTED_PROXIES", "2")
    monkeypatch.setenv("FORUM_SECRET_KEY", "k" * 40)
    app = create_app()
    try:
        assert app.config["RATELIMIT_STORAGE_URI"] == "redis://127.0.0.1:6379/3"
        assert app.config["SESSION_COOKIE_SECURE"] is True
        assert app.config["REMEMBER_COOKIE_SECURE"] is True
        assert app.config["TRUSTED_PROXIES"] == 2
    finally:
        get_engine(app).dispose()


def test_a_views_own_security_headers_are_kept_and_none_is_doubled(make_app: Any) -> None:
    app: Flask = make_app()

    @app.get("/_framed")
    def framed() -> Any:
        return "ok", {"X-Frame-Options": "SAMEORIGIN", "Cache-Control": "public, max-age=60"}

    client = app.test_client()
    own = client.get("/_framed")
    assert own.headers.getlist("X-Frame-Options") == ["SAMEORIGIN"]
    assert own.headers.getlist("Cache-Control") == ["public, max-age=60"]
    plain = client.get("/_whoami")
    for name in (
        "Content-Security-Policy",
        "X-Content-Type-Options",
        "Referrer-Policy",
        "X-Frame-Options",
        "Cross-Origin-Opener-Policy",
        "Permissions-Policy",
        "Cache-Control",
    ):
        assert len(plain.headers.getlist(name)) == 1, name
    assert plain.headers["X-Frame-Options"] == "DENY"
    assert plain.headers["Cache-Control"] == "private, no-cache"
    secure = client.get("/_whoami", base_url="https://localhost")
    assert secure.headers.getlist("Strict-Transport-Security") == [
        "max-age=31536000; includeSubDomains"
    ]
