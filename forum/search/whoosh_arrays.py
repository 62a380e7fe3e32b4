"""Whoosh queries evaluated a segment at a time with numpy arrays instead of matchers.

Whoosh's matchers move from posting to posting in Python: a query whose words are common
(tens of thousands of postings at 100k posts) took hundreds of milliseconds, most of it in
``skip_to``/``id`` calls. Here each term's postings are decoded once into arrays (kept in a
bounded cache keyed by segment, which never changes once written), scored with the same
BM25F formula Whoosh uses, and combined with whole-array operations: a sum and a logical
or for ``Or``, a logical and for ``And``, a mask for ``AndNot``. Queries with no array form
(phrases, numeric and date ranges) fall back to Whoosh's own matcher for that part only.
"""

from __future__ import annotations

import mmap
import pickle
import struct
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray
from whoosh import query
from whoosh.reading import TermNotFound
from whoosh.util.numeric import byte_to_length

from forum.search import whoosh_internals

#: Decoded postings kept per process (ids and weights of the terms searched most recently).
CACHE_BYTES = 40 << 20

Mask = NDArray[np.bool_]
Scores = NDArray[np.float32]

_INT = struct.Struct("!i")
_BYTE_LENGTHS = np.array([byte_to_length(b) for b in range(256)], dtype=np.float32)


@dataclass
class Postings:
    """One term's postings in one segment: document numbers and Whoosh's weights."""

    ids: NDArray[Any]
    weights: NDArray[Any]

    @property
    def nbytes(self) -> int:
        """Memory held by the arrays."""
        return int(self.ids.nbytes + self.weights.nbytes)


class PostingsCache:
    """Least recently used postings, bounded by the bytes their arrays hold."""

    def __init__(self, limit: int = CACHE_BYTES) -> None:
        self.limit = limit
        self.size = 0
        self._items: OrderedDict[tuple[str, str, Any], Postings] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple[str, str, Any]) -> Postings | None:
        """The cached postings for ``key`` (segment id, field, term), if any."""
        with self._lock:
            found = self._items.get(key)
            if found is not None:
                self._items.move_to_end(key)
            return found

    def put(self, key: tuple[str, str, Any], postings: Postings) -> None:
        """Keep ``postings``, dropping the least recently used beyond the limit."""
        if postings.nbytes > self.limit // 4:
            return  # one huge list would push out everything else
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self.size -= old.nbytes
            self._items[key] = postings
            self.size += postings.nbytes
            while self.size > self.limit and self._items:
                _key, dropped = self._items.popitem(last=False)
                self.size -= dropped.nbytes

    def clear(self) -> None:
        """Forget everything."""
        with self._lock:
            self._items.clear()
            self.size = 0


CACHE = PostingsCache()


def decode(reader: Any, field: str, text: Any) -> Postings:
    """Every posting of ``field:text`` in one segment reader (empty when it has none)."""
    size = reader.doc_count_all()
    id_type = np.uint16 if size <= 0xFFFF else np.uint32
    try:
        matcher = reader.postings(field, text)
    except TermNotFound:
        return Postings(np.empty(0, id_type), np.empty(0, np.float32))
    on_disk = whoosh_internals.on_disk_postings(matcher)
    if on_disk is not None:
        ids, weight_array = on_disk
    else:
        # Short lists are stored inline with the term: read them through the matcher.
        id_list: list[int] = []
        weight_list: list[float] = []
        while matcher.is_active():
            id_list.append(matcher.id())
            weight_list.append(matcher.weight())
            matcher.next()
        ids = np.array(id_list, dtype=np.int64)
        weight_array = np.array(weight_list, dtype=np.float32)
    half = weight_array.astype(np.float16)
    if np.array_equal(half.astype(np.float32), weight_array):
        return Postings(ids.astype(id_type), half)
    return Postings(ids.astype(id_type), weight_array)


# -- posting arrays beside a segment --------------------------------------------------------

