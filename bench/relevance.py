"""Search quality on real Q&A: forum's rankings beside a plain SQLite FTS5 BM25 baseline.

Usage: .venv/bin/python bench/relevance.py [--sites a,b] [--limit N] [--seed S]
           [--rankings lexical,semantic,hybrid] [--kinds known,paraphrase,typo,duplicate]
           [--data DIR]

Each shared Stack Exchange dump is imported with `forum import stackexchange`'s code into a fresh
SQLite database and indexed by forum's search. Every query runs against forum's search
(``is:question`` plus the words) once per ranking (the ``SEARCH_RANKING`` setting: ``lexical``,
``semantic``, ``hybrid``) and, on the same question documents (title, body Markdown, tags),
against an in-memory FTS5 table ranked by ``bm25()`` with the words OR-ed (the baseline).

Query kinds, each with one wanted question:

- known: a question's title with its two rarest words (fewest questions containing them)
  removed;
- paraphrase: hand-written questions in other words (``bench/queries/<site>.paraphrase.tsv``,
  Stack Exchange id and query; written from the target question, never used for tuning);
- typo: the known-item query with a seeded typo in one or two content words;
- duplicate: for each PostLinks duplicate (type 3) whose two questions were imported, the
  duplicate's title; the original is wanted and the duplicate itself is left out.

Figures: success@10 and MRR@10 per kind and overall, per site and pooled, with seeded bootstrap
95 % intervals. The Markdown table goes to stdout and to ``bench/results/relevance-YYYYMMDD.txt``;
progress goes to stderr.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import importlib
import os
import platform
import random
import re
import shutil
import sqlite3
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import select  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

from forum import create_app, migrate  # noqa: E402
from forum.db import get_engine, new_session  # noqa: E402
from forum.importers import stackexchange  # noqa: E402
from forum.models import ImportRecord, Question, RelatedPost  # noqa: E402

HERE = Path(__file__).resolve().parent
QUERIES = HERE / "queries"
RESULTS = HERE / "results"
SITES = (
    "ai.stackexchange.com",
    "cardano.stackexchange.com",
    "quantumcomputing.stackexchange.com",
)
RANKINGS = ("lexical", "semantic", "hybrid")
KINDS = ("known", "paraphrase", "typo", "duplicate")
BASELINE = "FTS5 BM25 OR"
TOP = 10
RESAMPLES = 1000
_WORDS = re.compile(r"[^\W_]+", re.UNICODE)
#: Words a typo never lands on: too short or too common to be what someone searches for.
STOPWORDS = frozenset(
    """about above after again against also among because been before being below between both
    cannot could does doing down during each from further have having here into itself just more
    most much other over same should some such than that their them then there these they this
    those through under until very what when where which while whom will with within without
    would your""".split()
)
#: Letters next to each other on a QWERTY keyboard: the substitutions a typo makes.
_NEIGHBOURS = {
    row[i]: row[max(0, i - 1) : i] + row[i + 1 : i + 2]
    for row in ("qwertyuiop", "asdfghjkl", "zxcvbnm")
    for i in range(len(row))
}

#: Ranks a query: (words, post id to leave out) -> question ids, best first, at most TOP.
Ranker = Callable[[list[str], int | None], list[int]]


def dumps_dir() -> Path:
    """The shared Stack Exchange dumps: ``FORUM_STACKEXCHANGE_DUMPS``, or the first
    ``shared/data/stackexchange`` beside one of this file's parent directories."""
    override = os.environ.get("FORUM_STACKEXCHANGE_DUMPS")
    if override:
        return Path(override)
    for parent in HERE.parents:
        candidate = parent / "shared" / "data" / "stackexchange"
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(
        "no shared/data/stackexchange beside the repository: set FORUM_STACKEXCHANGE_DUMPS"
    )


def words_of(text: str) -> list[str]:
    """Lower-case words, in order."""
    return [w.lower() for w in _WORDS.findall(text or "")]


