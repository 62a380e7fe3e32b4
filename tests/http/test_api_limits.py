"""Per-token rate limits on the REST API, with RateLimit-* and Retry-After headers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy.orm import Session

from forum.extensions import limiter
from tests.conftest import Browser, base_config
from tests.factories import make_answer, make_question, make_user
from tests.http.api_helpers import api_get, api_send, assert_problem, make_token


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


@pytest.fixture
def shared_limits(app: Flask) -> None:
    app.config.update(
        API_RATE_LIMIT="100 per minute",
        POST_RATE_LIMIT="2 per minute",
        VOTE_RATE_LIMIT="2 per minute",
        COMMENT_RATE_LIMIT="2 per minute",
    )
    limiter.reset()


ASKED = {
    "body": "We moved the staging cluster and now the nightly job cannot reach it.",
    "tags": "ops",
}


def test_pages_and_the_api_count_in_the_same_budgets(
    app: Flask, session: Session, browser: Browser, shared_limits: None
) -> None:
    writer = make_user(session, "writer", reputation=1000)
    other = make_user(session, "other", reputation=1000)
    theirs = make_question(
        session, other, title="Where do the nightly job logs end up?", tags=("ops",)
    )
    answer = make_answer(session, theirs, other)
    session.commit()
    secret = make_token(session, writer)
    browser.login("writer")

    # Questions: two through the pages, then the API is refused (429, problem+json).
    for n in range(2):
        title = f"How do I reach the moved staging cluster, take {n + 1}?"
        assert browser.post("/questions/ask", {**ASKED, "title": title}).status_code == 302
    question = {
        "title": "And from the API, how do I reach it?",
        "body": ASKED["body"],
        "tags": ["ops"],
    }
    assert_problem(api_send(app, "POST", "/questions", secret, question), 429)
    # The budget is per action: answering is still open, through either way.
    answer_body = {"body": "The logs are under /var/log/nightly on the job host."}
    assert (
        api_send(app, "POST", f"/questions/{theirs.id}/answers", secret, answer_body).status_code
        == 201
    )
    form = {"body": "Or ask the platform team for read access to the log bucket."}
    assert browser.post(f"/questions/{theirs.id}/answer", form).status_code == 302
    assert browser.post(f"/questions/{theirs.id}/answer", form).status_code == 429
    assert_problem(
        api_send(app, "POST", f"/questions/{theirs.id}/answers", secret, answer_body), 429
    )

    # Votes: one on the pages, one through the API, then neither way has any left.
    assert browser.post(f"/posts/{theirs.id}/vote", {"value": "1"}).status_code == 303
    assert api_send(app, "PUT", f"/posts/{answer.id}/vote", secret, {"value": 1}).status_code == 200
    assert_problem(api_send(app, "DELETE", f"/posts/{answer.id}/vote", secret), 429)
    assert browser.post(f"/posts/{theirs.id}/vote", {"value": "1"}).status_code == 429

    # Comments: two through the API, then the pages refuse the third.
    for n in range(2):
        sent = api_send(
            app,
            "POST",
            f"/posts/{theirs.id}/comments",
            secret,
            {"body": f"Thanks, that helps ({n})."},
        )
        assert sent.status_code == 201
    refused = browser.post(f"/posts/{theirs.id}/comments", {"body": "One more remark on this."})
    assert refused.status_code == 429

    # Another member's budgets are their own.
    their_secret = make_token(session, other, name="theirs")
    assert api_send(app, "POST", "/questions", their_secret, question).status_code == 201
