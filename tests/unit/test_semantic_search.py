"""Semantic ranking: the embedder, the vector store, reciprocal rank fusion, hybrid search on
both databases and backends, freshness through the outbox, verify/sync after a model change,
the fallback to lexical ranking without the model or without pgvector."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from flask import Flask
from sqlalchemy import create_engine, delete, event, select, text
from sqlalchemy.orm import Session

from forum import search
from forum.db import get_engine, utcnow
from forum.models import PostVector
from forum.search import embeddings, vectors
from forum.services import close_votes, experts
from tests.conftest import NO_PG, PG_URL, _truncate_all, base_config
from tests.factories import (
    make_user,
    search_answer,
    search_article,
    search_question,
    search_tags,
)

pg = pytest.mark.skipif(PG_URL is None, reason=NO_PG)
SEARCH_SETUPS = [
    pytest.param(("sqlite", "whoosh"), id="sqlite-whoosh"),
    pytest.param(("postgresql", "whoosh"), id="postgresql-whoosh", marks=pg),
    pytest.param(("postgresql", "postgres"), id="postgresql-postgres", marks=pg),
]
postgres_only = pytest.mark.parametrize("search_setup", [SEARCH_SETUPS[2]], indirect=True)
sqlite_only = pytest.mark.parametrize("search_setup", [SEARCH_SETUPS[0]], indirect=True)

#: Shares no word (nor stem) with the migration question below.
PARAPHRASE = "undo a broken schema upgrade"


@pytest.fixture(params=SEARCH_SETUPS)
def search_setup(request: pytest.FixtureRequest) -> tuple[str, str]:
    return request.param  # type: ignore[no-any-return]


@pytest.fixture
def database_url(
    search_setup: tuple[str, str], request: pytest.FixtureRequest, tmp_path: Path
) -> str:
    if search_setup[0] == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        path = tmp_path / "forum.db"
        shutil.copyfile(template, path)
        return f"sqlite:///{path}"
    url: str = request.getfixturevalue("pg_database")
    _truncate_all(url)
    return url


@pytest.fixture
def app_config(tmp_path: Path, database_url: str, search_setup: tuple[str, str]) -> dict[str, Any]:
    return base_config(
        tmp_path, database_url, SEARCH_BACKEND=search_setup[1], SEARCH_RANKING="hybrid"
    )


@pytest.fixture(autouse=True)
def _close_search_backends() -> Iterator[None]:
    yield
    search.close_backends()


@dataclass
class Corpus:
    amara: Any
    jonas: Any
    migration: Any
    migration_answer: Any
    cake: Any
    coffee: Any
    article: Any


def commit(session: Session) -> None:
    """Commit, then wait for the embedding thread: on SQLite this test session's next read
    then write must not straddle the thread's writes (the app's writers begin IMMEDIATE)."""
    session.commit()
    vectors.wait(60)


def build(session: Session) -> Corpus:
    """A few posts on unrelated topics, committed as the app would; vectors then waited for."""
    amara = make_user(session, "amara")
    jonas = make_user(session, "jonas")
    commit(session)
    migration = search_question(
        session,
        amara,
        "How do I roll back a failed database migration?",
        "The alembic revision crashed halfway and the tables are in a weird state.",
        tags=("databases",),
    )
    commit(session)
    answer = search_answer(
        session, migration, jonas, "Run alembic downgrade to the previous revision first."
    )
    commit(session)
    cake = search_question(
        session,
        jonas,
        "Chocolate cake recipe for the office party",
        "Which recipe works without an oven?",
        tags=("food",),
    )
    commit(session)
    coffee = search_question(
        session,
        amara,
        "Where is the coffee machine on floor three?",
        "The kitchen moved and nobody told me.",
        tags=("office",),
    )
    commit(session)
    article = search_article(
        session,
        jonas,
        "Reverting production releases safely",
        "When a deploy goes wrong, revert the release and restore the previous version.",
        tags=("operations",),
    )
    commit(session)
    return Corpus(amara, jonas, migration, answer, cake, coffee, article)


def ids(page: search.Page) -> list[int]:
    return [h.id for h in page.results.hits]


# --- the embedder ---------------------------------------------------------------------------


def test_embedder_gives_unit_vectors_deterministically() -> None:
    model = embeddings.get_embedder()
    assert model is not None
    texts = ["How do I deploy a Flask app?", "", "chocolate " * 400]
    first = model.embed(texts)
    assert first.shape == (3, embeddings.DIMENSIONS)
    assert first.dtype == np.float32
    assert np.allclose(np.linalg.norm(first, axis=1), 1.0, atol=1e-5)
    assert np.allclose(model.embed(texts), first, atol=1e-6)
    assert np.allclose(model.embed_one(texts[0]), first[0], atol=1e-6)
    assert model.key.startswith("all-MiniLM-L6-v2-onnx-int8@")


def test_paraphrases_are_closer_than_unrelated_texts() -> None:
    model = embeddings.get_embedder()
    assert model is not None
    a, b, c, d, e = model.embed(
        [
            "A man is eating food.",
            "A man is eating a piece of bread.",
            "The new movie is awesome.",
            "How do I roll back a failed database migration?",
            PARAPHRASE,
        ]
    )
    assert a @ b > 0.6 > 0.2 > a @ c
    assert d @ e > 0.4
    assert d @ e > d @ c + 0.3


def test_query_vectors_are_remembered(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(embeddings, "QUERY_CACHE", 3)
    model = embeddings.Embedder(1)
    first = model.embed_one("roll back a migration")
    again = model.embed_one("roll back a migration")
    assert again is first and not first.flags.writeable
    assert np.allclose(first, model.embed(["roll back a migration"])[0], atol=1e-6)
    for i in range(3):
        model.embed_one(f"query {i}")
    assert model.embed_one("roll back a migration") is not first


def test_the_query_cache_embeds_each_text_once_and_forgets_the_oldest() -> None:
    calls: list[str] = []

    def embed(texts: Sequence[str]) -> np.ndarray:
        calls.extend(texts)
        return np.full((len(texts), 2), float(len(calls)), dtype=np.float32)

    cache = embeddings.QueryCache(2)
    first = cache.vector("a", embed)
    assert cache.vector("a", embed) is first and not first.flags.writeable
    cache.vector("b", embed)
    cache.vector("a", embed)  # "a" is now the newest, "b" the oldest
    cache.vector("c", embed)
    assert calls == ["a", "b", "c"]
    assert cache.vector("a", embed) is first
    cache.vector("b", embed)
    assert calls == ["a", "b", "c", "b"]


def test_worker_processes_give_the_same_vectors() -> None:
    model = embeddings.get_embedder()
    assert model is not None
    texts = [f"question {i} about " + "deploying flask apps " * (i % 7) for i in range(20)]
    pool = embeddings.PoolEmbedder(2, model)
    try:
        spread = pool.embed(texts, batch=3)
    finally:
        pool.close()
    assert pool.key == model.key
    assert np.allclose(spread, model.embed(texts), atol=1e-5)


def test_batches_sorted_by_length_come_back_in_the_callers_order() -> None:
    """Texts of very different lengths are embedded in batches sorted by word pieces and
    padded: each vector is the one its text gets alone (no padding, no neighbour)."""
    model = embeddings.get_embedder()
    assert model is not None
    texts = [
        "deploying flask apps behind nginx " * (1 + (i * 7) % 17) + f"question {i}"
        for i in range(13)
    ]
    texts[5] = ""
    lengths = [len(e) for e in model.encode(texts)]
    assert lengths != sorted(lengths) and max(lengths) == model.tokens
    alone = np.vstack([model.run(*embeddings.padded([e])) for e in model.encode(texts)])
    assert np.allclose(model.embed(texts, batch=4), alone, atol=1e-5)
    chunks = embeddings.by_length(model.encode(texts), 4)
    assert sorted(i for c in chunks for i in c) == list(range(13))
    assert [lengths[i] for c in chunks for i in c] == sorted(lengths)


def test_worker_processes_run_while_the_caller_works() -> None:
    """`start` returns at once; windows collected out of order are each in their own order."""
    model = embeddings.get_embedder()
    assert model is not None
    first = [f"rolling back migration {i} " * (1 + i % 5) for i in range(10)]
    second = [f"baking bread at home {i} " * (1 + i % 3) for i in range(7)]
    pool = embeddings.PoolEmbedder(2, model)
    try:
        collect_first = pool.start(first, batch=3)
        collect_second = pool.start(second, batch=3)
        late, early = collect_second(), collect_first()
    finally:
        pool.close()
    assert np.allclose(early, model.embed(first), atol=1e-5)
    assert np.allclose(late, model.embed(second), atol=1e-5)


def test_the_cut_is_part_of_the_model_key() -> None:
    """Reading fewer word pieces changes long posts' vectors, so it changes the key."""
    full = embeddings.get_embedder()
    cut = embeddings.get_embedder(1, 32)
    assert full is not None and cut is not None and cut is not full
    # The model's own cut keeps the key vectors had before the cut was a setting.
    assert "/t" not in full.key and cut.key == f"{full.key}/t32"
    assert embeddings.cut_of(full.key) == embeddings.MAX_TOKENS
    assert embeddings.cut_of(cut.key) == 32
    short, long = "How do I deploy a Flask app?", "deploy flask gunicorn nginx " * 40
    assert np.allclose(full.embed([short]), cut.embed([short]), atol=1e-5)
    assert float(full.embed([long])[0] @ cut.embed([long])[0]) < 0.999
    assert full.embed(["word " * 2000]).shape == (1, embeddings.DIMENSIONS)
    with pytest.raises(ValueError, match="1 to 512"):
        embeddings.Embedder(1, tokens=0)


