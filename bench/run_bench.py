"""Benchmark forum's pages against a bare Flask + Jinja baseline, measured in the same run.

Generates fixed-seed data, starts the baseline and forum under gunicorn (2 workers each, on
127.0.0.1 only), and measures every page issue #24 names (the front page, each question
list, a question with 20 answers and 50 comments, the tag list, a tag, the article list, a
long tutorial, a two-word search and a profile), once for a visitor and once for a member
signed in with a session cookie: throughput, p50 and p99 at 32 connections, SQL queries per
page and memory (RSS and PSS) per forum worker, each page against the baseline measured
before and after them.
Results go to bench/results/<time>.json, bench/results/latest.{json,md} and the table in
bench/README.md, with one goal line per page and role.

    python bench/run_bench.py --posts 100000          # the full size
    python bench/run_bench.py --posts 10000 --duration 3
    python bench/run_bench.py --data /tmp/forum-bench  # keep the data and index for next time
    python bench/run_bench.py --pages question,search --roles member   # a quick profiling run
"""

from __future__ import annotations

import argparse
import datetime as dt
import http.client
import json
import os
import platform
import re
import selectors
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from html import escape
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
RESULTS = BENCH / "results"
PYTHON = sys.executable
sys.path.insert(0, str(ROOT))

#: Goals on the reference machine (2 cores), from the production issue (#24).
GOALS = {"ratio": 0.6, "p99_ms": 50.0, "queries": 8, "rss_mb": 150.0}
#: SQL statements allowed per page and role where tests/http/test_query_counts.py holds a
#: tighter budget than GOALS["queries"] (a (page, None) entry holds for both roles).
SQL_BUDGETS: dict[tuple[str, str | None], int] = {
    ("home", "visitor"): 5,
    # A member's front page and article page, their shared parts kept (the second request).
    ("home", "member"): 7,
    ("article", "member"): 5,
    ("questions-newest", None): 4,
    ("questions-active", None): 4,
    ("questions-top-week", None): 4,
    ("questions-unanswered", None): 4,
    ("questions-my-tags", None): 5,
    ("tags", None): 3,
}
ROLES = ("visitor", "member")
#: What a signed-in member's pages carry (the log-out form) and a visitor's do not.
MEMBER_MARK = b'action="/logout"'
TRANSACTION_CONTROL = ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE")
#: Written next to reused data: what was generated, and whether the search index is built.
DATA_MARKER = "bench-data.json"
#: Changes when generate.py makes different data: reused data must have been made by it.
GENERATOR_VERSION = 2


@dataclass
class Measurement:
    """One page under load."""

    name: str
    path: str
    requests: int
    errors: int
    error_kinds: dict[str, int]
    seconds: float
    throughput: float
    p50_ms: float
    p99_ms: float
    queries: int | None = None
    ratio: float | None = None
    #: Memory of each forum worker right after this page's run (PSS: shared pages counted
    #: once in all), in MB.
    rss_mb: list[float] | None = None
    #: Throughput of each run when the row joins several (the baseline: before and after).
    runs: list[float] | None = None
    #: "visitor" or "member" (None: the baseline).
    role: str | None = None
    #: CPU time the load generator spent per request, and its share of one core.
    client_cpu_ms_per_request: float | None = None
    client_cpu_share: float | None = None


