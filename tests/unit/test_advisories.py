"""The dependency audit's second source: PyPI's project-level JSON, served here on loopback."""

from __future__ import annotations

import importlib.metadata
import importlib.util
import io
import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / ".ci" / "advisories.py"


def load_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("advisories", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


advisories = load_script()


class FakeIndex:
    """Project JSON answers by path; `hold` makes every request wait until released."""

    def __init__(self) -> None:
        self.projects: dict[str, tuple[int, bytes]] = {}
        self.requests: list[str] = []
        self.hold = threading.Event()
        self.hold.set()

    def add(self, name: str, latest: str, vulnerabilities: list[dict[str, Any]]) -> None:
        body = {"info": {"name": name, "version": latest}, "vulnerabilities": vulnerabilities}
        self.projects[f"/pypi/{name}/json"] = (200, json.dumps(body).encode())


def serve(index: FakeIndex) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            index.requests.append(self.path)
            index.hold.wait(timeout=10)
            status, body = index.projects.get(self.path, (404, b'{"message": "Not Found"}'))
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up waiting, as it should

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return ThreadingHTTPServer(("127.0.0.1", 0), Handler)


@pytest.fixture
def index() -> Iterator[tuple[FakeIndex, str]]:
    fake = FakeIndex()
    server = serve(fake)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield fake, f"http://127.0.0.1:{server.server_address[1]}/pypi"
    finally:
        fake.hold.set()
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/pypi"


def not_found(name: str, version: str) -> dict[str, str]:
    """A dependency as pip-audit reports it when PyPI's per-release JSON has no answer."""
    return {
        "name": name,
        "skip_reason": f"Dependency not found on PyPI and could not be audited: {name} ({version})",
    }


def report_file(tmp_path: Path, *deps: dict[str, Any]) -> str:
    path = tmp_path / "pip-audit.json"
    path.write_text(json.dumps({"dependencies": list(deps), "fixes": []}), encoding="utf-8")
    return str(path)


def run(argv: list[str], versions: dict[str, str], **kwargs: Any) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    status = advisories.main(argv, version_of=versions.get, out=out, err=err, **kwargs)
    return status, out.getvalue(), err.getvalue()


ADVISORY = {
    "id": "PYSEC-2099-1",
    "aliases": ["CVE-2099-0001"],
    "details": "A long description.",
    "summary": None,
    "fixed_in": ["2.0.1"],
    "link": "https://osv.dev/vulnerability/PYSEC-2099-1",
    "source": "osv",
    "withdrawn": None,
}


def test_a_vulnerable_latest_release_is_reported_and_fails(
    index: tuple[FakeIndex, str], tmp_path: Path
) -> None:
    fake, url = index
    fake.add("demo-lib", "2.0.0", [ADVISORY])
    fake.add("clean", "1.0", [])
    report = report_file(tmp_path, not_found("demo_lib", "2.0.0"), not_found("clean", "1.0"))

    status, out, err = run([report, "--index-url", url], {"demo_lib": "2.0.0", "clean": "1.0"})

    assert status == 1
    assert "demo_lib 2.0.0: PYSEC-2099-1 (CVE-2099-0001), fixed in 2.0.1" in out
    assert "2 of 2 installed packages checked, 1 known vulnerabilities, 0 not checked." in out
    assert sorted(fake.requests) == ["/pypi/clean/json", "/pypi/demo-lib/json"]
    assert err == ""


def test_a_withdrawn_advisory_is_ignored(index: tuple[FakeIndex, str], tmp_path: Path) -> None:
    fake, url = index
    fake.add("demo-lib", "2.0.0", [{**ADVISORY, "withdrawn": "2099-06-28T16:39:06Z"}])
    report = report_file(tmp_path, not_found("demo-lib", "2.0.0"))

    status, out, _ = run([report, "--index-url", url], {"demo-lib": "2.0.0"})

    assert status == 0
    assert "PYSEC" not in out
    assert "1 of 1 installed packages checked, 0 known vulnerabilities, 0 not checked." in out


def test_an_install_older_than_the_latest_release_is_not_checked(
    index: tuple[FakeIndex, str], tmp_path: Path
) -> None:
    fake, url = index
    fake.add("demo-lib", "3.0.0", [ADVISORY])
    report = report_file(tmp_path, not_found("demo-lib", "2.0.0"))

    status, out, err = run([report, "--index-url", url], {"demo-lib": "2.0.0"})

    # The advisories listed are those of 3.0.0: they say nothing about 2.0.0, either way.
    assert status == 0
    assert "PYSEC" not in out
    assert "0 of 1 installed packages checked, 0 known vulnerabilities, 1 not checked." in out
    assert "demo-lib: installed 2.0.0, latest on the index is 3.0.0" in err


def test_an_unreachable_source_exits_2(tmp_path: Path) -> None:
    report = report_file(tmp_path, not_found("demo-lib", "2.0.0"))

    status, out, err = run([report, "--index-url", closed_port_url()], {"demo-lib": "2.0.0"})

    assert status == 2
    assert "0 of 1 installed packages checked, 0 known vulnerabilities, 1 not checked." in out
    assert "ConnectionRefusedError" in err
    assert "answered for none of the packages" in err


def test_a_source_that_knows_no_package_exits_2(
    index: tuple[FakeIndex, str], tmp_path: Path
) -> None:
    _, url = index
    report = report_file(tmp_path, not_found("demo-lib", "2.0.0"))

    status, _, err = run([report, "--index-url", url], {"demo-lib": "2.0.0"})

    assert status == 2
    assert "no such project" in err


def test_a_source_that_does_not_answer_in_time_exits_2(
    index: tuple[FakeIndex, str], tmp_path: Path
) -> None:
    fake, url = index
    fake.add("demo-lib", "2.0.0", [])
    fake.hold.clear()
    started = time.monotonic()
    report = advisories.audit(
        {"dependencies": [not_found("demo-lib", "2.0.0")]},
        url,
        version_of={"demo-lib": "2.0.0"}.get,
        request_timeout=0.2,
    )

    assert time.monotonic() - started < 5
    assert report.exit_status() == 2
    assert "no complete answer within 0.2 s" in report.unchecked[0].reason


def test_pip_audit_results_are_kept_and_editable_installs_left_out(
    index: tuple[FakeIndex, str], tmp_path: Path
) -> None:
    fake, url = index
    audited = {
        "name": "old-lib",
        "version": "1.0",
        "vulns": [{"id": "GHSA-xxxx", "fix_versions": [], "aliases": [], "description": ""}],
    }
    editable = {"name": "forum", "skip_reason": "distribution marked as editable"}
    report = report_file(tmp_path, audited, editable)

    status, out, err = run([report, "--index-url", url], {})

    assert status == 1
    assert "old-lib 1.0: GHSA-xxxx, fixed in no fix yet" in out
    assert "1 of 1 installed packages checked, 1 known vulnerabilities, 0 not checked." in out
    assert "Not audited (editable installs): forum" in err
    assert fake.requests == []


def test_the_script_reads_the_index_url_from_the_environment(
    index: tuple[FakeIndex, str], tmp_path: Path
) -> None:
    fake, url = index
    version = importlib.metadata.version("pytest")
    fake.add("pytest", version, [ADVISORY])
    report = report_file(tmp_path, not_found("pytest", version))

    done = subprocess.run(
        [sys.executable, str(SCRIPT), report],
        env={**os.environ, "PYPI_JSON_URL": url},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert done.returncode == 1, done.stderr
    assert f"pytest {version}: PYSEC-2099-1" in done.stdout
