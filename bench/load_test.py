"""Load test: simulated members browse, search, ask, answer and vote, then the data is checked.

Fills an EMPTY database with fixed-seed data, starts gunicorn (4 workers by default, with
``--threads N`` threaded ones) or, with ``--server threaded``, the threaded server of
``forum run`` on 127.0.0.1, runs the members for a bounded time, stops the server, and
checks: no server errors, every created post present, every score equal to the sum of its
votes, every answer count equal to its answers, and the search index consistent after
``forum search sync``.
Exits non-zero when a check fails.

By default each member clicks again the moment a page arrives (``--think-seconds 0``): the
server is saturated and what members wait is mostly the queue (by Little's law, members
divided by throughput). ``--think-seconds S`` makes members pause between actions as people
do, for a random time (exponential with mean S, at most 4 S), so the latency measured is
what a member waits for a page at that pace.

    python bench/load_test.py --database-url postgresql+psycopg://postgres@127.0.0.1/forum_load
    python bench/load_test.py --database-url sqlite:////tmp/forum-load.db --server threaded
"""

from __future__ import annotations

import argparse
import datetime as dt
import http.client
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
RESULTS = BENCH / "results"
PYTHON = sys.executable
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(BENCH))

from generate import HASH_METHOD, PASSWORD, TOPICS, WORDS  # noqa: E402
from run_bench import (  # noqa: E402
    free_port,
    machine,
    start,
    stop,
    update_readme,
    wait_until_up,
)

CSRF = re.compile(r'<meta name="csrf-token" content="([^"]+)"')
QUESTION_LINK = re.compile(r'href="/questions/(\d+)')
#: What a member does next, with weights: mostly reading, some writing.
ACTIONS = {"list": 30, "question": 30, "search": 10, "tag": 8, "ask": 5, "answer": 7, "vote": 10}