def free_port() -> int:
    """A free TCP port on the loopback interface."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def get(
    port: int, path: str, timeout: float = 10.0, cookie: str | None = None
) -> tuple[int, bytes]:
    """One GET on 127.0.0.1:port."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    headers = {"Accept": "text/html"}
    if cookie:
        headers["Cookie"] = cookie
    try:
        conn.request("GET", path, headers=headers)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def wait_until_up(port: int, path: str, server: subprocess.Popen[bytes], limit: float = 60) -> None:
    """Poll until the server answers (bounded)."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"server on port {port} exited with {server.returncode}")
        try:
            status, _ = get(port, path, timeout=2)
            if status < 500:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"server on port {port} did not come up in {limit} s")


@dataclass
class Target:
    """A page to load: where, what each answer must contain, and the session cookie."""

    path: str
    expect: tuple[bytes, ...] = ()
    cookie: str | None = None


@dataclass
class LoadResult:
    """What one load run saw."""

    latencies: list[float] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)
    cpu_seconds: float = 0.0
    #: Whether the server said it closes each connection (gunicorn's sync workers do).
    server_closes: bool | None = None


def _request_bytes(port: int, target: Target) -> bytes:
    lines = [
        f"GET {target.path} HTTP/1.1",
        f"Host: 127.0.0.1:{port}",
        "Accept: text/html",
        "User-Agent: forum-run-bench",
        # gunicorn's sync workers close every connection anyway; saying so keeps both ends
        # (and any server that would keep it open) reading one response to its end.
        "Connection: close",
    ]
    if target.cookie:
        lines.append(f"Cookie: {target.cookie}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def _check(response: bytes, expect: tuple[bytes, ...]) -> str | None:
    """None for a 200 carrying every expected string, else the kind of error."""
    status = response[9:12]
    if not response.startswith(b"HTTP/1.") or not status.isdigit():
        return "bad response"
    if status != b"200":
        return status.decode()
    head, _, body = response.partition(b"\r\n\r\n")
    if any(mark not in body for mark in expect):
        return "200 without the expected content"
    return None


def load_loop(port: int, target: Target, *, seconds: float, concurrency: int) -> LoadResult:
    """``concurrency`` connections kept busy for ``seconds`` by one thread (non-blocking
    sockets and a selector): each request a new connection, answered and closed by the
    server, the next opened at once. Latency runs from ``connect`` to the server's close."""
    request = _request_bytes(port, target)
    address = ("127.0.0.1", port)
    result = LoadResult()
    selector = selectors.DefaultSelector()
    deadline = time.monotonic() + seconds
    open_states: set[int] = set()

    def fail(kind: str) -> None:
        result.errors[kind] = result.errors.get(kind, 0) + 1

    def open_one() -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setblocking(False)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        state = [sock, time.perf_counter(), [], False]
        code = sock.connect_ex(address)
        if code not in (0, 115, 36, 10035):  # EINPROGRESS on Linux, macOS; WSAEWOULDBLOCK
            sock.close()
            fail(f"connect errno {code}")
            return
        selector.register(sock, selectors.EVENT_WRITE, state)
        open_states.add(id(state))

    def finish(state: list[Any], error: str | None) -> None:
        sock = state[0]
        selector.unregister(sock)
        sock.close()
        open_states.discard(id(state))
        if error is None:
            response = b"".join(state[2])
            if result.server_closes is None:
                head = response.partition(b"\r\n\r\n")[0].lower()
                result.server_closes = b"connection: close" in head
            error = _check(response, target.expect)
            if error is None:
                result.latencies.append(time.perf_counter() - state[1])
        if error is not None:
            fail(error)
        if time.monotonic() < deadline:
            open_one()

    cpu = time.process_time()
    for _ in range(concurrency):
        open_one()
    last_sweep = time.monotonic()
    while open_states:
        for key, _mask in selector.select(timeout=0.5):
            state = key.data
            sock = state[0]
            if not state[3]:
                code = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                if code:
                    finish(state, f"connect errno {code}")
                    continue
                try:
                    sock.sendall(request)  # a few hundred bytes: one send
                except OSError as exc:
                    finish(state, type(exc).__name__)
                    continue
                state[3] = True
                selector.modify(sock, selectors.EVENT_READ, state)
                continue
            try:
                chunk = sock.recv(262144)
            except BlockingIOError:
                continue
            except OSError as exc:
                finish(state, type(exc).__name__)
                continue
            if chunk:
                state[2].append(chunk)
            else:
                finish(state, None)
        now = time.monotonic()
        if now - last_sweep > 1.0:  # requests that hang: 10 s at most each
            last_sweep = now
            limit = time.perf_counter() - 10.0
            for key in list(selector.get_map().values()):
                if key.data[1] < limit:
                    finish(key.data, "timeout")
    selector.close()
    result.cpu_seconds = time.process_time() - cpu
    return result


def load_threads(port: int, target: Target, *, seconds: float, concurrency: int) -> LoadResult:
    """The same load from ``concurrency`` threads with blocking ``http.client`` connections
    (one per request, as the server closes each): kept to measure what threads cost."""
    result = LoadResult()
    lock = threading.Lock()
    deadline = time.monotonic() + seconds
    headers = {"Accept": "text/html", "Connection": "close"}
    if target.cookie:
        headers["Cookie"] = target.cookie

    def worker() -> None:
        mine: list[float] = []
        failed: dict[str, int] = {}
        closes = None
        while time.monotonic() < deadline:
            started = time.perf_counter()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            try:
                conn.request("GET", target.path, headers=headers)
                response = conn.getresponse()
                body = response.read()
                closes = (response.getheader("Connection") or "").lower() == "close"
            except OSError as exc:
                failed[type(exc).__name__] = failed.get(type(exc).__name__, 0) + 1
                continue
            finally:
                conn.close()
            if response.status != 200:
                failed[str(response.status)] = failed.get(str(response.status), 0) + 1
            elif any(mark not in body for mark in target.expect):
                kind = "200 without the expected content"
                failed[kind] = failed.get(kind, 0) + 1
            else:
                mine.append(time.perf_counter() - started)
        with lock:
            result.latencies.extend(mine)
            for kind, n in failed.items():
                result.errors[kind] = result.errors.get(kind, 0) + n
            if closes is not None:
                result.server_closes = closes

    cpu = time.process_time()
    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    result.cpu_seconds = time.process_time() - cpu
    return result


CLIENTS: dict[str, Callable[..., LoadResult]] = {"loop": load_loop, "threads": load_threads}


