"""Full Whoosh builds: the fast analyzer and segment writer change nothing that is indexed,
and a build split over worker processes gives the same index as one process."""

from __future__ import annotations

import datetime as dt
import gc
import os
import pickle
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine
from sqlalchemy.orm import Session
from whoosh.analysis import StemmingAnalyzer
from whoosh.analysis.filters import STOP_WORDS
from whoosh.filedb.filestore import RamStorage

from forum import search
from forum.db import new_session
from forum.models import User
from forum.search import outbox, whoosh_build, whoosh_internals
from forum.search.documents import SearchDoc, iter_all_documents
from forum.search.whoosh_backend import CURRENT, WhooshBackend
from forum.search.whoosh_build import BuildFailed, write_segments
from forum.search.whoosh_schema import (
    INDEX_NAME,
    FastStemmingAnalyzer,
    document_fields,
    make_schema,
)
from forum.search.words import stem as english_stem
from tests.factories import (
    make_user,
    search_answer,
    search_article,
    search_comment,
    search_question,
)

STOPS = sorted(STOP_WORDS)
WORDS = ["Running", "runners", "ran", "3.14", "e.g.", "foo_bar", "x", "I", "naïve", "Straße"]
WORDS += ["ΣΊΣΥΦΟΣ", "café", "kube*", "k8s", "deploying", "a" * 60, "generalizations", "İstanbul"]
WORDS += ["don't", "C++", "résumé", "日本語", "١٢٣", "ﬁle", "Ⅻ", "HTTP/2", "v1.2.3", "__init__"]


def _tokens(analyzer: Any, text: str, **kwargs: Any) -> list[tuple[Any, ...]]:
    return [
        (t.text, getattr(t, "pos", None), t.boost, t.stopped, getattr(t, "startchar", None))
        for t in analyzer(text, **kwargs)
    ]


CALLS = [
    {},
    {"positions": True},
    {"positions": True, "boosts": True, "mode": "index"},
    {"mode": "query"},
    {"positions": True, "start_pos": 7},
    {"positions": True, "chars": True},
    {"removestops": False, "positions": True},
]

text_strategy = st.lists(
    st.one_of(
        st.sampled_from(STOPS + WORDS),
        st.text(min_size=1, max_size=30),
        st.from_regex(r"[A-Za-z]{1,40}", fullmatch=True),
        st.integers(min_value=-(10**12), max_value=10**12).map(str),
    ),
    max_size=40,
).map(lambda words: " ".join(words))


@settings(max_examples=300, deadline=None)
@given(text=text_strategy)
def test_the_fast_analyzer_yields_what_the_stemming_analyzer_yields(text: str) -> None:
    stock, fast = StemmingAnalyzer(stemfn=english_stem), FastStemmingAnalyzer()
    for kwargs in CALLS:
        assert _tokens(fast, text, **kwargs) == _tokens(stock, text, **kwargs), kwargs
    # What a build indexes: the kept words, numbered on from the first one's position.
    first, kept = fast.words(text)
    expected = [(t.text, t.pos) for t in stock(text, positions=True)]
    assert [(w, first + n) for n, w in enumerate(kept)] == expected


@pytest.mark.parametrize(
    "text",
    [
        "The cat and the hat",
        "a an the of",
        "the the Deploying deployments to the k8s cluster, the end",
        " ".join(WORDS + STOPS),
        "",
    ],
)
def test_the_fast_analyzer_keeps_positions_across_stop_words(text: str) -> None:
    stock, fast = StemmingAnalyzer(stemfn=english_stem), FastStemmingAnalyzer()
    for kwargs in CALLS:
        assert _tokens(fast, text, **kwargs) == _tokens(stock, text, **kwargs)


def test_the_fast_analyzer_survives_pickling_in_a_schema() -> None:
    schema = pickle.loads(pickle.dumps(make_schema()))
    analyzer = schema["body"].analyzer
    assert isinstance(analyzer, FastStemmingAnalyzer)
    text = "The runners were running to the deployments"
    assert _tokens(analyzer, text, positions=True) == _tokens(
        StemmingAnalyzer(stemfn=english_stem), text, positions=True
    )


# -- the segment writer --------------------------------------------------------------------


