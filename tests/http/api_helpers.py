"""Helpers of the REST API tests: tokens made through the service, and bearer headers."""

from __future__ import annotations

from typing import Any

from flask import Flask
from sqlalchemy.orm import Session

from forum.models import User
from forum.services import tokens


def make_token(
    session: Session,
    user: User,
    *,
    name: str = "script",
    scopes: tuple[str, ...] = ("read", "write"),
    expires_in_days: int | None = None,
) -> str:
    """A committed token of ``user``; returns its secret."""
    _token, secret = tokens.create(
        session, user=user, name=name, scopes=list(scopes), expires_in_days=expires_in_days
    )
    session.commit()
    return secret


def bearer(secret: str) -> dict[str, str]:
    """The Authorization header carrying ``secret``."""
    return {"Authorization": f"Bearer {secret}"}


def api_get(app: Flask, path: str, secret: str, **kwargs: Any) -> Any:
    """GET an API path with a token (a fresh client: no cookies)."""
    return app.test_client().get(f"/api/v1{path}", headers=bearer(secret), **kwargs)


def api_send(app: Flask, method: str, path: str, secret: str, body: Any = None) -> Any:
    """Send JSON to an API path with a token."""
    client = app.test_client()
    return client.open(f"/api/v1{path}", method=method, headers=bearer(secret), json=body)


def assert_problem(response: Any, status: int) -> dict[str, Any]:
    """The response is an RFC 9457 problem with ``status``; returns its body."""
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    body: dict[str, Any] = response.get_json()
    assert body["status"] == status
    assert body["type"] == "about:blank"
    assert body["title"] and body["detail"]
    return body
