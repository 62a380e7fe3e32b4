"""Every use of Whoosh's private parts, in one module.

The fast paths (searching with numpy arrays, full builds, refreshed searchers) reach past
Whoosh's public API: private attributes of readers, matchers, writers and indexes, the
whoosh3 codec's on-disk posting blocks, and two patches. They were checked against
whoosh-reloaded CHECKED_VERSION only, which pyproject.toml pins;
tests/unit/test_whoosh_internals.py exercises each of them and says so when another release
is installed. Nothing else in forum may touch an underscore attribute of Whoosh.
"""

from __future__ import annotations

import io
import pickle
import struct
import zlib
from typing import Any

import numpy as np
from numpy.typing import NDArray
from whoosh import formats
from whoosh.codec import whoosh3
from whoosh.filedb.filestore import FileStorage
from whoosh.index import TOC, clean_files
from whoosh.writing import SegmentWriter

#: The whoosh-reloaded release these functions were written and tested against.
CHECKED_VERSION = "2.7.5"

_INT = struct.Struct("!i")


# -- patches -------------------------------------------------------------------------------


def _pickle_protocol_4(obj: Any, protocol: int = 2) -> bytes:
    """Whoosh's ``dumps`` with pickle protocol 4 whatever protocol it asks for.

    Whoosh pickles each postings block (ids, weights and every posting's positions) with
    protocol 2, which stores each bytes value as a call to ``codecs.encode``: reading a
    block back cost about 200 µs. Protocol 4 stores bytes as bytes; Whoosh's ``loads``
    reads either, so older segments stay readable. Blocks read back about six times
    faster and take less than half the space.
    """
    return pickle.dumps(obj, 4)


def _patch_block_pickles() -> None:
    """Make Whoosh's segment codec and position formats pickle with protocol 4."""
    whoosh3.dumps = _pickle_protocol_4
    formats.dumps = _pickle_protocol_4


def _patch_length_lookups() -> None:
    """Remember that a segment has no length column for a field.

    Whoosh looks the column file up on disk again for every posting of an unscored field
    (ids, kinds, numbers) while writing a segment: a stat call per posting. A column file
    opened up front (open_column_files) is used even if the file is gone since.
    """
    cls = whoosh3.W3PerDocReader
    if getattr(cls, "_forum_cached_lengths", False):
        return
    original = cls._cached_reader

    def _cached_reader(self: Any, fieldname: str, column: Any) -> Any:
        readers = self._readers
        if fieldname in readers:
            return readers[fieldname]
        if fieldname in self._colfiles:
            reader = self.column_reader(fieldname, column)
        else:
            reader = original(self, fieldname, column)
        readers[fieldname] = reader
        return reader

    cls._cached_reader = _cached_reader
    cls._forum_cached_lengths = True


_patch_block_pickles()
_patch_length_lookups()


# -- reading segments ------------------------------------------------------------------------


def on_disk_postings(matcher: Any) -> tuple[NDArray[np.int64], NDArray[np.float32]] | None:
    """Ids and weights of every block of a term's on-disk posting list, read in one pass;
    None for a list stored inline with the term (short lists), which only the matcher reads.

    The list is one run of blocks: a length (negative for the last), a pickled block-info
    tuple, then the block's pickled (ids, weights, values) tuple, zlib-compressed when the
    info says so. Reading it whole skips the matcher's per-block seeks and bookkeeping.
    """
    if not isinstance(matcher, whoosh3.W3LeafMatcher):
        return None
    length = matcher._length
    if isinstance(length, tuple):  # Whoosh decodes the stored length as a 1-tuple
        length = length[0]
    start = matcher._baseoffset
    end = matcher._startoffset + length
    raw = matcher._postfile.get(start, end - start)
    stream = io.BytesIO(raw)
    deltas: list[int] = []
    weights: list[float] = []
    starts: list[int] = []
    position = 0
    while position < len(raw):
        (length,) = _INT.unpack_from(raw, position)
        last = length < 0
        length = abs(length)
        stream.seek(position + _INT.size)
        info = pickle.load(stream)
        data = raw[stream.tell() : position + _INT.size + length]
        if info[3]:
            data = zlib.decompress(data)
        block_ids, block_weights = pickle.loads(data)[:2]
        n = len(block_ids)
        starts.append(len(deltas))
        deltas.extend(block_ids)
        if block_weights is None:
            weights.extend([1.0] * n)
        elif isinstance(block_weights, float):
            weights.extend([block_weights] * n)
        else:
            weights.extend(block_weights)
        position += _INT.size + length
        if last:
            break
    # Each block's ids are deltas from 0: a running sum per block gives the numbers.
    running = np.cumsum(np.array(deltas, dtype=np.int64))
    counts = np.diff(np.array([*starts, len(deltas)]))
    before = np.concatenate(([0], running[np.array(starts[1:], dtype=np.int64) - 1]))
    return running - np.repeat(before, counts), np.array(weights, dtype=np.float32)