def _doc(n: int) -> SearchDoc:
    kinds = ["question", "answer", "article"]
    words = ["deploy", "the", "kubernetes", "printer", "proxy", "naïve", "3.14", "of", "cats"]
    body = " ".join(words[(n * k) % len(words)] for k in range(n % 17 + 1))
    return SearchDoc(
        id=n,
        kind=kinds[n % 3],
        subtype="tip" if n % 3 == 2 else None,
        slug=f"a-{n}" if n % 3 == 2 else None,
        title=f"Title {n} {words[n % len(words)]} and the {words[(n + 3) % len(words)]}",
        tags=sorted({f"tag{n % 5}", f"tag{n % 7}"}),
        body=body * (1 + n % 4),
        answers=f"answer about {words[n % 4]}" if n % 3 == 0 else "",
        comments="a comment, the comment" if n % 2 else "",
        username=f"user{n % 6}" if n % 5 else None,
        author_id=n % 6 or None,
        question_id=n - 1 if n % 3 == 1 else None,
        score=(n % 9) - 3,
        answer_count=n % 3,
        accepted=n % 4 == 0,
        created_at=dt.datetime(2024, 1, 1, tzinfo=dt.UTC) + dt.timedelta(hours=n),
    )


def _content(ix: Any) -> dict[str, Any]:
    """Everything a reader can tell about an index, block positions in files aside."""
    with ix.reader() as reader:
        postings = {}
        for fieldname, text in reader.all_terms():
            info = reader.term_info(fieldname, text)
            matcher = reader.postings(fieldname, text)
            items = []
            while matcher.is_active():
                items.append((matcher.id(), matcher.weight(), matcher.value()))
                matcher.next()
            stats = (info.weight(), info.doc_frequency(), info.min_length(), info.max_length())
            postings[(fieldname, text)] = (stats, info.max_weight(), items)
        names = [n for n in make_schema().names() if make_schema()[n].scorable]
        return {
            "count": reader.doc_count_all(),
            "stored": list(reader.all_stored_fields()),
            "postings": postings,
            "lengths": [
                [reader.doc_field_length(d, n) for n in names]
                for d in range(reader.doc_count_all())
            ],
            "totals": [reader.field_length(n) for n in names],
            "columns": [
                list(reader.column_reader(n)) for n in ("score", "created") if reader.has_column(n)
            ],
        }


def test_the_build_writer_indexes_what_whoosh_writer_indexes() -> None:
    docs = [document_fields(_doc(n)) for n in range(1, 400)]
    stock = RamStorage().create_index(make_schema(), indexname=INDEX_NAME)
    writer = stock.writer()
    for fields in docs:
        writer.add_document(**fields)
    writer.commit(merge=False)
    built = RamStorage().create_index(make_schema(), indexname=INDEX_NAME)
    count, segments = write_segments(
        built, iter(docs), lambda f: f, segment_docs=10_000, limitmb=32
    )
    whoosh_internals.commit_segments(built, segments)
    assert count == len(docs) and len(segments) == 1
    assert _content(built) == _content(stock)


def test_the_build_writer_rejects_what_it_does_not_index_like_whoosh() -> None:
    ix = RamStorage().create_index(make_schema(), indexname=INDEX_NAME)
    with pytest.raises(ValueError, match="boosts"):
        boosted = iter([{**document_fields(_doc(1)), "_boost": 2.0}])
        write_segments(ix, boosted, lambda f: f, segment_docs=5, limitmb=8)


def test_segments_hold_at_most_segment_docs_documents() -> None:
    ix = RamStorage().create_index(make_schema(), indexname=INDEX_NAME)
    count, segments = write_segments(
        ix, (_doc(n) for n in range(1, 26)), document_fields, segment_docs=10, limitmb=8
    )
    whoosh_internals.commit_segments(ix, segments)
    assert count == 25 and [s.doc_count_all() for s in segments] == [10, 10, 5]
    assert ix.doc_count() == 25


def test_the_cyclic_collector_is_paused_during_a_build_and_restored_after() -> None:
    seen: list[bool] = []

    def fields(doc: SearchDoc) -> dict[str, Any]:
        seen.append(gc.isenabled())
        if doc.id == 7:
            raise RuntimeError("the disk is full")
        return document_fields(doc)

    ix = RamStorage().create_index(make_schema(), indexname=INDEX_NAME)
    assert gc.isenabled()
    write_segments(ix, (_doc(n) for n in range(1, 5)), fields, segment_docs=2, limitmb=8)
    with pytest.raises(RuntimeError, match="disk is full"):
        write_segments(ix, (_doc(n) for n in range(5, 9)), fields, segment_docs=2, limitmb=8)
    assert seen and not any(seen)
    assert gc.isenabled()
    gc.disable()
    try:
        docs = (_doc(n) for n in range(1, 3))
        write_segments(ix, docs, document_fields, segment_docs=2, limitmb=8)
        assert not gc.isenabled()  # left as the caller had it
    finally:
        gc.enable()


