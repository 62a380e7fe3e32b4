"""Whoosh queries evaluated with arrays find the documents Whoosh's matchers find, with the
same scores; posting lists read from blocks and from array files equal the matchers'."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from whoosh import query
from whoosh.filedb.filestore import RamStorage

from forum.search import whoosh_arrays
from forum.search.whoosh_backend import _WEIGHTING, _Or
from forum.search.whoosh_build import write_segments
from forum.search.whoosh_internals import commit_segments
from forum.search.whoosh_schema import INDEX_NAME, document_fields, make_schema
from tests.unit.test_search_whoosh_build import _doc

DOCS = range(1, 700)


def _stock() -> Any:
    """An index written by Whoosh's own writer: two segments, some documents deleted."""
    ix = RamStorage().create_index(make_schema(), indexname=INDEX_NAME)
    for part in (DOCS[:400], DOCS[400:]):
        writer = ix.writer()
        for n in part:
            writer.add_document(**document_fields(_doc(n)))
        writer.commit(merge=False)
    writer = ix.writer()
    for n in (3, 50, 401, 650):
        writer.delete_by_term("id", str(n))
    writer.commit(merge=False)
    return ix


def _built() -> Any:
    """An index written by the rebuild's segment writer (with array files), three segments."""
    ix = RamStorage().create_index(make_schema(), indexname=INDEX_NAME)
    _count, segments = write_segments(
        ix, (_doc(n) for n in DOCS), document_fields, segment_docs=250, limitmb=16, locked=False
    )
    commit_segments(ix, segments)
    return ix


@pytest.fixture(params=["stock", "built"])
def ix(request: pytest.FixtureRequest) -> Any:
    whoosh_arrays.CACHE.clear()
    return _stock() if request.param == "stock" else _built()


def _matcher_postings(reader: Any, field: str, term: bytes) -> tuple[list[int], list[float]]:
    matcher = reader.postings(field, term)
    ids, weights = [], []
    while matcher.is_active():
        ids.append(matcher.id())
        weights.append(matcher.weight())
        matcher.next()
    return ids, weights


def test_decoded_postings_equal_the_matchers(ix: Any) -> None:
    with ix.reader() as top:
        checked = 0
        for reader, _offset in top.leaf_readers():
            for field, term in reader.all_terms():
                ids, weights = _matcher_postings(reader, field, term)
                decoded = whoosh_arrays.decode(reader, field, term)
                assert decoded.ids.tolist() == ids, (field, term)
                assert decoded.weights.astype(float).tolist() == pytest.approx(weights)
                checked += 1
        assert checked > 500


def test_long_lists_of_scored_fields_are_written_as_arrays() -> None:
    ix = _built()
    with ix.reader() as top:
        long_lists = 0
        for reader, _offset in top.leaf_readers():
            arrays = whoosh_arrays.ArrayFile.open(reader)
            assert arrays is not None
            for field, term in reader.all_terms():
                found = arrays.get(field, term)
                decoded = whoosh_arrays.decode(reader, field, term)
                long = len(decoded.ids) >= whoosh_arrays.ARRAY_MIN_POSTINGS
                if not (make_schema()[field].scorable and long):
                    assert found is None, (field, term)
                    continue
                assert found is not None, (field, term)
                assert found.ids.tolist() == decoded.ids.tolist()
                assert found.weights.tolist() == decoded.weights.tolist()
                long_lists += 1
        assert long_lists > 10


def test_segments_written_by_whoosh_have_no_array_file() -> None:
    with _stock().reader() as top:
        assert all(whoosh_arrays.ArrayFile.open(r) is None for r, _o in top.leaf_readers())


def _word(stem: str, tag: str) -> Any:
    return _Or(
        [*(query.Term(f, stem) for f in ("title", "body", "thread")), query.Term("tags", tag)]
    )


QUERIES = [
    query.Term("body", "kubernet"),
    query.Term("title", "printer", boost=2.0),
    _word("proxi", "tag3"),
    query.And([_word("deploy", "tag1"), _word("cat", "tag2")]),
    _Or([_word("naïv", "x"), query.And([_word("printer", "y"), query.Term("kind", "question")])]),
    query.AndNot(_word("kubernet", "tag0"), query.Term("tags", "tag4")),
    query.Phrase("body", ["kubernet", "printer"]),
    query.And([_word("cat", "z"), query.NumericRange("score", 0, None)]),
    query.And([_word("proxi", "z"), query.DateRange("created", None, None)]),
    query.NullQuery,
]


@pytest.mark.parametrize("q", QUERIES, ids=[str(q) for q in QUERIES])
def test_arrays_match_and_score_like_whoosh(ix: Any, q: Any) -> None:
    with ix.searcher(weighting=_WEIGHTING) as searcher:
        expected = {hit.docnum: hit.score for hit in searcher.search(q, limit=None)}
        found: dict[int, float] = {}
        for seg in whoosh_arrays.segments(searcher):
            scores, mask = whoosh_arrays.evaluate(seg, q, True)
            live = mask & seg.live()
            for local in np.flatnonzero(live).tolist():
                found[local + seg.offset] = float(scores[local]) if scores is not None else 0.0
        assert sorted(found) == sorted(expected)
        for docnum, score in expected.items():
            assert found[docnum] == pytest.approx(score, rel=1e-4), docnum
        if q is not query.NullQuery:
            assert expected  # each query finds something in this corpus


def test_deleted_documents_are_left_out() -> None:
    with _stock().searcher() as searcher:
        live_ids = {
            int(searcher.stored_fields(local + seg.offset)["id"])
            for seg in whoosh_arrays.segments(searcher)
            for local in np.flatnonzero(seg.live()).tolist()
        }
    assert live_ids == set(DOCS) - {3, 50, 401, 650}


def test_the_postings_cache_stays_within_its_limit() -> None:
    cache = whoosh_arrays.PostingsCache(limit=4_000)
    item = whoosh_arrays.Postings(np.zeros(100, np.uint32), np.zeros(100, np.float32))  # 800 B
    for n in range(20):
        cache.put(("s", "body", f"t{n}"), item)
        assert cache.size <= 4_000
    assert cache.get(("s", "body", "t19")) is item
    assert cache.get(("s", "body", "t0")) is None  # the least recently used went first
    huge = whoosh_arrays.Postings(np.zeros(1_000, np.uint32), np.zeros(1_000, np.float32))
    cache.put(("s", "body", "huge"), huge)
    assert cache.get(("s", "body", "huge")) is None  # never one list for the whole cache


def test_large_segments_merged_by_whoosh_get_their_array_file(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from forum.search import whoosh_backend

    monkeypatch.setattr(whoosh_backend, "ARRAY_SEGMENT_DOCS", 300)
    ix = _stock()  # segments of 400 and 299 documents, written by Whoosh's writer
    whoosh_backend._add_missing_arrays(ix)
    with ix.reader() as top:
        sizes = {}
        for reader, _offset in top.leaf_readers():
            arrays = whoosh_arrays.ArrayFile.open(reader)
            sizes[reader.doc_count_all()] = arrays is not None
            if arrays is None:
                continue
            for field, term in reader.all_terms():
                found = arrays.get(field, term)
                if found is not None:
                    decoded = whoosh_arrays.decode(reader, field, term)
                    assert found.ids.tolist() == decoded.ids.tolist()
    assert sizes == {400: True, 299: False}
    assert not [n for n in ix.storage.list() if n.endswith(".part")]