# --- metrics -------------------------------------------------------------------------------


def reciprocal_rank(ranked: Sequence[int], wanted: int, top: int = TOP) -> float:
    """1/rank of ``wanted`` in the first ``top`` of ``ranked``; 0 when it is not there."""
    for position, item in enumerate(ranked[:top], start=1):
        if item == wanted:
            return 1.0 / position
    return 0.0


def success(rrs: Sequence[float]) -> float:
    """Share of queries whose wanted question is in the top 10 (success@10)."""
    return sum(1 for r in rrs if r > 0) / len(rrs) if rrs else 0.0


def mrr(rrs: Sequence[float]) -> float:
    """Mean reciprocal rank at 10."""
    return sum(rrs) / len(rrs) if rrs else 0.0


def bootstrap(
    rrs: Sequence[float],
    statistic: Callable[[Sequence[float]], float],
    *,
    seed: str,
    resamples: int = RESAMPLES,
) -> tuple[float, float]:
    """Percentile bootstrap 95 % interval of ``statistic`` over the queries, seeded.

    The work is ``resamples`` × the number of queries draws: about a second at 5000 queries.
    """
    if not rrs:
        return (0.0, 0.0)
    rng = random.Random(seed)
    values = list(rrs)
    estimates = sorted(statistic(rng.choices(values, k=len(values))) for _ in range(resamples))
    low = estimates[int(0.025 * (resamples - 1))]
    high = estimates[int(round(0.975 * (resamples - 1)))]
    return (low, high)


# --- queries -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Query:
    """One query and the question it should find."""

    kind: str
    site: str
    words: tuple[str, ...]
    wanted: int
    leave_out: int | None = None


def known_item_words(title: str, df: Counter[str]) -> list[str]:
    """A title without its two rarest words (ties broken alphabetically)."""
    words = list(dict.fromkeys(words_of(title)))
    rarest = set(sorted(words, key=lambda w: (df[w], w))[:2])
    return [w for w in words if w not in rarest]


def _misspell(word: str, rng: random.Random) -> str:
    """``word`` with one typing slip after its first letter: a dropped, doubled, swapped or
    neighbouring letter. Always differs from ``word``."""
    for _ in range(20):
        i = rng.randrange(1, len(word))
        slip = rng.choice(("drop", "double", "swap", "neighbour"))
        if slip == "drop":
            typed = word[:i] + word[i + 1 :]
        elif slip == "double":
            typed = word[:i] + word[i] + word[i:]
        elif slip == "swap" and i + 1 < len(word):
            typed = word[:i] + word[i + 1] + word[i] + word[i + 2 :]
        elif slip == "neighbour" and word[i] in _NEIGHBOURS:
            typed = word[:i] + rng.choice(_NEIGHBOURS[word[i]]) + word[i + 1 :]
        else:
            continue
        if typed != word:
            return typed
    return word[:1] + word[2:] if len(word) > 2 else word + word[-1]


def content_positions(words: Sequence[str]) -> list[int]:
    """Positions of words a typo may land on: alphabetic, at least four letters, no stopword."""
    return [i for i, w in enumerate(words) if len(w) >= 4 and w.isalpha() and w not in STOPWORDS]


def with_typos(words: Sequence[str], seed: str) -> tuple[list[str], list[int]]:
    """``words`` with a typo in one or two content words (two when there are at least four
    content words), chosen and typed deterministically from ``seed``; also the changed positions.
    Returns the words unchanged and no positions when no word qualifies."""
    rng = random.Random(seed)
    candidates = content_positions(words)
    if not candidates:
        return list(words), []
    count = 2 if len(candidates) >= 4 else 1
    changed = sorted(rng.sample(candidates, count))
    typed = list(words)
    for i in changed:
        typed[i] = _misspell(typed[i], rng)
    return typed, changed