# -- several processes ---------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _close_search_backends() -> Iterator[None]:
    yield
    search.close_backends()


def _corpus(session: Session) -> None:
    """Questions with answers and comments, articles, a deleted question: 26 documents."""
    authors = [make_user(session) for _ in range(3)]
    for n in range(14):
        question = search_question(
            session,
            authors[n % 3],
            f"Question {n} about the printer proxy {'kubernetes' if n % 2 else 'tapir'}",
            f"Body {n}: deploying printers behind a proxy, the **usual** way. " * (n % 3 + 1),
            tags=(f"tag{n % 4}", "printing") if n % 2 else (f"tag{n % 4}",),
            score=n % 5,
            anonymous=n == 5,
        )
        if n % 2 == 0:
            answer = search_answer(session, question, authors[(n + 1) % 3], f"Answer {n}: proxy.")
            search_comment(session, answer, authors[n % 3], f"Comment on answer {n}")
        if n % 3 == 0:
            search_comment(session, question, authors[2], f"Comment on question {n} printers")
        if n == 13:
            question.deleted_at = dt.datetime.now(dt.UTC)
    for n in range(6):
        search_article(session, authors[n % 3], f"Article {n}: printer tips", f"Tip {n} proxy.")
    session.commit()


QUERIES = ["printer", "proxy", "kubernetes", "tapir", "deploy", "comment", "tag:printing", "tip"]


def _snapshot(session: Session) -> tuple[dict[int, str], dict[str, list[tuple[int, float]]]]:
    backend = search.session_backend(session)
    versions = backend.versions(session)
    found = {}
    for text in QUERIES:
        hits = search.search(session, text, record_zero=False).results.hits
        found[text] = [(h.id, round(h.relevance, 4)) for h in hits]
    return versions, found


def _rebuild(session: Session, progress: list[int] | None = None) -> int:
    engine = session.get_bind()
    assert isinstance(engine, Engine)
    return outbox.rebuild(
        engine, search.session_backend(session), progress.append if progress is not None else None
    )


@pytest.fixture
def parallel(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Any]]:
    """Builds of any size use three workers; yields the list of each build's id ranges."""
    calls: list[Any] = []
    real = whoosh_build.build_parallel

    def spying(folder: str, url: str, ranges: list[tuple[int, int]], **kwargs: Any) -> Any:
        calls.append(ranges)
        return real(folder, url, ranges, **kwargs)

    monkeypatch.setattr(whoosh_build, "PARALLEL_MIN_DOCS", 1)
    monkeypatch.setattr(whoosh_build, "PROGRESS_EVERY", 3)
    monkeypatch.setattr(whoosh_build, "worker_count", lambda: 3)
    monkeypatch.setattr(whoosh_build, "build_parallel", spying)
    yield calls


def test_a_build_in_several_processes_equals_the_one_process_build(
    app: Flask, session: Session, monkeypatch: pytest.MonkeyPatch, parallel: list[Any]
) -> None:
    _corpus(session)
    monkeypatch.setattr(whoosh_build, "PARALLEL_MIN_DOCS", 10**9)
    single_count = _rebuild(session)
    single = _snapshot(session)
    assert parallel == []
    monkeypatch.setattr(whoosh_build, "PARALLEL_MIN_DOCS", 1)
    progress: list[int] = []
    count = _rebuild(session, progress)
    assert len(parallel) == 1 and len(parallel[0]) == 3
    assert count == single_count == len(single[0]) > 20
    assert _snapshot(session) == single
    assert all(hits for hits in single[1].values())
    # Progress comes from the workers as they go, and ends at the total.
    assert progress == sorted(progress) and progress[-1] == count and len(progress) > 3
    live = Path(app.config["SEARCH_INDEX_DIR"]) / CURRENT
    backend = search.session_backend(session)
    assert isinstance(backend, WhooshBackend)
    with backend._searching() as searcher:
        assert len(searcher.reader().leaf_readers()) == 3  # one segment per worker
    assert not [p for p in live.resolve().iterdir() if p.is_dir()]  # no temporary directory left
    assert not list(live.resolve().glob("*.seg"))  # workers follow WRITER_OPTIONS too
    assert outbox.verify(session.get_bind(), backend).ok  # type: ignore[arg-type]