def test_a_large_product_split_between_threads_gives_the_same_scores(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rng = np.random.default_rng(7)
    matrix = rng.standard_normal((1001, embeddings.DIMENSIONS)).astype(np.float32)
    vector = rng.standard_normal(embeddings.DIMENSIONS).astype(np.float32)
    whole = vectors.scores_of(matrix, vector)
    monkeypatch.setattr(vectors, "SPLIT_ROWS", 100)
    split = vectors.scores_of(matrix, vector)
    assert split.shape == (1001,)
    assert np.array_equal(split, whole)
    assert np.allclose(split, matrix @ vector, atol=1e-4)


def test_a_forked_process_starts_its_own_threads() -> None:
    vectors._pools()
    assert vectors._LEGS is not None
    child = os.fork()
    if child == 0:  # pragma: no cover - the child's code
        os._exit(0 if vectors._LEGS is None and vectors._HALVES is None else 1)
    _, status = os.waitpid(child, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert vectors._LEGS is not None


def test_vectors_are_stored_as_float16_bytes() -> None:
    vector = np.linspace(-1, 1, embeddings.DIMENSIONS).astype(np.float32)
    data = embeddings.to_bytes(vector)
    assert len(data) == embeddings.DIMENSIONS * 2
    assert np.allclose(embeddings.from_bytes(data), vector, atol=1e-3)


# --- fusion and query text ------------------------------------------------------------------


def test_reciprocal_rank_fusion() -> None:
    fused = search.fuse([[1, 2, 3], [3, 4, 1]], k=60)
    scores = dict(fused)
    assert scores[1] == pytest.approx(1 / 61 + 1 / 63)
    assert scores[3] == pytest.approx(1 / 63 + 1 / 61)
    assert scores[2] == pytest.approx(1 / 62)
    # Found by both beats found once; ties keep first appearance.
    assert [i for i, _ in fused] == [1, 3, 2, 4]
    assert search.fuse([]) == []


def test_each_rankings_leaders_stay_on_the_first_page() -> None:
    lexical = [100, *range(1, 12)]  # 100: first by words, never seen by meaning
    meaning = [200, *range(1, 12)]
    fused = search.fuse([lexical, meaning])
    assert [i for i, _ in fused].index(100) >= 10  # fusion alone pushes it off the page
    kept = search.with_leaders(fused, [lexical, meaning], lead=2, page=10)
    first = [i for i, _ in kept[:10]]
    assert {100, 200, 1} <= set(first)
    # The lowest fused posts gave their places; the others keep their order and scores.
    assert first == [1, 2, 3, 4, 5, 6, 7, 8, 100, 200]
    assert dict(kept) == dict(fused) and len(kept) == len(fused)
    # Leaders already on the page: nothing moves.
    assert search.with_leaders(fused[:5], [[1, 2], [2, 3]]) == fused[:5]


def test_free_text_drops_operators() -> None:
    text_ = 'undo "schema upgrade" tag:db is:question -broken (a OR b) user:amara'
    assert search.free_text(text_) == "undo schema upgrade a b"


# --- hybrid search on every setup -----------------------------------------------------------


def test_paraphrase_found_by_hybrid_not_by_lexical(app: Flask, session: Session) -> None:
    c = build(session)
    assert search.ranking(session) == "hybrid"
    page = search.search(session, PARAPHRASE)
    assert page.results.hits and page.results.hits[0].id == c.migration.id
    hit = page.results.hits[0]
    assert hit.title == c.migration.title
    assert "alembic" in hit.snippet  # the leading text of a post found by meaning
    assert c.cake.id not in ids(page) and c.coffee.id not in ids(page)
    session.info[search.outbox.CONFIG_KEY]["ranking"] = "lexical"
    try:
        lexical = search.search(session, PARAPHRASE)
    finally:
        session.info[search.outbox.CONFIG_KEY]["ranking"] = "hybrid"
    assert c.migration.id not in ids(lexical)
    assert lexical.ranking == "lexical"


def test_hybrid_keeps_lexical_matches_and_highlighting(app: Flask, session: Session) -> None:
    c = build(session)
    page = search.search(session, "alembic revision")
    assert page.results.hits[0].id in {c.migration.id, c.migration_answer.id}
    assert any("<mark>" in h.snippet for h in page.results.hits)
    assert page.ranking == "hybrid"


def test_filters_apply_to_the_semantic_part(app: Flask, session: Session) -> None:
    c = build(session)
    assert c.migration.id in ids(search.search(session, f"{PARAPHRASE} tag:databases"))
    assert c.migration.id not in ids(search.search(session, f"{PARAPHRASE} tag:food"))
    assert c.migration.id not in ids(search.search(session, f"{PARAPHRASE} is:article"))
    assert c.migration.id not in ids(search.search(session, f"{PARAPHRASE} user:jonas"))
    assert c.migration.id in ids(search.search(session, f"{PARAPHRASE} user:amara"))
    assert c.migration.id not in ids(search.search(session, f"{PARAPHRASE} -alembic"))
    # Only filters: lexical, every question of the tag.
    assert set(ids(search.search(session, "tag:databases"))) == {
        c.migration.id,
        c.migration_answer.id,
    }


def test_a_mistyped_word_is_corrected_for_both_rankings(app: Flask, session: Session) -> None:
    c = build(session)
    page = search.search(session, "alembic revisoin")
    assert page.suggestion == "alembic revision"
    assert page.results.hits[0].id in {c.migration.id, c.migration_answer.id}
    assert page.results.complete >= 1


def test_unrelated_query_finds_nothing_by_meaning(app: Flask, session: Session) -> None:
    build(session)
    page = search.search(session, "xylophone tuning frequencies")
    assert page.results.total == 0


def test_semantic_ranking_alone(app: Flask, session: Session) -> None:
    c = build(session)
    session.info[search.outbox.CONFIG_KEY]["ranking"] = "semantic"
    page = search.search(session, PARAPHRASE)
    assert page.ranking == "semantic"
    assert ids(page)[0] == c.migration.id
    assert page.results.total == len(page.results.hits)


def test_nearest_found_while_the_lexical_search_runs_are_the_same(
    app: Flask, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    c = build(session)
    model = embeddings.get_embedder()
    assert model is not None
    config = session.info[search.outbox.CONFIG_KEY]
    alone = vectors.nearest(session, config, model.embed_one(PARAPHRASE), 5)
    monkeypatch.setattr(vectors, "SPLIT_ROWS", 2)
    started = vectors.start_nearest(session, config, model, PARAPHRASE, 5)
    assert started() == alone
    assert alone[0][0] == c.migration.id
    waiting = search.start_semantic(session, PARAPHRASE)
    assert waiting is not None
    hits = search.semantic_hits(session, PARAPHRASE, 3, started=waiting)
    assert [h.id for h in hits] == [h.id for h in search.semantic_hits(session, PARAPHRASE, 3)]
    assert search.start_semantic(session, "  ") is None


def test_similar_and_related_use_meaning(app: Flask, session: Session) -> None:
    c = build(session)
    # The ask page: articles included.
    hits = search.similar(session, "how to revert a bad release", kinds=search.ASK_KINDS)
    assert c.article.id in [h.id for h in hits]
    assert c.cake.id not in [h.id for h in hits]
    hits = search.similar(session, PARAPHRASE)
    assert [h.id for h in hits][:1] == [c.migration.id]
    related = search.related(session, c.cake.id, c.cake.title)
    assert c.cake.id not in [h.id for h in related]


def test_duplicate_hints_and_experts_use_meaning(app: Flask, session: Session) -> None:
    c = build(session)
    found = close_votes.find_originals(session, c.cake.id, PARAPHRASE)
    assert c.migration.id in [i for i, _ in found]
    people = experts.find_experts(session, "reverting a schema change that went wrong")
    assert c.jonas.id in [e.user.id for e in people]


def test_new_post_found_by_meaning_within_ten_seconds(app: Flask, session: Session) -> None:
    c = build(session)
    fresh = search_question(
        session, c.amara, "Printer keeps jamming on the second floor", tags=("office",)
    )
    session.commit()
    started = time.monotonic()
    # Lexically as soon as the commit returns (the drain ran in it), before any vector.
    assert fresh.id in ids(search.search(session, "printer jamming"))
    found = False
    while time.monotonic() - started < 10 and not found:
        found = fresh.id in ids(search.search(session, "paper stuck in the copier"))
        time.sleep(0.1)
    assert found


def test_deleted_post_loses_its_vector(app: Flask, session: Session) -> None:
    c = build(session)
    from forum.db import utcnow

    c.cake.deleted_at = utcnow()
    commit(session)
    assert session.get(PostVector, c.cake.id) is None
    assert c.cake.id not in ids(search.search(session, "baking dessert"))


def test_verify_and_sync_cover_vectors_and_model_changes(
    app: Flask, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    c = build(session)
    engine = get_engine(app)
    config = session.info[search.outbox.CONFIG_KEY]
    assert vectors.verify(engine, config).ok
    session.execute(delete(PostVector).where(PostVector.post_id == c.cake.id))
    session.commit()
    drift = vectors.verify(engine, config)
    assert drift.missing == [c.cake.id] and not drift.stale
    # Resumable: only what is missing is embedded.
    assert vectors.sync(engine, config) == 1
    assert vectors.verify(engine, config).ok
    assert vectors.sync(engine, config) == 0
    # Another model (name or version): every vector is stale, and sync re-embeds them.
    model = vectors.embedder(config)
    assert model is not None
    monkeypatch.setattr(model, "key", "all-MiniLM-L6-v2-onnx-int8@2.0.0/t128")
    drift = vectors.verify(engine, config)
    assert drift.other_model == len(drift.stale) > 0
    assert vectors.sync(engine, config) == len(drift.stale)
    session.expire_all()
    keys = set(session.scalars(select(PostVector.model_key)).all())
    assert keys == {"all-MiniLM-L6-v2-onnx-int8@2.0.0/t128"}
    assert vectors.verify(engine, config).ok


def test_a_new_cut_makes_every_long_vector_stale_and_sync_re_embeds(
    app: Flask, session: Session
) -> None:
    build(session)
    engine = get_engine(app)
    config = dict(session.info[search.outbox.CONFIG_KEY])
    assert vectors.verify(engine, config).ok
    # The default setting (0) reads the default cut.
    assert config["embed_tokens"] == "0"
    model = vectors.embedder(config)
    assert model is not None and model.tokens == embeddings.MAX_TOKENS
    keys = set(session.scalars(select(PostVector.model_key)))
    assert keys == {model.key} and embeddings.cut_of(model.key) == embeddings.MAX_TOKENS
    session.commit()
    config["embed_tokens"] = "32"
    drift = vectors.verify(engine, config)
    assert drift.stale and drift.other_model == len(drift.stale)
    assert vectors.sync(engine, config) == len(drift.stale)
    assert vectors.verify(engine, config).ok
    session.expire_all()
    keys = set(session.scalars(select(PostVector.model_key)))
    assert keys == {f"{model.key}/t32"}


@sqlite_only
def test_sync_in_worker_processes_embeds_every_post(
    app: Flask, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    c = build(session)
    engine = get_engine(app)
    config = session.info[search.outbox.CONFIG_KEY]
    session.execute(delete(PostVector))
    session.commit()
    monkeypatch.setattr(vectors, "BATCH", 2)
    assert vectors.sync(engine, config, processes=2) == 5
    assert vectors.verify(engine, config).ok
    assert search.search(session, PARAPHRASE).results.hits[0].id == c.migration.id


@sqlite_only
def test_matrix_file_is_patched_not_rewritten(app: Flask, session: Session) -> None:
    c = build(session)
    config = session.info[search.outbox.CONFIG_KEY]
    folder = Path(config["vector_dir"])

    def rows() -> list[int]:
        return [int(i) for i in np.fromfile(folder / "ids.i64", dtype=np.int64)]

    before = rows()
    inode = (folder / "vectors.f32").stat().st_ino
    assert (
        sorted(before) == sorted(session.scalars(select(PostVector.post_id)).all())
        and len(before) == 5
    )
    cake = search_question(
        session, c.amara, "Lemon cake without an oven", "A fridge cheesecake.", tags=("food",)
    )
    commit(session)
    c.migration.title = "Chocolate brownies for the office party"
    commit(session)
    from forum.db import utcnow

    c.coffee.deleted_at = utcnow()
    commit(session)
    after = rows()
    assert (folder / "vectors.f32").stat().st_ino == inode
    assert (folder / "vectors.f32").stat().st_size == len(after) * embeddings.DIMENSIONS * 4
    assert after == [-1 if i == c.coffee.id else i for i in before] + [cake.id]
    assert c.migration.id not in ids(search.search(session, PARAPHRASE))
    assert c.migration.id in ids(search.search(session, "baking brownies"))
    assert c.coffee.id not in ids(search.search(session, "kitchen espresso machine"))
    # sync writes the files afresh, without the removed row.
    vectors.export_matrix(get_engine(app), config)
    assert sorted(rows()) == sorted(i for i in after if i >= 0)


@pytest.mark.parametrize(
    ("share", "split"),
    [(0.0, 20_000), (1.0, 20_000), (1.0, 2)],
    ids=["every-row", "copied-rows", "copied-rows-two-threads"],
)
def test_nearest_within_some_posts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, share: float, split: int
) -> None:
    """Only the given posts' rows are candidates, ranked as the whole matrix ranks them;
    a zeroed (removed) row and posts without a row never come back."""
    monkeypatch.setattr(vectors, "RESTRICTED_SHARE", share)
    monkeypatch.setattr(vectors, "SPLIT_ROWS", split)
    monkeypatch.setattr(vectors, "GATHER_ROWS", 2)
    rng = np.random.default_rng(7)
    matrix = rng.standard_normal((60, embeddings.DIMENSIONS)).astype("<f4")
    matrix /= np.linalg.norm(matrix, axis=1, keepdims=True)
    post_ids = np.arange(100, 160, dtype=np.int64)
    post_ids[-1] = 5  # appended by a patch: the ids are not in order
    post_ids[10] = -1  # a removed post's row, zeroed
    matrix[10] = 0
    matrix.tofile(tmp_path / "vectors.f32")
    post_ids.tofile(tmp_path / "ids.i64")
    config = {"vector_dir": str(tmp_path)}
    vector = matrix[3] + matrix[59] + matrix[20]
    vector /= np.linalg.norm(vector)
    everything = vectors.nearest_in_matrix(config, vector, 60)
    assert len(everything) == 59 and {103, 5, 120} == {i for i, _ in everything[:3]}
    within = np.array([5, 120, 140, 141, 110, -1, 999], dtype=np.int64)
    found = vectors.nearest_in_matrix(config, vector, 4, within=within)
    expected = [pair for pair in everything if pair[0] in set(within.tolist())][:4]
    assert [i for i, _ in found] == [i for i, _ in expected]
    assert [s for _, s in found] == pytest.approx([s for _, s in expected], abs=1e-6)
    assert 103 not in {i for i, _ in found}
    assert vectors.nearest_in_matrix(config, vector, 4, within=np.array([999, -1])) == []


@sqlite_only
def test_a_tag_filter_takes_the_nearest_posts_with_the_tag(
    app: Flask, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    c = build(session)
    session.info[search.outbox.CONFIG_KEY]["ranking"] = "semantic"
    monkeypatch.setattr(search, "SEMANTIC_POOL", 1)
    # The article is not the post nearest to the text, but the nearest with its tag.
    assert ids(search.search(session, PARAPHRASE)) == [c.migration.id]
    assert ids(search.search(session, f"{PARAPHRASE} tag:operations")) == [c.article.id]
    backend = search.session_backend(session)
    # An answer is indexed with its question's tags.
    assert backend.tagged_ids(session, ["databases"]).tolist() == sorted(
        [c.migration.id, c.migration_answer.id]
    )
    assert backend.tagged_ids(session, ["databases", "food"]).tolist() == []
    # Re-tagged and removed after the matrix was written (it is left as it was): the tags
    # and removals the index has now decide.
    monkeypatch.setattr(vectors, "enqueue", lambda *args, **kwargs: None)
    matrix_file = Path(session.info[search.outbox.CONFIG_KEY]["vector_dir"]) / "vectors.f32"
    written = matrix_file.stat().st_mtime_ns
    c.migration.tags = search_tags(session, ("operations",))
    c.article.deleted_at = utcnow()
    commit(session)
    assert matrix_file.stat().st_mtime_ns == written
    assert c.migration.id in backend.tagged_ids(session, ["operations"]).tolist()
    assert c.article.id not in backend.tagged_ids(session, ["operations"]).tolist()
    assert ids(search.search(session, f"{PARAPHRASE} tag:operations")) == [c.migration.id]
    assert c.migration.id not in ids(search.search(session, f"{PARAPHRASE} tag:databases"))
    session.info[search.outbox.CONFIG_KEY]["ranking"] = "hybrid"
    assert c.article.id not in ids(search.search(session, "reverting releases tag:operations"))


def test_highlighting_only_the_hits_shown(app: Flask, session: Session) -> None:
    c = build(session)
    backend = search.session_backend(session)
    query = search.parse("alembic revision")
    plain = backend.search(session, query, limit=10, highlight=False).hits
    assert {h.id for h in plain} == {c.migration.id, c.migration_answer.id}
    assert not any("<mark>" in h.snippet or "<mark>" in h.title_html for h in plain)
    marked = backend.highlight(session, query, plain)
    assert [h.id for h in marked] == [h.id for h in plain]
    assert all("<mark>" in h.snippet for h in marked)


def test_cli_verify_and_rebuild_report_vectors(app: Flask, session: Session) -> None:
    c = build(session)
    session.execute(delete(PostVector).where(PostVector.post_id == c.coffee.id))
    session.commit()
    runner = app.test_cli_runner()
    result = runner.invoke(args=["search", "verify"])
    assert "1 missing" in result.output and "vectors" in result.output
    assert result.exit_code != 0
    result = runner.invoke(args=["search", "rebuild"])
    assert result.exit_code == 0, result.output
    assert "embedded" in result.output
    assert session.get(PostVector, c.coffee.id) is not None
    result = runner.invoke(args=["search", "verify"])
    assert result.exit_code == 0, result.output


def test_embedding_progress_shows_posts_per_second() -> None:
    from forum.cli.search import _rate

    assert _rate((300, 4.0)) == "75.0 posts/s"
    assert _rate(None) is None and _rate((0, 0.0)) is None


# --- without the model, without pgvector ----------------------------------------------------


@sqlite_only
def test_without_the_model_search_is_lexical(
    app: Flask, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    c = build(session)

    def missing(_threads: int, _tokens: int = 0) -> embeddings.Embedder:
        raise ImportError("No module named 'onnxruntime'")

    monkeypatch.setattr(embeddings, "load", missing)
    embeddings.reset()
    try:
        page = search.search(session, PARAPHRASE)
        assert page.ranking == "lexical"
        assert page.semantic_off is not None and "not installed" in page.semantic_off
        assert c.migration.id not in ids(page)
        assert ids(search.search(session, "alembic")) != []
        assert search.similar(session, "chocolate cake")[0].id == c.cake.id
        client = app.test_client()
        health = client.get("/healthz").get_json()
        assert health["search"]["semantic"].startswith("off: the embedding model")
        assert health["search"]["ranking"] == "lexical"
        html = client.get("/search?q=alembic").get_data(as_text=True)
        assert "semantic ranking is off" in html
    finally:
        embeddings.reset()


@sqlite_only
def test_lexical_setting_turns_meaning_off(app: Flask, session: Session) -> None:
    c = build(session)
    session.info[search.outbox.CONFIG_KEY]["ranking"] = "lexical"
    page = search.search(session, PARAPHRASE)
    assert page.semantic_off == "SEARCH_RANKING is lexical"
    assert c.migration.id not in ids(page)


@sqlite_only
def test_search_page_and_health_say_semantic_is_on(app: Flask, session: Session) -> None:
    build(session)
    client = app.test_client()
    html = client.get("/search?q=" + PARAPHRASE).get_data(as_text=True)
    assert "Ranked by words and meaning" in html
    assert "roll back a failed database migration" in html
    health = client.get("/healthz").get_json()
    assert health["search"]["semantic"] == "on"
    assert health["search"]["ranking"] == "hybrid"


def test_model_import_failing_in_a_fresh_process() -> None:
    code = (
        "import sys; sys.modules['onnxruntime'] = None\n"
        "from forum.search import embeddings, vectors\n"
        "assert embeddings.get_embedder() is None\n"
        "assert vectors.ranking({'ranking': 'hybrid'}) == 'lexical'\n"
        "print('lexical')\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    assert out.stdout.strip() == "lexical"


@postgres_only
def test_pgvector_present_uses_the_hnsw_index(app: Flask, session: Session) -> None:
    c = build(session)
    assert vectors.pgvector_ready(session)
    index = session.execute(
        text("SELECT indexdef FROM pg_indexes WHERE indexname = 'ix_post_vectors_embedding'")
    ).scalar()
    assert index is not None and "hnsw" in index and "vector_cosine_ops" in index
    filled = session.execute(
        text("SELECT count(*) FROM post_vectors WHERE embedding IS NOT NULL")
    ).scalar()
    assert filled == session.execute(text("SELECT count(*) FROM post_vectors")).scalar()
    assert filled
    model = embeddings.get_embedder()
    assert model is not None
    config = session.info[search.outbox.CONFIG_KEY]
    near = vectors.nearest(session, config, model.embed_one(PARAPHRASE), 3)
    assert near[0][0] == c.migration.id


#: A query whose words no post below shares: only meaning can find them.
BUDGET = "quarterly budget spreadsheet"


@dataclass
class Crowd:
    query: np.ndarray[Any, Any]
    #: Questions tagged "common", nearest to the query (closest first).
    near: list[int]
    #: Questions tagged "rare" and an answer to the first, farther away (closest first).
    tagged: list[int]


def crowd(session: Session, untagged: int = 60) -> Crowd:
    """``untagged`` questions nearly the query's meaning, then a few with the tag "rare"
    farther from it, their vectors set directly (cosine 0.95 down, 0.6 down)."""
    model = embeddings.get_embedder()
    assert model is not None
    author = make_user(session, "crowd")
    near = [
        search_question(session, author, f"Filler number {i}", tags=("common",))
        for i in range(untagged)
    ]
    rare = [search_question(session, author, f"Rare topic {i}", tags=("rare",)) for i in range(3)]
    answer = search_answer(session, rare[0], author, "An answer under the rare question.")
    commit(session)
    query = model.embed_one(BUDGET)
    rng = np.random.default_rng(7)

    def at(cosine: float) -> str:
        other = rng.standard_normal(query.size)
        other -= other.dot(query) * query
        other /= np.linalg.norm(other)
        v = cosine * query + np.sqrt(1 - cosine**2) * other
        return "[" + ",".join(f"{x:.6f}" for x in v) + "]"

    order = [(q.id, 0.95 - 0.001 * n) for n, q in enumerate(near)]
    tagged = [answer.id, *(q.id for q in rare)]
    order += [(post_id, 0.65 - 0.02 * n) for n, post_id in enumerate(tagged)]
    session.execute(
        text("UPDATE post_vectors SET embedding = CAST(:v AS vector) WHERE post_id = :id"),
        [{"v": at(cosine), "id": post_id} for post_id, cosine in order],
    )
    session.commit()
    return Crowd(query, [q.id for q in near], tagged)


@contextlib.contextmanager
def capture_statements(session: Session) -> Iterator[list[tuple[str, Any]]]:
    """The statements run on ``session``'s connection meanwhile, with their values."""
    found: list[tuple[str, Any]] = []
    conn = session.connection()

    def seen(
        _conn: Any, clause: Any, multiparams: Any, params: Any, execution_options: Any
    ) -> None:
        found.append((str(clause), params))

    event.listen(conn, "before_execute", seen)
    try:
        yield found
    finally:
        event.remove(conn, "before_execute", seen)


@postgres_only
@pytest.mark.parametrize("exact_rows", [0, 5_000], ids=["index-scan", "exact"])
def test_a_tag_is_applied_while_the_nearest_are_found(
    app: Flask, session: Session, monkeypatch: pytest.MonkeyPatch, exact_rows: int
) -> None:
    """The 60 nearest posts lack the tag: filtering after an HNSW search of ef_search (40)
    candidates would leave nothing. Many tagged posts: the index is scanned with the filter,
    iteratively, until tagged posts are found; few: they are compared one by one. Either way
    an answer has its question's tag."""
    c = crowd(session)
    monkeypatch.setattr(vectors, "PG_EXACT_ROWS", exact_rows)
    config = session.info[search.outbox.CONFIG_KEY]
    # At 100k posts the planner walks the index in distance order and looks up each post's
    # tags; on 64 rows it would sort the few tagged ones instead.
    session.execute(text("SET LOCAL enable_sort = off"))
    with capture_statements(session) as statements:
        near = vectors.nearest(session, config, c.query, 3, tags=["rare"])
    assert [i for i, _ in near] == c.tagged[:3]
    assert [round(score, 2) for _, score in near] == [0.65, 0.63, 0.61]
    statement, values = statements[-1]
    plan = "\n".join(session.execute(text("EXPLAIN " + statement), values).scalars())
    if exact_rows:
        assert "ix_post_vectors_embedding" not in plan
    else:
        assert "Index Scan using ix_post_vectors_embedding" in plan
    assert vectors.nearest(session, config, c.query, 3, tags=["rare", "common"]) == []
    assert vectors.nearest(session, config, c.query, 3, tags=["absent"]) == []
    plain = vectors.nearest(session, config, c.query, 3)
    assert [i for i, _ in plain] == c.near[:3]
    session.rollback()


@postgres_only
def test_semantic_results_with_a_tag_are_not_crowded_out(
    app: Flask, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    """More untagged posts than the semantic pool lie nearer than any tagged one: the page
    for ``tag:rare`` still lists the tagged ones, by meaning."""
    c = crowd(session, untagged=45)
    monkeypatch.setattr(search, "SEMANTIC_POOL", 20)
    session.info[search.outbox.CONFIG_KEY]["ranking"] = "semantic"
    page = search.search(session, f"{BUDGET} tag:rare")
    assert ids(page) == c.tagged
    session.info[search.outbox.CONFIG_KEY]["ranking"] = "hybrid"
    assert ids(search.search(session, f"{BUDGET} tag:rare")) == c.tagged


@postgres_only
def test_pgvector_settings_last_one_transaction(
    app: Flask, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    c = crowd(session, untagged=5)
    config = session.info[search.outbox.CONFIG_KEY]

    def settings(bind: Any) -> list[str]:
        return list(
            bind.execute(
                text(
                    "SELECT current_setting('hnsw.ef_search'),"
                    " current_setting('hnsw.iterative_scan')"
                )
            ).one()
        )

    assert vectors.nearest(session, config, c.query, 200)
    assert settings(session) == ["200", "relaxed_order"]
    session.commit()
    assert settings(session) == ["40", "off"]
    # The leg's own connection (when switched on): back in the pool without the settings.
    monkeypatch.setattr(vectors, "PG_OWN_CONNECTION", True)
    model = embeddings.get_embedder()
    assert model is not None
    engine = get_engine(app)
    assert vectors.start_nearest(session, config, model, BUDGET, 5, tags=["rare"])()
    assert settings(session) == ["40", "off"]
    for _ in range(3):
        with engine.connect() as conn:
            assert settings(conn) == ["40", "off"]
    session.rollback()


@postgres_only
def test_without_iterative_scan_as_many_candidates_as_rows_asked(
    app: Flask, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without an iterative scan HNSW returns at most ef_search rows: it is raised to the
    rows asked for."""
    c = crowd(session)
    monkeypatch.setattr(vectors, "PG_ITERATIVE_SCAN", "off")
    config = session.info[search.outbox.CONFIG_KEY]
    session.execute(text("SET LOCAL enable_seqscan = off"))
    near = vectors.nearest(session, config, c.query, 64)
    assert len(near) == 64
    assert session.execute(text("SELECT current_setting('hnsw.ef_search')")).scalar() == "64"
    session.rollback()


@postgres_only
def test_without_pgvector_postgres_search_is_lexical(app: Flask, session: Session) -> None:
    """The schema the migration makes where the extension cannot be created: ``embedding``
    is plain bytes without the HNSW index."""
    c = build(session)
    session.execute(text("DROP INDEX ix_post_vectors_embedding"))
    session.execute(text("ALTER TABLE post_vectors ALTER COLUMN embedding TYPE bytea USING NULL"))
    session.execute(text("CREATE INDEX ix_post_vectors_embedding ON post_vectors (embedding)"))
    session.commit()
    try:
        assert not vectors.pgvector_ready(session)
        page = search.search(session, PARAPHRASE)
        assert page.ranking == "lexical"
        assert page.semantic_off == "the pgvector extension is not installed in the database"
        assert c.migration.id not in ids(page)
        assert c.migration.id in ids(search.search(session, "alembic"))
        # New posts are still stored (bytes) and indexed lexically.
        fresh = search_question(session, c.amara, "Printer keeps jamming", tags=("office",))
        session.commit()
        vectors.wait(60)
        assert fresh.id in ids(search.search(session, "printer"))
        health = app.test_client().get("/healthz").get_json()
        assert "pgvector" in health["search"]["semantic"]
    finally:
        session.rollback()
        session.execute(text("DROP INDEX ix_post_vectors_embedding"))
        session.execute(
            text("ALTER TABLE post_vectors ALTER COLUMN embedding TYPE vector(384) USING NULL")
        )
        session.execute(
            text(
                "CREATE INDEX ix_post_vectors_embedding ON post_vectors"
                " USING hnsw (embedding vector_cosine_ops)"
            )
        )
        session.commit()


def test_a_change_while_the_process_exits_is_left_for_sync(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A drain in a stopping worker must not fail: its executor no longer takes work."""
    stopped = ThreadPoolExecutor(max_workers=1)
    stopped.shutdown()
    monkeypatch.setattr(vectors, "_EXECUTOR", stopped)
    monkeypatch.setattr(vectors, "_WAITING", {})
    engine = create_engine("sqlite://")
    try:
        vectors.enqueue(engine, {"ranking": "hybrid", "vector_dir": str(tmp_path)}, [1, 2])
    finally:
        engine.dispose()
    assert vectors._WAITING == {}


def test_two_workers_storing_one_posts_vector_at_once_both_succeed(
    app: Flask, session: Session
) -> None:
    """Two changes to one post drained in two processes: both store its vector, neither fails."""
    import threading

    from forum.db import new_session
    from forum.search.documents import build_documents

    corpus = build(session)
    model = embeddings.get_embedder()
    assert model is not None
    first, second = new_session(app), new_session(app)
    try:
        docs = list(build_documents(first, [corpus.cake.id]).values())
        later_docs = list(build_documents(second, [corpus.cake.id]).values())
        first.commit()
        second.commit()
        vectors.write(first, model, docs)  # not committed yet: holds the post's row
        errors: list[BaseException] = []

        def other_worker() -> None:
            try:
                vectors.write(second, model, later_docs)
                second.commit()
            except Exception as exc:  # noqa: BLE001 - the test reports it
                errors.append(exc)
                second.rollback()

        thread = threading.Thread(target=other_worker)
        thread.start()
        thread.join(1.0)
        first.commit()
        thread.join(60)
        assert not thread.is_alive()
        assert errors == []
    finally:
        first.close()
        second.close()
    session.expire_all()
    stored = session.scalars(select(PostVector).where(PostVector.post_id == corpus.cake.id)).all()
    assert len(stored) == 1 and stored[0].model_key == model.key