def load_paraphrases(path: Path) -> list[tuple[int, str]]:
    """A paraphrase file: ``<Stack Exchange question id> TAB <query>`` per line; ``#`` starts a
    comment line. A malformed line raises ValueError naming the file and line."""
    pairs: list[tuple[int, str]] = []
    with path.open(encoding="utf-8") as f:
        for number, line in enumerate(f, start=1):
            line = line.rstrip("\n")
            if not line.strip() or line.startswith("#"):
                continue
            parts = line.split("\t")
            if len(parts) != 2 or not parts[0].isdigit() or not parts[1].strip():
                raise ValueError(f"{path}:{number}: expected '<question id>\\t<query>'")
            pairs.append((int(parts[0]), parts[1].strip()))
    return pairs


def paraphrase_file(site: str) -> Path:
    """Where a site's paraphrase queries live."""
    return QUERIES / f"{site}.paraphrase.tsv"


# --- systems -------------------------------------------------------------------------------


def fts5_ranker(docs: dict[int, tuple[str, str, str]]) -> tuple[Ranker, sqlite3.Connection]:
    """The baseline: FTS5 (unicode61 tokenizer, no stemming) ranked by bm25(), words OR-ed."""
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE VIRTUAL TABLE docs USING fts5(title, body, tags)")
    conn.executemany(
        "INSERT INTO docs (rowid, title, body, tags) VALUES (?, ?, ?, ?)",
        [(pid, *fields) for pid, fields in docs.items()],
    )

    def rank(words: list[str], leave_out: int | None) -> list[int]:
        if not words:
            return []
        match = " OR ".join(f'"{w}"' for w in dict.fromkeys(words))
        rows = conn.execute(
            "SELECT rowid FROM docs WHERE docs MATCH ? ORDER BY bm25(docs) LIMIT ?",
            (match, TOP + 1),
        ).fetchall()
        return [r[0] for r in rows if r[0] != leave_out][:TOP]

    return rank, conn


def forum_ranker(session: Session, refused: Counter[str], name: str) -> Ranker:
    """forum's search interface, questions only."""
    from forum import search

    def rank(words: list[str], leave_out: int | None) -> list[int]:
        page = search.search(
            session, " ".join(words) + " is:question", per_page=TOP + 1, record_zero=False
        )
        if page.refused:
            refused[name] += 1
        return [h.id for h in page.results.hits if h.id != leave_out][:TOP]

    return rank


def ranking_available(app: Any, ranking: str) -> tuple[bool, str]:
    """Whether forum can rank with ``ranking`` here, and why not.

    Lexical ranking always can. Semantic and hybrid ask forum: ``forum.search.semantic_off``
    (a session of the app -> the reason it is off, or None) or
    ``forum.search.semantic_available(app)``; without either the build has no semantic ranking."""
    if ranking == "lexical":
        return True, ""
    from forum import search

    off = getattr(search, "semantic_off", None)
    available = getattr(search, "semantic_available", None)
    try:
        if off is not None:
            with new_session(app) as session:
                reason = off(session)
            return (reason is None), str(reason or "")
        if available is not None:
            answer = available(app)
            ok = bool(answer[0] if isinstance(answer, tuple) else answer)
            return ok, "" if ok else "semantic_available(app) says no"
    except Exception as exc:  # noqa: BLE001 - reported in the table, never fatal
        return False, f"asking forum whether semantic ranking is on failed: {exc}"
    return False, "this forum has no semantic ranking"


def embed_vectors(app: Any, site: str) -> float:
    """Embed every post for semantic ranking, when forum has vectors to build
    (``forum.search.vectors.sync``, both cores); the seconds it took."""
    from forum.search.backends import search_config

    try:
        vectors = importlib.import_module("forum.search.vectors")
    except ImportError:
        return 0.0
    sync = getattr(vectors, "sync", None)
    if sync is None:
        return 0.0
    started = last = time.perf_counter()
    wait = getattr(vectors, "wait", None)
    if wait is not None:
        wait(600)  # the import's own queued embedding, so two writers never overlap
    config = search_config(app.config)
    if "embed_threads" in config:
        config["embed_threads"] = str(max(2, int(config["embed_threads"])))

    def report(seen: int) -> None:
        nonlocal last
        if time.perf_counter() - last >= 10:
            last = time.perf_counter()
            progress(f"{site}: embedding, {seen} posts seen ({last - started:.0f} s)")

    count = sync(get_engine(app), config, progress=report)
    seconds = time.perf_counter() - started
    progress(f"{site}: {count} posts embedded in {seconds:.1f} s")
    return seconds