@dataclass
class Stats:
    """What the simulated members saw, shared by their threads."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    statuses: Counter[str] = field(default_factory=Counter)
    server_errors: list[str] = field(default_factory=list)
    created_questions: list[int] = field(default_factory=list)
    created_answers: list[int] = field(default_factory=list)
    votes: int = 0
    #: Until when (time.monotonic()) requests are a warm-up: served and checked, not timed.
    warm_from: float = 0.0
    #: The latencies of requests sent after the warm-up.
    warm: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))

    def record(self, action: str, status: int, seconds: float, detail: str = "") -> None:
        """Count one request."""
        with self.lock:
            self.latencies[action].append(seconds)
            if time.monotonic() - seconds >= self.warm_from:
                self.warm[action].append(seconds)
            self.statuses[f"{action} {status}"] += 1
            if status >= 500 or status == 0:
                self.server_errors.append(f"{action} {status} {detail}"[:300])


class Member:
    """One simulated member with their own session cookie."""

    def __init__(self, port: int, username: str, stats: Stats, rng: random.Random) -> None:
        self.port = port
        self.username = username
        self.stats = stats
        self.rng = rng
        self.cookies: dict[str, str] = {}
        self.token = ""
        self.seen: list[int] = []

    def request(
        self, action: str, method: str, path: str, form: dict[str, str] | None = None
    ) -> tuple[int, dict[str, str], str]:
        """One request with this member's cookies; status 0 for a failed connection."""
        headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())}
        body = None
        if form is not None:
            body = urlencode({"csrf_token": self.token, **form})
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        started = time.perf_counter()
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            conn.request(method, path, body=body, headers=headers)
            response = conn.getresponse()
            text = response.read().decode("utf-8", "replace")
            status = response.status
            for header, value in response.getheaders():
                if header.lower() == "set-cookie":
                    name, _, rest = value.partition("=")
                    self.cookies[name] = rest.split(";", 1)[0]
            result_headers = {k.lower(): v for k, v in response.getheaders()}
        except OSError as exc:
            self.stats.record(action, 0, time.perf_counter() - started, repr(exc))
            return 0, {}, ""
        finally:
            conn.close()
        self.stats.record(action, status, time.perf_counter() - started, path)
        match = CSRF.search(text)
        if match:
            self.token = match.group(1)
        self.seen.extend(int(m) for m in QUESTION_LINK.findall(text)[:20])
        self.seen = self.seen[-200:]
        return status, result_headers, text

    def login(self) -> bool:
        """Log in through the form."""
        self.request("login", "GET", "/login")
        status, _headers, _ = self.request(
            "login", "POST", "/login", {"username": self.username, "password": PASSWORD}
        )
        return status in (302, 303)

    def question_id(self) -> int | None:
        return self.rng.choice(self.seen) if self.seen else None

    def step(self) -> None:
        """One action, chosen by weight."""
        action = self.rng.choices(list(ACTIONS), weights=list(ACTIONS.values()))[0]
        rng = self.rng
        if action == "list":
            page = rng.choice([1, 1, 1, 2, 3])
            self.request(action, "GET", f"/questions?page={page}")
        elif action == "question" and (qid := self.question_id()):
            self.request(action, "GET", f"/questions/{qid}")
        elif action == "search":
            query = urlencode({"q": " ".join(rng.sample(WORDS, 2))})
            self.request(action, "GET", f"/search?{query}")
        elif action == "tag":
            self.request(action, "GET", f"/tags/{rng.choice(TOPICS)}")
        elif action == "ask":
            words = rng.sample(WORDS, 3)
            form = {
                "title": f"How should we {words[0]} the {words[1]} during a {words[2]}?",
                "body": f"We keep running into trouble with the {words[1]}. "
                f"What is the usual way to {words[0]} it? ({rng.random():.6f})",
                "tags": " ".join(rng.sample(TOPICS[:10], 2)),
            }
            status, headers, _ = self.request(action, "POST", "/questions/ask", form)
            match = re.search(r"/questions/(\d+)", headers.get("location", ""))
            if status in (302, 303) and match:
                with self.stats.lock:
                    self.stats.created_questions.append(int(match.group(1)))
                self.seen.append(int(match.group(1)))
        elif action == "answer" and (qid := self.question_id()):
            self.request("question", "GET", f"/questions/{qid}")
            first, then = rng.sample(WORDS, 2)
            body = f"Try the {first} first, then the {then}. It worked for us."
            status, headers, _ = self.request(
                action, "POST", f"/questions/{qid}/answer", {"body": body}
            )
            match = re.search(r"#post-(\d+)", headers.get("location", ""))
            if status in (302, 303) and match:
                with self.stats.lock:
                    self.stats.created_answers.append(int(match.group(1)))
        elif action == "vote" and (qid := self.question_id()):
            value = "1" if rng.random() < 0.8 else "-1"
            status, _headers, _ = self.request(
                action, "POST", f"/posts/{qid}/vote", {"value": value, "next": f"/questions/{qid}"}
            )
            if status in (302, 303):
                with self.stats.lock:
                    self.stats.votes += 1


def pause(rng: random.Random, mean: float) -> float:
    """A member's pause before the next action: exponential with ``mean``, at most 4 × mean."""
    if mean <= 0:
        return 0.0
    return min(rng.expovariate(1.0 / mean), 4.0 * mean)


