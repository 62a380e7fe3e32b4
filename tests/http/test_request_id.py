"""Every request has an id (from a sane X-Request-ID, else generated), logged and returned."""

from __future__ import annotations

import logging
import re

import pytest
from flask import Flask
from flask.testing import FlaskClient

from forum.observability import LOG_FORMAT, RequestIdFilter, current_request_id


def test_a_generated_id_is_returned(client: FlaskClient) -> None:
    first = client.get("/").headers["X-Request-ID"]
    second = client.get("/").headers["X-Request-ID"]
    assert re.fullmatch(r"[0-9a-f]{32}", first)
    assert first != second


def test_an_incoming_id_is_honoured(client: FlaskClient) -> None:
    response = client.get("/healthz", headers={"X-Request-ID": "lb-7f3a.42"})
    assert response.headers["X-Request-ID"] == "lb-7f3a.42"


@pytest.mark.parametrize(
    "hostile", ["two words", "x" * 129, "id\r\nX-Injected: 1", "<script>", "caf\u00e9"]
)
def test_an_unsafe_incoming_id_is_replaced(client: FlaskClient, hostile: str) -> None:
    # Set in the WSGI environ directly: the test client itself refuses some of these headers.
    environ = {"HTTP_X_REQUEST_ID": hostile.encode().decode("latin-1")}
    response = client.get("/", environ_overrides=environ)
    returned = response.headers["X-Request-ID"]
    assert returned != hostile and re.fullmatch(r"[0-9a-f]{32}", returned)
    assert "X-Injected" not in response.headers


def test_error_responses_carry_the_id(client: FlaskClient) -> None:
    response = client.get("/no/such/page", headers={"X-Request-ID": "req-404"})
    assert response.status_code == 404
    assert response.headers["X-Request-ID"] == "req-404"


def test_log_lines_name_the_request(app: Flask, caplog: pytest.LogCaptureFixture) -> None:
    def shout() -> str:
        app.logger.warning("something to look into")
        return current_request_id()

    app.add_url_rule("/shout", "shout", shout)
    caplog.handler.addFilter(RequestIdFilter())
    caplog.handler.setFormatter(logging.Formatter(LOG_FORMAT))
    with caplog.at_level(logging.WARNING, logger=app.logger.name):
        response = app.test_client().get("/shout", headers={"X-Request-ID": "trace-me"})
    assert response.get_data(as_text=True) == "trace-me"
    assert "request_id=trace-me" in caplog.text and "something to look into" in caplog.text


def test_outside_a_request_the_id_is_a_dash(app: Flask) -> None:
    record = logging.LogRecord("forum", logging.INFO, __file__, 1, "msg", None, None)
    with app.app_context():
        assert RequestIdFilter().filter(record) is True
    assert record.request_id == "-"  # type: ignore[attr-defined]