# --- a run ---------------------------------------------------------------------------------


@dataclass
class SiteRun:
    """Every query of one site and each system's reciprocal ranks for them."""

    site: str
    queries: list[Query] = field(default_factory=list)
    rrs: dict[str, list[float]] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    refused: Counter[str] = field(default_factory=Counter)
    notes: list[str] = field(default_factory=list)


def progress(message: str) -> None:
    """One line of progress on stderr."""
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def build_queries(
    site: str,
    docs: dict[int, tuple[str, str, str]],
    local: dict[str, int],
    pairs: Sequence[tuple[int, int]],
    *,
    kinds: Sequence[str],
    limit: int | None,
    seed: int,
    notes: list[str],
) -> list[Query]:
    """The site's queries of the wanted kinds."""
    df: Counter[str] = Counter()
    for title, body, tags in docs.values():
        df.update(set(words_of(f"{title} {body} {tags}")))
    ids = sorted(docs)
    if limit is not None and limit < len(ids):
        ids = sorted(random.Random(f"{seed}:known:{site}").sample(ids, limit))
    queries: list[Query] = []
    no_words = no_typo = 0
    for post_id in ids if {"known", "typo"} & set(kinds) else []:
        words = known_item_words(docs[post_id][0], df)
        if not words:
            no_words += 1
            continue
        if "known" in kinds:
            queries.append(Query("known", site, tuple(words), post_id))
        if "typo" in kinds:
            typed, changed = with_typos(words, f"{seed}:typo:{site}:{post_id}")
            if changed:
                queries.append(Query("typo", site, tuple(typed), post_id))
            else:
                no_typo += 1
    if no_words:
        notes.append(f"titles with no word left once their two rarest were removed: {no_words}")
    if no_typo:
        notes.append(f"known-item queries with no content word for a typo: {no_typo}")
    if "paraphrase" in kinds and paraphrase_file(site).exists():
        missing = 0
        for external_id, text in load_paraphrases(paraphrase_file(site)):
            target = local.get(str(external_id))
            if target is None or target not in docs:
                missing += 1
                continue
            queries.append(Query("paraphrase", site, tuple(words_of(text)), target))
        if missing:
            notes.append(f"paraphrase targets not imported: {missing}")
    if "duplicate" in kinds:
        for duplicate, original in pairs:
            words = words_of(docs[duplicate][0])
            queries.append(Query("duplicate", site, tuple(words), original, duplicate))
    return queries


#: Written in a kept site directory once its import (and embedding) is complete: the richest
#: ranking it was made for.
READY = "relevance-ready"


def _clear(folder: Path) -> None:
    """Remove an unfinished or outdated import from a kept site directory."""
    for name in ("relevance.db", "relevance.db-wal", "relevance.db-shm", READY):
        (folder / name).unlink(missing_ok=True)
    for name in ("search-index", "search-vectors", "search-index-vectors"):
        shutil.rmtree(folder / name, ignore_errors=True)


#: Word pieces the model reads per post (``--embed-tokens``; 0: forum's default).
EMBED_TOKENS = [0]


def _app(tmp: str, ranking: str) -> Any:
    return create_app(
        {
            "DATABASE_URL": f"sqlite:///{tmp}/relevance.db",
            "SEARCH_INDEX_DIR": f"{tmp}/search-index",
            "SEARCH_RANKING": ranking,
            "SEARCH_EMBED_TOKENS": EMBED_TOKENS[0],
            "SECRET_KEY": "bench",
        }
    )