@pytest.mark.parametrize("hooked", ["split_ids", "write_segments"])
def test_changes_committed_during_a_build_reach_the_index(
    app: Flask,
    session: Session,
    monkeypatch: pytest.MonkeyPatch,
    parallel: list[Any],
    hooked: str,
) -> None:
    """``split_ids`` runs in a parallel build, ``write_segments`` in a one-process build."""
    _corpus(session)
    author_id = make_user(session).id
    session.commit()
    backend = search.session_backend(session)
    if hooked == "write_segments":
        monkeypatch.setattr(whoosh_build, "PARALLEL_MIN_DOCS", 10**9)
    original = getattr(whoosh_build, hooked)

    def post_then_build(*args: Any, **kwargs: Any) -> Any:
        # Another request posts while the build runs: its outbox row waits for the rebuild,
        # whose replay (on SQLite too) must be able to write after that commit.
        other = new_session(app, bind=session.get_bind())
        search_question(other, other.get(User, author_id), "Okapi sightings", "Rare.")
        other.commit()
        other.close()
        return original(*args, **kwargs)

    monkeypatch.setattr(whoosh_build, hooked, post_then_build)
    _rebuild(session)
    assert len(parallel) == (1 if hooked == "split_ids" else 0)
    assert [h.title for h in search.search(session, "okapi").results.hits] == ["Okapi sightings"]
    assert outbox.verify(session.get_bind(), backend).ok  # type: ignore[arg-type]


def _failing_part(*args: Any) -> None:
    """A worker that fails once it has started (run in a spawned process)."""
    results = args[-1]
    results.put(("error", args[4], "Traceback: the disk is full"))
    raise SystemExit(1)


def _dying_part(*args: Any) -> None:
    """A worker killed without a word (run in a spawned process)."""
    if args[4] == 1:
        os._exit(3)
    whoosh_build.build_part(*args)


@pytest.mark.parametrize(
    ("worker", "message"),
    [(_failing_part, "the disk is full"), (_dying_part, "exited with code 3")],
)
def test_a_failing_worker_leaves_the_live_index_untouched(
    app: Flask,
    session: Session,
    monkeypatch: pytest.MonkeyPatch,
    parallel: list[Any],
    worker: Any,
    message: str,
) -> None:
    _corpus(session)
    before = _snapshot(session)
    index_dir = Path(app.config["SEARCH_INDEX_DIR"])
    live = (index_dir / CURRENT).resolve()
    generations = sorted(index_dir.glob("gen-*"))
    monkeypatch.setattr(whoosh_build, "build_part", worker)
    with pytest.raises(BuildFailed, match=message):
        _rebuild(session)
    assert (index_dir / CURRENT).resolve() == live
    assert sorted(index_dir.glob("gen-*")) == generations  # the half-built one is removed
    assert _snapshot(session) == before
    # The lock was let go: changes are indexed and the next rebuild works.
    search_question(session, make_user(session), "Okapi sightings", "Rare.")
    session.commit()
    assert [h.title for h in search.search(session, "okapi").results.hits] == ["Okapi sightings"]
    monkeypatch.undo()
    assert _rebuild(session) == len(before[0]) + 1


def test_small_builds_and_ram_indexes_stay_in_one_process(
    app: Flask, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    _corpus(session)

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("no worker process for a small build")

    monkeypatch.setattr(whoosh_build, "build_parallel", refuse)
    assert _rebuild(session) > 20  # under PARALLEL_MIN_DOCS
    monkeypatch.setattr(whoosh_build, "PARALLEL_MIN_DOCS", 1)
    ram = WhooshBackend(None)
    count, writer = ram.rebuild(session, None)
    writer.cancel()
    assert count > 20 and ram.doc_count() == count


def test_split_ids_gives_ranges_of_even_size(app: Flask, session: Session) -> None:
    _corpus(session)
    ranges = whoosh_build.split_ids(session, 3)
    assert len(ranges) == 3 and ranges[0][0] == 0
    assert all(a[1] == b[0] for a, b in zip(ranges, ranges[1:], strict=False))
    sizes = [len(list(iter_all_documents(session, after=a, upto=b))) for a, b in ranges]
    assert sum(sizes) == len(list(iter_all_documents(session)))
    assert max(sizes) - min(sizes) <= 3  # answers of a deleted question are not documents
    assert whoosh_build.split_ids(session, 500)[-1][1] == ranges[-1][1]


def test_an_in_memory_sqlite_database_is_built_in_one_process() -> None:
    from forum.db import make_engine

    with Session(make_engine("sqlite://")) as memory:
        assert whoosh_build.database_url(memory) is None
    with Session(make_engine("sqlite:////tmp/forum-x.db")) as on_disk:
        assert whoosh_build.database_url(on_disk) == "sqlite:////tmp/forum-x.db"
