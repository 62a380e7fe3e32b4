"""Benchmark forum's pages against a bare Flask + Jinja baseline, measured in the same run.

Generates fixed-seed data, starts the baseline and forum under gunicorn (2 workers each, on
127.0.0.1 only), and measures throughput, p50 and p99 for each page, SQL queries per page and
RSS per forum worker. Results go to bench/results/<time>.json, bench/results/latest.{json,md}
and the table in bench/README.md.

    python bench/run_bench.py --posts 100000          # the full size
    python bench/run_bench.py --posts 10000 --duration 5
    python bench/run_bench.py --data /tmp/forum-bench  # keep the data and index for next time
"""

from __future__ import annotations

import argparse
import datetime as dt
import http.client
import json
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
RESULTS = BENCH / "results"
PYTHON = sys.executable
sys.path.insert(0, str(ROOT))

#: Goals on the reference machine (2 cores), from the production issue.
GOALS = {"ratio": 0.6, "p99_ms": 50.0, "queries": 8, "rss_mb": 150.0}
TRANSACTION_CONTROL = ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE")
#: Written next to reused data: what was generated, and whether the search index is built.
DATA_MARKER = "bench-data.json"


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
    #: RSS of each forum worker right after this page's run, in MB.
    rss_mb: list[float] | None = None
    #: Throughput of each run when the row joins several (the baseline: before and after).
    runs: list[float] | None = None


def free_port() -> int:
    """A free TCP port on the loopback interface."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def get(port: int, path: str, timeout: float = 10.0) -> tuple[int, bytes]:
    """One GET on 127.0.0.1:port."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path, headers={"Accept": "text/html"})
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


def load(
    port: int, path: str, *, seconds: float, concurrency: int
) -> tuple[list[float], dict[str, int]]:
    """GET ``path`` from ``concurrency`` threads for ``seconds``; latencies (s), errors by kind."""
    latencies: list[float] = []
    errors: dict[str, int] = {}
    lock = threading.Lock()
    deadline = time.monotonic() + seconds

    def worker() -> None:
        mine: list[float] = []
        failed: dict[str, int] = {}
        while time.monotonic() < deadline:
            started = time.perf_counter()
            try:
                status, _body = get(port, path)
            except OSError as exc:
                failed[type(exc).__name__] = failed.get(type(exc).__name__, 0) + 1
                continue
            if status != 200:
                failed[str(status)] = failed.get(str(status), 0) + 1
                continue
            mine.append(time.perf_counter() - started)
        with lock:
            latencies.extend(mine)
            for kind, n in failed.items():
                errors[kind] = errors.get(kind, 0) + n

    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return latencies, errors


def measure(name: str, port: int, path: str, *, seconds: float, concurrency: int) -> Measurement:
    """Warm up, then measure one page."""
    load(port, path, seconds=min(1.0, seconds), concurrency=concurrency)
    started = time.monotonic()
    latencies, errors = load(port, path, seconds=seconds, concurrency=concurrency)
    elapsed = time.monotonic() - started
    latencies.sort()
    if not latencies:
        raise SystemExit(f"{name}: no successful request (errors: {errors})")
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
    result = Measurement(
        name=name,
        path=path,
        requests=len(latencies),
        errors=sum(errors.values()),
        error_kinds=errors,
        seconds=round(elapsed, 2),
        throughput=round(len(latencies) / elapsed, 1),
        p50_ms=round(statistics.median(latencies) * 1000, 2),
        p99_ms=round(p99 * 1000, 2),
    )
    print(
        f"  {name:<14} {result.throughput:8.1f} req/s  p50 {result.p50_ms:6.2f} ms  "
        f"p99 {result.p99_ms:6.2f} ms  errors {errors or 0}",
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
    )