#: Segment files with the longer posting lists of the scored fields as plain arrays.
ARRAY_EXT = ".arr"
#: Shorter lists stay in Whoosh's blocks only: one or two blocks decode quickly.
ARRAY_MIN_POSTINGS = 64
_ARRAY_MAGIC = b"FORUMARR1\n"


def write_arrays(
    storage: Any, segment: Any, size: int, fields: dict[str, dict[bytes, tuple[Any, Any]]]
) -> None:
    """Write ``fields`` (field -> term -> (ids, weights)) as the segment's array file.

    Layout: a magic line, a 4-byte length, a pickled directory (dtypes and each term's
    start and count), padding to 8 bytes, every id, then every weight.
    """
    id_type = np.dtype("<u2") if size <= 0xFFFF else np.dtype("<u4")
    directory: dict[str, dict[bytes, tuple[int, int]]] = {}
    id_parts: list[NDArray[Any]] = []
    weight_parts: list[NDArray[np.float32]] = []
    start = 0
    for field, terms in fields.items():
        entries = directory[field] = {}
        for term, (ids, weights) in terms.items():
            entries[term] = (start, len(ids))
            start += len(ids)
            id_parts.append(np.array(ids, dtype=id_type))
            weight_parts.append(np.array(weights, dtype=np.float32))
    weights = np.concatenate(weight_parts) if weight_parts else np.zeros(0, np.float32)
    half = weights.astype("<f2")
    exact = bool(np.array_equal(half.astype(np.float32), weights))
    weight_type = np.dtype("<f2") if exact else np.dtype("<f4")
    header = pickle.dumps(
        {
            "size": size,
            "ids": id_type.str,
            "weights": weight_type.str,
            "count": start,
            "fields": directory,
        },
        4,
    )
    head = _ARRAY_MAGIC + _INT.pack(len(header)) + header
    head += b"\0" * (-len(head) % 8)
    # Written under another name, then renamed: a search never sees half a file.
    name = segment.make_filename(ARRAY_EXT)
    out = storage.create_file(name + ".part")
    try:
        out.write(head)
        out.write((np.concatenate(id_parts) if id_parts else np.zeros(0, id_type)).tobytes())
        out.write((half if exact else weights).astype(weight_type).tobytes())
    finally:
        out.close()
    storage.rename_file(name + ".part", name, safe=False)


def write_arrays_of(reader: Any, storage: Any) -> None:
    """Write the array file of a segment that has none (merged by Whoosh's writer)."""
    schema = reader.schema
    fields: dict[str, dict[bytes, tuple[Any, Any]]] = {}
    for field, term in reader.all_terms():
        if not schema[field].scorable or reader.doc_frequency(field, term) < ARRAY_MIN_POSTINGS:
            continue
        postings = decode(reader, field, term)
        fields.setdefault(field, {})[term] = (postings.ids, postings.weights)
    write_arrays(storage, reader.segment(), reader.doc_count_all(), fields)


