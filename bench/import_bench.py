"""Time of `forum import stackexchange` on a shared dump, search indexing included.

Usage: .venv/bin/python bench/import_bench.py [--site SITE] [--database-url URL]

A fresh, migrated SQLite database (or the PostgreSQL database given, which must be empty) in a
temporary instance folder receives the whole dump, exactly as the command does it: one
transaction, commit, then the search index brought up to date. The baseline, measured in the
same run on the same files, is streaming every XML file of the dump with ``iterparse`` and
nothing else; the ratio says what converting, storing and indexing cost on top of reading.
The goal is under 60 s for cardano.stackexchange.com (2,630 posts).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from xml.etree import ElementTree as ET

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from forum import create_app, migrate  # noqa: E402
from forum.db import get_engine, new_session  # noqa: E402
from forum.importers import stackexchange  # noqa: E402

DUMPS = Path(__file__).resolve().parents[2] / "shared" / "data" / "stackexchange"
GOAL_SECONDS = 60.0


def parse_only(directory: Path) -> tuple[float, int]:
    """Seconds to stream every XML file of the dump, and the rows seen."""
    started = time.perf_counter()
    rows = 0
    for path in sorted(directory.glob("*.xml")):
        for _event, element in ET.iterparse(path):
            if element.tag == "row":
                rows += 1
                element.clear()
    return time.perf_counter() - started, rows


def main() -> int:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--site", default="cardano.stackexchange.com")
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    directory = DUMPS / args.site

    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite:///{tmp}/bench.db"
        app = create_app(
            {
                "DATABASE_URL": url,
                "SEARCH_INDEX_DIR": f"{tmp}/search-index",
                "SECRET_KEY": "bench",
            }
        )
        migrate.upgrade(app)
        baseline, rows = parse_only(directory)

        load = os.getloadavg()[0]
        cpu_started = time.process_time()
        started = time.perf_counter()
        session = new_session(app)
        try:
            summary = stackexchange.import_dump(session, directory)
            imported = time.perf_counter()
            session.commit()
        finally:
            session.close()
        committed = time.perf_counter()
        note = stackexchange.sync_search(get_engine(app), app.config, summary.search_mode)
        finished = time.perf_counter()
        cpu = time.process_time() - cpu_started
        get_engine(app).dispose()

    total = finished - started
    posts = summary["questions"].imported + summary["answers"].imported
    print(f"site: {args.site} ({'SQLite' if url.startswith('sqlite') else url.split(':')[0]})")
    print(f"rows in the dump: {rows:,}; posts imported: {posts:,}")
    print(f"baseline, iterparse only:        {baseline:6.2f} s")
    print(f"import (convert, store, flush):   {imported - started:6.2f} s")
    print(f"commit and after-commit hooks:    {committed - imported:6.2f} s  (badges, search)")
    print(f"search sync:                      {finished - committed:6.2f} s  ({note})")
    print(f"total:                            {total:6.2f} s  = {total / baseline:.1f}x baseline")
    print(f"posts per second: {posts / total:,.0f}; CPU time of this process: {cpu:.1f} s")
    print(f"load average when it started: {load:.1f} on {os.cpu_count()} CPUs")
    verdict = "meets" if total < GOAL_SECONDS else "MISSES"
    print(f"goal: under {GOAL_SECONDS:.0f} s -> {verdict} it")
    return 0 if total < GOAL_SECONDS else 1


if __name__ == "__main__":
    raise SystemExit(main())
