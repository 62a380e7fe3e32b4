"""Two app servers, as two hosts would run them, share one PostgreSQL database and one Redis.

Each server is a real gunicorn process on 127.0.0.1 with its own instance folder (nothing on
disk is shared), the PostgreSQL search backend, Redis for rate limits and the same secret
key. What one host writes, the other shows at once; a session and a rate limit hold on both.
"""

from __future__ import annotations

import http.client
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import (
    NO_PG,
    NO_REDIS,
    PG_URL,
    REDIS_URL,
    TEST_HASH_METHOD,
    create_pg_database,
    drop_pg_database,
)

PROJECT_ROOT = Path(__file__).resolve().parents[2]

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(PG_URL is None, reason=NO_PG),
    pytest.mark.skipif(REDIS_URL is None, reason=NO_REDIS),
]

PASSWORD = "several hosts password 2026"
VOTES_PER_HOUR = 3


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Host:
    """One app server and a minimal HTTP client for it (cookies are given explicitly)."""

    def __init__(self, name: str, folder: Path, env: dict[str, str]) -> None:
        self.name = name
        self.port = _free_port()
        folder.mkdir(parents=True)
        self.log = folder / "server.log"
        self.env = {
            **env,
            "FORUM_INSTANCE_PATH": str(folder / "instance"),
            "FORUM_BIND": f"127.0.0.1:{self.port}",
            "FORUM_WORKERS": "2",
            "PROMETHEUS_MULTIPROC_DIR": str(folder / "metrics"),
        }
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "gunicorn", "-c", str(PROJECT_ROOT / "gunicorn.conf.py")],
                cwd=PROJECT_ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def wait_until_up(self, limit: float = 60) -> None:
        assert self.process is not None
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"host {self.name} exited: {self.log.read_text()[-3000:]}")
            try:
                if self.request("GET", "/healthz")[0] == 200:
                    return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError(f"host {self.name} did not answer in {limit} s")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)

    def request(
        self,
        method: str,
        path: str,
        *,
        cookie: str | None = None,
        form: dict[str, str] | None = None,
    ) -> tuple[int, dict[str, str], str]:
        """One request; the status, the headers (lower-case names) and the body."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        headers = {"Accept": "text/html"}
        if cookie:
            headers["Cookie"] = cookie
        body = None
        if form is not None:
            body = urllib.parse.urlencode(form)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        try:
            conn.request(method, path, body=body, headers=headers)
            response = conn.getresponse()
            text = response.read().decode("utf-8", "replace")
            found = {k.lower(): v for k, v in response.getheaders() if k.lower() != "set-cookie"}
            cookies = [v for k, v in response.getheaders() if k.lower() == "set-cookie"]
            if cookies:
                found["set-cookie"] = "; ".join(c.split(";", 1)[0] for c in cookies)
            return response.status, found, text
        finally:
            conn.close()

    def post_form(
        self, page: str, action: str, fields: dict[str, str], *, cookie: str | None = None
    ) -> tuple[int, dict[str, str], str]:
        """GET ``page`` for its CSRF token (and session), then POST ``fields`` to ``action``."""
        status, headers, html = self.request("GET", page, cookie=cookie)
        assert status == 200, (self.name, page, status)
        token = re.search(r'name="csrf-token" content="([^"]+)"', html)
        assert token, f"no CSRF token on {page}"
        cookie = merge_cookies(cookie, headers.get("set-cookie"))
        return self.request(
            "POST", action, cookie=cookie, form={"csrf_token": token.group(1), **fields}
        )


def merge_cookies(old: str | None, new: str | None) -> str:
    """A Cookie header with ``new`` name=value pairs replacing ``old`` ones."""
    jar: dict[str, str] = {}
    for header in (old, new):
        for pair in (header or "").split(";"):
            name, _, value = pair.strip().partition("=")
            if name:
                jar[name] = value
    return "; ".join(f"{k}={v}" for k, v in jar.items())


def register(host: Host, username: str) -> str:
    """Register a member on ``host``; the session cookie it is logged in with."""
    status, headers, html = host.post_form(
        "/register",
        "/register",
        {
            "username": username,
            "email": f"{username}@example.com",
            "display_name": username.title(),
            "password": PASSWORD,
        },
    )
    assert status in (302, 303), html[-2000:]
    cookie = headers.get("set-cookie", "")
    assert "forum_session=" in cookie
    return cookie


@pytest.fixture(scope="module")
def hosts(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Host, Host]]:
    """Two hosts on one new PostgreSQL database, sharing Redis under a prefix of their own."""
    folder = tmp_path_factory.mktemp("hosts")
    name = f"forum_hosts_{os.getpid()}"
    url = create_pg_database(name)
    env = {
        **os.environ,
        "FORUM_DATABASE_URL": url,
        "FORUM_SEARCH_BACKEND": "postgres",
        "FORUM_SECRET_KEY": "several-hosts-" + uuid.uuid4().hex,
        "FORUM_RATELIMIT_ENABLED": "true",
        "FORUM_RATELIMIT_STORAGE_URL": REDIS_URL or "",
        "FORUM_RATELIMIT_KEY_PREFIX": "forum-hosts-" + uuid.uuid4().hex,
        "FORUM_VOTE_RATE_LIMIT": f"{VOTES_PER_HOUR} per hour",
        "FORUM_PASSWORD_HASH_METHOD": TEST_HASH_METHOD,
        "FORUM_REPUTATION_THRESHOLDS": '{"create_tags": 0}',
        "FORUM_PUBLIC_READ": "true",
        "FORUM_REQUIRE_EMAIL_VERIFICATION": "false",
    }
    for variable in ("FORUM_SEARCH_INDEX_DIR", "FORUM_ACCESS_LOG"):
        env.pop(variable, None)
    migrated = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "forum", "db", "upgrade"],
        cwd=PROJECT_ROOT,
        env={**env, "FORUM_INSTANCE_PATH": str(folder / "migrate")},
        capture_output=True,
        timeout=300,
    )
    assert migrated.returncode == 0, migrated.stderr.decode()[-3000:]
    one, two = Host("one", folder / "one", env), Host("two", folder / "two", env)
    try:
        one.start()
        two.start()
        one.wait_until_up()
        two.wait_until_up()
        yield one, two
    finally:
        one.stop()
        two.stop()
        drop_pg_database(name)


def test_hosts_have_separate_instance_folders(hosts: tuple[Host, Host]) -> None:
    one, two = hosts
    assert one.env["FORUM_INSTANCE_PATH"] != two.env["FORUM_INSTANCE_PATH"]
    assert one.port != two.port


def test_question_asked_on_one_host_is_listed_searchable_and_votable_on_the_other(
    hosts: tuple[Host, Host],
) -> None:
    one, two = hosts
    word = "zanzibar" + uuid.uuid4().hex[:6]
    asker = register(one, "asker" + uuid.uuid4().hex[:6])
    title = f"How do two hosts share the {word} queue?"
    status, headers, html = one.post_form(
        "/questions/ask",
        "/questions/ask",
        {
            "title": title,
            "body": f"Both hosts should see the {word} question at once.",
            "tags": "operations",
        },
        cookie=asker,
    )
    assert status in (302, 303), html[-2000:]
    question_id = int(re.search(r"/questions/(\d+)", headers["location"]).group(1))  # type: ignore[union-attr]

    # Listed and readable on the other host, with no delay.
    status, _, listing = two.request("GET", "/questions")
    assert status == 200 and title in listing
    status, _, page = two.request("GET", f"/questions/{question_id}")
    assert status == 200 and title in page
    # Searchable there: the PostgreSQL backend's documents are in the shared database.
    status, _, found = two.request("GET", f"/search?q={word}")
    assert status == 200, found[-2000:]
    assert f'<a href="/questions/{question_id}">' in found, found[-2000:]

    # A colleague registers on the second host and votes there; the first host shows it.
    voter = register(two, "voter" + uuid.uuid4().hex[:6])
    status, _, html = two.post_form(
        f"/questions/{question_id}",
        f"/posts/{question_id}/vote",
        {"value": "1"},
        cookie=voter,
    )
    assert status in (302, 303), html[-2000:]
    status, _, page = one.request("GET", f"/questions/{question_id}")
    assert status == 200
    scores = re.findall(r'<output class="votes__score"[^>]*>(-?\d+)</output>', page)
    assert scores[:1] == ["1"], "the vote cast on host two is not shown on host one"


def test_a_session_from_one_host_works_on_the_other(hosts: tuple[Host, Host]) -> None:
    one, two = hosts
    username = "member" + uuid.uuid4().hex[:6]
    cookie = register(one, username)
    # The settings page needs a login: host two accepts host one's session cookie.
    status, headers, html = two.request("GET", "/settings/profile", cookie=cookie)
    assert status == 200, headers.get("location")
    assert f'href="/users/{username}"' in html
    # Without the cookie, host two sends the visitor to the login page.
    status, headers, _ = two.request("GET", "/settings/profile")
    assert status in (302, 303) and "/login" in headers["location"]


def test_a_rate_limit_counted_on_one_host_holds_on_the_other(hosts: tuple[Host, Host]) -> None:
    one, two = hosts
    asker = register(one, "limits" + uuid.uuid4().hex[:6])
    status, headers, _ = one.post_form(
        "/questions/ask",
        "/questions/ask",
        {
            "title": "Are rate limits shared between the hosts?",
            "body": "Votes counted on one host should count on the other one too.",
            "tags": "operations",
        },
        cookie=asker,
    )
    assert status in (302, 303)
    question_id = int(re.search(r"/questions/(\d+)", headers["location"]).group(1))  # type: ignore[union-attr]
    voter = register(two, "counter" + uuid.uuid4().hex[:6])
    # Every vote of the hourly budget is spent on host two (up, withdraw, up) ...
    for _ in range(VOTES_PER_HOUR):
        status, _, html = two.post_form(
            f"/questions/{question_id}", f"/posts/{question_id}/vote", {"value": "1"}, cookie=voter
        )
        assert status in (302, 303), html[-2000:]
    # ... so host one refuses the next one: it counts in the same Redis.
    status, _, html = one.post_form(
        f"/questions/{question_id}", f"/posts/{question_id}/vote", {"value": "1"}, cookie=voter
    )
    assert status == 429, html[-2000:]