def measure(
    site: str,
    *,
    rankings: Sequence[str],
    kinds: Sequence[str],
    limit: int | None,
    seed: int,
    budget: float,
    unavailable: dict[str, str],
    data: Path | None = None,
) -> SiteRun:
    """Import one site into a fresh database and run its queries on every system.

    With ``data``, the site's database, search index and vectors are kept in ``data/<site>``
    and a later run reuses them (the import and embedding are skipped) when they were made
    for the same richest ranking."""
    run = SiteRun(site)
    with contextlib.ExitStack() as stack:
        if data is None:
            tmp = stack.enter_context(tempfile.TemporaryDirectory())
        else:
            tmp = str(data / site)
            Path(tmp).mkdir(parents=True, exist_ok=True)
        ready = Path(tmp) / READY
        # Import under the richest ranking asked for, so whatever it builds at index time is built.
        richest = next((r for r in ("hybrid", "semantic") if r in rankings), "lexical")
        importer = _app(tmp, richest)
        kept = ready.exists() and ready.read_text(encoding="utf-8") == richest
        if kept:
            # A finished import (and embedding) of an earlier run with --data: only the schema
            # is brought up to date.
            migrate.upgrade(importer)
            progress(f"{site}: reusing the import in {tmp}")
        else:
            _clear(Path(tmp))
            migrate.upgrade(importer)
            progress(f"{site}: importing the dump")
            started = time.perf_counter()
            session = new_session(importer)
            try:
                summary = stackexchange.import_dump(session, dumps_dir() / site)
                session.commit()
            finally:
                session.close()
            stackexchange.sync_search(get_engine(importer), importer.config, summary.search_mode)
            run.seconds["import and index"] = time.perf_counter() - started
            progress(f"{site}: imported and indexed in {run.seconds['import and index']:.1f} s")

        apps = {richest: importer}
        sessions: dict[str, Session] = {}
        rankers: dict[str, Ranker] = {}
        conn: sqlite3.Connection | None = None
        try:
            if richest != "lexical" and ranking_available(importer, richest)[0]:
                # Kept vectors made with another model key (another cut) are embedded again.
                run.seconds["embed"] = embed_vectors(importer, site)
            if not kept:
                if data is not None:
                    ready.write_text(richest, encoding="utf-8")
            for ranking in rankings:
                app = apps.get(ranking) or _app(tmp, ranking)
                apps[ranking] = app
                ok, why = ranking_available(app, ranking)
                if not ok:
                    unavailable.setdefault(ranking, why)
                    progress(f"{site}: {ranking} ranking unavailable: {why}")
                    continue
                sessions[ranking] = new_session(app)
                rankers[ranking] = forum_ranker(sessions[ranking], run.refused, ranking)

            session = new_session(importer)
            try:
                local = {
                    str(external): int(local_id)
                    for external, local_id in session.execute(
                        select(ImportRecord.external_id, ImportRecord.local_id).where(
                            ImportRecord.site == site, ImportRecord.kind == "question"
                        )
                    ).all()
                }
                docs = {
                    q.id: (q.title or "", q.body_md, " ".join(t.name for t in q.tags))
                    for q in session.scalars(select(Question).order_by(Question.id)).all()
                }
                pairs = [
                    (int(d), int(o))
                    for d, o in session.execute(
                        select(RelatedPost.post_id, RelatedPost.related_post_id).where(
                            RelatedPost.link_type == "duplicate",
                            RelatedPost.post_id.in_(local.values()),
                            RelatedPost.related_post_id.in_(local.values()),
                        )
                    ).all()
                ]
            finally:
                session.close()
            baseline, conn = fts5_ranker(docs)
            rankers = {BASELINE: baseline, **rankers}

            queries = build_queries(
                site, docs, local, pairs, kinds=kinds, limit=limit, seed=seed, notes=run.notes
            )
            # A seeded order: if the time budget cuts the run short, every kind keeps a fair share.
            random.Random(f"{seed}:order:{site}").shuffle(queries)
            progress(f"{site}: {len(queries)} queries on {', '.join(rankers)}")
            run.rrs = {name: [] for name in rankers}
            run.seconds.update({name: 0.0 for name in rankers})
            started = last = time.perf_counter()
            for done, query in enumerate(queries, start=1):
                for name, rank in rankers.items():
                    t0 = time.perf_counter()
                    ranked = rank(list(query.words), query.leave_out)
                    run.seconds[name] += time.perf_counter() - t0
                    run.rrs[name].append(reciprocal_rank(ranked, query.wanted))
                run.queries.append(query)
                now = time.perf_counter()
                if now - last >= 10 or done == len(queries):
                    last = now
                    progress(f"{site}: {done}/{len(queries)} queries ({now - started:.0f} s)")
                if now - started > budget and done < len(queries):
                    run.notes.append(
                        f"time budget of {budget:.0f} s reached: "
                        f"{done} of {len(queries)} queries run"
                    )
                    progress(f"{site}: {run.notes[-1]}")
                    break
        finally:
            if conn is not None:
                conn.close()
            for s in sessions.values():
                s.close()
            for app in apps.values():
                get_engine(app).dispose()
    return run


