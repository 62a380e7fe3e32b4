"""Every private Whoosh part forum.search.whoosh_internals uses, against the installed Whoosh.

The adapter was written and checked against whoosh-reloaded VERSION. Each test compares what
an adapter function reads or writes with what Whoosh's public API says about the same index,
so a release that changes one of those private parts fails here, by name.
"""

from __future__ import annotations

import importlib.metadata
import os
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from whoosh import formats, scoring
from whoosh.codec import whoosh3
from whoosh.fields import UnknownFieldError
from whoosh.filedb.filestore import FileStorage, RamStorage
from whoosh.matching import ListMatcher
from whoosh.reading import SegmentReader
from whoosh.util.numeric import byte_to_length, length_to_byte
from whoosh.writing import IndexingError

from forum.search import whoosh_internals
from forum.search.whoosh_backend import WRITER_OPTIONS
from forum.search.whoosh_build import BuildWriter, write_segments
from forum.search.whoosh_schema import INDEX_NAME, document_fields, make_schema
from tests.unit.test_search_whoosh_build import _doc

#: The whoosh-reloaded release forum/search/whoosh_internals.py was checked against.
VERSION = "2.7.5"
ROOT = Path(__file__).resolve().parents[2]
#: Enough documents for posting lists of several blocks (Whoosh writes 128 postings a block).
DOCS = range(1, 400)
BLOCK = 128


def test_installed_whoosh_is_the_release_the_adapter_was_checked_against() -> None:
    installed = importlib.metadata.version("whoosh-reloaded")
    assert installed == VERSION == whoosh_internals.CHECKED_VERSION, (
        f"whoosh-reloaded {installed} is installed, but forum/search/whoosh_internals.py was "
        f"checked against {VERSION} (CHECKED_VERSION {whoosh_internals.CHECKED_VERSION}). "
        "Check every function there against the installed release, then update "
        "CHECKED_VERSION, VERSION in this test and the pin in pyproject.toml together."
    )


def test_pyproject_pins_the_checked_release() -> None:
    with (ROOT / "pyproject.toml").open("rb") as f:
        dependencies = tomllib.load(f)["project"]["dependencies"]
    assert f"whoosh-reloaded=={VERSION}" in dependencies


@pytest.fixture
def ix(tmp_path: Path) -> Iterator[Any]:
    """An index on disk written as a rebuild writes it: two segments of separate files."""
    index = FileStorage(str(tmp_path)).create_index(make_schema(), indexname=INDEX_NAME)
    docs = (_doc(n) for n in DOCS)
    _count, segments = write_segments(
        index, docs, document_fields, segment_docs=300, limitmb=16, options=WRITER_OPTIONS
    )
    whoosh_internals.commit_segments(index, segments)
    yield index
    index.close()


@pytest.fixture
def reader(ix: Any) -> Iterator[Any]:
    """A reader of the index's first (300 document) segment."""
    segment = whoosh_internals.index_segments(ix)[0]
    opened = SegmentReader(ix.storage, ix.schema, segment)
    yield opened
    opened.close()


def _public_postings(reader: Any, field: str, text: bytes) -> tuple[list[int], list[float]]:
    matcher = reader.postings(field, text)
    ids, weights = [], []
    while matcher.is_active():
        ids.append(matcher.id())
        weights.append(matcher.weight())
        matcher.next()
    return ids, weights


def test_on_disk_postings_equal_the_matchers(reader: Any) -> None:
    longest = 0
    for field, text in reader.all_terms():
        found = whoosh_internals.on_disk_postings(reader.postings(field, text))
        assert found is not None, (field, text)
        ids, weights = _public_postings(reader, field, text)
        assert found[0].tolist() == ids, (field, text)
        assert found[1].tolist() == pytest.approx(weights), (field, text)
        longest = max(longest, len(ids))
    assert longest > 2 * BLOCK  # lists of several (compressed) blocks were read
    assert whoosh_internals.on_disk_postings(ListMatcher([1, 2], [1.0, 1.0])) is None


def test_block_pickles_use_protocol_4(reader: Any) -> None:
    assert whoosh3.dumps is formats.dumps
    assert whoosh3.dumps(("x", b"y"), 2)[:2] == b"\x80\x04"
    # The codec writes a list's first block info with the module's dumps: protocol 4.
    matcher = reader.postings("kind", b"question")
    assert isinstance(matcher, whoosh3.W3LeafMatcher)
    info = matcher._postfile.get(matcher._baseoffset + 4, 2)
    assert info == b"\x80\x04"


def test_added_postings_keep_the_block_statistics(reader: Any) -> None:
    """add_postings fills Whoosh's block buffers: the block-quality numbers that let Whoosh
    skip blocks are those of the block's postings."""
    term = max(reader.all_terms(), key=lambda t: reader.doc_frequency(*t) * (t[0] == "body"))
    ids, weights = _public_postings(reader, *term)
    assert len(ids) > BLOCK
    matcher = reader.postings(*term)
    first = ids[:BLOCK]
    lengths = [reader.doc_field_length(d, "body") for d in first]
    assert matcher.block_max_id() == first[-1]
    assert matcher.block_max_weight() == pytest.approx(max(weights[:BLOCK]))
    assert matcher.block_min_length() == min(lengths)
    assert matcher.block_max_length() == max(lengths)


def test_length_bytes_are_the_field_lengths(reader: Any) -> None:
    for field in ("title", "body", "thread"):
        raw = whoosh_internals.length_bytes(reader, field)
        assert len(raw) == reader.doc_count_all()
        # Whoosh answers None for a document without the field.
        expected = [reader.doc_field_length(d, field) or 0 for d in range(reader.doc_count_all())]
        assert [byte_to_length(b) for b in raw] == expected
        assert any(expected)


