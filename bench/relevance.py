"""Search quality on real Q&A: forum's search beside a plain SQLite FTS5 BM25 baseline.

Usage: .venv/bin/python bench/relevance.py [--sites a,b,c] [--limit N]

Each shared Stack Exchange dump is imported with `forum import stackexchange`'s code into a
fresh SQLite database and indexed by forum's configured search backend. Two sets of queries run
against forum's search (``is:question`` plus the words) and, on the same question documents
(title, body Markdown, tags), against an in-memory FTS5 table ranked by ``bm25()`` with the
words OR-ed (the plain baseline):

- known item: each question's title with its two rarest words (fewest questions containing
  them) removed; a hit when that question is in the top 10;
- duplicate pairs: for each PostLinks duplicate whose two questions were imported, the
  duplicate's title; a hit when the original is in the top 10 (the duplicate itself excluded).

Figures: top-10 hit rate and mean reciprocal rank (MRR@10) per site, for both systems.
"""

from __future__ import annotations

import argparse
import re
import sqlite3
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import select  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

from forum import create_app, migrate  # noqa: E402
from forum.db import get_engine, new_session  # noqa: E402
from forum.importers import stackexchange  # noqa: E402
from forum.models import ImportRecord, Question, RelatedPost  # noqa: E402

DUMPS = Path(__file__).resolve().parents[2] / "shared" / "data" / "stackexchange"
SITES = (
    "ai.stackexchange.com",
    "cardano.stackexchange.com",
    "quantumcomputing.stackexchange.com",
)
TOP = 10
_WORDS = re.compile(r"[^\W_]+", re.UNICODE)

#: Ranks a query: (words, post id to leave out) -> question ids, best first, at most TOP.
Ranker = Callable[[list[str], int | None], list[int]]


def words_of(text: str) -> list[str]:
    """Lower-case words, in order."""
    return [w.lower() for w in _WORDS.findall(text or "")]


@dataclass
class Score:
    """Hits and reciprocal ranks of one system on one query set."""

    queries: int = 0
    hits: int = 0
    reciprocal: float = 0.0

    def add(self, ranked: list[int], wanted: int) -> None:
        self.queries += 1
        if wanted in ranked[:TOP]:
            self.hits += 1
            self.reciprocal += 1.0 / (ranked.index(wanted) + 1)

    @property
    def rate(self) -> float:
        return self.hits / self.queries if self.queries else 0.0

    @property
    def mrr(self) -> float:
        return self.reciprocal / self.queries if self.queries else 0.0


@dataclass
class SiteResult:
    """Both query sets on one site, for both systems."""

    site: str
    known: dict[str, Score] = field(default_factory=lambda: {"forum": Score(), "fts5": Score()})
    dups: dict[str, Score] = field(default_factory=lambda: {"forum": Score(), "fts5": Score()})
    skipped: int = 0
    refused: int = 0
    seconds: dict[str, float] = field(default_factory=dict)


def fts5_ranker(docs: dict[int, tuple[str, str, str]]) -> tuple[Ranker, sqlite3.Connection]:
    """The baseline: FTS5 (unicode61 tokenizer, no stemming) ranked by bm25(), words OR-ed."""
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE VIRTUAL TABLE docs USING fts5(title, body, tags)")
    conn.executemany(
        "INSERT INTO docs (rowid, title, body, tags) VALUES (?, ?, ?, ?)",
        [(pid, *fields) for pid, fields in docs.items()],
    )

    def rank(words: list[str], leave_out: int | None) -> list[int]:
        match = " OR ".join(f'"{w}"' for w in dict.fromkeys(words))
        rows = conn.execute(
            "SELECT rowid FROM docs WHERE docs MATCH ? ORDER BY bm25(docs) LIMIT ?",
            (match, TOP + 1),
        ).fetchall()
        return [r[0] for r in rows if r[0] != leave_out][:TOP]

    return rank, conn


def forum_ranker(session: Session, result: SiteResult) -> Ranker:
    """forum's search interface, questions only."""
    from forum import search

    def rank(words: list[str], leave_out: int | None) -> list[int]:
        page = search.search(
            session, " ".join(words) + " is:question", per_page=TOP + 1, record_zero=False
        )
        if page.refused:
            result.refused += 1
        return [h.id for h in page.results.hits if h.id != leave_out][:TOP]

    return rank


