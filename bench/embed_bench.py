"""Embedding throughput of `forum search rebuild`'s vector step on real posts.

Usage: .venv/bin/python bench/embed_bench.py --data DIR [--site S] [--posts N] [--code DIR]

DIR is a ``bench/relevance.py --data DIR`` folder: each site there has its imported database.
The site's database is copied, the vectors of its first N posts (all: every post) are
deleted, and ``forum.search.vectors.sync`` embeds them again in two processes, as `forum
search rebuild` and `sync` do (the matrix file written at the end included). Prints posts
per second, the extrapolated time for 100,000 posts, the CPU seconds of the worker processes
and the load average before and after. ``--code`` runs another checkout's forum (a
before/after comparison on the same data, one run after the other); ``--embed-tokens`` sets
the cut.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path


def loadavg() -> str:
    """The 1-minute load average."""
    return Path("/proc/loadavg").read_text(encoding="utf-8").split()[0]


def main(argv: Sequence[str] | None = None) -> int:
    """Time one re-embedding and print the figures as JSON."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="a relevance.py --data folder")
    parser.add_argument("--site", default="ai.stackexchange.com")
    parser.add_argument("--posts", type=int, default=0, help="posts to re-embed (0: all)")
    parser.add_argument("--code", type=Path, default=Path(__file__).resolve().parent.parent)
    parser.add_argument(
        "--embed-tokens", type=int, default=0, help="SEARCH_EMBED_TOKENS (0: the default)"
    )
    args = parser.parse_args(argv)
    sys.path.insert(0, str(args.code.resolve()))

    from sqlalchemy import delete, func, select
    from sqlalchemy.orm import Session

    from forum import create_app
    from forum.db import get_engine
    from forum.models import Post, PostVector
    from forum.search import vectors
    from forum.search.backends import search_config

    source = args.data / args.site
    if not (source / "relevance.db").exists():
        parser.error(f"no imported database in {source}: run bench/relevance.py --data first")
    with tempfile.TemporaryDirectory() as tmp:
        shutil.copyfile(source / "relevance.db", f"{tmp}/relevance.db")
        app = create_app(
            {
                "DATABASE_URL": f"sqlite:///{tmp}/relevance.db",
                "SEARCH_INDEX_DIR": f"{tmp}/search-index",
                "SEARCH_RANKING": "hybrid",
                "SECRET_KEY": "bench",
            }
        )
        engine = get_engine(app)
        with Session(engine) as session:
            ids = session.scalars(select(Post.id).order_by(Post.id)).all()
            chosen = ids[: args.posts] if args.posts else ids
            for start in range(0, len(chosen), 500):
                session.execute(
                    delete(PostVector).where(PostVector.post_id.in_(chosen[start : start + 500]))
                )
            session.commit()
        config = search_config(app.config)
        config["embed_threads"] = "2"
        if args.embed_tokens:
            config["embed_tokens"] = str(args.embed_tokens)
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        load_start = loadavg()
        started = time.perf_counter()
        count = vectors.sync(engine, config, processes=2)
        seconds = time.perf_counter() - started
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        with Session(engine) as session:
            stored = session.scalar(select(func.count()).select_from(PostVector))
        own = resource.getrusage(resource.RUSAGE_SELF)
    figures = {
        "code": str(args.code),
        "site": args.site,
        "embed_tokens": args.embed_tokens or "default",
        "posts_embedded": count,
        "vectors_stored": stored,
        "seconds": round(seconds, 1),
        "posts_per_s": round(count / seconds, 1),
        "minutes_for_100k": round(100_000 / (count / seconds) / 60, 1),
        "worker_cpu_s": round(
            after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime, 1
        ),
        "main_cpu_s": round(own.ru_utime + own.ru_stime, 1),
        "load_start": load_start,
        "load_end": loadavg(),
        "cpus": os.cpu_count(),
    }
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