def worker_rss_mb(master_pid: int, field: str = "VmRSS") -> list[float]:
    """Resident memory of each worker of a gunicorn master, in MB.

    ``field="RssAnon"`` gives the workers' own memory, without the file pages they map
    (shared libraries and any memory-mapped file: the page cache, shared by all).
    """
    rss = []
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            text = status.read_text()
        except OSError:
            continue
        ppid = re.search(r"^PPid:\s+(\d+)", text, re.M)
        kb = re.search(rf"^{field}:\s+(\d+) kB", text, re.M)
        if ppid and kb and int(ppid.group(1)) == master_pid:
            rss.append(round(int(kb.group(1)) / 1024, 1))
    return sorted(rss)


def queries_per_page(env: dict[str, str], paths: dict[str, str]) -> dict[str, int]:
    """SQL statements each page runs for a visitor (second request, so caches are warm)."""
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
    client = app.test_client()
    result = {}
    for name, path in paths.items():
        client.get(path)
        counter["n"] = 0
        try:
            response = client.get(path)
        except Exception as exc:  # noqa: BLE001 - reported, and the page is left out
            print(f"  {name}: {path} failed ({type(exc).__name__}: {exc}); left out", flush=True)
            continue
        if response.status_code != 200:
            print(f"  {name}: {path} answered {response.status_code}; left out", flush=True)
            continue
        result[name] = counter["n"]
    engine.dispose()
    return result


def pick_pages(database_url: str) -> dict[str, str]:
    """Representative pages: a question with answers and comments, a busy tag, an author."""
    from sqlalchemy import create_engine, func, select

    from forum.models import Post, Tag, User, post_tags

    engine = create_engine(database_url)
    with engine.connect() as conn:
        question = conn.scalar(
            select(Post.id)
            .where(Post.kind == "question", Post.answer_count >= 2, Post.comment_count >= 1)
            .order_by(Post.id.desc())
            .limit(1)
        ) or conn.scalar(select(Post.id).where(Post.kind == "question").limit(1))
        tag = conn.scalar(
            select(Tag.name)
            .join(post_tags, post_tags.c.tag_id == Tag.id)
            .group_by(Tag.name)
            .order_by(func.count().desc())
            .limit(1)
        )
        author = conn.scalar(
            select(User.username)
            .join(Post, Post.author_id == User.id)
            .group_by(User.username)
            .order_by(func.count().desc())
            .limit(1)
        )
    engine.dispose()
    return {
        "question page": f"/questions/{question}",
        "question list": "/questions",
        "tag page": f"/tags/{tag}",
        "profile": f"/users/{author}",
        "search page": "/search?q=deploy+cache",
    }


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