def measure(
    name: str,
    port: int,
    target: Target,
    *,
    seconds: float,
    concurrency: int,
    client: str = "loop",
    role: str | None = None,
    warmup: float = 1.0,
) -> Measurement:
    """Warm up, then measure one page."""
    run = CLIENTS[client]
    run(port, target, seconds=min(warmup, seconds), concurrency=concurrency)
    started = time.monotonic()
    seen = run(port, target, seconds=seconds, concurrency=concurrency)
    elapsed = time.monotonic() - started
    latencies = sorted(seen.latencies)
    errors = seen.errors
    if not latencies:
        latencies = [float("nan")]
        print(f"  {name}: no successful request (errors: {errors})", flush=True)
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
    ok = len(seen.latencies)
    result = Measurement(
        name=name,
        path=target.path,
        requests=ok,
        errors=sum(errors.values()),
        error_kinds=errors,
        seconds=round(elapsed, 2),
        throughput=round(ok / elapsed, 1),
        p50_ms=round(statistics.median(latencies) * 1000, 2),
        p99_ms=round(p99 * 1000, 2),
        role=role,
        client_cpu_ms_per_request=(
            round(seen.cpu_seconds * 1000 / (ok + sum(errors.values())), 3)
            if ok + sum(errors.values())
            else None
        ),
        client_cpu_share=round(seen.cpu_seconds / elapsed, 2),
    )
    label = f"{name} ({role})" if role else name
    print(
        f"  {label:<30} {result.throughput:8.1f} req/s  p50 {result.p50_ms:7.2f} ms  "
        f"p99 {result.p99_ms:7.2f} ms  client CPU {result.client_cpu_ms_per_request} ms/req "
        f"({result.client_cpu_share:.0%} of a core)  errors {errors or 0}",
        flush=True,
    )
    return result


def averaged(first: Measurement, last: Measurement) -> Measurement:
    """Two runs of one page as one: requests and time added, percentiles averaged."""
    errors = dict(first.error_kinds)
    for kind, n in last.error_kinds.items():
        errors[kind] = errors.get(kind, 0) + n
    seconds = first.seconds + last.seconds
    requests = first.requests + last.requests

    def mean(a: float | None, b: float | None) -> float | None:
        return None if a is None or b is None else round((a + b) / 2, 3)

    return Measurement(
        name=first.name,
        path=first.path,
        requests=requests,
        errors=first.errors + last.errors,
        error_kinds=errors,
        seconds=round(seconds, 2),
        throughput=round(requests / seconds, 1),
        p50_ms=round((first.p50_ms + last.p50_ms) / 2, 2),
        p99_ms=round((first.p99_ms + last.p99_ms) / 2, 2),
        runs=[first.throughput, last.throughput],
        client_cpu_ms_per_request=mean(
            first.client_cpu_ms_per_request, last.client_cpu_ms_per_request
        ),
        client_cpu_share=mean(first.client_cpu_share, last.client_cpu_share),
    )


def _children(master_pid: int, field: str) -> list[tuple[bool, float]]:
    """Each child of a gunicorn master: whether it is the embedding service, and ``field``
    of its memory in MB."""
    found = []
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            text = status.read_text()
            if field == "Pss":
                text += (status.parent / "smaps_rollup").read_text()
            cmdline = (status.parent / "cmdline").read_bytes()
        except OSError:
            continue
        ppid = re.search(r"^PPid:\s+(\d+)", text, re.M)
        kb = re.search(rf"^{field}:\s+(\d+) kB", text, re.M)
        if ppid and kb and int(ppid.group(1)) == master_pid:
            found.append((b"embed_service" in cmdline, round(int(kb.group(1)) / 1024, 1)))
    return found


def worker_rss_mb(master_pid: int, field: str = "VmRSS") -> list[float]:
    """Resident memory of each worker of a gunicorn master, in MB (the embedding service the
    master also starts is not a worker: see :func:`embed_service_mb`).

    ``field="RssAnon"`` gives the workers' own memory, without the file pages they map
    (shared libraries and any memory-mapped file: the page cache, shared by all).
    ``field="Pss"`` counts each page shared between processes once in all (split between
    them): the model the master loads before forking is not counted again in every worker.
    """
    return sorted(mb for service, mb in _children(master_pid, field) if not service)


def embed_service_mb(master_pid: int, field: str = "VmRSS") -> float | None:
    """The same for the host's embedding service (None when the master runs none)."""
    found = [mb for service, mb in _children(master_pid, field) if service]
    return found[0] if found else None


@dataclass
class Page:
    """A measured page: its address and what its answer must contain for either role."""

    path: str
    expect: tuple[bytes, ...] = ()


