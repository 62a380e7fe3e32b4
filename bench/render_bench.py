"""Render+sanitise time of a 2,000-word tutorial through forum's Markdown pipeline.

Usage: .venv/bin/python bench/render_bench.py [--runs N] [--words N] [--profile N]

The tutorial is generated deterministically: sections with prose, lists, a table, fenced
Python and SQL code, links and [[wiki links]]. The baseline, measured in the same run on the same
text, is plain markdown-it-py CommonMark with no plugins, highlighting or sanitising; the ratio
says what the pipeline's safety and features cost on top of parsing. Baseline and pipeline calls
alternate, so a busy machine slows both alike. ``--profile N`` then prints the N functions with
the most cumulative time over the pipeline's runs (cProfile; its overhead inflates every figure).
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import random
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from markdown_it import MarkdownIt  # noqa: E402

from forum.markdown import WikiTarget, render_markdown  # noqa: E402

WORDS = (
    "deploy review query index table migration service latency budget onboarding customer "
    "release pipeline cache schema rollback incident metric dashboard retry queue worker "
    "contract renewal escalation ticket handbook checklist mentor circle practice feedback"
).split()
PYTHON = '''```python
def monthly_revenue(rows: list[dict[str, float]]) -> float:
    """Sum the revenue of a month's invoices."""
    total = 0.0
    for row in rows:
        if row["status"] == "paid":
            total += row["amount"]
    return round(total, 2)
```'''
SQL = """```sql
SELECT c.name, count(*) AS orders, sum(o.amount) AS revenue
FROM customers AS c
JOIN orders AS o ON o.customer_id = c.id
WHERE o.created_at >= now() - interval '30 days'
GROUP BY c.name
ORDER BY revenue DESC
LIMIT 10;
```"""
TABLE = """| Step | Owner | Time |
|:-----|:-----:|-----:|
| Plan | Priya | 1 h |
| Build | Diego | 3 h |
| Review | Jonas | 30 min |"""


def tutorial(words: int, seed: int = 7) -> str:
    """A deterministic tutorial of about ``words`` words."""
    rng = random.Random(seed)
    parts = ["# Working with the billing warehouse", ""]
    section = 0
    while len("\n".join(parts).split()) < words:
        section += 1
        parts += [f"## Step {section}: {rng.choice(WORDS)} and {rng.choice(WORDS)}", ""]
        for _ in range(3):
            sentence = " ".join(rng.choice(WORDS) for _ in range(40))
            parts += [
                f"{sentence.capitalize()}, see [[SQL basics]] and "
                f"[the runbook](https://runbooks.example.com/{section}) with **care**.",
                "",
            ]
        parts += [f"- {rng.choice(WORDS)} `{rng.choice(WORDS)}`" for _ in range(4)] + [""]
        parts += [PYTHON if section % 2 else SQL, ""]
        if section % 3 == 0:
            parts += [TABLE, ""]
    return "\n".join(parts)


def resolve(title: str) -> WikiTarget:
    """Every wiki link resolves, as most do in a real knowledge base."""
    return WikiTarget("/articles/" + title.lower().replace(" ", "-"), True)


def measure(fns: list[Callable[[], object]], runs: int) -> list[list[float]]:
    """Wall-clock seconds of ``runs`` calls of each function, after two warm-up calls each.

    The calls alternate (one of each, then again), so load from elsewhere hits all of them.
    """
    for fn in fns:
        fn()
        fn()
    times: list[list[float]] = [[] for _ in fns]
    for _ in range(runs):
        for fn, spent in zip(fns, times, strict=True):
            start = time.perf_counter()
            fn()
            spent.append(time.perf_counter() - start)
    return times


def profile(fn: Callable[[], object], runs: int, top: int) -> None:
    """Print the ``top`` functions by cumulative time over ``runs`` calls of ``fn``."""
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(runs):
        fn()
    profiler.disable()
    stats = pstats.Stats(profiler, stream=sys.stdout)
    stats.strip_dirs().sort_stats("cumulative").print_stats(top)


def main() -> int:
    """Print the median and 95th percentile of both, and their ratio."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--words", type=int, default=2000)
    parser.add_argument("--profile", type=int, default=0, metavar="N")
    args = parser.parse_args()
    runs = max(5, min(args.runs, 10_000))
    source = tutorial(args.words)
    word_count = len(source.split())
    baseline_md = MarkdownIt("commonmark")

    def render() -> str:
        return render_markdown(source, wiki_resolver=resolve, toc=True)

    baseline, pipeline = measure([lambda: baseline_md.render(source), render], runs)

    def line(name: str, times: list[float]) -> str:
        median = statistics.median(times) * 1000
        p95 = sorted(times)[int(0.95 * (len(times) - 1))] * 1000
        return f"  {name:<38} median {median:7.2f} ms   p95 {p95:7.2f} ms"

    print(f"Tutorial: {word_count} words, {len(source.encode())} bytes of Markdown; {runs} runs")
    print(line("baseline (markdown-it CommonMark only)", baseline))
    print(line("pipeline (render + sanitise, TOC)", pipeline))
    ratio = statistics.median(pipeline) / statistics.median(baseline)
    print(f"  ratio pipeline/baseline: {ratio:.1f}x")
    if args.profile > 0:
        profile(render, runs, args.profile)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