def markdown_table(report: dict[str, Any]) -> str:
    """The results as a Markdown table with the goals checked."""
    m = report["machine"]
    lines = [
        f"Run {report['started_at']} on {m['cpus']} cores ({m['cpu_model'] or 'unknown CPU'}), "
        f"{m['memory_gb']} GB, Python {m['python']}; {report['database']} with "
        f"{report['data']['posts']} posts, {report['data']['members']} members; gunicorn "
        f"{report['workers']} sync workers; {report['concurrency']} client threads for "
        f"{report['duration']} s per page.",
        "",
        "| page | req/s | × baseline | p50 ms | p99 ms | SQL queries | RSS MB after | errors |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in report["pages"]:
        ratio = "1.00" if row["ratio"] is None else f"{row['ratio']:.2f}"
        queries = "–" if row["queries"] is None else str(row["queries"])
        kinds = ", ".join(f"{n}× {k}" for k, n in row["error_kinds"].items())
        rss_after = "–" if not row.get("rss_mb") else f"{max(row['rss_mb']):.0f}"
        lines.append(
            f"| {row['name']} | {row['throughput']:.1f} | {ratio} | {row['p50_ms']:.1f} | "
            f"{row['p99_ms']:.1f} | {queries} | {rss_after} | "
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
        lines += ["", "Left out (the page failed): " + ", ".join(report["pages_left_out"]) + "."]
    lines += [
        "",
        f"RSS per forum worker after the run: {', '.join(f'{r:.0f} MB' for r in rss)} "
        f"(of which anonymous, i.e. not mapped files: "
        f"{', '.join(f'{r:.0f} MB' for r in report.get('rss_anon_mb_per_worker') or [])}). "
        f"Load average (1, 5, 15 min) before measuring: "
        f"{', '.join(str(x) for x in report['load_average_1_5_15']['before'])}.",
        "",
        "Goals: "
        + "; ".join(f"{k}: {'met' if v else 'NOT met'}" for k, v in report["goals"].items()),
    ]
    return "\n".join(lines) + "\n"


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
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per page")
    parser.add_argument("--concurrency", type=int, default=4, help="client threads")
    parser.add_argument("--workers", type=int, default=2)
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

    if args.data is not None:
        args.data.mkdir(parents=True, exist_ok=True)
    work = args.data.resolve() if args.data else Path(tempfile.mkdtemp(prefix="forum-bench-"))
    database_url = args.database_url or f"sqlite:///{work / 'bench.db'}"
    wanted = {"posts": args.posts, "members": args.members, "database_url": database_url}
    marker = work / DATA_MARKER
    reused = json.loads(marker.read_text()) if marker.exists() else {}
    if reused and {k: reused.get(k) for k in wanted} != wanted:
        raise SystemExit(f"{work} holds other data ({reused}); choose another --data folder")
    started_at = dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()
    env = {
        **os.environ,
        "FORUM_DATABASE_URL": database_url,
        "FORUM_INSTANCE_PATH": str(work / "instance"),
        "FORUM_SECRET_KEY": "bench-secret-key-not-for-production",
        "FORUM_RATELIMIT_ENABLED": "false",
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
        pages = pick_pages(database_url)
        queries = queries_per_page({k: v for k, v in env.items() if k.startswith("FORUM_")}, pages)
        skipped = sorted(set(pages) - set(queries))
        pages = {name: path for name, path in pages.items() if name in queries}

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
        status, html = get(forum_port, pages["question page"])
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

        print("Measuring ...", flush=True)
        load_before = [round(x, 2) for x in os.getloadavg()]
        options = {"seconds": args.duration, "concurrency": args.concurrency}
        # The baseline is measured before and after the pages and averaged, so a change in
        # the machine's other load during the run weighs on both sides of each ratio.
        base_first = measure("baseline", baseline_port, "/question", **options)
        rows = []
        for name, path in pages.items():
            row = measure(name, forum_port, path, **options)
            row.queries = queries[name]
            row.rss_mb = worker_rss_mb(forum.pid)
            print(f"  {'':<14} RSS per worker after it: {row.rss_mb} MB", flush=True)
            rows.append(row)
        base_last = measure("baseline", baseline_port, "/question", **options)
        stop(baseline)
        base = averaged(base_first, base_last)
        for row in rows:
            row.ratio = round(row.throughput / base.throughput, 2)
        rows.insert(0, base)
        rss = worker_rss_mb(forum.pid)
        rss_anon = worker_rss_mb(forum.pid, "RssAnon")
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

    question = next(r for r in rows if r.name == "question page")
    forum_rows = [r for r in rows if r.name != "baseline"]
    report = {
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
        "duration": args.duration,
        "pages": [asdict(r) for r in rows],
        "rss_mb_per_worker": rss,
        "rss_anon_mb_per_worker": rss_anon,
        "pages_left_out": skipped,
        # Other work on the machine takes CPU from both servers: judge the figures with it.
        "load_average_1_5_15": {"before": load_before, "after": load_after},
        "goals": {
            f"question page ≥ {GOALS['ratio']}× baseline": (question.ratio or 0) >= GOALS["ratio"],
            f"p99 ≤ {GOALS['p99_ms']:.0f} ms on every page": all(
                r.p99_ms <= GOALS["p99_ms"] for r in forum_rows
            ),
            f"≤ {GOALS['queries']} queries per page": all(
                (r.queries or 0) <= GOALS["queries"] for r in forum_rows
            ),
            f"≤ {GOALS['rss_mb']:.0f} MB RSS per worker": bool(rss) and max(rss) <= GOALS["rss_mb"],
        },
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