def length_bytes(reader: Any, field: str) -> bytes:
    """Each document's length in ``field`` as a segment reader's column stores it: one
    byte per document (``whoosh.util.numeric.byte_to_length`` decodes it)."""
    column = reader._perdoc._cached_reader(whoosh3._lenfield(field), whoosh3.LENGTHS_COLUMN)
    return bytes(column._dbfile.get(column._basepos, column._doccount))


def file_path(storage: Any, name: str) -> str | None:
    """Where a storage's file is on disk; None for storage in memory."""
    if isinstance(storage, FileStorage):
        return str(storage._fpath(name))
    return None


def bm25f_parameters(weighting: Any, field: str) -> tuple[float, float]:
    """BM25F's ``B`` for ``field`` (its own when the weighting sets one) and ``K1``."""
    return float(weighting._field_B.get(field, weighting.B)), float(weighting.K1)


def open_column_files(reader: Any, fields: list[str]) -> None:
    """Open these column files of a segment reader now (FileNotFoundError when one is gone);
    Whoosh would open each on first use."""
    perdoc = reader._perdoc
    for field in fields:
        if field not in perdoc._colfiles:
            perdoc._colfiles[field] = perdoc._get_column_file(field)


def reuse_reader(reader: Any, segment: Any, generation: int) -> None:
    """Make an open segment reader serve ``segment`` of a newer generation: the same files,
    with that generation's deletions."""
    reader._segment = segment
    reader._perdoc._segment = segment
    reader._gen = generation
    reader.__dict__.pop("deleted_docs_set", None)  # a cached property


# -- an index's table of contents ------------------------------------------------------------


def read_toc(ix: Any) -> Any:
    """The index's newest table of contents (schema, segments, generation)."""
    return ix._read_toc()


def index_segments(ix: Any) -> list[Any]:
    """The segments of the index's newest generation."""
    return list(ix._segments())


def commit_segments(ix: Any, segments: list[Any]) -> None:
    """Add finished ``segments`` to the index: a new table of contents, nothing merged."""
    toc = ix._read_toc()
    generation = toc.generation + 1
    listed = [*toc.segments, *segments]
    TOC(toc.schema, listed, generation).write(ix.storage, ix.indexname)
    clean_files(ix.storage, ix.indexname, generation, listed)


# -- writing segments ------------------------------------------------------------------------


class SegmentBuildWriter(SegmentWriter):  # type: ignore[misc]
    """Whoosh's segment writer, with the private steps a writer of its own calls or
    replaces under names of their own.

    A subclass implements ``write_postings`` (Whoosh's ``_flush_segment``), called by
    ``finish_segment`` once every document is added.
    """

    def check_state(self) -> None:
        """Fail when the writer is closed."""
        self._check_state()

    def check_fields(self, names: list[str]) -> None:
        """Fail on a field name the schema does not have."""
        self._check_fields(self.schema, names)

    def document_added(self) -> None:
        """Note that the writer holds a document (as Whoosh's ``add_document`` does)."""
        self._added = True

    def postings_writer(self) -> Any:
        """The postings writer of the field being written (see ``add_postings``)."""
        return self.fieldwriter._postwriter

    def write_postings(self) -> None:
        """Close the per-document writer, then write every field's terms and postings."""
        raise NotImplementedError

    def _flush_segment(self) -> None:
        self.write_postings()

    def finish_segment(self) -> Any:
        """Write the segment's files and return the segment, without touching the TOC."""
        segment = self._finalize_segment()
        self._finish()
        return segment


def add_postings(
    writer: Any, postings: list[tuple[int, float, bytes]], lengths: dict[int, int]
) -> tuple[tuple[int, ...], tuple[float, ...]]:
    """The postings writer's ``add_posting`` for each of a term's (id, weight, value)
    postings, a block at a time; returns the term's ids and weights.

    ``lengths`` maps documents to their field length, for the blocks' length statistics.
    """
    limit = writer._blocklimit
    ids, weights, values = zip(*postings, strict=True)
    for start in range(0, len(ids), limit):
        if start:
            writer._write_block()
        block_ids = ids[start : start + limit]
        block_weights = weights[start : start + limit]
        writer._ids.extend(block_ids)
        writer._weights.extend(block_weights)
        writer._maxweight = max(writer._maxweight, *block_weights)
        writer._values.extend(v for v in values[start : start + limit] if v)
        found = [n for n in map(lengths.get, block_ids) if n]
        if found:
            writer._minlength = min(found)
            writer._maxlength = max(found)
    return ids, weights
