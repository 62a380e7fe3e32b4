"""/metrics: Prometheus text with request counts, latency, members, posts and the search backlog."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import Column, DateTime, Integer, MetaData, Table, create_engine
from sqlalchemy.orm import Session

from forum.models import Answer, Question
from forum.observability import _outbox_metrics
from tests.factories import make_user

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample of an exposition, keyed by name and labels."""
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(text: str, name: str, **labels: str) -> float:
    return samples(text).get((name, frozenset(labels.items())), 0.0)


#: What `forum run` (Werkzeug's development server) puts in every request's environment.
DEV_SERVER = {"SERVER_SOFTWARE": "Werkzeug/3.1.9"}


def scrape(client: FlaskClient, **kwargs: Any) -> str:
    kwargs["environ_overrides"] = {**DEV_SERVER, **kwargs.get("environ_overrides", {})}
    response = client.get("/metrics", **kwargs)
    assert response.status_code == 200, response.status_code
    assert response.mimetype == "text/plain"
    return response.get_data(as_text=True)


def test_requests_are_counted_by_endpoint_and_status(client: FlaskClient) -> None:
    before = scrape(client)
    for _ in range(3):
        client.get("/")
    client.get("/no/such/page/zq-probe-path")
    after = scrape(client)
    ok = {"endpoint": "main.index", "method": "GET", "status": "200"}
    assert (
        value(after, "forum_http_requests_total", **ok)
        - value(before, "forum_http_requests_total", **ok)
        == 3
    )
    missing = {"endpoint": "unmatched", "method": "GET", "status": "404"}
    assert (
        value(after, "forum_http_requests_total", **missing)
        - value(before, "forum_http_requests_total", **missing)
        == 1
    )
    # The raw path never becomes a label value.
    assert "zq-probe-path" not in after


def test_latency_histogram(client: FlaskClient) -> None:
    before = scrape(client)
    client.get("/healthz")
    after = scrape(client)
    name = "forum_http_request_duration_seconds_count"
    assert (
        value(after, name, endpoint="main.healthz") - value(before, name, endpoint="main.healthz")
        == 1
    )
    inf = value(
        after, "forum_http_request_duration_seconds_bucket", endpoint="main.healthz", le="+Inf"
    )
    assert inf == value(after, name, endpoint="main.healthz")


def test_members_and_posts_are_counted(client: FlaskClient, session: Session) -> None:
    author = make_user(session)
    make_user(session)
    question = Question(title="How do I rotate the VPN key?", body_md="?", author_id=author.id)
    session.add(question)
    session.flush()
    session.add(Answer(body_md="Ask IT.", author_id=author.id, parent_id=question.id))
    deleted = Question(title="Gone", body_md="x", author_id=author.id)
    deleted.deleted_at = dt.datetime.now(dt.UTC)
    session.add(deleted)
    session.commit()
    text = scrape(client)
    assert value(text, "forum_users") == 2
    assert value(text, "forum_posts", kind="question") == 1
    assert value(text, "forum_posts", kind="answer") == 1


@pytest.mark.parametrize(
    ("remote", "headers"),
    [
        ("10.1.2.3", {}),
        ("192.0.2.7", {}),
        ("127.0.0.1", {"X-Forwarded-For": "203.0.113.9"}),
        ("127.0.0.1", {"Forwarded": "for=203.0.113.9"}),
        ("127.0.0.1", {"X-Real-IP": "203.0.113.9"}),
        ("127.0.0.1", {"X-Forwarded-Host": "forum.example.com"}),
        ("127.0.0.1", {"X-Forwarded-Proto": "https"}),
        ("127.0.0.1", {"Via": "1.1 proxy"}),
    ],
)
def test_metrics_are_refused_to_other_hosts(
    client: FlaskClient, remote: str, headers: dict[str, str]
) -> None:
    environ = {**DEV_SERVER, "REMOTE_ADDR": remote}
    response = client.get("/metrics", headers=headers, environ_overrides=environ)
    assert response.status_code == 403
    assert "forum_http_requests" not in response.get_data(as_text=True)


@pytest.mark.parametrize(
    "server",
    [
        pytest.param({"SERVER_SOFTWARE": "gunicorn/27.0.1"}, id="gunicorn"),
        pytest.param({"SERVER_SOFTWARE": "waitress"}, id="another-server"),
        pytest.param({}, id="no-server-named"),
    ],
)
def test_a_same_host_proxy_without_forwarding_headers_needs_the_token(
    app: Flask, server: dict[str, str]
) -> None:
    client = app.test_client()
    loopback = {"REMOTE_ADDR": "127.0.0.1", **server}
    assert client.get("/metrics", environ_overrides=loopback).status_code == 403
    app.config["METRICS_TOKEN"] = "s3cret-scrape-token"
    good = {"Authorization": "Bearer s3cret-scrape-token"}
    assert "forum_users" in scrape(client, headers=good, environ_overrides=loopback)


