"""A real server process on 127.0.0.1 and Debian's Chromium driven by Playwright."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import TEST_HASH_METHOD

CHROMIUM = os.environ.get("FORUM_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
ARTIFACTS = Path(__file__).parent / "artifacts"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class LiveServer:
    """A forum server process with its own instance folder and database."""

    def __init__(self, instance: Path) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {
            **os.environ,
            "FORUM_INSTANCE_PATH": str(instance),
            "FORUM_PASSWORD_HASH_METHOD": TEST_HASH_METHOD,
            "FORUM_RATELIMIT_ENABLED": "false",
            # As in tests/conftest.py: reading as a visitor, posting right after registering.
            "FORUM_PUBLIC_READ": "true",
            "FORUM_REQUIRE_EMAIL_VERIFICATION": "false",
        }
        for name in ("FORUM_DATABASE_URL", "FORUM_SEARCH_INDEX_DIR"):
            self.env.pop(name, None)
        self.log = instance.parent / "server.log"
        self.process: subprocess.Popen[bytes] | None = None
        self._log_file: Any = None

    def forum(self, *args: str) -> None:
        """Run a ``forum`` command against this server's instance."""
        done = subprocess.run(
            [sys.executable, "-m", "flask", "--app", "forum", *args],
            env=self.env,
            capture_output=True,
            timeout=120,
        )
        if done.returncode != 0:
            raise RuntimeError(f"forum {' '.join(args[:2])} failed: {done.stderr.decode()[-2000:]}")

    def forum_many(self, *commands: list[str]) -> None:
        """Run several ``forum`` commands in one process (the app is imported once, not N times)."""
        script = (
            "import sys, json\n"
            "from forum import create_app\n"
            "runner = create_app().test_cli_runner()\n"
            "for args in json.loads(sys.argv[1]):\n"
            "    result = runner.invoke(args=args)\n"
            "    if result.exit_code != 0:\n"
            "        sys.exit(f'{args[:2]}: {result.output} {result.exception!r}')\n"
        )
        done = subprocess.run(
            [sys.executable, "-c", script, json.dumps([list(c) for c in commands])],
            env=self.env,
            capture_output=True,
            timeout=120,
        )
        if done.returncode != 0:
            raise RuntimeError(f"forum commands failed: {done.stderr.decode()[-2000:]}")

    def start(self) -> None:
        """Start serving and wait until /healthz answers (at most 30 s).

        The server answers from threads, as production does: a single-threaded server is held
        by any connection the browser opens and leaves idle (a preconnect), and every other
        request waits behind it.
        """
        self.forum("db", "upgrade")
        self._log_file = self.log.open("wb")
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "flask",
                "--app",
                "forum",
                "run",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--no-reload",
            ],
            env=self.env,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited: {self.log.read_text()}")
            try:
                with urllib.request.urlopen(self.url + "/healthz", timeout=2) as response:
                    if response.status == 200:
                        return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("server did not answer /healthz within 30 s")

    def stop(self) -> None:
        """Stop the server process."""
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        if self._log_file is not None:
            self._log_file.close()


@pytest.fixture(scope="module")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A fresh server for the module."""
    server = LiveServer(tmp_path_factory.mktemp("live") / "instance")
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def demo_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """One server with the demo content for every module that only reads it (loaded once)."""
    server = LiveServer(tmp_path_factory.mktemp("demo") / "instance")
    server.start()
    server.forum("demo", "--password", PASSWORD)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def chromium() -> Iterator[Any]:
    """Headless Chromium, or a visible skip when this machine has none (unless required)."""
    required = os.environ.get("FORUM_REQUIRE_BROWSER") == "1"
    if not Path(CHROMIUM).exists():
        if required:
            pytest.fail(f"FORUM_REQUIRE_BROWSER=1 but {CHROMIUM} is missing")
        pytest.skip(f"{CHROMIUM} is missing: install Debian's chromium to run browser tests")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
        )
        yield browser
        browser.close()


@pytest.fixture
def page(chromium: Any) -> Iterator[Any]:
    """A fresh browser context and page; script errors and CSP violations fail the test."""
    context = chromium.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    # Form pages answer bad input with status 400, which Chromium logs as a failed load;
    # every other console error (a CSP violation, a script error) is a problem.
    page.on(
        "console",
        lambda msg: (
            problems.append(f"console {msg.type}: {msg.text}")
            if msg.type == "error" and "Failed to load resource" not in msg.text
            else None
        ),
    )
    page.set_default_timeout(10_000)
    yield page
    context.close()
    assert problems == []


# Shared helpers for the browser modules.

ROOT = Path(__file__).resolve().parents[2]
AXE_JS = ROOT / "node_modules" / "axe-core" / "axe.min.js"
SCREENSHOTS = ROOT / "docs" / "screenshots"
PHONE = {"width": 375, "height": 740}
DESKTOP = {"width": 1280, "height": 800}
PASSWORD = "a long test password"


def create_member(username: str, display_name: str, *, admin: bool = False) -> list[str]:
    """The ``forum users create`` command for a member with password ``PASSWORD``."""
    args = ["users", "create", "--username", username, "--email", f"{username}@example.com"]
    args += ["--display-name", display_name, "--password", PASSWORD]
    return args + (["--admin"] if admin else [])


def log_in(page: Any, server: LiveServer, username: str, password: str = PASSWORD) -> None:
    """Log in through the form and wait for the page that follows."""
    page.goto(server.url + "/login")
    page.get_by_label("Username or email").fill(username)
    page.get_by_label("Password").fill(password)
    with page.expect_navigation():
        page.get_by_role("button", name="Log in").click()
    assert page.locator("header .account-link").count() == 1, "login failed"


def sideways_overflow(page: Any) -> int:
    """How many pixels the page scrolls sideways (0 when it fits)."""
    return int(
        page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    )


def save_screenshot(page: Any, name: str) -> None:
    """Save docs/screenshots/<name>.png when FORUM_SCREENSHOTS=1 (normal runs change no file)."""
    if os.environ.get("FORUM_SCREENSHOTS") != "1":
        return
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=False)


def axe_path() -> Path:
    """axe-core from node_modules (``make install-dev`` runs ``npm ci``), or a visible skip."""
    if not AXE_JS.exists():
        message = f"{AXE_JS} is missing: run `make install-dev` (npm ci) first"
        if os.environ.get("FORUM_REQUIRE_BROWSER") == "1":
            pytest.fail(message)
        pytest.skip(message)
    return AXE_JS


def run_axe(page: Any) -> list[dict[str, Any]]:
    """axe-core's violations on the current page (WCAG 2.x A and AA rules plus best practices)."""
    if page.evaluate("typeof window.axe") == "undefined":
        # page.add_script_tag() inserts an inline <script>, which the strict CSP refuses
        # (script-src 'self'). Evaluating the file through the DevTools protocol is not subject
        # to the page's CSP, so the pages are checked with their real policy in force (no
        # bypass_csp, which would also let inline styles through and change what axe sees).
        page.evaluate(axe_path().read_text(encoding="utf-8"))
    result: dict[str, Any] = page.evaluate(
        """async () => await window.axe.run(document, {
             runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa',
                                             'best-practice']},
             resultTypes: ['violations'],
           })"""
    )
    return list(result["violations"])


def describe_violations(violations: list[dict[str, Any]]) -> list[str]:
    """One readable line per violation: impact, rule and the first offending elements."""
    lines = []
    for v in violations:
        targets = [" ".join(map(str, node["target"])) for node in v["nodes"][:3]]
        lines.append(f"{v['impact']}: {v['id']} ({len(v['nodes'])}) {targets}")
    return lines
