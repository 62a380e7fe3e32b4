"""Full Whoosh index builds: segments written in memory, by several processes at once.

A rebuild splits the post ids into one range per core; each range is read from the database
and written as finished segments by its own process, straight into the new generation's
directory. The parent only lists the segments in one table of contents: no document is ever
pickled between processes and no segment is merged.
"""

from __future__ import annotations

import gc
import multiprocessing
import os
import queue as queue_module
import traceback
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session
from whoosh import formats
from whoosh.filedb.filestore import FileStorage
from whoosh.system import pack_uint
from whoosh.util.numeric import byte_to_length, length_to_byte

from forum.models import Post
from forum.search import whoosh_arrays, whoosh_internals
from forum.search.base import ProgressFn
from forum.search.whoosh_schema import INDEX_NAME, FastStemmingAnalyzer, document_fields

#: Below this many documents one process builds the index: starting workers costs more.
PARALLEL_MIN_DOCS = 5_000
#: At most this many worker processes (one per core).
MAX_WORKERS = 4
#: Seconds to wait between looks at the workers (progress, failures).
POLL_SECONDS = 0.5
#: A worker reports progress every this many documents.
PROGRESS_EVERY = 500


class BuildFailed(Exception):
    """A worker process failed while building its part of the index."""


# -- segments ----------------------------------------------------------------------------


def _text_values(field: Any) -> Callable[[str], Iterator[tuple[bytes, int, float, bytes]]] | None:
    """A faster ``field.index`` for text fields (positions or frequencies), same output.

    Whoosh encodes every posting's positions with pickle; a word found once per document
    (most of them) is encoded once per position number instead.
    """
    fmt = field.format
    if type(fmt) not in (formats.Positions, formats.Frequency) or field.vector:
        return None
    analyzer = field.analyzer
    boost = fmt.field_boost
    single: dict[int, bytes] = {}
    if isinstance(analyzer, FastStemmingAnalyzer):
        words = analyzer.words
        if type(fmt) is formats.Frequency:

            def counted(value: str) -> Iterator[tuple[bytes, int, float, bytes]]:
                for word, n in Counter(words(value)[1]).items():
                    yield word.encode("utf-8"), n, float(n) * boost, pack_uint(n)

            return counted
        encode_fast = fmt.encode

        def placed(value: str) -> Iterator[tuple[bytes, int, float, bytes]]:
            first, kept = words(value)
            seen: dict[str, list[int]] = {}
            for pos, word in enumerate(kept, first):
                where = seen.get(word)
                if where is None:
                    seen[word] = [pos]
                else:
                    where.append(pos)
            for word, where in seen.items():
                n = len(where)
                if n == 1:
                    vbytes = single.get(where[0])
                    if vbytes is None:
                        vbytes = single[where[0]] = encode_fast(where)
                else:
                    vbytes = encode_fast(where)
                yield word.encode("utf-8"), n, float(n) * boost, vbytes

        return placed
    if type(fmt) is formats.Frequency:

        def frequencies(value: str) -> Iterator[tuple[bytes, int, float, bytes]]:
            counts: dict[str, int] = {}
            for t in analyzer(value, boosts=True, mode="index"):
                if t.stopped:
                    continue
                counts[t.text] = counts.get(t.text, 0) + 1
            for word, n in counts.items():
                yield word.encode("utf-8"), n, float(n) * boost, pack_uint(n)

        return frequencies
    encode = fmt.encode

    def positions(value: str) -> Iterator[tuple[bytes, int, float, bytes]]:
        seen: dict[str, list[int]] = {}
        for t in analyzer(value, positions=True, boosts=True, mode="index"):
            if t.stopped:
                continue
            where = seen.get(t.text)
            if where is None:
                seen[t.text] = [t.pos]
            else:
                where.append(t.pos)
        for word, where in seen.items():
            n = len(where)
            if n == 1:
                pos = where[0]
                vbytes = single.get(pos)
                if vbytes is None:
                    vbytes = single[pos] = encode(where)
            else:
                vbytes = encode(where)
            yield word.encode("utf-8"), n, float(n) * boost, vbytes

    return positions


