"""bench/load_test.py's members: their pauses between actions."""

from __future__ import annotations

import importlib.util
import random
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import ModuleType

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"


def _load(name: str) -> ModuleType:
    sys.path.insert(0, str(BENCH))
    spec = importlib.util.spec_from_file_location(f"bench_{name}", BENCH / f"{name}.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


load_test = _load("load_test")


def test_no_pause_without_think_time() -> None:
    rng = random.Random(1)
    assert all(load_test.pause(rng, 0.0) == 0.0 for _ in range(100))


def test_pauses_are_bounded_and_average_near_the_mean() -> None:
    rng = random.Random(2)
    pauses = [load_test.pause(rng, 2.0) for _ in range(20_000)]
    assert max(pauses) <= 8.0
    assert min(pauses) >= 0.0
    # An exponential with mean 2 cut at 8 averages 2 × (1 - e^-4) ≈ 1.96.
    assert 1.85 < sum(pauses) / len(pauses) < 2.07


class _Site(BaseHTTPRequestHandler):
    """Answers like forum's pages as far as a member looks: a token, a login redirect."""

    requests = 0
    logins: list[float] = []
    lock = threading.Lock()

    def _answer(self) -> None:
        with _Site.lock:
            _Site.requests += 1
            if self.command == "POST" and self.path == "/login":
                _Site.logins.append(time.monotonic())
        if self.command == "POST":
            length = int(self.headers.get("Content-Length") or 0)
            self.rfile.read(length)
            self.send_response(302)
            self.send_header("Location", "/")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        body = b'<meta name="csrf-token" content="t"><a href="/questions/1">q</a>'
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = _answer
    do_POST = _answer

    def log_message(self, format: str, *args: object) -> None:
        pass


class _Server(ThreadingHTTPServer):
    request_queue_size = 64  # members connecting at once are not held back by the backlog


@pytest.fixture
def site() -> Iterator[int]:
    server = _Server(("127.0.0.1", 0), _Site)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


def _requests(port: int, think: float, members: int = 3, seconds: float = 1.0) -> int:
    _Site.requests = 0
    _Site.logins = []
    stats = load_test.run_members(port, members, seconds, seed=5, think_seconds=think)
    assert not stats.server_errors
    return _Site.requests


def test_members_pausing_make_far_fewer_requests(site: int) -> None:
    busy = _requests(site, 0.0)
    pausing = _requests(site, 0.5)
    # Three members log in (3 requests each) and open the list; without pauses they go on
    # acting for the whole second, with half-second pauses they manage a few actions each.
    assert busy > 60
    assert pausing < 3 * 4 + 3 * 8
    assert pausing < busy / 3


def test_members_pausing_arrive_one_by_one(site: int) -> None:
    _requests(site, 0.0, members=10, seconds=0.2)
    together = max(_Site.logins) - min(_Site.logins)
    _requests(site, 0.3, members=10, seconds=1.5)
    arrivals = sorted(_Site.logins)
    # Without pauses every member logs in at once; pausing ones arrive over about a second
    # (each after a first pause: exponential, mean 0.3 s, at most 1.2 s).
    assert together < 0.15
    assert len(arrivals) >= 5
    assert arrivals[-1] - arrivals[0] > 0.3


def test_percentiles_in_milliseconds() -> None:
    ordered = [i / 1000 for i in range(1, 101)]  # 1 ms … 100 ms
    assert load_test.percentile_ms(ordered, 0.5) == 51.0
    assert load_test.percentile_ms(ordered, 0.99) == 100.0
    assert load_test.percentile_ms([0.25], 0.99) == 250.0
    assert load_test.percentile_ms([], 0.99) is None


def test_requests_of_the_warm_up_are_kept_apart() -> None:
    stats = load_test.Stats(warm_from=time.monotonic() + 60)
    stats.record("list", 200, 0.01)
    assert stats.latencies["list"] == [0.01] and not stats.warm["list"]
    stats.warm_from = time.monotonic() - 60
    stats.record("list", 200, 0.02)
    assert stats.latencies["list"] == [0.01, 0.02] and stats.warm["list"] == [0.02]
