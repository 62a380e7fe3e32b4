"""The Slack slash command: signed requests only (HMAC v0, five-minute replay window),
`/forum search` answers the top results, `/forum ask` a link to the filled-in ask page."""

from __future__ import annotations

import hashlib
import hmac
import time
from typing import Any
from urllib.parse import urlencode

import pytest
from flask import Flask
from sqlalchemy.orm import Session

from tests.conftest import Browser
from tests.factories import make_question, make_user

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
PATH = "/integrations/slack/command"


@pytest.fixture
def app_config(app_config: dict[str, Any]) -> dict[str, Any]:
    # A members-only site: Slack's requests carry a signature, not a login.
    return {
        **app_config,
        "SLACK_SIGNING_SECRET": SECRET,
        "SITE_URL": "https://forum.example.com",
        "PUBLIC_READ": False,
    }


def _send(app: Flask, text: str, *, secret: str = SECRET, age: int = 0) -> Any:
    body = urlencode({"command": "/forum", "text": text, "team_id": "T1", "user_id": "U1"})
    stamp = str(int(time.time()) - age)
    signed = f"v0:{stamp}:{body}".encode()
    signature = "v0=" + hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return app.test_client().post(
        PATH,
        data=body,
        content_type="application/x-www-form-urlencoded",
        headers={"X-Slack-Request-Timestamp": stamp, "X-Slack-Signature": signature},
    )


def test_search_and_ask_with_a_good_signature(app: Flask, session: Session) -> None:
    asker = make_user(session, "hal")
    question = make_question(
        session, asker, title="How do I renew the <staging> certificate?", anonymous=True
    )
    session.commit()
    found = _send(app, "search staging certificate")
    assert found.status_code == 200
    answer = found.get_json()
    assert answer["response_type"] == "ephemeral"
    link = f"<https://forum.example.com/questions/{question.id}|"
    assert link in answer["text"] and "&lt;staging&gt;" in answer["text"]
    assert "hal" not in answer["text"]
    asked = _send(app, "ask VPN a|b > c?").get_json()["text"]
    link, label = asked[1:].split(">", 1)[0].split("|", 1)
    assert link == "https://forum.example.com/questions/ask?title=VPN+a%7Cb+%3E+c?"
    assert label == "Ask “VPN a|b &gt; c?” on forum"
    assert "/forum search" in _send(app, "dance").get_json()["text"]


def test_ask_link_fills_the_form(app: Flask, session: Session, browser: Browser) -> None:
    make_user(session, "ida")
    session.commit()
    browser.login("ida")
    page = browser.get("/questions/ask?title=Where+is+the+VPN+config%3F").get_data(as_text=True)
    assert 'value="Where is the VPN config?"' in page


def test_bad_signature_stale_request_and_no_secret(app: Flask) -> None:
    assert _send(app, "search x", secret="not-the-secret").status_code == 401
    assert _send(app, "search x", age=6 * 60).status_code == 401
    assert _send(app, "search x", age=-6 * 60).status_code == 401
    unsigned = app.test_client().post(PATH, data={"text": "search x"})
    assert unsigned.status_code == 401
    app.config["SLACK_SIGNING_SECRET"] = None
    assert _send(app, "search x").status_code == 404