# --- report --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Cell:
    """One system's figures on one set of queries."""

    n: int
    success: float
    success_ci: tuple[float, float]
    mrr: float
    mrr_ci: tuple[float, float]


def cell(rrs: Sequence[float], seed: str) -> Cell:
    """Point estimates and bootstrap intervals."""
    return Cell(
        len(rrs),
        success(rrs),
        bootstrap(rrs, success, seed=f"{seed}:success"),
        mrr(rrs),
        bootstrap(rrs, mrr, seed=f"{seed}:mrr"),
    )


def table(
    runs: Sequence[SiteRun],
    systems: Sequence[str],
    kinds: Sequence[str],
    seed: int,
    unavailable: Sequence[str] = (),
) -> str:
    """The Markdown table: a row per site and kind (and overall), a column pair per system;
    an unavailable system's cells say so."""

    def fmt(value: float, ci: tuple[float, float]) -> str:
        return f"{value:.3f} ({ci[0]:.2f}–{ci[1]:.2f})"

    head = ["site", "kind", "queries"]
    for system in systems:
        head += [f"{system} S@{TOP}", f"{system} MRR@{TOP}"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * 2 + "---:|" * (len(head) - 2)]
    labels = [*(r.site for r in runs), *(["pooled"] if len(runs) > 1 else [])]
    for label in labels:
        chosen = list(runs) if label == "pooled" else [r for r in runs if r.site == label]
        for kind in [*kinds, "overall"]:
            row = [label.removesuffix(".stackexchange.com"), kind]
            n = 0
            cells: list[str] = []
            for system in systems:
                if system in unavailable:
                    cells += ["unavailable", "unavailable"]
                    continue
                rrs = [
                    rr
                    for r in chosen
                    for q, rr in zip(r.queries, r.rrs.get(system, []), strict=False)
                    if kind == "overall" or q.kind == kind
                ]
                n = max(n, len(rrs))
                c = cell(rrs, f"{seed}:{label}:{kind}:{system}")
                cells += [fmt(c.success, c.success_ci), fmt(c.mrr, c.mrr_ci)]
            lines.append("| " + " | ".join([*row, str(n), *cells]) + " |")
    return "\n".join(lines)


START, END = "<!-- relevance:start -->", "<!-- relevance:end -->"


def with_block(readme: str, text: str) -> str:
    """``readme`` with the text between the relevance markers replaced by ``text``."""
    before, found, rest = readme.partition(START)
    if not found or END not in rest:
        raise ValueError(f"bench/README.md has no {START} … {END} block")
    return f"{before}{START}\n{text.strip()}\n{END}{rest.partition(END)[2]}"