TITLE = re.compile(rb"<title>.*?</title>", re.S)
CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"|value="([^"]+)"[^>]*name="csrf_token"')


def csrf_token(html: str) -> str:
    """The CSRF token of the first form on a page."""
    found = CSRF.search(html)
    if not found:
        raise SystemExit("no csrf_token on the login page")
    return found.group(1) or found.group(2)


def inspect_pages(
    env: dict[str, str], pages: dict[str, Page], member: tuple[str, str], roles: tuple[str, ...]
) -> tuple[dict[str, dict[str, int]], dict[str, Page], list[str]]:
    """In-process, per role: the SQL statements each page runs (second request, so caches
    are warm), the page's ``<title>`` added to what its answers must contain, and problems
    (a page that does not answer 200 with its content is left out for that role)."""
    from sqlalchemy import event

    from forum import create_app
    from forum.db import get_engine

    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        app = create_app()
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    counter = {"n": 0}

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        # As tests/http/test_query_counts.py counts: transaction control is not a query.
        if not statement.lstrip().upper().startswith(TRANSACTION_CONTROL):
            counter["n"] += 1

    engine = get_engine(app)
    event.listen(engine, "before_cursor_execute", count)
    queries: dict[str, dict[str, int]] = {role: {} for role in roles}
    checked = dict(pages)
    problems: list[str] = []
    for role in roles:
        client = app.test_client()
        if role == "member":
            token = csrf_token(client.get("/login").get_data(as_text=True))
            response = client.post(
                "/login",
                data={"csrf_token": token, "username": member[0], "password": member[1]},
            )
            if response.status_code != 302:
                raise SystemExit(f"logging {member[0]} in answered {response.status_code}")
        for name, page in pages.items():
            client.get(page.path)
            counter["n"] = 0
            try:
                response = client.get(page.path)
            except Exception as exc:  # noqa: BLE001 - reported, and the page is left out
                failure = f"{type(exc).__name__}: {exc}"
                problems.append(f"{name} ({role}): {page.path} failed ({failure})")
                continue
            body = response.get_data()
            if response.status_code != 200:
                problems.append(f"{name} ({role}): {page.path} answered {response.status_code}")
                continue
            missing = [m.decode() for m in page.expect if m not in body]
            if (MEMBER_MARK in body) != (role == "member"):
                missing.append("the log-out form" if role == "member" else "no log-out form")
            if missing:
                problems.append(f"{name} ({role}): {page.path} lacks {', '.join(missing)}")
                continue
            queries[role][name] = counter["n"]
            title = TITLE.search(body)
            if title and role == roles[0]:
                checked[name] = Page(page.path, (*page.expect, title.group(0)))
    engine.dispose()
    return queries, checked, problems


def pick_pages(database_url: str) -> tuple[dict[str, Page], tuple[str, str]]:
    """Every page issue #24 names, with a string each answer must contain, and the member
    (username, password) to sign in as."""
    from sqlalchemy import create_engine, func, select

    from forum.models import Post, Tag, User, post_tags
    from forum.services.questions import Tab

    sys.path.insert(0, str(BENCH))
    from generate import BENCH_MEMBER, PASSWORD

    engine = create_engine(database_url)
    with engine.connect() as conn:
        # The biggest thread: generate.py makes one with 20 answers and 50 comments.
        question = conn.execute(
            select(Post.id, Post.title)
            .where(Post.kind == "question", Post.deleted_at.is_(None))
            .order_by(Post.answer_count.desc(), Post.comment_count.desc(), Post.id)
            .limit(1)
        ).one()
        tag = conn.scalar(
            select(Tag.name)
            .join(post_tags, post_tags.c.tag_id == Tag.id)
            .group_by(Tag.name)
            .order_by(func.count().desc(), Tag.name)
            .limit(1)
        )
        author = conn.execute(
            select(User.username, User.display_name)
            .join(Post, Post.author_id == User.id)
            .group_by(User.username, User.display_name)
            .order_by(func.count().desc(), User.username)
            .limit(1)
        ).one()
        # The longest tutorial (a long text with code).
        article = conn.execute(
            select(Post.slug, Post.title)
            .where(Post.kind == "article", Post.deleted_at.is_(None), Post.slug.is_not(None))
            .order_by(func.length(Post.body_md).desc(), Post.id)
            .limit(1)
        ).first()
    engine.dispose()

    def mark(text: str) -> bytes:
        return escape(text).encode()

    pages = {"home": Page("/")}
    for tab in Tab:
        pages[f"questions-{tab.value}"] = Page(
            f"/questions?tab={tab.value}", (f'tab={tab.value}" aria-current="page"'.encode(),)
        )
    pages["question"] = Page(f"/questions/{question.id}", (mark(question.title),))
    pages["tags"] = Page("/tags")
    pages["tag"] = Page(f"/tags/{tag}", (mark(str(tag)),))
    pages["articles"] = Page("/articles")
    if article is not None:
        pages["article"] = Page(f"/articles/{article.slug}", (mark(article.title),))
    pages["search"] = Page("/search?" + urlencode({"q": "deploy cache"}), (b"deploy",))
    pages["profile"] = Page(f"/users/{author.username}", (mark(author.display_name),))
    return pages, (BENCH_MEMBER, PASSWORD)


def selected(pages: dict[str, Page], wanted: str | None) -> dict[str, Page]:
    """The pages ``--pages`` names: each a page's name, or a prefix ending a word of it
    ("questions" for every list)."""
    if not wanted:
        return pages
    keys = [w.strip() for w in wanted.split(",") if w.strip()]
    unknown = [k for k in keys if not any(n == k or n.startswith(k + "-") for n in pages)]
    if unknown:
        raise SystemExit(f"unknown page(s) {unknown}; pages: {', '.join(pages)}")
    return {n: p for n, p in pages.items() if any(n == k or n.startswith(k + "-") for k in keys)}


def _cookie_header(jar: dict[str, str]) -> str:
    return "; ".join(f"{k}={v}" for k, v in jar.items())


def _take_cookies(jar: dict[str, str], response: http.client.HTTPResponse) -> None:
    from http.cookies import SimpleCookie

    for header in response.headers.get_all("Set-Cookie") or []:
        cookie: SimpleCookie = SimpleCookie()
        cookie.load(header)
        for name, morsel in cookie.items():
            if morsel.value and morsel["max-age"] != "0":
                jar[name] = morsel.value
            else:
                jar.pop(name, None)


def login_cookie(port: int, username: str, password: str) -> str:
    """Sign ``username`` in through the login form (GET for the CSRF token, then POST) and
    return the Cookie header that carries the session."""
    jar: dict[str, str] = {}
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("GET", "/login", headers={"Accept": "text/html"})
        response = conn.getresponse()
        html = response.read().decode()
        _take_cookies(jar, response)
    finally:
        conn.close()
    form = urlencode({"csrf_token": csrf_token(html), "username": username, "password": password})
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request(
            "POST",
            "/login",
            body=form,
            headers={
                "Content-Type": "application/x-www-form-urlencoded",
                "Cookie": _cookie_header(jar),
                "Accept": "text/html",
            },
        )
        response = conn.getresponse()
        response.read()
        _take_cookies(jar, response)
    finally:
        conn.close()
    if response.status != 302:
        raise SystemExit(f"logging {username} in answered {response.status}")
    cookie = _cookie_header(jar)
    status, body = get(port, "/", cookie=cookie)
    if status != 200 or MEMBER_MARK not in body:
        raise SystemExit(f"{username}'s session cookie does not sign them in ({status})")
    return cookie


def start(command: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """Start a server process, its output going to ``log``."""
    handle = log.open("wb")
    try:
        return subprocess.Popen(command, cwd=ROOT, env=env, stdout=handle, stderr=subprocess.STDOUT)
    finally:
        handle.close()


def stop(server: subprocess.Popen[bytes]) -> None:
    """Stop a gunicorn master and wait for it."""
    if server.poll() is None:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=10)


def machine() -> dict[str, Any]:
    """What the figures were measured on."""
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_kb = 0
    try:
        mem_kb = int(re.findall(r"MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text())[0])
    except (OSError, IndexError):
        pass
    return {
        "cpus": os.cpu_count(),
        "cpu_model": model,
        "memory_gb": round(mem_kb / 1024 / 1024, 1),
        "python": platform.python_version(),
        "system": platform.platform(),
    }


def sql_budget(name: str, role: str | None) -> int:
    """The most SQL statements the page may run for the role."""
    default = int(GOALS["queries"])
    return SQL_BUDGETS.get((name, role), SQL_BUDGETS.get((name, None), default))


def goal_lines(report: dict[str, Any]) -> list[dict[str, Any]]:
    """Per page and role: each goal of issue #24, met or not, with the figure."""
    lines = []
    for row in report["pages"]:
        if row.get("role") is None:
            continue
        rss = max(row["rss_mb"]) if row.get("rss_mb") else None
        budget = sql_budget(row["name"], row["role"])
        lines.append(
            {
                "page": row["name"],
                "role": row["role"],
                "ratio": row["ratio"],
                "ratio_met": row["ratio"] is not None and row["ratio"] >= GOALS["ratio"],
                "p99_ms": row["p99_ms"],
                "p99_met": row["p99_ms"] <= GOALS["p99_ms"],
                "queries": row["queries"],
                "sql_budget": budget,
                "sql_met": row["queries"] is not None and row["queries"] <= budget,
                "rss_mb": rss,
                "rss_met": rss is not None and rss <= GOALS["rss_mb"],
                "errors": row["errors"],
            }
        )
    return lines


def _met(ok: bool) -> str:
    return "met" if ok else "missed"


def markdown_table(report: dict[str, Any]) -> str:
    """The results as a Markdown table, then one goal line per page and role."""
    m = report["machine"]
    lines = [
        f"Run {report['started_at']} on {m['cpus']} cores ({m['cpu_model'] or 'unknown CPU'}), "
        f"{m['memory_gb']} GB, Python {m['python']}; {report['database']} with "
        f"{report['data']['posts']} posts, {report['data']['members']} members; gunicorn "
        f"{report['workers']} sync workers; {report['concurrency']} connections "
        f"({report['client']} client) for {report['duration']} s per page and role.",
        "",
        "| page | role | req/s | × baseline | p50 ms | p99 ms | SQL (budget) | PSS MB after "
        "| client CPU ms/req | errors |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in report["pages"]:
        role = row.get("role")
        ratio = "1.00" if row["ratio"] is None else f"{row['ratio']:.2f}"
        queries = (
            "–" if row["queries"] is None else f"{row['queries']} ({sql_budget(row['name'], role)})"
        )
        kinds = ", ".join(f"{n}× {k}" for k, n in row["error_kinds"].items())
        rss_after = "–" if not row.get("rss_mb") else f"{max(row['rss_mb']):.0f}"
        cpu = row.get("client_cpu_ms_per_request")
        lines.append(
            f"| {row['name']} | {role or '–'} | {row['throughput']:.1f} | {ratio} | "
            f"{row['p50_ms']:.1f} | {row['p99_ms']:.1f} | {queries} | {rss_after} | "
            f"{'–' if cpu is None else f'{cpu:.2f}'} | "
            f"{row['errors']}{f' ({kinds})' if kinds else ''} |"
        )
    rss = report["rss_mb_per_worker"]
    runs = report["pages"][0].get("runs")
    if runs:
        lines += [
            "",
            "The baseline ran before and after the pages ("
            + " and ".join(f"{r:.1f} req/s" for r in runs)
            + "); its row and the ratios use both.",
        ]
    if report.get("pages_left_out"):
        lines += ["", "Left out (the page failed): " + "; ".join(report["pages_left_out"]) + "."]
    client = report.get("client_cost") or {}
    lines += [
        "",
        f"RSS per forum worker after the run: {', '.join(f'{r:.0f} MB' for r in rss)} "
        f"(of which anonymous, i.e. not mapped files: "
        f"{', '.join(f'{r:.0f} MB' for r in report.get('rss_anon_mb_per_worker') or [])}; "
        f"proportional, shared pages counted once in all: "
        f"{', '.join(f'{r:.0f} MB' for r in report.get('pss_mb_per_worker') or [])}). "
        f"{_service_line(report.get('embed_service_mb') or {})}"
        f"Load average (1, 5, 15 min) before measuring: "
        f"{', '.join(str(x) for x in report['load_average_1_5_15']['before'])}; after: "
        f"{', '.join(str(x) for x in report['load_average_1_5_15']['after'])}.",
        "",
        f"Load generator: {report['client']} client in the bench's own process, on the same "
        f"cores; it used {client.get('cpu_ms_per_request_median', '?')} ms of CPU per request "
        f"(median over the rows; {client.get('cpu_share_max', '?'):.0%} of a core at most) "
        f"— CPU the servers did not get. The server "
        f"{'closed' if report.get('server_closes_connections') else 'did not close'} "
        "every connection (gunicorn's sync workers do not keep connections alive), so each "
        "request is a new connection.",
        "",
        "Goals (issue #24) per page and role:",
        "",
    ]
    for g in report["goal_lines"]:
        ratio = "–" if g["ratio"] is None else f"{g['ratio']:.2f}×"
        lines.append(
            f"- {g['page']}, {g['role']}: ≥ {GOALS['ratio']}× baseline: {_met(g['ratio_met'])} "
            f"({ratio}); p99 ≤ {GOALS['p99_ms']:.0f} ms: {_met(g['p99_met'])} "
            f"({g['p99_ms']:.1f} ms); SQL ≤ {g['sql_budget']}: {_met(g['sql_met'])} "
            f"({g['queries']}); memory ≤ {GOALS['rss_mb']:.0f} MB: {_met(g['rss_met'])} "
            f"({g['rss_mb'] if g['rss_mb'] is not None else '–'} MB)"
            + (f"; {g['errors']} errors" if g["errors"] else "")
        )
    lines += [
        "",
        "Summary: "
        + "; ".join(f"{k}: {'met' if v else 'missed'}" for k, v in report["goals"].items()),
    ]
    return "\n".join(lines) + "\n"


def _service_line(service: dict[str, float | None]) -> str:
    if service.get("rss") is None:
        return "No embedding service: each worker that embeds loads the model. "
    return (
        f"The embedding service (one per host): RSS {service['rss']:.0f} MB, PSS "
        f"{service.get('pss') or 0:.0f} MB. "
    )


def update_readme(table: str, section: str = "results") -> None:
    """Replace a generated section (between its start and end markers) of bench/README.md."""
    readme = BENCH / "README.md"
    start_mark, end_mark = f"<!-- {section}:start -->", f"<!-- {section}:end -->"
    text = readme.read_text(encoding="utf-8") if readme.exists() else ""
    if start_mark in text and end_mark in text:
        head, rest = text.split(start_mark, 1)
        _old, tail = rest.split(end_mark, 1)
        readme.write_text(f"{head}{start_mark}\n{table}{end_mark}{tail}", encoding="utf-8")


def main(argv: list[str] | None = None) -> None:
    """Generate, serve, measure, report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--posts", type=int, default=100_000)
    parser.add_argument("--members", type=int, default=1000)
    parser.add_argument(
        "--duration", type=float, default=5.0, help="seconds per page and role (after a warm-up)"
    )
    parser.add_argument("--warmup", type=float, default=1.0, help="seconds of warm-up per page")
    parser.add_argument("--concurrency", type=int, default=32, help="connections kept busy")
    parser.add_argument(
        "--client",
        choices=sorted(CLIENTS),
        default="loop",
        help="loop: one thread with non-blocking sockets (cheap); threads: a thread per "
        "connection with http.client (to measure what threads cost)",
    )
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--pages",
        default=None,
        help="comma-separated pages to measure (default all): home, questions (every tab) or "
        "questions-<tab>, question, tags, tag, articles, article, search, profile",
    )
    parser.add_argument(
        "--roles", default=",".join(ROLES), help="visitor, member or both (default)"
    )
    parser.add_argument(
        "--database-url",
        default=None,
        help="an EMPTY database to fill (default: a new SQLite file in a temporary folder)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    parser.add_argument(
        "--data",
        type=Path,
        default=None,
        help="a folder for the database and search index, kept and reused by later runs "
        "with the same --posts, --members and database (only the schema is upgraded)",
    )
    parser.add_argument(
        "--reindex", action="store_true", help="rebuild the search index of reused data"
    )
    parser.add_argument("--no-readme", action="store_true", help="do not update bench/README.md")
    args = parser.parse_args(argv)
    roles = tuple(r for r in ROLES if r in {x.strip() for x in args.roles.split(",")})
    if not roles:
        raise SystemExit(f"--roles: choose from {', '.join(ROLES)}")

    if args.data is not None:
        args.data.mkdir(parents=True, exist_ok=True)
    work = args.data.resolve() if args.data else Path(tempfile.mkdtemp(prefix="forum-bench-"))
    database_url = args.database_url or f"sqlite:///{work / 'bench.db'}"
    wanted = {
        "posts": args.posts,
        "members": args.members,
        "database_url": database_url,
        "generator": GENERATOR_VERSION,
    }
    marker = work / DATA_MARKER
    reused = json.loads(marker.read_text()) if marker.exists() else {}
    if reused and {k: reused.get(k) for k in wanted} != wanted:
        raise SystemExit(f"{work} holds other data ({reused}); choose another --data folder")
    started_at = dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()
    sys.path.insert(0, str(BENCH))
    from generate import HASH_METHOD

    env = {
        **os.environ,
        # forum from this checkout, whatever the virtualenv has installed.
        "PYTHONPATH": os.pathsep.join(
            p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p
        ),
        "FORUM_DATABASE_URL": database_url,
        "FORUM_INSTANCE_PATH": str(work / "instance"),
        "FORUM_SECRET_KEY": "bench-secret-key-not-for-production",
        "FORUM_RATELIMIT_ENABLED": "false",
        # Visitors read the site (members-only by default would send them to the login page).
        "FORUM_PUBLIC_READ": "true",
        # The generated members' hash: a login does not re-hash the password.
        "FORUM_PASSWORD_HASH_METHOD": HASH_METHOD,
    }
    servers: list[subprocess.Popen[bytes]] = []
    forum_cli = str(Path(PYTHON).parent / "forum")
    try:
        if reused:
            print(f"Reusing the data in {work}; upgrading its schema ...", flush=True)
            subprocess.run([forum_cli, "db", "upgrade"], env=env, cwd=work, check=True)
        else:
            print(f"Generating {args.posts} posts for {args.members} members ...", flush=True)
            subprocess.run(
                [
                    PYTHON,
                    str(BENCH / "generate.py"),
                    "--database-url",
                    database_url,
                    "--posts",
                    str(args.posts),
                    "--members",
                    str(args.members),
                ],
                env=env,
                cwd=work,
                check=True,
            )
            if args.data:
                marker.write_text(json.dumps({**wanted, "indexed": False}))
        index_seconds = reused.get("index_seconds")
        if not reused.get("indexed") or args.reindex:
            print("Building the search index ...", flush=True)
            indexed = time.monotonic()
            subprocess.run(
                [forum_cli, "search", "rebuild"],
                env=env,
                cwd=work,
                check=True,
                stdout=subprocess.DEVNULL,
            )
            index_seconds = round(time.monotonic() - indexed, 1)
            if args.data:
                marker.write_text(
                    json.dumps({**wanted, "indexed": True, "index_seconds": index_seconds})
                )
        all_pages, member = pick_pages(database_url)
        question_path = all_pages["question"].path
        pages = selected(all_pages, args.pages)
        print("Checking the pages in-process and counting their SQL statements ...", flush=True)
        queries, pages, problems = inspect_pages(
            {k: v for k, v in env.items() if k.startswith("FORUM_")}, pages, member, roles
        )
        for problem in problems:
            print(f"  left out: {problem}", flush=True)

        forum_port, baseline_port = free_port(), free_port()
        forum = start(
            [PYTHON, "-m", "gunicorn", "-c", str(ROOT / "gunicorn.conf.py")],
            {
                **env,
                "FORUM_BIND": f"127.0.0.1:{forum_port}",
                "FORUM_WORKERS": str(args.workers),
                "FORUM_ACCESS_LOG": str(work / "access.log"),
                "PROMETHEUS_MULTIPROC_DIR": str(work / "metrics"),
            },
            work / "forum.log",
        )
        servers.append(forum)
        wait_until_up(forum_port, "/healthz", forum)
        status, html = get(forum_port, question_path)
        if status != 200:
            raise SystemExit(f"question page answered {status}")
        (work / "question.html").write_bytes(html)
        baseline = start(
            [
                PYTHON,
                "-m",
                "gunicorn",
                "--workers",
                str(args.workers),
                "--bind",
                f"127.0.0.1:{baseline_port}",
                "bench.baseline_app:app",
            ],
            {**os.environ, "BENCH_BASELINE_HTML": str(work / "question.html")},
            work / "baseline.log",
        )
        servers.append(baseline)
        wait_until_up(baseline_port, "/question", baseline)
        cookies: dict[str, str | None] = {"visitor": None}
        if "member" in roles:
            cookies["member"] = login_cookie(forum_port, *member)
            print(f"Signed in as {member[0]}.", flush=True)

        print(
            f"Measuring {sum(len(queries[r]) for r in roles)} page × role runs, "
            f"{args.concurrency} connections, {args.duration} s each ...",
            flush=True,
        )
        load_before = [round(x, 2) for x in os.getloadavg()]
        options = {
            "seconds": args.duration,
            "concurrency": args.concurrency,
            "client": args.client,
            "warmup": args.warmup,
        }
        # The baseline is measured before and after the pages and averaged, so a change in
        # the machine's other load during the run weighs on both sides of each ratio.
        baseline_target = Target("/question", (b"</html>",))
        base_first = measure("baseline", baseline_port, baseline_target, **options)
        rows = []
        server_closes = None
        for role in roles:
            for name, page in pages.items():
                if name not in queries[role]:
                    continue
                expect = page.expect + ((MEMBER_MARK,) if role == "member" else ())
                target = Target(page.path, expect, cookies[role])
                row = measure(name, forum_port, target, role=role, **options)
                row.queries = queries[role][name]
                row.rss_mb = worker_rss_mb(forum.pid, "Pss")
                rows.append(row)
        base_last = measure("baseline", baseline_port, baseline_target, **options)
        # One request more, to see whether the server keeps connections open.
        probe = load_loop(forum_port, Target("/healthz"), seconds=0.0, concurrency=1)
        server_closes = probe.server_closes
        stop(baseline)
        base = averaged(base_first, base_last)
        for row in rows:
            row.ratio = round(row.throughput / base.throughput, 2)
        rows.insert(0, base)
        rss = worker_rss_mb(forum.pid)
        rss_anon = worker_rss_mb(forum.pid, "RssAnon")
        pss = worker_rss_mb(forum.pid, "Pss")
        service = {
            "rss": embed_service_mb(forum.pid),
            "pss": embed_service_mb(forum.pid, "Pss"),
        }
        load_after = [round(x, 2) for x in os.getloadavg()]
    finally:
        for server in servers:
            stop(server)
        if args.data:
            print(f"Kept the data in {work}")
        elif not args.keep:
            shutil.rmtree(work, ignore_errors=True)
        else:
            print(f"Kept {work}")

    forum_rows = [r for r in rows if r.role is not None]
    cpu = [r.client_cpu_ms_per_request for r in rows if r.client_cpu_ms_per_request is not None]
    share = [r.client_cpu_share for r in rows if r.client_cpu_share is not None]
    report: dict[str, Any] = {
        "started_at": started_at,
        "machine": machine(),
        "database": database_url.split(":", 1)[0].split("+")[0],
        "data": {
            "posts": args.posts,
            "members": args.members,
            "index_seconds": index_seconds,
            "reused": bool(reused),
        },
        "workers": args.workers,
        "concurrency": args.concurrency,
        "client": args.client,
        "duration": args.duration,
        "roles": list(roles),
        "member": member[0],
        "pages": [asdict(r) for r in rows],
        "rss_mb_per_worker": rss,
        "rss_anon_mb_per_worker": rss_anon,
        "pss_mb_per_worker": pss,
        # The embedding model's process, one per host (null: each worker loads the model).
        "embed_service_mb": service,
        "pages_left_out": problems,
        "server_closes_connections": server_closes,
        "client_cost": {
            "cpu_ms_per_request_median": round(statistics.median(cpu), 3) if cpu else None,
            "cpu_share_max": max(share) if share else 0.0,
        },
        # Other work on the machine takes CPU from both servers: judge the figures with it.
        "load_average_1_5_15": {"before": load_before, "after": load_after},
    }
    report["goal_lines"] = goal_lines(report)
    lines = report["goal_lines"]
    question_lines = [g for g in lines if g["page"] == "question"]
    report["goals"] = {
        f"every page ≥ {GOALS['ratio']}× baseline ({sum(g['ratio_met'] for g in lines)} of "
        f"{len(lines)})": bool(lines) and all(g["ratio_met"] for g in lines),
        f"question page ≥ {GOALS['ratio']}× baseline for each role": bool(question_lines)
        and all(g["ratio_met"] for g in question_lines),
        f"p99 ≤ {GOALS['p99_ms']:.0f} ms on every page ({sum(g['p99_met'] for g in lines)} of "
        f"{len(lines)})": bool(lines) and all(g["p99_met"] for g in lines),
        f"SQL within budget ({sum(g['sql_met'] for g in lines)} of {len(lines)})": bool(lines)
        and all(g["sql_met"] for g in lines),
        f"≤ {GOALS['rss_mb']:.0f} MB per worker (PSS)": bool(pss) and max(pss) <= GOALS["rss_mb"],
        "no errors and no page left out": not problems and not any(r.errors for r in forum_rows),
    }
    RESULTS.mkdir(exist_ok=True)
    stamp = started_at.replace(":", "").replace("-", "")
    text = json.dumps(report, indent=2, ensure_ascii=False) + "\n"
    (RESULTS / f"{stamp}.json").write_text(text, encoding="utf-8")
    (RESULTS / "latest.json").write_text(text, encoding="utf-8")
    table = markdown_table(report)
    (RESULTS / "latest.md").write_text(table, encoding="utf-8")
    if not args.no_readme:
        update_readme(table)
    print()
    print(table)


if __name__ == "__main__":
    main()