class ArrayFile:
    """A segment's array file, memory-mapped when on disk (shared by every process)."""

    def __init__(self, buffer: Any) -> None:
        data = memoryview(buffer)
        if bytes(data[: len(_ARRAY_MAGIC)]) != _ARRAY_MAGIC:
            raise ValueError("not a posting array file")
        at = len(_ARRAY_MAGIC)
        (length,) = _INT.unpack_from(data, at)
        meta = pickle.loads(data[at + _INT.size : at + _INT.size + length])
        at += _INT.size + length
        at += -at % 8
        count = meta["count"]
        id_type, weight_type = np.dtype(meta["ids"]), np.dtype(meta["weights"])
        self._buffer = buffer
        self.fields: dict[str, dict[bytes, tuple[int, int]]] = meta["fields"]
        self.ids = np.frombuffer(data, dtype=id_type, count=count, offset=at)
        self.weights = np.frombuffer(
            data, dtype=weight_type, count=count, offset=at + count * id_type.itemsize
        )

    def get(self, field: str, term: bytes) -> Postings | None:
        """The term's postings when the file has them (long lists only)."""
        entry = self.fields.get(field, {}).get(term)
        if entry is None:
            return None
        start, count = entry
        return Postings(self.ids[start : start + count], self.weights[start : start + count])

    def has_field(self, field: str) -> bool:
        """Whether the file holds ``field``'s long lists (so a missing term has a short one)."""
        return field in self.fields

    @classmethod
    def open(cls, reader: Any) -> ArrayFile | None:
        """The array file of a segment reader, or None (written by Whoosh's own writer)."""
        segment = reader.segment()
        if segment is None:
            return None
        storage = reader.storage()
        name = segment.make_filename(ARRAY_EXT)
        try:
            path = whoosh_internals.file_path(storage, name)
            if path is not None:
                with open(path, "rb") as f:
                    return cls(mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ))
            if not storage.file_exists(name):
                return None
            return cls(storage.open_file(name).read())
        except (OSError, ValueError):
            # Merged away since the reader opened, or written by Whoosh's writer: decode.
            return None


class Segment:
    """One segment of a searcher: its reader, where its documents start, and its arrays."""

    def __init__(self, top: Any, reader: Any, offset: int) -> None:
        self.top = top
        self.reader = reader
        self.offset = offset
        self.size = int(reader.doc_count_all())
        segment = reader.segment()
        self.key = segment.segment_id() if segment is not None else f"reader-{id(reader)}"
        self._live: Mask | None = None

    def postings(self, field: str, text: Any) -> Postings:
        """The term's postings: from the segment's array file, the cache, or decoded."""
        arrays = self.arrays()
        if arrays is not None and isinstance(text, str) and arrays.has_field(field):
            found = arrays.get(field, text.encode("utf-8"))
            if found is not None:
                return found
        key = (self.key, field, text)
        found = CACHE.get(key)
        if found is None:
            found = decode(self.reader, field, text)
            CACHE.put(key, found)
        return found

    def arrays(self) -> ArrayFile | None:
        """The segment's array file, opened once per reader."""
        cache = self.reader.__dict__
        if "_forum_arrays" not in cache:
            cache["_forum_arrays"] = ArrayFile.open(self.reader)
        return cache["_forum_arrays"]  # type: ignore[no-any-return]

    def empty(self) -> Mask:
        """A mask matching nothing."""
        return np.zeros(self.size, dtype=np.bool_)

    def live(self) -> Mask:
        """Documents not deleted (an edited post's older version is)."""
        if self._live is None:
            live = np.ones(self.size, dtype=np.bool_)
            segment = self.reader.segment()
            if segment is not None and segment.has_deletions():
                gone = np.fromiter(segment.deleted_docs(), dtype=np.int64)
                live[gone[gone < self.size]] = False
            self._live = live
        return self._live

    def lengths(self, field: str) -> NDArray[np.float32]:
        """Each document's length in ``field``, as Whoosh stores it (one byte)."""
        cache = self.reader.__dict__.setdefault("_forum_lengths", {})
        found = cache.get(field)
        if found is None:
            raw = whoosh_internals.length_bytes(self.reader, field)
            found = _BYTE_LENGTHS[np.frombuffer(raw, dtype=np.uint8)]
            cache[field] = found
        return found  # type: ignore[no-any-return]

    def column(self, field: str) -> NDArray[Any]:
        """A sortable column's values in document order (order-preserving encoding)."""
        cache = self.reader.__dict__.setdefault("_forum_columns", {})
        found = cache.get(field)
        if found is None:
            column = self.reader.column_reader(field, translate=False)
            found = np.array(list(column), dtype=np.int64)
            cache[field] = found
        return found  # type: ignore[no-any-return]