class BuildWriter(whoosh_internals.SegmentBuildWriter):
    """A segment writer for full builds: postings grouped by term in memory, lengths too.

    Whoosh's writer appends every posting to a pool as a tuple, sorts them all, then reads
    each posting's field length back from the column file it has just written (a seek and
    a read per posting). Here postings are kept per field and term in document order, so
    only the terms are sorted, and lengths are kept as the column stores them (one byte).
    The segment files are the same. Only documents without boosts or vectors are accepted,
    which is what the forum's schema and ``document_fields`` produce.
    """

    def __init__(self, ix: Any, **kwargs: Any) -> None:
        super().__init__(ix, **kwargs)
        schema = self.schema
        self._postings: dict[str, dict[bytes, list[tuple[int, float, bytes]]]] = {}
        self._lengths: dict[str, dict[int, int]] = {}
        self._indexers: dict[str, Any] = {}
        for name in schema.names():
            field = schema[name]
            if field.vector or field.separate_spelling():
                raise ValueError(f"field {name!r}: vectors and spelling are not supported")
            if field.indexed:
                self._indexers[name] = _text_values(field) or field.index

    def add_document(self, **fields: Any) -> None:
        """Add one document (the same as Whoosh's, without per-document boosts)."""
        self.check_state()
        perdoc = self.perdocwriter
        schema = self.schema
        docnum = self.docnum
        names = sorted(fields)
        if any(name.startswith("_") for name in names):
            raise ValueError("boosts and _stored_ values are not supported in a build")
        self.check_fields(names)
        perdoc.start_doc(docnum)
        try:
            for name in names:
                value = fields[name]
                if value is None:
                    continue
                field = schema[name]
                length = 0
                if field.indexed:
                    terms = self._postings.get(name)
                    if terms is None:
                        terms = self._postings[name] = {}
                    scorable = field.scorable
                    for tbytes, freq, weight, vbytes in self._indexers[name](value):
                        if scorable:
                            length += freq
                        posting = (docnum, weight * 1.0, vbytes)
                        found = terms.get(tbytes)
                        if found is None:
                            terms[tbytes] = [posting]
                        else:
                            found.append(posting)
                perdoc.add_field(name, field, value if field.stored else None, length)
                if length:
                    lengths = self._lengths.get(name)
                    if lengths is None:
                        lengths = self._lengths[name] = {}
                    lengths[docnum] = byte_to_length(length_to_byte(length))
                column = field.column_type
                if column:
                    perdoc.add_column_value(name, column, field.to_column_value(value))
        except Exception:
            perdoc.cancel_doc()
            raise
        perdoc.finish_doc()
        self.document_added()
        self.docnum += 1

    def write_postings(self) -> None:
        """Every field's terms and postings, then the long lists as arrays."""
        self.perdocwriter.close()
        fieldwriter = self.fieldwriter
        keep_lengths = self.codec.length_stats
        arrays: dict[str, dict[bytes, tuple[Any, Any]]] = {}
        for name in sorted(self._postings):
            terms = self._postings[name]
            lengths = self._lengths.get(name, {}) if keep_lengths else {}
            long_lists: dict[bytes, tuple[Any, Any]] | None = None
            if self.schema[name].scorable:
                long_lists = arrays[name] = {}
            fieldwriter.start_field(name, self.schema[name])
            postings = self.postings_writer()  # one per field
            for tbytes in sorted(terms):
                fieldwriter.start_term(tbytes)
                ids, weights = whoosh_internals.add_postings(postings, terms[tbytes], lengths)
                if long_lists is not None and len(ids) >= whoosh_arrays.ARRAY_MIN_POSTINGS:
                    long_lists[tbytes] = (ids, weights)
                fieldwriter.finish_term()
            fieldwriter.finish_field()
        self._postings.clear()
        fieldwriter.close()
        # The long lists again as plain arrays: searches read them without decoding.
        whoosh_arrays.write_arrays(
            self.storage, self.newsegment, self.docnum, {k: v for k, v in arrays.items() if v}
        )


class _PartStorage(FileStorage):  # type: ignore[misc]
    """The generation's directory, with temporary files of its own for one worker.

    Every Whoosh writer names its temporary directory after the index and removes it when
    done, which would pull the files from under a writer in another process.
    """

    def __init__(self, path: str, part: int) -> None:
        FileStorage.__init__(self, path)
        self._part = part

    def temp_storage(self, name: str | None = None) -> Any:
        base = name or "build.tmp"
        return FileStorage.temp_storage(self, f"{base}-{self._part}-{os.getpid()}")


def write_segments(
    ix: Any,
    docs: Iterator[Any],
    fields: Callable[[Any], dict[str, Any]],
    *,
    segment_docs: int,
    limitmb: int,
    on_doc: Callable[[int], None] | None = None,
    locked: bool = True,
    options: dict[str, Any] | None = None,
) -> tuple[int, list[Any]]:
    """Write ``docs`` as finished segments of ``segment_docs``; return (count, segments).

    ``options`` go to each segment writer (``compound``, for one).
    """
    writer: Any = None
    segments: list[Any] = []
    count = 0
    # A segment's postings are millions of small tuples that live until it is written:
    # the cyclic collector would walk them over and over (a sixth of the build's time).
    # It runs once per segment instead.
    collecting = gc.isenabled()
    gc.disable()
    try:
        for doc in docs:
            if writer is None:
                writer = BuildWriter(ix, _lk=locked, limitmb=limitmb, **(options or {}))
            writer.add_document(**fields(doc))
            count += 1
            if writer.doc_count() >= segment_docs:
                segments.append(writer.finish_segment())
                writer = None
                gc.collect()
            if on_doc is not None:
                on_doc(count)
        if writer is not None:
            segments.append(writer.finish_segment())
            writer = None
    except BaseException:
        if writer is not None:
            writer.cancel()
        raise
    finally:
        if collecting:
            gc.enable()
    return count, segments