def test_missing_length_columns_are_looked_up_once(
    reader: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert whoosh3.W3PerDocReader._forum_cached_lengths
    looked_up: list[str] = []
    storage = reader.storage()
    real = storage.file_exists

    def file_exists(name: str) -> bool:
        looked_up.append(name)
        return bool(real(name))

    monkeypatch.setattr(storage, "file_exists", file_exists)
    for docnum in range(20):
        assert reader.doc_field_length(docnum, "id") == 0  # an unscored field: no lengths
    assert len(looked_up) == 1


def test_file_path_is_the_file_on_disk(ix: Any, tmp_path: Path) -> None:
    name = whoosh_internals.index_segments(ix)[0].make_filename(".pst")
    path = whoosh_internals.file_path(ix.storage, name)
    assert path == os.path.join(tmp_path, name)
    assert os.path.isfile(path)
    assert whoosh_internals.file_path(RamStorage(), name) is None


def test_bm25f_parameters_are_those_whoosh_scores_with(ix: Any) -> None:
    weighting = scoring.BM25F(B=0.5, K1=1.7, title_B=0.2)
    with ix.searcher(weighting=weighting) as searcher:
        for field in ("title", "body"):
            text = next(iter(searcher.reader().lexicon(field)))
            scorer = weighting.scorer(searcher, field, text)
            b, k1 = whoosh_internals.bm25f_parameters(weighting, field)
            assert (b, k1) == (scorer.B, scorer.K1)
    assert whoosh_internals.bm25f_parameters(weighting, "title") == (0.2, 1.7)
    assert whoosh_internals.bm25f_parameters(weighting, "body") == (0.5, 1.7)


def test_opened_column_files_stay_readable_once_removed(ix: Any, tmp_path: Path) -> None:
    segment = whoosh_internals.index_segments(ix)[0]
    reader = SegmentReader(ix.storage, ix.schema, segment)
    try:
        prefix = segment.make_filename(".")
        names = [n for n in ix.storage.list() if n.startswith(prefix) and n.endswith(".col")]
        fields = [n[len(prefix) : -len(".col")] for n in names]
        assert "_stored" in fields
        whoosh_internals.open_column_files(reader, fields)
        for name in names:
            (tmp_path / name).unlink()
        assert reader.stored_fields(0)["id"] == "1"
        assert reader.doc_field_length(0, "body") > 0
        with pytest.raises(FileNotFoundError):
            whoosh_internals.open_column_files(reader, ["no_such_field"])
    finally:
        reader.close()


def test_a_reused_reader_sees_the_newer_generations_deletions(ix: Any) -> None:
    toc = whoosh_internals.read_toc(ix)
    segment = toc.segments[0]
    reader = SegmentReader(ix.storage, toc.schema, segment, generation=toc.generation)
    try:
        docnum = 7
        post_id = reader.stored_fields(docnum)["id"]
        writer = ix.writer()
        writer.delete_by_term("id", post_id)
        writer.commit(merge=False)
        newer = whoosh_internals.read_toc(ix)
        assert newer.generation == toc.generation + 1
        assert not reader.is_deleted(docnum)
        assert _public_postings(reader, "id", post_id)[0] == [docnum]  # caches no deletions
        same = next(s for s in newer.segments if s.segment_id() == segment.segment_id())
        whoosh_internals.reuse_reader(reader, same, newer.generation)
        assert reader.is_deleted(docnum)
        assert _public_postings(reader, "id", post_id)[0] == []
        assert reader.generation() == newer.generation
        assert reader.doc_count() == reader.doc_count_all() - 1
    finally:
        reader.close()


def test_commit_segments_adds_a_generation_without_merging(ix: Any) -> None:
    before = whoosh_internals.read_toc(ix)
    docs = (_doc(n) for n in range(1000, 1010))
    _count, segments = write_segments(
        ix, docs, document_fields, segment_docs=5, limitmb=8, options=WRITER_OPTIONS
    )
    assert whoosh_internals.read_toc(ix).generation == before.generation  # not listed yet
    whoosh_internals.commit_segments(ix, segments)
    after = whoosh_internals.read_toc(ix)
    assert after.generation == before.generation + 1
    listed = [s.segment_id() for s in whoosh_internals.index_segments(ix)]
    assert listed == [s.segment_id() for s in [*before.segments, *segments]]
    with ix.searcher() as searcher:
        assert searcher.doc_count() == len(DOCS) + 10


def test_the_build_writers_private_steps(ix: Any) -> None:
    writer = BuildWriter(ix, _lk=False, **WRITER_OPTIONS)
    with pytest.raises(UnknownFieldError):
        writer.check_fields(["no_such_field"])
    writer.add_document(**document_fields(_doc(5000)))
    assert writer._added  # as Whoosh's own add_document leaves it
    with pytest.raises(Exception, match="schema"):
        writer.add_field("extra", make_schema()["id"])
    before = whoosh_internals.read_toc(ix).generation
    segment = writer.finish_segment()
    assert segment.doc_count_all() == 1
    assert whoosh_internals.read_toc(ix).generation == before
    with pytest.raises(IndexingError):
        writer.check_state()
    reader = SegmentReader(ix.storage, ix.schema, segment)
    try:
        assert reader.stored_fields(0)["id"] == "5000"
        assert length_to_byte(reader.doc_field_length(0, "body")) > 0
    finally:
        reader.close()
