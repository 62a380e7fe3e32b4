"""Whoosh specifics: schema versions, generations swapped atomically, one refreshed searcher."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy.orm import Session

from forum import search
from forum.search import whoosh_backend
from forum.search.query import parse
from forum.search.whoosh_backend import CURRENT, SchemaMismatch, WhooshBackend
from tests.factories import make_user, search_question


@pytest.fixture(autouse=True)
def _close_search_backends() -> Iterator[None]:
    yield
    search.close_backends()


def _titles(session: Session, text: str) -> list[str]:
    return [h.title for h in search.search(session, text).results.hits]


def test_a_schema_version_mismatch_makes_sync_rebuild(app: Flask, session: Session) -> None:
    author = make_user(session)
    search_question(session, author, "Pangolin scales", "Keratin.")
    session.commit()
    backend = search.session_backend(session)
    assert isinstance(backend, WhooshBackend)
    live = Path(app.config["SEARCH_INDEX_DIR"]) / CURRENT
    (live / "SCHEMA_VERSION").write_text("1", encoding="ascii")
    backend.close()
    with pytest.raises(SchemaMismatch):
        backend.doc_count()
    result = app.test_cli_runner().invoke(args=["search", "sync"])
    assert result.exit_code == 0, result.output
    assert "another schema version: rebuilding" in result.output
    assert _titles(session, "pangolin") == ["Pangolin scales"]


def test_rebuild_swaps_generations_and_readers_follow(app: Flask, session: Session) -> None:
    author = make_user(session)
    search_question(session, author, "Narwhal tusks", "Teeth.")
    session.commit()
    index_dir = Path(app.config["SEARCH_INDEX_DIR"])
    before = (index_dir / CURRENT).resolve()
    other_process = WhooshBackend(index_dir)  # another worker's view of the same index
    assert other_process.doc_count() == 1
    result = app.test_cli_runner().invoke(args=["search", "rebuild"])
    assert result.exit_code == 0, result.output
    after = (index_dir / CURRENT).resolve()
    assert after != before and (index_dir / CURRENT).is_symlink()
    search_question(session, author, "Narwhal songs", "Clicks.")
    session.commit()
    assert other_process.doc_count() == 2  # reopened on the new generation
    other_process.close()


def test_one_searcher_is_refreshed_not_reopened(
    session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    author = make_user(session)
    search_question(session, author, "Ibis migration", "South.")
    session.commit()
    backend = search.session_backend(session)
    assert isinstance(backend, WhooshBackend)
    assert _titles(session, "ibis") == ["Ibis migration"]
    opened: list[object] = []
    original = backend._ix.searcher

    def counting(*args: object, **kwargs: object) -> object:
        opened.append(args)
        return original(*args, **kwargs)

    monkeypatch.setattr(backend._ix, "searcher", counting)
    search_question(session, author, "Ibis feathers", "White.")
    session.commit()
    assert sorted(_titles(session, "ibis")) == ["Ibis feathers", "Ibis migration"]
    first = backend._searcher
    assert _titles(session, "feathers") == ["Ibis feathers"]
    assert backend._searcher is first  # unchanged index: the same searcher
    assert opened == []  # refreshed, never reopened


def test_an_updated_document_appears_once_after_refresh(session: Session) -> None:
    author = make_user(session)
    question = search_question(session, author, "Lemur diet", "Fruit.")
    session.commit()
    assert _titles(session, "lemur") == ["Lemur diet"]
    for n in range(3):
        question.body_md = f"Fruit and leaves, take {n}."
        session.commit()
        assert _titles(session, "lemur") == ["Lemur diet"]


def test_open_dir_is_retried_while_another_process_commits(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    backend = WhooshBackend(tmp_path / "ix")
    assert backend.doc_count() == 0
    backend.close()
    real = whoosh_backend.FileStorage.open_index
    failures = iter([FileNotFoundError("_MAIN_1.toc"), FileNotFoundError("_MAIN_1.toc")])

    def flaky(self: object, *args: object, **kwargs: object) -> object:
        error = next(failures, None)
        if error is not None:
            raise error
        return real(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(whoosh_backend.FileStorage, "open_index", flaky)
    assert backend.doc_count() == 0
    backend.close()


@pytest.mark.parametrize(
    ("counts", "max_docs", "merged"),
    [
        ([20_000] * 5 + [1] * 9, 999, []),  # nine small segments: not yet
        ([20_000] * 5 + [1] * 10, 999, list(range(5, 15))),  # ten of a tier: merged
        ([3] * 6 + [40] * 10 + [700] * 4, 999, list(range(6, 16))),  # only the full tier
        ([5_000] * 12, 999, []),  # large segments are left to `forum search sync`
        ([5_000] * 12, None, list(range(12))),
        ([0] * 10, 999, list(range(10))),  # emptied by deletions: tier of single documents
    ],
)
def test_merge_tiers(counts: list[int], max_docs: int | None, merged: list[int]) -> None:
    assert whoosh_backend.tiers_to_merge(counts, max_docs) == merged


def _segment_sizes(backend: WhooshBackend) -> list[int]:
    return sorted(s.doc_count_all() for s in backend._ensure_open()._segments())


def test_commits_while_serving_never_rewrite_a_large_segment(
    app: Flask, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    author = make_user(session)
    monkeypatch.setattr(whoosh_backend, "DRAIN_MERGE_MAX_DOCS", 3)
    for n in range(4):
        search_question(session, author, f"Okapi {n}", "Stripes.")
    session.commit()  # one segment of four documents: "large" here
    backend = search.session_backend(session)
    assert isinstance(backend, WhooshBackend)
    large = [s.segment_id() for s in backend._ensure_open()._segments()]
    assert _segment_sizes(backend) == [4]
    for n in range(whoosh_backend.TIER_SEGMENTS + 2):
        search_question(session, author, f"Tapir {n}", "Snout.")
        session.commit()  # one new segment each, merged by tier
    segments = backend._ensure_open()._segments()
    assert large[0] in {s.segment_id() for s in segments}  # never rewritten
    # The eleventh commit merged the ten single-document segments with its own document.
    assert _segment_sizes(backend) == [1, 4, 11]
    assert len(_titles(session, "tapir")) == whoosh_backend.TIER_SEGMENTS + 2
    # `forum search sync` merges crowded tiers of any size.
    monkeypatch.setattr(whoosh_backend, "TIER_SEGMENTS", 2)
    result = app.test_cli_runner().invoke(args=["search", "sync"])
    assert result.exit_code == 0, result.output
    assert "Merged index segments: 1 fewer." in result.output
    assert _segment_sizes(backend) == [5, 11]  # the large segment too
    assert len(_titles(session, "tapir")) == 12 and len(_titles(session, "okapi")) == 4


def test_segments_are_written_as_separate_files(app: Flask, session: Session) -> None:
    # Whoosh copies every file of a compound (.seg) segment into memory when it opens it.
    author = make_user(session)
    for n in range(3):
        search_question(session, author, f"Quokka {n}", "Smile.")
        session.commit()
    live = (Path(app.config["SEARCH_INDEX_DIR"]) / CURRENT).resolve()
    files = [p.name for p in live.iterdir()]
    assert any(name.endswith(".pst") for name in files)
    assert not [name for name in files if name.endswith(".seg")]
    result = app.test_cli_runner().invoke(args=["search", "rebuild"])
    assert result.exit_code == 0, result.output
    live = (Path(app.config["SEARCH_INDEX_DIR"]) / CURRENT).resolve()
    files = [p.name for p in live.iterdir()]
    assert any(name.endswith(".pst") for name in files)
    assert not [name for name in files if name.endswith(".seg")]
    assert len(_titles(session, "quokka")) == 3


def test_a_searcher_keeps_reading_segments_another_process_merged_away(
    app: Flask, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    author = make_user(session)
    for n in range(3):
        search_question(session, author, f"Axolotl {n}", "Gills.")
        session.commit()  # a segment each
    index_dir = Path(app.config["SEARCH_INDEX_DIR"])
    worker = WhooshBackend(index_dir)  # one worker's searcher, its stored fields not read yet
    other = WhooshBackend(index_dir)  # another process
    with worker._searching() as searcher:
        assert len(list(searcher.reader().leaf_readers())) == 3
        monkeypatch.setattr(whoosh_backend, "TIER_SEGMENTS", 2)
        assert other.compact(timeout=5.0) == 2  # the three segments' files are deleted
        live = (index_dir / CURRENT).resolve()
        assert len([p for p in live.iterdir() if p.name.endswith("._stored.col")]) == 1
        # The searcher in hand still reads them (its files were opened with it).
        titles = sorted(f["title"] for f in searcher.reader().all_stored_fields())
    assert titles == ["Axolotl 0", "Axolotl 1", "Axolotl 2"]
    assert sorted(h.title for h in worker.search(session, parse("axolotl")).hits) == titles
    worker.close()
    other.close()