# -- several processes ---------------------------------------------------------------------


def worker_count() -> int:
    """Worker processes for a large build: one per core, at most MAX_WORKERS."""
    return max(1, min(os.cpu_count() or 1, MAX_WORKERS))


def database_url(session: Session) -> str | None:
    """The URL a worker process can open the session's database with (None: it cannot)."""
    url = session.get_bind().engine.url
    if url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:"):
        return None
    return str(url.render_as_string(hide_password=False))


def split_ids(session: Session, parts: int) -> list[tuple[int, int]]:
    """Id ranges ``(after, upto]`` holding about as many live posts each."""
    ids = session.scalars(select(Post.id).where(Post.deleted_at.is_(None)).order_by(Post.id)).all()
    if not ids:
        return []
    parts = max(1, min(parts, len(ids)))
    bounds = [ids[len(ids) * (k + 1) // parts - 1] for k in range(parts)]
    ranges = []
    after = 0
    for upto in bounds:
        if upto > after:
            ranges.append((after, upto))
            after = upto
    return ranges


def build_part(
    folder: str,
    url: str,
    after: int,
    upto: int,
    part: int,
    segment_docs: int,
    limitmb: int,
    options: dict[str, Any],
    progress_every: int,
    results: Any,
) -> None:
    """A worker: write the documents of posts ``(after, upto]`` as segments in ``folder``."""
    try:
        from forum.db import make_engine
        from forum.search.documents import iter_all_documents

        engine = make_engine(url)
        ix = _PartStorage(folder, part).open_index(INDEX_NAME)

        def report(count: int) -> None:
            if count % progress_every == 0:
                results.put(("progress", part, progress_every))

        try:
            with Session(engine) as session:
                docs = iter_all_documents(session, after=after, upto=upto)
                count, segments = write_segments(
                    ix,
                    docs,
                    document_fields,
                    segment_docs=segment_docs,
                    limitmb=limitmb,
                    on_doc=report,
                    locked=False,
                    options=options,
                )
        finally:
            engine.dispose()
        results.put(("done", part, count, segments))
    except BaseException:
        results.put(("error", part, traceback.format_exc()))
        results.close()
        results.join_thread()
        # The parent reports the traceback; exit without printing it twice.
        raise SystemExit(1) from None


def build_parallel(
    folder: str,
    url: str,
    ranges: list[tuple[int, int]],
    *,
    segment_docs: int,
    limitmb: int,
    options: dict[str, Any] | None = None,
    progress: ProgressFn | None = None,
    target: Callable[..., None] | None = None,
) -> tuple[int, list[Any]]:
    """Run one worker per id range; return (documents, segments in id order).

    Any worker's failure stops the others and raises BuildFailed; nothing is committed here.
    """
    context = multiprocessing.get_context("spawn")
    results: Any = context.Queue()
    procs = [
        context.Process(
            target=target or build_part,
            args=(
                folder,
                url,
                after,
                upto,
                part,
                segment_docs,
                limitmb,
                dict(options or {}),
                PROGRESS_EVERY,
                results,
            ),
            name=f"forum-search-build-{part}",
            daemon=True,
        )
        for part, (after, upto) in enumerate(ranges)
    ]
    finished: dict[int, tuple[int, list[Any]]] = {}
    # Workers seen gone without a word: failed if the next poll brings nothing either.
    silent: set[int] = set()
    done = 0
    try:
        for proc in procs:
            proc.start()
        while len(finished) < len(procs):
            try:
                message = results.get(timeout=POLL_SECONDS)
            except queue_module.Empty:
                for part, proc in enumerate(procs):
                    if part in finished or proc.exitcode is None:
                        continue
                    if part in silent:
                        raise BuildFailed(
                            f"search build worker {part} exited with code {proc.exitcode}"
                        ) from None
                    silent.add(part)
                continue
            kind, part = message[0], message[1]
            if kind == "progress":
                done += message[2]
                if progress is not None:
                    progress(done)
            elif kind == "done":
                finished[part] = (message[2], message[3])
            else:
                raise BuildFailed(f"search build worker {part} failed:\n{message[2]}")
    finally:
        for proc in procs:
            if proc.is_alive() and proc.pid is not None and len(finished) < len(procs):
                proc.terminate()
        for proc in procs:
            if proc.pid is not None:
                proc.join()
        results.close()
        results.join_thread()
    count = sum(finished[part][0] for part in range(len(procs)))
    segments = [s for part in range(len(procs)) for s in finished[part][1]]
    if len({s.segment_id() for s in segments}) != len(segments):
        raise BuildFailed("two search build workers chose the same segment id")
    return count, segments
