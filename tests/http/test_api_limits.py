"""Per-token rate limits on the REST API, with RateLimit-* and Retry-After headers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy.orm import Session

from tests.conftest import base_config
from tests.factories import make_user
from tests.http.api_helpers import api_get, assert_problem, make_token


@pytest.fixture
def app_config(tmp_path: Path, database_url: str) -> dict[str, Any]:
    return base_config(
        tmp_path, database_url, RATELIMIT_ENABLED=True, API_RATE_LIMIT="3 per minute"
    )


def test_rate_limit_headers_and_a_429_problem(app: Flask, session: Session) -> None:
    secret = make_token(session, make_user(session))
    first = api_get(app, "/tags", secret)
    assert first.headers["RateLimit-Limit"] == "3"
    assert first.headers["RateLimit-Remaining"] == "2"
    assert 0 < int(first.headers["RateLimit-Reset"]) <= 60
    api_get(app, "/tags", secret)
    api_get(app, "/tags", secret)
    refused = api_get(app, "/tags", secret)
    assert_problem(refused, 429)
    assert refused.headers["RateLimit-Remaining"] == "0"
    assert 0 < int(refused.headers["Retry-After"]) <= 60
    # Per token: another token of the same member has its own budget.
    other = make_token(session, make_user(session), name="other")
    assert api_get(app, "/tags", other).status_code == 200


def test_mcp_calls_share_the_token_budget(app: Flask, session: Session) -> None:
    secret = make_token(session, make_user(session))
    ping = {"jsonrpc": "2.0", "id": 1, "method": "ping"}
    headers = {"Authorization": f"Bearer {secret}"}
    client = app.test_client()
    assert client.post("/mcp", json=ping, headers=headers).headers["RateLimit-Remaining"] == "2"
    api_get(app, "/tags", secret)
    assert client.post("/mcp", json=ping, headers=headers).status_code == 200
    refused = client.post("/mcp", json=ping, headers=headers)
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 0
