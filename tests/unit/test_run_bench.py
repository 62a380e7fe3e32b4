"""bench/run_bench.py's own parts: the generated pages, the member's login, the load client."""

from __future__ import annotations

import importlib.util
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"


def _load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"bench_{name}", BENCH / f"{name}.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


run_bench = _load("run_bench")


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:  # noqa: N802 - the name http.server calls
        status, body = {
            "/ok": (200, b"<html>the marker</html>"),
            "/other": (200, b"<html>something else</html>"),
            "/login-first": (302, b""),
        }.get(self.path, (404, b"not here"))
        if self.path == "/ok" and "session=s1" not in (self.headers.get("Cookie") or ""):
            status, body = 403, b"no cookie"
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_args: Any) -> None:
        pass


@pytest.fixture
def http_port() -> Iterator[int]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize("client", ["loop", "threads"])
def test_load_counts_only_200s_with_the_expected_content(http_port: int, client: str) -> None:
    run = run_bench.CLIENTS[client]
    good = run(
        http_port,
        run_bench.Target("/ok", (b"marker",), "session=s1"),
        seconds=0.3,
        concurrency=4,
    )
    assert good.latencies and not good.errors
    assert good.server_closes is True
    assert good.cpu_seconds > 0

    no_cookie = run(http_port, run_bench.Target("/ok", (b"marker",)), seconds=0.2, concurrency=2)
    assert not no_cookie.latencies and set(no_cookie.errors) == {"403"}
    other = run(
        http_port,
        run_bench.Target("/other", (b"marker",), "session=s1"),
        seconds=0.2,
        concurrency=2,
    )
    assert not other.latencies and set(other.errors) == {"200 without the expected content"}
    redirect = run(http_port, run_bench.Target("/login-first"), seconds=0.2, concurrency=2)
    assert not redirect.latencies and set(redirect.errors) == {"302"}


def test_pages_option_takes_names_and_prefixes() -> None:
    pages = {
        name: run_bench.Page("/" + name)
        for name in ("home", "questions-newest", "questions-top-week", "question", "tag", "tags")
    }
    assert list(run_bench.selected(pages, None)) == list(pages)
    assert list(run_bench.selected(pages, "questions")) == [
        "questions-newest",
        "questions-top-week",
    ]
    assert list(run_bench.selected(pages, "question, tag")) == ["question", "tag"]
    with pytest.raises(SystemExit):
        run_bench.selected(pages, "nope")


def test_goal_lines_per_page_and_role() -> None:
    row = {
        "name": "home",
        "path": "/",
        "role": "visitor",
        "ratio": 0.7,
        "p99_ms": 60.0,
        "queries": 6,
        "rss_mb": [120.0, 130.0],
        "errors": 0,
    }
    base = {**row, "name": "baseline", "role": None, "ratio": None}
    lines = run_bench.goal_lines({"pages": [base, row, {**row, "role": "member"}]})
    assert [(g["page"], g["role"]) for g in lines] == [("home", "visitor"), ("home", "member")]
    visitor, member = lines
    assert visitor["ratio_met"] and not visitor["p99_met"] and visitor["rss_met"]
    assert visitor["sql_budget"] == 5 and not visitor["sql_met"]  # a visitor's front page: 5
    assert member["sql_budget"] == 7 and member["sql_met"]  # a member's: 7 (parts kept)


@pytest.mark.slow
def test_generated_data_has_every_page_for_a_visitor_and_a_member(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A small run without gunicorn: generate, pick the pages, check them in-process for both
    roles, then sign the member in over HTTP and load a page with the session cookie."""
    from sqlalchemy import create_engine, func, select
    from werkzeug.serving import make_server

    from forum import create_app, migrate
    from forum.db import get_engine
    from forum.models import Comment, Post

    generate = _load("generate")
    url = f"sqlite:///{tmp_path / 'bench.db'}"
    env = {
        "FORUM_DATABASE_URL": url,
        "FORUM_INSTANCE_PATH": str(tmp_path / "instance"),
        "FORUM_SECRET_KEY": "test-secret",
        "FORUM_RATELIMIT_ENABLED": "false",
        "FORUM_PUBLIC_READ": "true",
        "FORUM_PASSWORD_HASH_METHOD": generate.HASH_METHOD,
        "FORUM_SEARCH_RANKING": "lexical",
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    app = create_app()
    migrate.upgrade(app)
    generate.generate(get_engine(app), members=30, posts=300, progress=lambda _line: None)
    with app.app_context():
        result = app.test_cli_runner().invoke(args=["search", "rebuild"])
        assert result.exit_code == 0, result.output

    engine = create_engine(url)
    with engine.connect() as conn:
        big = conn.execute(
            select(Post.id).where(Post.answer_count == generate.BIG_THREAD_ANSWERS)
        ).scalar_one()
        thread = select(Post.id).where((Post.id == big) | (Post.parent_id == big))
        comments = conn.scalar(
            select(func.count()).select_from(Comment).where(Comment.post_id.in_(thread))
        )
        tutorials = conn.scalar(
            select(func.count()).where(Post.kind == "article", Post.article_type == "tutorial")
        )
    engine.dispose()
    assert comments == generate.BIG_THREAD_COMMENTS
    assert tutorials

    pages, member = run_bench.pick_pages(url)
    assert pages["question"].path == f"/questions/{big}"
    assert {
        "home",
        "questions-newest",
        "questions-my-tags",
        "question",
        "tags",
        "tag",
        "articles",
        "article",
        "search",
        "profile",
    } <= set(pages)
    queries, checked, problems = run_bench.inspect_pages(env, pages, member, run_bench.ROLES)
    assert problems == []
    for role in run_bench.ROLES:
        assert set(queries[role]) == set(pages)
    assert all(page.expect[-1].startswith(b"<title>") for page in checked.values())

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread_ = threading.Thread(target=server.serve_forever, daemon=True)
    thread_.start()
    try:
        cookie = run_bench.login_cookie(server.port, *member)
        page = checked["questions-my-tags"]
        seen = run_bench.load_loop(
            server.port,
            run_bench.Target(page.path, (*page.expect, run_bench.MEMBER_MARK), cookie),
            seconds=0.3,
            concurrency=2,
        )
        assert seen.latencies and not seen.errors
        as_visitor = run_bench.load_loop(
            server.port,
            run_bench.Target(page.path, (run_bench.MEMBER_MARK,)),
            seconds=0.2,
            concurrency=1,
        )
        assert not as_visitor.latencies
    finally:
        server.shutdown()
        get_engine(app).dispose()