def measure(site: str, limit: int | None) -> SiteResult:
    """Import one site into a fresh database and run both query sets on both systems."""
    result = SiteResult(site)
    with tempfile.TemporaryDirectory() as tmp:
        app = create_app(
            {
                "DATABASE_URL": f"sqlite:///{tmp}/relevance.db",
                "SEARCH_INDEX_DIR": f"{tmp}/search-index",
                "SECRET_KEY": "bench",
            }
        )
        migrate.upgrade(app)
        started = time.perf_counter()
        session = new_session(app)
        try:
            summary = stackexchange.import_dump(session, DUMPS / site)
            session.commit()
        finally:
            session.close()
        stackexchange.sync_search(get_engine(app), app.config, summary.search_mode)
        result.seconds["import and index"] = time.perf_counter() - started

        session = new_session(app)
        try:
            local = dict(
                session.execute(
                    select(ImportRecord.external_id, ImportRecord.local_id).where(
                        ImportRecord.site == site, ImportRecord.kind == "question"
                    )
                ).all()
            )
            questions = session.scalars(select(Question).order_by(Question.id)).all()
            docs = {
                q.id: (q.title or "", q.body_md, " ".join(t.name for t in q.tags))
                for q in questions
            }
            df: Counter[str] = Counter()
            for title, body, tags in docs.values():
                df.update(set(words_of(f"{title} {body} {tags}")))
            pairs = session.execute(
                select(RelatedPost.post_id, RelatedPost.related_post_id).where(
                    RelatedPost.link_type == "duplicate",
                    RelatedPost.post_id.in_(local.values()),
                    RelatedPost.related_post_id.in_(local.values()),
                )
            ).all()
            baseline, conn = fts5_ranker(docs)
            rankers = {"forum": forum_ranker(session, result), "fts5": baseline}

            chosen = list(docs.items())[:limit] if limit else list(docs.items())
            for name, rank in rankers.items():
                started = time.perf_counter()
                for post_id, (title, _body, _tags) in chosen:
                    words = list(dict.fromkeys(words_of(title)))
                    rarest = set(sorted(words, key=lambda w: (df[w], w))[:2])
                    rest = [w for w in words if w not in rarest]
                    if not rest:
                        if name == "forum":
                            result.skipped += 1
                        continue
                    result.known[name].add(rank(rest, None), post_id)
                for duplicate, original in pairs:
                    words = words_of(docs[duplicate][0])
                    result.dups[name].add(rank(words, duplicate), original)
                result.seconds[name] = time.perf_counter() - started
            conn.close()
        finally:
            session.close()
        get_engine(app).dispose()
    return result


def main() -> int:
    """Run every site and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sites", default=",".join(SITES))
    parser.add_argument("--limit", type=int, default=None, help="known-item queries per site")
    args = parser.parse_args()
    results = [measure(site, args.limit) for site in args.sites.split(",")]

    print(f"Top-{TOP} hit rate (MRR@{TOP}) — forum search vs plain FTS5 BM25 on the same queries")
    header = f"{'site':<36}{'set':<12}{'queries':>8}{'forum':>16}{'FTS5 BM25':>16}{'ratio':>8}"
    print(header)
    print("-" * len(header))
    for r in results:
        for label, scores in (("known item", r.known), ("duplicates", r.dups)):
            forum, fts = scores["forum"], scores["fts5"]
            ratio = f"{forum.rate / fts.rate:.2f}" if fts.rate else "-"
            print(
                f"{r.site:<36}{label:<12}{forum.queries:>8}"
                f"{forum.rate:>9.1%} ({forum.mrr:.2f}){fts.rate:>9.1%} ({fts.mrr:.2f}){ratio:>8}"
            )
    print()
    for r in results:
        timing = ", ".join(f"{k} {v:.1f} s" for k, v in r.seconds.items())
        print(
            f"{r.site}: {timing}; titles left without words: {r.skipped}; "
            f"queries refused by forum: {r.refused}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