def evaluate(seg: Segment, q: Any, scored: bool) -> tuple[Scores | None, Mask]:
    """The documents of ``seg`` matching ``q`` and, when ``scored``, their BM25F scores."""
    if isinstance(q, query.Term):
        return _term(seg, q, scored)
    if isinstance(q, query.And):
        parts = [evaluate(seg, p, scored) for p in q.subqueries]
        if not parts:
            return None, seg.empty()
        mask = parts[0][1].copy()
        for _s, m in parts[1:]:
            mask &= m
        return _within(_summed(parts, scored), mask), mask
    if isinstance(q, query.Or):
        parts = [evaluate(seg, p, scored) for p in q.subqueries]
        mask = seg.empty()
        for _s, m in parts:
            mask |= m
        return _summed(parts, scored), mask
    if isinstance(q, query.AndNot):
        scores, mask = evaluate(seg, q.a, scored)
        _none, unwanted = evaluate(seg, q.b, False)
        mask = mask & ~unwanted
        return _within(scores, mask), mask
    if q is query.NullQuery:
        return None, seg.empty()
    return _by_matcher(seg, q, scored)


def _within(scores: Scores | None, mask: Mask) -> Scores | None:
    """``scores`` with every document outside ``mask`` at zero (an Or adds them up)."""
    if scores is None:
        return None
    scores[~mask] = 0
    return scores


def _summed(parts: list[tuple[Scores | None, Mask]], scored: bool) -> Scores | None:
    if not scored:
        return None
    total: Scores | None = None
    for scores, _mask in parts:
        if scores is None:
            continue
        if total is None:
            total = scores.copy()
        else:
            total += scores
    return total


def _term(seg: Segment, q: Any, scored: bool) -> tuple[Scores | None, Mask]:
    postings = seg.postings(q.fieldname, q.text)
    mask = seg.empty()
    mask[postings.ids] = True
    if not scored or not len(postings.ids):
        return None, mask
    top = seg.top
    field = q.fieldname
    scores = np.zeros(seg.size, dtype=np.float32)
    if not top.schema[field].scorable:
        # Whoosh scores a term of an unscored field (an id, a kind) by its weight.
        scores[postings.ids] = postings.weights.astype(np.float32) * q.boost
        return scores, mask
    b, k1 = whoosh_internals.bm25f_parameters(top.weighting, field)
    idf = top.idf(field, q.text)
    average = top.avg_field_length(field) or 1
    weights = postings.weights.astype(np.float32)
    lengths = seg.lengths(field)[postings.ids]
    # Whoosh's scoring.bm25 on every posting at once; a query boost scales the score.
    scores[postings.ids] = (idf * q.boost) * (
        (weights * (k1 + 1)) / (weights + k1 * ((1 - b) + b * lengths / average))
    )
    return scores, mask


def _by_matcher(seg: Segment, q: Any, scored: bool) -> tuple[Scores | None, Mask]:
    """Phrases, ranges and anything else: Whoosh's matcher, read into arrays."""
    sub = seg.top if seg.top.is_atomic() else _subsearcher(seg)
    context = sub.context() if scored else sub.boolean_context()
    matcher = q.matcher(sub, context)
    ids: list[int] = []
    values: list[float] = []
    while matcher.is_active():
        ids.append(matcher.id())
        if scored:
            values.append(matcher.score())
        matcher.next()
    mask = seg.empty()
    index = np.array(ids, dtype=np.int64)
    mask[index] = True
    if not scored:
        return None, mask
    scores = np.zeros(seg.size, dtype=np.float32)
    scores[index] = np.array(values, dtype=np.float32)
    return scores, mask


def _subsearcher(seg: Segment) -> Any:
    for sub, offset in seg.top.leaf_searchers():
        if offset == seg.offset:
            return sub
    raise LookupError("segment not in searcher")


def segments(searcher: Any) -> list[Segment]:
    """The searcher's segments with documents, each with its document-number offset."""
    out = []
    for reader, offset in searcher.reader().leaf_readers():
        if reader.doc_count_all():
            out.append(Segment(searcher, reader, offset))
    return out