def run_members(
    port: int,
    count: int,
    seconds: float,
    seed: int,
    think_seconds: float = 0.0,
    warmup: float = 0.0,
) -> Stats:
    """Run ``count`` members until the deadline (bounded), pausing ``think_seconds`` on average."""
    stats = Stats(warm_from=time.monotonic() + warmup)
    deadline = time.monotonic() + seconds
    failures: list[str] = []

    def life(index: int) -> None:
        member = Member(port, f"member{index}", stats, random.Random(seed + index))
        # Members pausing between actions arrive the same way: not all at the same instant.
        first = pause(member.rng, think_seconds)
        if first:
            time.sleep(min(first, max(0.0, deadline - time.monotonic())))
            if time.monotonic() >= deadline:
                return  # arrived too late to act
        if not member.login():
            failures.append(member.username)
            return
        member.request("list", "GET", "/questions")
        while time.monotonic() < deadline:
            member.step()
            wait = pause(member.rng, think_seconds)
            if wait:
                time.sleep(min(wait, max(0.0, deadline - time.monotonic())))

    threads = [threading.Thread(target=life, args=(i,)) for i in range(1, count + 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=seconds + 120)
    if failures:
        stats.server_errors.append(f"login failed for {len(failures)} members: {failures[:5]}")
    return stats


def check_database(database_url: str, stats: Stats) -> dict[str, Any]:
    """What the database says after the run."""
    from sqlalchemy import create_engine, func, select

    from forum.models import Post, Vote

    engine = create_engine(database_url)
    created = stats.created_questions + stats.created_answers
    with engine.connect() as conn:
        present = (
            set(
                conn.scalars(
                    select(Post.id).where(Post.id.in_(created), Post.deleted_at.is_(None))
                ).all()
            )
            if created
            else set()
        )
        votes = (
            select(func.coalesce(func.sum(Vote.value), 0))
            .where(Vote.post_id == Post.id)
            .scalar_subquery()
        )
        bad_scores = conn.scalar(select(func.count()).select_from(Post).where(Post.score != votes))
        answers = Post.__table__.alias("answers")
        live_answers = (
            select(func.count())
            .select_from(answers)
            .where(
                answers.c.parent_id == Post.id,
                answers.c.kind == "answer",
                answers.c.deleted_at.is_(None),
            )
            .scalar_subquery()
        )
        bad_counts = conn.scalar(
            select(func.count())
            .select_from(Post)
            .where(Post.kind == "question", Post.answer_count != live_answers)
        )
        total_votes = conn.scalar(select(func.count()).select_from(Vote))
    engine.dispose()
    return {
        "created_posts": len(created),
        "created_posts_missing": len(set(created) - present),
        "posts_with_score_not_equal_to_votes": bad_scores,
        "questions_with_wrong_answer_count": bad_counts,
        "votes_in_database": total_votes,
    }


def forum_command(env: dict[str, str], *args: str) -> tuple[int, str]:
    """Run a ``forum`` command; its exit code and output."""
    result = subprocess.run(
        [str(Path(PYTHON).parent / "forum"), *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    return result.returncode, (result.stdout + result.stderr).strip()


def percentile_ms(ordered: list[float], fraction: float) -> float | None:
    """The ``fraction`` percentile of sorted seconds, in milliseconds (None when empty)."""
    if not ordered:
        return None
    return round(ordered[min(len(ordered) - 1, int(len(ordered) * fraction))] * 1000, 1)


def summary_markdown(report: dict[str, Any]) -> str:
    """The run in a few lines for bench/README.md."""
    m = report["machine"]
    lines = [
        f"Run {report['started_at']} on {m['cpus']} cores, {report['database']}, search "
        f"{report['search_backend']}, {report['server']}, "
        f"{report['members']} members for {report['seconds']} s, "
        + (
            f"pausing {report['think_seconds']} s on average between actions"
            if report.get("think_seconds")
            else "each clicking again as soon as a page arrives"
        )
        + " (load average "
        f"{', '.join(str(x) for x in report['load_average_1_5_15'])} at the end).",
        "",
        "| figure | value |",
        "|---|---:|",
        f"| requests | {report['requests']} ({report['throughput']} req/s) |",
        f"| p50 / p99 seen by members | {report['p50_ms']} / {report['p99_ms']} ms |",
        f"| p50 / p99 seen by members once signed in (sign-in left out) | "
        f"{report.get('signed_in_p50_ms')} / {report.get('signed_in_p99_ms')} ms |",
        *(
            [
                f"| the same after the first {report['warmup_seconds']:g} s "
                f"({report['warm_requests']} requests) | {report['warm_p50_ms']} / "
                f"{report['warm_p99_ms']} ms |"
            ]
            if report.get("warmup_seconds")
            else []
        ),
        f"| p50 / p99 inside the workers | {report['server_p50_ms']} / "
        f"{report['server_p99_ms']} ms |",
        f"| questions asked, answers posted, votes cast | {report['questions_asked']}, "
        f"{report['answers_posted']}, {report['votes_cast']} |",
        f"| server errors (5xx or no answer) | {report['server_errors']} |",
        f"| created posts missing afterwards | {report['created_posts_missing']} |",
        f"| posts whose score ≠ sum of votes | {report['posts_with_score_not_equal_to_votes']} |",
        f"| questions whose answer count is wrong | "
        f"{report['questions_with_wrong_answer_count']} |",
        f"| `forum search sync`, then `verify` | exit {report['search_sync']['exit']}, "
        f"exit {report['search_verify']['exit']} |",
        "",
        f"Result: {'passed' if report['passed'] else 'FAILED'}.",
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Fill, serve, load, check, report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", required=True, help="an EMPTY database to fill")
    parser.add_argument("--members", type=int, default=50, help="simulated members")
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument(
        "--server",
        default="gunicorn",
        choices=["gunicorn", "threaded"],
        help="gunicorn, or the threaded server of `forum run` (a thread per connection)",
    )
    parser.add_argument("--threads", type=int, default=1, help="threads per gunicorn worker")
    parser.add_argument("--posts", type=int, default=3000, help="posts generated beforehand")
    parser.add_argument("--search-backend", default="whoosh", choices=["whoosh", "postgres"])
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--warmup",
        type=float,
        default=0.0,
        help="seconds at the start whose requests are also reported apart (workers warming "
        "up, members arriving and signing in)",
    )
    parser.add_argument(
        "--think-seconds",
        type=float,
        default=0.0,
        help="mean pause between a member's actions (0: none, the server is saturated)",
    )
    args = parser.parse_args(argv)

    work = Path(tempfile.mkdtemp(prefix="forum-load-"))
    started_at = dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()
    env = {
        **os.environ,
        "FORUM_DATABASE_URL": args.database_url,
        "FORUM_INSTANCE_PATH": str(work / "instance"),
        "FORUM_SECRET_KEY": "load-test-secret-key-not-for-production",
        "FORUM_SEARCH_BACKEND": args.search_backend,
        # The members act faster than people do; limits would turn the test into 429s.
        "FORUM_RATELIMIT_ENABLED": "false",
        # The generated members' hash method: otherwise each first login re-hashes the
        # password with production scrypt (128 MiB, about a second here) and the test
        # measures password hashing instead of forum.
        "FORUM_PASSWORD_HASH_METHOD": HASH_METHOD,
    }
    server = None
    try:
        print(f"Generating {args.posts} posts ...", flush=True)
        subprocess.run(
            [
                PYTHON,
                str(BENCH / "generate.py"),
                "--database-url",
                args.database_url,
                "--posts",
                str(args.posts),
                "--members",
                str(max(args.members, 200)),
            ],
            env=env,
            cwd=work,
            check=True,
        )
        code, output = forum_command(env, "search", "rebuild")
        if code:
            raise SystemExit(f"forum search rebuild failed: {output[-2000:]}")
        port = free_port()
        if args.server == "threaded":
            forum = str(Path(PYTHON).parent / "forum")
            command = [forum, "run", "--host", "127.0.0.1", "--port", str(port)]
            server = start(command, env, work / "server.log")
        else:
            server = start(
                [PYTHON, "-m", "gunicorn", "-c", str(ROOT / "gunicorn.conf.py")],
                {
                    **env,
                    "FORUM_BIND": f"127.0.0.1:{port}",
                    "FORUM_WORKERS": str(args.workers),
                    "FORUM_THREADS": str(args.threads),
                    "FORUM_ACCESS_LOG": str(work / "access.log"),
                    "PROMETHEUS_MULTIPROC_DIR": str(work / "metrics"),
                },
                work / "server.log",
            )
        wait_until_up(port, "/healthz", server)
        print(f"{args.members} members for {args.seconds:.0f} s ...", flush=True)
        started = time.monotonic()
        stats = run_members(
            port, args.members, args.seconds, args.seed, args.think_seconds, args.warmup
        )
        elapsed = time.monotonic() - started
    finally:
        if server is not None:
            if args.server == "threaded" and server.poll() is None:
                # The development server stops gracefully on Ctrl-C, not on SIGTERM.
                server.send_signal(signal.SIGINT)
                try:
                    server.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    pass
            stop(server)
    server_log = (work / "server.log").read_text(errors="replace") if server else ""
    tracebacks = server_log.count("Traceback (most recent call last)")
    # The first traceback's last lines: what went wrong, kept after the folder is removed.
    first_traceback = ""
    if tracebacks:
        at = server_log.index("Traceback (most recent call last)")
        first_traceback = "\n".join(server_log[at:].splitlines()[:60][-25:])
    # Time spent inside gunicorn's workers (from the access log), apart from queueing.
    access_log = work / "access.log"
    access = access_log.read_text(errors="replace") if server and access_log.exists() else ""
    served = sorted(int(ms) for ms in re.findall(r"duration_ms=(\d+)", access))

    checks = check_database(args.database_url, stats)
    sync_code, sync_output = forum_command(env, "search", "sync")
    verify_code, verify_output = forum_command(env, "search", "verify")
    shutil.rmtree(work, ignore_errors=True)

    requests = sum(stats.statuses.values())
    all_latencies = sorted(t for values in stats.latencies.values() for t in values)
    # What members wait for once signed in: each signs in once (a password hash), then
    # browses, asks, answers and votes.
    signed_in = sorted(
        t for action, values in stats.latencies.items() if action != "login" for t in values
    )
    # The same once the first seconds are over: workers warm, the arrivals' sign-ins done.
    warm = sorted(t for action, values in stats.warm.items() if action != "login" for t in values)
    per_action = {
        action: {
            "requests": len(values),
            "p50_ms": percentile_ms(sorted(values), 0.5),
            "p99_ms": percentile_ms(sorted(values), 0.99),
        }
        for action, values in sorted(stats.latencies.items())
        if values
    }
    report = {
        "started_at": started_at,
        "machine": machine(),
        "database": args.database_url.split(":", 1)[0].split("+")[0],
        "search_backend": args.search_backend,
        "workers": args.workers,
        "server": (
            "the threaded server of `forum run`"
            if args.server == "threaded"
            else f"gunicorn {args.workers} workers"
            + (f" × {args.threads} threads" if args.threads > 1 else "")
        ),
        "members": args.members,
        "think_seconds": args.think_seconds,
        "seconds": round(elapsed, 1),
        "requests": requests,
        "throughput": round(requests / elapsed, 1),
        "p50_ms": percentile_ms(all_latencies, 0.5),
        "p99_ms": percentile_ms(all_latencies, 0.99),
        "signed_in_p50_ms": percentile_ms(signed_in, 0.5),
        "signed_in_p99_ms": percentile_ms(signed_in, 0.99),
        "warmup_seconds": args.warmup,
        "warm_requests": len(warm),
        "warm_p50_ms": percentile_ms(warm, 0.5),
        "warm_p99_ms": percentile_ms(warm, 0.99),
        "server_p50_ms": served[len(served) // 2] if served else None,
        "server_p99_ms": served[int(len(served) * 0.99)] if served else None,
        "load_average_1_5_15": [round(x, 2) for x in os.getloadavg()],
        "per_action": per_action,
        "statuses": dict(sorted(stats.statuses.items())),
        "server_errors": len(stats.server_errors),
        "server_error_samples": stats.server_errors[:10],
        "server_tracebacks": tracebacks,
        "first_traceback": first_traceback,
        "questions_asked": len(stats.created_questions),
        "answers_posted": len(stats.created_answers),
        "votes_cast": stats.votes,
        **checks,
        "search_sync": {"exit": sync_code, "output": sync_output[-500:]},
        "search_verify": {"exit": verify_code, "output": verify_output[-500:]},
    }
    passed = (
        report["server_errors"] == 0
        and tracebacks == 0
        and checks["created_posts_missing"] == 0
        and checks["posts_with_score_not_equal_to_votes"] == 0
        and checks["questions_with_wrong_answer_count"] == 0
        and sync_code == 0
        and verify_code == 0
    )
    report["passed"] = passed
    section = "load-threaded" if args.server == "threaded" else "load"
    if args.think_seconds > 0:
        section += "-think"
    if report["database"] == "postgresql":
        section += "-postgresql"
    update_readme(summary_markdown(report), section)
    RESULTS.mkdir(exist_ok=True)
    text = json.dumps(report, indent=2, ensure_ascii=False) + "\n"
    (RESULTS / f"{section}-latest.json").write_text(text, encoding="utf-8")
    stamp = started_at.replace(":", "").replace("-", "")
    (RESULTS / f"{section}-{stamp}.json").write_text(text, encoding="utf-8")
    print(text)
    print("PASSED" if passed else "FAILED")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