@pytest.mark.parametrize(
    "setting",
    [{"TRUSTED_PROXIES": 1}, {"METRICS_REQUIRE_TOKEN": True}],
    ids=["trusted-proxies", "required"],
)
def test_behind_a_proxy_or_when_required_even_the_development_server_needs_the_token(
    app: Flask, setting: dict[str, Any]
) -> None:
    app.config.update(setting)
    client = app.test_client()
    environ = {**DEV_SERVER, "REMOTE_ADDR": "127.0.0.1"}
    assert client.get("/metrics", environ_overrides=environ).status_code == 403


def test_ipv6_loopback_is_allowed(client: FlaskClient) -> None:
    scrape(client, environ_overrides={"REMOTE_ADDR": "::1"})


def test_a_configured_token_opens_metrics_to_a_remote_scraper(app: Flask) -> None:
    app.config["METRICS_TOKEN"] = "s3cret-scrape-token"
    client = app.test_client()
    remote = {"REMOTE_ADDR": "10.9.8.7"}
    good = {"Authorization": "Bearer s3cret-scrape-token"}
    assert "forum_users" in scrape(client, headers=good, environ_overrides=remote)
    for bad in ({"Authorization": "Bearer wrong"}, {"Authorization": "s3cret-scrape-token"}, {}):
        assert client.get("/metrics", headers=bad, environ_overrides=remote).status_code == 403


def outbox_engine(tmp_path: Path, *, with_table: bool) -> Any:
    engine = create_engine(f"sqlite:///{tmp_path / 'outbox.db'}")
    if with_table:
        outbox = Table(
            "search_outbox",
            MetaData(),
            Column("id", Integer, primary_key=True),
            Column("created_at", DateTime(timezone=True)),
            Column("processed_at", DateTime(timezone=True)),
        )
        outbox.create(engine)
        now = dt.datetime.now(dt.UTC)
        with engine.begin() as conn:
            conn.execute(
                outbox.insert(),
                [
                    {"created_at": now - dt.timedelta(minutes=10), "processed_at": now},
                    {"created_at": now - dt.timedelta(seconds=90), "processed_at": None},
                    {"created_at": now - dt.timedelta(seconds=5), "processed_at": None},
                ],
            )
    return engine


def test_outbox_backlog_counts_pending_rows_and_their_age(tmp_path: Path) -> None:
    engine = outbox_engine(tmp_path, with_table=True)
    with engine.connect() as conn:
        families = {f.name: f.samples[0].value for f in _outbox_metrics(conn)}
    engine.dispose()
    assert families["forum_search_outbox_pending"] == 2
    assert 85 <= families["forum_search_outbox_oldest_age_seconds"] <= 300


def test_outbox_metrics_are_absent_without_an_outbox_table(tmp_path: Path) -> None:
    engine = outbox_engine(tmp_path, with_table=False)
    with engine.connect() as conn:
        assert list(_outbox_metrics(conn)) == []
    engine.dispose()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def get(url: str, headers: dict[str, str] | None = None) -> str:
    request = urllib.request.Request(url, headers=headers or {})
    with urllib.request.urlopen(request, timeout=10) as response:
        return str(response.read().decode())


@pytest.mark.slow
def test_gunicorn_workers_add_up_in_one_scrape(sqlite_template: Path, tmp_path: Path) -> None:
    database = tmp_path / "forum.db"
    shutil.copyfile(sqlite_template, database)
    port = free_port()
    env = {
        **os.environ,
        "FORUM_DATABASE_URL": f"sqlite:///{database}",
        "FORUM_INSTANCE_PATH": str(tmp_path / "instance"),
        "FORUM_BIND": f"127.0.0.1:{port}",
        "FORUM_WORKERS": "2",
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "metrics"),
        "FORUM_METRICS_TOKEN": "s3cret-scrape-token",
        # The scrape counts front pages served to a visitor.
        "FORUM_PUBLIC_READ": "true",
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", str(PROJECT_ROOT / "gunicorn.conf.py")],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                get(base + "/healthz")
                break
            except OSError:
                assert time.monotonic() < deadline, "gunicorn did not start"
                time.sleep(0.2)
        for _ in range(20):
            get(base + "/")
        # gunicorn bound to loopback, as behind a proxy on this host: no token, no metrics.
        with pytest.raises(urllib.error.HTTPError) as refused:
            get(base + "/metrics")
        refused.value.close()
        assert refused.value.code == 403
        text = get(base + "/metrics", {"Authorization": "Bearer s3cret-scrape-token"})
    finally:
        server.send_signal(signal.SIGTERM)
        logs = server.communicate(timeout=30)[0].decode()
    ok = {"endpoint": "main.index", "method": "GET", "status": "200"}
    assert value(text, "forum_http_requests_total", **ok) == 20
    # Each worker that served writes its own sample file; one scrape sums them all.
    assert list((tmp_path / "metrics").glob("counter_*.db")), logs[-2000:]
    # The access log names each request by its id and gives its duration.
    assert logs.count('"GET / HTTP/1.1" 200') == 20
    assert "request_id=" in logs and "duration_ms=" in logs