def cpu_model() -> str:
    """The CPU's model name (from /proc/cpuinfo), or the platform's processor string."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def main(argv: Sequence[str] | None = None) -> int:
    """Run every site and print the figures."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--sites", default=",".join(SITES))
    parser.add_argument(
        "--limit", type=int, default=None, help="known-item (and typo) queries per site"
    )
    parser.add_argument("--rankings", default=",".join(RANKINGS), help="forum rankings to run")
    parser.add_argument("--kinds", default=",".join(KINDS))
    parser.add_argument("--seed", type=int, default=21)
    parser.add_argument(
        "--budget", type=float, default=300.0, help="seconds of queries per site at most"
    )
    parser.add_argument(
        "--data",
        type=Path,
        default=None,
        help="keep each site's database, index and vectors here and reuse them on later runs",
    )
    parser.add_argument(
        "--embed-tokens",
        type=int,
        default=0,
        help="word pieces the model reads per post (SEARCH_EMBED_TOKENS; 0: forum's default)",
    )
    parser.add_argument("--output", type=Path, default=None, help="where to write the table")
    parser.add_argument(
        "--readme", action="store_true", help="also put the table in bench/README.md"
    )
    args = parser.parse_args(argv)
    EMBED_TOKENS[0] = args.embed_tokens
    sites = [s for s in args.sites.split(",") if s]
    rankings = [r for r in args.rankings.split(",") if r]
    kinds = [k for k in args.kinds.split(",") if k]
    for name, values, allowed in (
        ("--rankings", rankings, RANKINGS),
        ("--kinds", kinds, KINDS),
        ("--sites", sites, SITES),
    ):
        wrong = [v for v in values if v not in allowed]
        if wrong or not values:
            parser.error(f"{name}: choose from {', '.join(allowed)} (got {', '.join(wrong)})")
    if args.limit is not None and args.limit < 1:
        parser.error("--limit must be at least 1")

    started = time.perf_counter()
    unavailable: dict[str, str] = {}
    runs = [
        measure(
            site,
            rankings=rankings,
            kinds=kinds,
            limit=args.limit,
            seed=args.seed,
            budget=args.budget,
            unavailable=unavailable,
            data=args.data,
        )
        for site in sites
    ]
    systems = [BASELINE, *rankings]
    progress("bootstrap intervals")
    today = dt.datetime.now(dt.UTC)
    out = [
        f"Relevance on {today:%Y-%m-%d} — {cpu_model()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}; "
        f"`{' '.join(['bench/relevance.py', *(sys.argv[1:] if argv is None else argv)])}` "
        f"(seed {args.seed}).",
        "",
        f"Success@{TOP} and MRR@{TOP} with bootstrap 95 % intervals ({RESAMPLES} resamples).",
        "",
        table(runs, systems, kinds, args.seed, list(unavailable)),
        "",
    ]
    for ranking in rankings:
        if ranking in unavailable:
            out.append(f"- {ranking}: unavailable — {unavailable[ranking]}")
    for r in runs:
        timing = ", ".join(f"{k} {v:.1f} s" for k, v in r.seconds.items())
        extra = "; ".join(
            [
                *r.notes,
                *(f"{n} queries refused by forum ({k})" for k, n in sorted(r.refused.items())),
            ]
        )
        out.append(f"- {r.site}: {timing}" + (f"; {extra}" if extra else ""))
    out.append(f"- total {time.perf_counter() - started:.0f} s")
    text = "\n".join(out) + "\n"
    print(text)
    target = args.output or RESULTS / f"relevance-{today:%Y%m%d}.txt"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text, encoding="utf-8")
    progress(f"written to {target}")
    if args.readme:
        readme = HERE / "README.md"
        readme.write_text(with_block(readme.read_text(encoding="utf-8"), text), encoding="utf-8")
        progress(f"table put in {readme}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
