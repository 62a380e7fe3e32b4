"""The Whoosh backend: index files under SEARCH_INDEX_DIR, one searcher per process."""

from __future__ import annotations

import datetime as dt
import math
import os
import re
import shutil
import threading
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from itertools import islice
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from sqlalchemy.orm import Session
from whoosh import index, query, scoring
from whoosh.filedb.filestore import FileStorage, RamStorage, Storage
from whoosh.index import LockError
from whoosh.reading import EmptyReader, MultiReader, SegmentReader
from whoosh.searching import Searcher
from whoosh.writing import IndexWriter

from forum.search import query as q
from forum.search import whoosh_arrays, whoosh_build, whoosh_internals, words
from forum.search.base import TIME_LIMIT, Busy, Hit, ProgressFn, Results, leading_text, marked_html
from forum.search.documents import (
    MARK_END,
    MARK_START,
    SearchDoc,
    count_documents,
    iter_all_documents,
)
from forum.search.whoosh_schema import (
    INDEX_NAME,
    SCHEMA_VERSION,
    STEMMING,
    TAG_WORDS,
    TEXT_FIELDS,
    document_fields,
    make_schema,
)

CURRENT = "current"
PREFIX_EXPANSIONS = 48
#: Documents per segment in a rebuild: each segment's postings are sorted in memory.
REBUILD_SEGMENT_DOCS = 20_000
REBUILD_LIMIT_MB = 512
#: Segment files stay separate: Whoosh copies each file of a compound segment into memory
#: when it opens it (about 100 MB per process at 100k posts); separate files are read in place.
WRITER_OPTIONS: dict[str, Any] = {"compound": False}
#: Segments of one size tier merged together once there are this many.
TIER_SEGMENTS = 10
#: Commits made while serving merge segments of up to this many documents only.
DRAIN_MERGE_MAX_DOCS = 999
#: ``forum search sync`` writes posting arrays for merged segments of at least this size
#: (smaller ones decode quickly enough on demand).
ARRAY_SEGMENT_DOCS = 2_000


class SchemaMismatch(Exception):
    """The index on disk was written with another schema version."""


class _Or(query.Or):  # type: ignore[misc]
    """Or as a tree of union matchers, always.

    Whoosh preloads every match into arrays for segments under 5,000 documents, and the
    small segments recent edits leave behind made every query pay for that.
    """

    matcher_type = query.Or.DEFAULT_MATCHER


#: BM25F; field boosts in the schema make title and tags weigh most, comments least.
_WEIGHTING = scoring.BM25F()


def _nudge(hits: list[Hit]) -> list[Hit]:
    """Reorder one page a little by votes and acceptance, never past a clearly better match.

    Done on the page rather than in Whoosh's ``final`` hook, which would disable its
    block-quality skipping and look up every matching document's score.
    """

    def key(hit: Hit) -> float:
        boost = 1.0 + 0.05 * math.log1p(max(hit.post_score, 0)) + (0.03 if hit.accepted else 0)
        return -hit.relevance * boost

    return sorted(hits, key=key)


def _refreshed(ix: Any, old: Any) -> Any:
    """A searcher on the newest generation reusing the unchanged segments' open readers.

    Whoosh's own ``Searcher.refresh`` keeps a reused segment's old deletions (an updated
    document shows twice) and cannot refresh an empty index; here a reused reader is given
    the new segment object, which carries the deletions.
    """
    if ix.latest_generation() == old.reader().generation():
        return old
    toc = whoosh_internals.read_toc(ix)
    leaves: dict[str, Any] = {}
    for reader, _offset in old.reader().leaf_readers():
        segment = reader.segment()
        if segment is not None:
            leaves[segment.segment_id()] = reader
    readers = []
    created: list[Any] = []
    for segment in toc.segments:
        reader = leaves.pop(segment.segment_id(), None)
        if reader is None:
            try:
                reader = SegmentReader(ix.storage, toc.schema, segment, generation=toc.generation)
                created.append(reader)
                _open_columns(reader)
            except OSError:
                # The old searcher (closed by the caller) owns the reused readers.
                for opened in created:
                    opened.close()
                raise
        else:
            whoosh_internals.reuse_reader(reader, segment, toc.generation)
        readers.append(reader)
    for reader in leaves.values():
        reader.close()
    if not readers:
        combined: Any = EmptyReader(toc.schema)
    elif len(readers) == 1:
        combined = readers[0]
    else:
        combined = MultiReader(readers, generation=toc.generation)
    return Searcher(combined, fromindex=ix, weighting=_WEIGHTING)


class StaleSegment(OSError):
    """A segment's files were removed (merged away, or a rebuild swapped in) before opening."""


def _open_columns(reader: Any) -> None:
    """Open every column file of a segment reader now, while the files exist.

    Whoosh opens a segment's column files (stored fields, field lengths, sort values) on
    first use. Another process may merge the segment away, or a rebuild remove the whole
    generation, in between; an open file stays readable (POSIX), a missing one is not.
    """
    segment = reader.segment()
    if segment is None:
        return
    storage = reader.storage()
    prefix = segment.make_filename(".")
    names = [n for n in storage.list() if n.startswith(prefix) and n.endswith(".col")]
    fields = [n[len(prefix) : -len(".col")] for n in names]
    if reader.doc_count_all() and "_stored" not in fields:
        raise StaleSegment(f"segment {segment.segment_id()} was removed")
    try:
        whoosh_internals.open_column_files(reader, fields)
    except FileNotFoundError as exc:
        raise StaleSegment(f"segment {segment.segment_id()} was removed") from exc


def _open_all_columns(searcher: Any) -> Any:
    for leaf, _offset in searcher.reader().leaf_readers():
        _open_columns(leaf)
    return searcher


def tiers_to_merge(counts: Sequence[int], max_docs: int | None) -> list[int]:
    """Positions of the segments to merge: every size tier holding TIER_SEGMENTS or more.

    A tier holds segments of the same order of magnitude (1–9, 10–99, … documents), so a
    merge joins segments of like size and each document is rewritten about once per tier.
    Segments above ``max_docs`` are left alone (None: no limit).
    """
    tiers: dict[int, list[int]] = {}
    for position, count in enumerate(counts):
        if max_docs is not None and count > max_docs:
            continue
        tiers.setdefault(len(str(max(count, 1))), []).append(position)
    chosen: list[int] = []
    for members in tiers.values():
        if len(members) >= TIER_SEGMENTS:
            chosen += members
    return sorted(chosen)


def _merge_tiers(writer: Any, segments: list[Any], max_docs: int | None) -> list[Any]:
    chosen = set(tiers_to_merge([s.doc_count_all() for s in segments], max_docs))
    if len(chosen) < 2:
        return segments
    for position in sorted(chosen):
        reader = SegmentReader(writer.storage, writer.schema, segments[position])
        writer.add_reader(reader)
        reader.close()
    return [s for position, s in enumerate(segments) if position not in chosen]


def _merge_small_tiers(writer: Any, segments: list[Any]) -> list[Any]:
    """The merge policy of commits made while serving: only segments of up to
    DRAIN_MERGE_MAX_DOCS documents, so a commit never rewrites a large segment.

    Whoosh's default policy sometimes folds a rebuild's large segments into a merge, and a
    request then waits seconds for it.
    """
    return _merge_tiers(writer, segments, DRAIN_MERGE_MAX_DOCS)


def _merge_all_tiers(writer: Any, segments: list[Any]) -> list[Any]:
    """The merge policy of ``forum search sync``: every crowded tier, whatever its size."""
    return _merge_tiers(writer, segments, None)


def _add_missing_arrays(ix: Any) -> None:
    """Give large segments merged by Whoosh's writer the array file a rebuild writes."""
    for segment in whoosh_internals.index_segments(ix):
        name = segment.make_filename(whoosh_arrays.ARRAY_EXT)
        if segment.doc_count_all() < ARRAY_SEGMENT_DOCS or ix.storage.file_exists(name):
            continue
        try:
            reader = SegmentReader(ix.storage, ix.schema, segment)
        except OSError:
            continue  # merged away by another process meanwhile
        try:
            whoosh_arrays.write_arrays_of(reader, ix.storage)
        finally:
            reader.close()


def _new_searcher(ix: Any, attempts: int = 20) -> Any:
    """A searcher with every column file open; retried while another process commits."""
    for attempt in range(attempts):
        searcher = ix.searcher(weighting=_WEIGHTING)
        try:
            return _open_all_columns(searcher)
        except OSError:
            searcher.close()
            if attempt == attempts - 1:
                raise
            time.sleep(0.02 * (attempt + 1))
    raise AssertionError("unreachable")


def _open_retrying(storage: Storage, attempts: int = 20) -> Any:
    """open_dir, retried: a commit in another process briefly removes the TOC being read."""
    for attempt in range(attempts):
        try:
            return storage.open_index(INDEX_NAME)
        except (FileNotFoundError, index.EmptyIndexError, OSError):
            if attempt == attempts - 1:
                raise
            time.sleep(0.02 * (attempt + 1))
    raise AssertionError("unreachable")


class _WhooshWriter:
    """A locked Whoosh writer; documents are replaced by id."""

    def __init__(self, writer: IndexWriter, on_done: Any = None) -> None:
        self._writer = writer
        self._on_done = on_done

    def update(self, docs: Sequence[SearchDoc]) -> None:
        for doc in docs:
            self._writer.update_document(**document_fields(doc))

    def delete(self, ids: Sequence[int]) -> None:
        for post_id in ids:
            self._writer.delete_by_term("id", str(post_id))

    def commit(self) -> None:
        self._writer.commit(mergetype=_merge_small_tiers)
        if self._on_done:
            self._on_done()

    def cancel(self) -> None:
        self._writer.cancel()
        if self._on_done:
            self._on_done()


class WhooshBackend:
    """Index files in ``directory`` (``current`` points at the live generation), or RAM."""

    name = "whoosh"

    def __init__(self, directory: str | Path | None) -> None:
        self.directory = Path(directory) if directory is not None else None
        self._lock = threading.RLock()
        self._storage: Storage | None = None
        self._ix: Any = None
        self._generation_path: Path | None = None
        self._searcher: Any = None

    # -- storage -------------------------------------------------------------------------

    def _live_path(self) -> Path | None:
        assert self.directory is not None
        link = self.directory / CURRENT
        try:
            return self.directory / os.readlink(link)
        except OSError:
            return None

    def _new_generation(self) -> Path:
        assert self.directory is not None
        self.directory.mkdir(parents=True, exist_ok=True)
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%d%H%M%S%f")
        path = self.directory / f"gen-{stamp}-{os.getpid()}"
        path.mkdir()
        (path / "SCHEMA_VERSION").write_text(str(SCHEMA_VERSION), encoding="ascii")
        return path

    def _swap(self, path: Path) -> None:
        """Point ``current`` at ``path`` atomically (a symlink renamed over the old one)."""
        assert self.directory is not None
        tmp = self.directory / f".current-{os.getpid()}-{threading.get_ident()}"
        if tmp.is_symlink():
            tmp.unlink()
        os.symlink(path.name, tmp)
        os.replace(tmp, self.directory / CURRENT)

    def _ensure_open(self) -> Any:
        """The live index, opened (or created on first use); reopened after a rebuild."""
        with self._lock:
            if self.directory is None:
                if self._ix is None:
                    self._storage = RamStorage()
                    self._ix = self._storage.create_index(make_schema(), indexname=INDEX_NAME)
                return self._ix
            live = self._live_path()
            if self._ix is not None and live == self._generation_path:
                return self._ix
            if live is None:
                live = self._create_first()
            version = (live / "SCHEMA_VERSION").read_text(encoding="ascii").strip()
            if version != str(SCHEMA_VERSION):
                raise SchemaMismatch(
                    f"the search index has schema {version}, this code needs {SCHEMA_VERSION}:"
                    " run `forum search rebuild`"
                )
            self._close_searcher()
            storage = FileStorage(str(live))
            self._ix = _open_retrying(storage)
            self._storage = storage
            self._generation_path = live
            return self._ix

    def _create_first(self) -> Path:
        """Create the first generation; a process that loses the race uses the winner's."""
        assert self.directory is not None
        path = self._new_generation()
        FileStorage(str(path)).create_index(make_schema(), indexname=INDEX_NAME)
        tmp = self.directory / f".first-{os.getpid()}"
        os.symlink(path.name, tmp)
        try:
            os.link(tmp, self.directory / CURRENT, follow_symlinks=False)
        except FileExistsError:
            shutil.rmtree(path, ignore_errors=True)
        finally:
            tmp.unlink()
        live = self._live_path()
        assert live is not None
        return live

    def schema_ok(self) -> bool:
        """Whether the live index has this code's schema version (no index yet counts)."""
        try:
            self._ensure_open()
        except SchemaMismatch:
            return False
        return True

    def _close_searcher(self) -> None:
        if self._searcher is not None:
            self._searcher.close()
            self._searcher = None

    def close(self) -> None:
        """Close the searcher; the index reopens on the next use."""
        with self._lock:
            self._close_searcher()
            self._ix = None
            self._generation_path = None

    @contextmanager
    def _searching(self) -> Iterator[Any]:
        """The process's searcher, refreshed (not reopened) when the index has changed."""
        with self._lock:
            ix = self._ensure_open()
            if self._searcher is None:
                self._searcher = _new_searcher(ix)
            else:
                try:
                    self._searcher = _refreshed(ix, self._searcher)
                except OSError:
                    self._close_searcher()
                    self._searcher = _new_searcher(ix)
            yield self._searcher

    # -- writing -------------------------------------------------------------------------

    def writer(self, session: Session, *, timeout: float) -> _WhooshWriter:
        """The index writer; Busy when another process keeps it past ``timeout``."""
        ix = self._ensure_open()
        try:
            writer = ix.writer(timeout=timeout, delay=0.05, **WRITER_OPTIONS)
        except LockError:
            raise Busy("the search index is being written by another process") from None
        if self.directory is not None and self._live_path() != self._generation_path:
            # A rebuild swapped generations while we waited: write to the new one.
            writer.cancel()
            return self.writer(session, timeout=timeout)
        return _WhooshWriter(writer)

    def rebuild(self, session: Session, progress: ProgressFn | None) -> tuple[int, _WhooshWriter]:
        """Build a new generation beside the live one and swap it in."""
        if self.directory is None:
            with self._lock:
                self._close_searcher()
                self._storage = RamStorage()
                self._ix = self._storage.create_index(make_schema(), indexname=INDEX_NAME)
            count = self._fill(self._ix, session, progress)
            return count, _WhooshWriter(self._ix.writer())
        live_writer: Any = None
        try:
            live_ix = self._ensure_open()
            # Holding the live writer keeps other processes' changes in the outbox.
            live_writer = live_ix.writer(timeout=30.0, delay=0.1)
        except SchemaMismatch:
            live_writer = None
        except LockError:
            raise Busy("the search index is being written by another process") from None
        path: Path | None = None
        try:
            path = self._new_generation()
            new_ix = FileStorage(str(path)).create_index(make_schema(), indexname=INDEX_NAME)
            count = self._fill(new_ix, session, progress)
            new_writer = new_ix.writer(timeout=5.0, **WRITER_OPTIONS)
            old = self._live_path()
            self._swap(path)
        except BaseException:
            if live_writer is not None:
                live_writer.cancel()
            if path is not None and self._live_path() != path:
                shutil.rmtree(path, ignore_errors=True)  # never swapped in: nobody reads it
            raise
        if live_writer is not None:
            live_writer.cancel()
        with self._lock:
            self._close_searcher()
            self._ix = new_ix
            self._storage = new_ix.storage
            self._generation_path = path
        self._remove_old_generations(keep={path, old})
        return count, _WhooshWriter(new_writer)

    def _fill(self, ix: Any, session: Session, progress: ProgressFn | None) -> int:
        """Write segments of REBUILD_SEGMENT_DOCS documents, committed without merging.

        Each segment's postings fit Whoosh's in-memory pool, so they are sorted in memory
        rather than spilled to pickled runs and merged back; a merge would re-sort them all.
        A large index on disk is written by one worker process per core, each reading its
        own range of posts (whoosh_build); Whoosh's multi-process writer pickles every
        document through a queue and was no faster on two shared cores.

        Documents are read in a session of their own: the caller's transaction then starts
        after the build, and its outbox replay sees what was committed meanwhile (a SQLite
        snapshot held through the build could not write then).
        """
        with Session(session.get_bind()) as reading:
            return self._fill_from(ix, reading, progress)

    def _fill_from(self, ix: Any, session: Session, progress: ProgressFn | None) -> int:
        if self.directory is not None:
            url = whoosh_build.database_url(session)
            workers = whoosh_build.worker_count()
            if url is not None and workers > 1:
                expected = count_documents(session)
                if expected >= whoosh_build.PARALLEL_MIN_DOCS:
                    ranges = whoosh_build.split_ids(session, workers)
                    count, segments = whoosh_build.build_parallel(
                        str(ix.storage.folder),
                        url,
                        ranges,
                        segment_docs=REBUILD_SEGMENT_DOCS,
                        limitmb=REBUILD_LIMIT_MB,
                        options=WRITER_OPTIONS,
                        progress=progress,
                        target=whoosh_build.build_part,
                    )
                    whoosh_internals.commit_segments(ix, segments)
                    if progress is not None:
                        progress(count)
                    return count

        def report(count: int) -> None:
            if progress is not None and count % 500 == 0:
                progress(count)

        count, segments = whoosh_build.write_segments(
            ix,
            iter_all_documents(session),
            document_fields,
            segment_docs=REBUILD_SEGMENT_DOCS,
            limitmb=REBUILD_LIMIT_MB,
            on_doc=report,
            options=WRITER_OPTIONS,
        )
        if segments:
            whoosh_internals.commit_segments(ix, segments)
        if progress is not None:
            progress(count)
        return count

    def _remove_old_generations(self, keep: set[Path | None]) -> None:
        assert self.directory is not None
        for child in self.directory.glob("gen-*"):
            if child not in keep and child.is_dir():
                # Processes still reading it keep their open files (POSIX unlink semantics).
                shutil.rmtree(child, ignore_errors=True)

    def compact(self, *, timeout: float) -> int:
        """Merge every crowded size tier, large segments too; return how many fewer
        segments there are.

        Commits made while serving leave large segments alone; ``forum search sync`` calls this.
        """
        ix = self._ensure_open()
        counts = [s.doc_count_all() for s in whoosh_internals.index_segments(ix)]
        if len(tiers_to_merge(counts, None)) < 2:
            _add_missing_arrays(ix)
            return 0
        before = len(counts)
        try:
            writer = ix.writer(timeout=timeout, delay=0.05, **WRITER_OPTIONS)
        except LockError:
            raise Busy("the search index is being written by another process") from None
        writer.commit(mergetype=_merge_all_tiers)
        ix = self._ensure_open()
        _add_missing_arrays(ix)
        return max(0, before - len(whoosh_internals.index_segments(ix)))

    def expected_count(self, session: Session) -> int:
        """How many documents a rebuild will write."""
        return count_documents(session)

    # -- reading -------------------------------------------------------------------------

    def versions(self, session: Session) -> dict[int, str]:
        """Every indexed document id with its version."""
        with self._searching() as searcher:
            return {
                int(fields["id"]): fields["version"]
                for fields in searcher.reader().all_stored_fields()
            }

    def doc_count(self) -> int:
        """Documents in the live index."""
        with self._searching() as searcher:
            return int(searcher.doc_count())

    def _word(self, searcher: Any, word: q.Word) -> query.Query | None:
        if word.prefix:
            # Stems may change the prefix's last letter ("happy" is indexed as "happi"),
            # so expand one letter shorter; at most PREFIX_EXPANSIONS terms per field.
            reader = searcher.reader()
            stem_prefix = word.text[:-1] if len(word.text) > q.MIN_PREFIX else word.text
            stems: set[str] = set()
            for field in ("title", "body"):
                for n, term in enumerate(reader.expand_prefix(field, stem_prefix)):
                    if n >= PREFIX_EXPANSIONS:
                        break
                    stems.add(term.decode("utf-8") if isinstance(term, bytes) else term)
            expansions: list[query.Query] = [
                query.Term(f, s) for s in sorted(stems) for f in TEXT_FIELDS
            ]
            for n, term in enumerate(reader.expand_prefix("tags", word.text)):
                if n >= PREFIX_EXPANSIONS:
                    break
                text = term.decode("utf-8") if isinstance(term, bytes) else term
                expansions.append(query.Term("tags", text))
            return _Or(expansions) if expansions else query.NullQuery
        analysed = [t.text for t in STEMMING(word.text)]
        if not analysed:
            return None  # a stop word
        if len(analysed) > 1:
            return self._phrase(q.Phrase(tuple(analysed)))
        stem = analysed[0]
        # A tag names what a post is about, even when its text never says the word; its
        # words are stemmed too (``deploy`` finds the tag ``deployment``).
        parts: list[query.Query] = [query.Term(f, stem) for f in (*TEXT_FIELDS, TAG_WORDS)]
        if not word.text.isalnum():
            parts.append(query.Term("tags", word.text))  # c++, c#: no word of a tag
        return _Or(parts)

    def _phrase(self, phrase: q.Phrase) -> query.Query | None:
        # The index drops stop words and renumbers positions; the phrase must do the same.
        stems = [t.text for w in phrase.words for t in STEMMING(w)]
        if not stems:
            return None
        if len(stems) == 1:
            return self._word(searcher=None, word=q.Word(stems[0]))
        return _Or([query.Phrase(f, stems) for f in ("title", "body")])

    def _node(self, searcher: Any, node: q.Node) -> query.Query | None:
        if isinstance(node, q.Word):
            return self._word(searcher, node)
        if isinstance(node, q.Phrase):
            return self._phrase(node)
        parts = [p for p in (self._node(searcher, n) for n in node.parts) if p is not None]
        if not parts:
            return None
        if isinstance(node, q.Any_):
            return _Or(parts)
        return query.And(parts)

    def _filters(self, searcher: Any, parsed: q.Query) -> tuple[list[query.Query], list[Any]]:
        must: list[query.Query] = []
        must_not: list[query.Query] = []
        must += [query.Term("tags", t) for t in parsed.tags]
        must_not += [query.Term("tags", t) for t in parsed.excluded_tags]
        # Anonymous posts are indexed with an empty user, so user: never finds them.
        must += [query.Term("user", u) for u in parsed.users]
        kinds = set(parsed.kinds)
        if parsed.article_types:
            must.append(_Or([query.Term("subtype", t) for t in sorted(parsed.article_types)]))
            if not kinds:
                kinds.add("article")
        if not kinds and parsed.statuses & {"answered", "unanswered"}:
            kinds.add("question")
        if kinds:
            must.append(_Or([query.Term("kind", k) for k in sorted(kinds)]))
        if "answered" in parsed.statuses:
            must.append(query.NumericRange("answer_count", 1, None))
        if "unanswered" in parsed.statuses:
            must.append(query.Term("answer_count", 0))
        if "accepted" in parsed.statuses:
            must.append(query.Term("accepted", True))
        for r in parsed.score:
            must.append(_numeric_range("score", r))
        for r in parsed.created:
            must.append(_date_range(r))
        for node in parsed.excluded:
            excluded = self._node(searcher, node)
            if excluded is not None:
                must_not.append(excluded)
        return must, must_not

    def search(
        self,
        session: Session,
        query_: q.Query,
        *,
        sort: str = "relevance",
        offset: int = 0,
        limit: int = 20,
        facets: bool = True,
        time_limit: float = TIME_LIMIT,
        highlight: bool = True,
    ) -> Results:
        """Documents matching every word first, then those matching some, with facets."""
        with self._searching() as searcher:
            clauses = [c for c in (self._node(searcher, n) for n in query_.clauses) if c]
            must, must_not = self._filters(searcher, query_)
            if not clauses and not must:
                return Results()
            results = Results()
            wanted = offset + limit
            deadline = time.monotonic() + time_limit
            complete_parts: list[_Ranked] = []
            partial_parts: list[_Ranked] = []
            kinds: Counter[str] = Counter()
            tags: Counter[str] = Counter()
            for seg in whoosh_arrays.segments(searcher):
                if time.monotonic() > deadline:
                    results.timed_out = True
                    break
                complete, partial, scores = _matches(seg, clauses, must, must_not)
                keys = _sort_keys(seg, sort, scores)
                complete_parts.append(_top(seg, complete, keys, wanted, scores))
                partial_parts.append(_top(seg, partial, keys, wanted, scores))
                results.complete += int(np.count_nonzero(complete))
                results.total += int(np.count_nonzero(complete)) + int(np.count_nonzero(partial))
                if facets:
                    _count_facets(seg, complete | partial, kinds, tags)
            kinds.pop("", None)
            results.kinds = dict(kinds)
            results.tags = sorted(
                ((t, n) for t, n in tags.items() if t), key=lambda kv: (-kv[1], kv[0])
            )[:10]
            first = _merged(complete_parts, wanted)[offset:]
            start = max(0, offset - results.complete)
            second = _merged(partial_parts, start + limit - len(first))[start:]
            texts: dict[int, str] = {}
            hits_first = [_stored_hit(searcher, docnum, score, texts) for docnum, score in first]
            hits_second = [_stored_hit(searcher, docnum, score, texts) for docnum, score in second]
            if sort == "relevance":
                hits_first, hits_second = _nudge(hits_first), _nudge(hits_second)
            results.hits = (hits_first + hits_second)[:limit]
            if highlight:
                # Only the page's hits are highlighted.
                terms = _highlight_terms(_combine(clauses, must, must_not, all_words=False))
                results.hits = [_highlighted(h, texts[h.id], terms) for h in results.hits]
            return results

    def highlight(self, session: Session, query_: q.Query, hits: Sequence[Hit]) -> list[Hit]:
        """``hits`` with their snippet and title highlighted for ``query_`` (their excerpts
        are read from the index)."""
        if not hits:
            return []
        with self._searching() as searcher:
            clauses = [c for c in (self._node(searcher, n) for n in query_.clauses) if c]
            must, must_not = self._filters(searcher, query_)
            if not clauses and not must:
                return list(hits)
            terms = _highlight_terms(_combine(clauses, must, must_not, all_words=False))
            out = []
            for hit in hits:
                docnum = searcher.document_number(id=str(hit.id))
                fields = searcher.stored_fields(docnum) if docnum is not None else {}
                out.append(_highlighted(hit, fields.get("excerpt", ""), terms))
            return out

    def similar(
        self, session: Session, title: str, limit: int, kinds: Sequence[str] = ("question",)
    ) -> list[Hit]:
        """Posts of ``kinds`` sharing the most content words with ``title`` (words such as
        "how do" or "what is" are left out), then the best BM25F score among those."""
        stems = list(dict.fromkeys(t.text for t in STEMMING(" ".join(words.content_words(title)))))
        stems = stems[: words.MAX_SIMILAR_WORDS]
        if not stems:
            return []
        with self._searching() as searcher:
            per_word = [
                _Or(
                    [
                        query.Term("title", s, boost=2.0),
                        query.Term("body", s),
                        query.Term(TAG_WORDS, s),
                    ]
                )
                for s in stems
            ]
            kind_q = _Or([query.Term("kind", k) for k in kinds])
            parts = []
            for seg in whoosh_arrays.segments(searcher):
                allowed = seg.live() & whoosh_arrays.evaluate(seg, kind_q, False)[1]
                overlap = np.zeros(seg.size, dtype=np.float32)
                scores = np.zeros(seg.size, dtype=np.float32)
                for part in per_word:
                    part_scores, mask = whoosh_arrays.evaluate(seg, part, True)
                    overlap += mask
                    if part_scores is not None:
                        scores += part_scores
                parts.append(_top(seg, allowed & (overlap > 0), [overlap, scores], limit, scores))
            texts: dict[int, str] = {}
            return [
                _stored_hit(searcher, docnum, score, texts)
                for docnum, score in _merged(parts, limit)
            ]

    def stored_hits(self, session: Session, ids: Sequence[int]) -> dict[int, Hit]:
        """Hits for the indexed documents among ``ids``, from their stored fields."""
        out: dict[int, Hit] = {}
        texts: dict[int, str] = {}
        with self._searching() as searcher:
            for post_id in ids:
                docnum = searcher.document_number(id=str(post_id))
                if docnum is not None:
                    out[post_id] = _stored_hit(searcher, docnum, 0.0, texts)
        return out

    def tagged_ids(self, session: Session, tags: Sequence[str]) -> NDArray[np.int64]:
        """The ids of the indexed posts with every one of ``tags``, ascending (what the tag
        filter of :meth:`search` lets through, as the index has them now)."""
        if not tags:
            raise ValueError("no tags given")
        wanted = query.And([query.Term("tags", t) for t in tags])
        parts: list[NDArray[np.int64]] = []
        with self._searching() as searcher:
            for seg in whoosh_arrays.segments(searcher):
                mask = whoosh_arrays.evaluate(seg, wanted, False)[1] & seg.live()
                found = _post_ids(seg)[mask]
                parts.append(found[found >= 0])
        if not parts:
            return np.zeros(0, dtype=np.int64)
        return np.unique(np.concatenate(parts))

    def correct(self, session: Session, words_: Sequence[str]) -> dict[str, str]:
        """Offer for each unknown word the closest, most used word of the index (titles,
        tags, the start of bodies) within ``words.max_edits``; known words are left alone."""
        out: dict[str, str] = {}
        with self._searching() as searcher:
            reader = searcher.reader()

            def frequency(candidates: Sequence[str]) -> dict[str, int]:
                return {c: int(reader.doc_frequency("spell", c)) for c in candidates}

            for word in dict.fromkeys(w.lower() for w in words_):
                if not words.correctable(word) or self._known(reader, word):
                    continue
                # Whoosh's terms_within walks the term files with an automaton (about 25 ms a
                # word on a 5k-post site); each segment's spelling words, kept in memory by
                # first letter, are compared in C instead (under a millisecond).
                candidates: set[str] = set()
                for leaf, _offset in reader.leaf_readers():
                    candidates.update(words.within(word, _spelling_words(leaf).get(word[0], ())))
                best = words.best_correction(word, candidates, frequency)
                if best:
                    out[word] = best
        return out

    @staticmethod
    def _known(reader: Any, word: str) -> bool:
        """Whether any document has ``word``, or another form of it."""
        if reader.doc_frequency("spell", word):
            return True
        stems = [t.text for t in STEMMING(word)]
        return any(
            reader.doc_frequency(field, stem)
            for stem in stems
            for field in (*TEXT_FIELDS, TAG_WORDS)
        )

    def experts_evidence(self, session: Session, parsed: q.Query, limit: int) -> list[Hit]:
        """Answers and articles matching ``parsed`` whose author is known (not anonymous)."""
        with self._searching() as searcher:
            clauses = [c for c in (self._node(searcher, n) for n in parsed.clauses) if c]
            must, must_not = self._filters(searcher, parsed)
            if not clauses and not must:
                return []
            kinds = _Or([query.Term("kind", "answer"), query.Term("kind", "article")])
            whoosh_q = query.AndNot(
                _combine(clauses, [*must, kinds], must_not, all_words=False),
                query.Term("author", "0"),
            )
            texts: dict[int, str] = {}
            return [
                _stored_hit(searcher, docnum, score, texts)
                for docnum, score in _best_documents(searcher, whoosh_q, limit)
            ]


def _spelling_words(reader: Any) -> dict[str, list[str]]:
    """A segment's spelling vocabulary by first letter; read once per segment reader and kept
    with it (segments never change)."""
    cached = reader.__dict__.get("_forum_spelling")
    if cached is not None:
        return cached  # type: ignore[no-any-return]
    by_letter: dict[str, list[str]] = {}
    if "spell" in reader.indexed_field_names():
        for btext in reader.lexicon("spell"):
            word = btext.decode("utf-8") if isinstance(btext, bytes) else btext
            if word:
                by_letter.setdefault(word[0], []).append(word)
    reader.__dict__["_forum_spelling"] = by_letter
    return by_letter


def _plain_hit(fields: dict[str, Any], score: float, texts: dict[int, str]) -> Hit:
    """A result from a document's stored fields; its excerpt goes into ``texts``."""
    body = fields.get("excerpt", "")
    title = fields.get("display_title") or fields.get("title", "")
    created = fields.get("created")
    texts[int(fields["id"])] = body
    return Hit(
        id=int(fields["id"]),
        kind=fields["kind"],
        subtype=fields.get("subtype") or None,
        slug=fields.get("slug") or None,
        title=title,
        snippet=marked_html(leading_text(body)),
        title_html=marked_html(title),
        tags=[t for t in fields.get("tags", "").split(",") if t],
        post_score=int(fields.get("score", 0)),
        answer_count=int(fields.get("answer_count", 0)),
        accepted=bool(fields.get("accepted")),
        question_id=int(fields.get("question") or 0) or None,
        created_at=created.replace(tzinfo=dt.UTC) if created else None,
        username=fields.get("user") or None,
        author_id=int(fields.get("author") or 0) or None,
        relevance=score,
    )


def _highlighted(hit: Hit, body: str, wanted: dict[str, set[str]]) -> Hit:
    """``hit`` with its snippet and title highlighted for the query's terms ``wanted``."""
    snippet = _highlight(wanted["body"], body, fragments=2)
    title_html = _highlight(wanted["title"], hit.title, fragments=0)
    if snippet:
        hit.snippet = snippet
    if title_html:
        hit.title_html = title_html
    return hit


@dataclass
class _Ranked:
    """Candidates for the page from one segment (or all): numbers, scores, sort keys."""

    docnums: NDArray[np.int64]
    scores: NDArray[np.float32]
    #: Higher is better, most significant first; ties go to the lower document number.
    keys: list[NDArray[Any]]


def _matches(
    seg: whoosh_arrays.Segment,
    clauses: list[query.Query],
    must: list[query.Query],
    must_not: list[query.Query],
) -> tuple[NDArray[np.bool_], NDArray[np.bool_], NDArray[np.float32]]:
    """One segment's documents matching every clause, some clauses only, and their scores."""
    allowed = seg.live().copy()
    for part in must:
        allowed &= whoosh_arrays.evaluate(seg, part, False)[1]
    for part in must_not:
        allowed &= ~whoosh_arrays.evaluate(seg, part, False)[1]
    scores = np.zeros(seg.size, dtype=np.float32)
    if not clauses:
        return allowed, seg.empty(), scores
    every = allowed.copy()
    some = seg.empty()
    for clause in clauses:
        clause_scores, mask = whoosh_arrays.evaluate(seg, clause, True)
        if clause_scores is not None:
            scores += clause_scores
        every &= mask
        some |= mask
    partial = some & allowed & ~every if len(clauses) > 1 else seg.empty()
    return every, partial, scores


def _sort_keys(
    seg: whoosh_arrays.Segment, sort: str, scores: NDArray[np.float32]
) -> list[NDArray[Any]]:
    if sort == "newest":
        return [seg.column("created")]
    if sort == "votes":
        return [seg.column("score"), seg.column("created")]
    return [scores]


def _top(
    seg: whoosh_arrays.Segment,
    mask: NDArray[np.bool_],
    keys: list[NDArray[Any]],
    n: int,
    scores: NDArray[np.float32] | None = None,
) -> _Ranked:
    """The ``n`` best documents of ``mask`` in one segment (global document numbers)."""
    local = np.flatnonzero(mask)
    ranked = _Ranked(
        local + seg.offset,
        (scores if scores is not None else keys[0])[local].astype(np.float32),
        [k[local] for k in keys],
    )
    return _best(ranked, n)


def _best(ranked: _Ranked, n: int) -> _Ranked:
    if len(ranked.docnums) > n > 0:
        # Keep everything tied with the n-th best primary key, then order exactly.
        primary = ranked.keys[0]
        threshold = np.partition(primary, len(primary) - n)[len(primary) - n]
        keep = primary >= threshold
        ranked = _Ranked(ranked.docnums[keep], ranked.scores[keep], [k[keep] for k in ranked.keys])
    if n <= 0:
        return _Ranked(ranked.docnums[:0], ranked.scores[:0], [k[:0] for k in ranked.keys])
    order = np.lexsort((ranked.docnums, *(-k for k in reversed(ranked.keys))))[:n]
    return _Ranked(ranked.docnums[order], ranked.scores[order], [k[order] for k in ranked.keys])


def _merged(parts: list[_Ranked], n: int) -> list[tuple[int, float]]:
    """The ``n`` best of every segment's candidates, as (document number, score)."""
    if not parts or n <= 0:
        return []
    combined = _Ranked(
        np.concatenate([p.docnums for p in parts]),
        np.concatenate([p.scores for p in parts]),
        [np.concatenate([p.keys[i] for p in parts]) for i in range(len(parts[0].keys))],
    )
    best = _best(combined, n)
    return [(int(d), float(s)) for d, s in zip(best.docnums, best.scores, strict=True)]


def _best_documents(searcher: Any, whoosh_q: query.Query, limit: int) -> list[tuple[int, float]]:
    """The ``limit`` best-scored documents matching ``whoosh_q``, as Whoosh would rank them."""
    parts = []
    for seg in whoosh_arrays.segments(searcher):
        scores, mask = whoosh_arrays.evaluate(seg, whoosh_q, True)
        if scores is None:
            scores = np.zeros(seg.size, dtype=np.float32)
        parts.append(_top(seg, mask & seg.live(), [scores], limit, scores))
    return _merged(parts, limit)


def _post_ids(seg: whoosh_arrays.Segment) -> NDArray[np.int64]:
    """Each document's post id (-1 for none), from the ``id`` terms: read once per segment
    reader and kept with it (segments never change)."""
    reader = seg.reader
    cached = reader.__dict__.get("_forum_post_ids")
    if cached is not None:
        return cached  # type: ignore[no-any-return]
    ids = np.full(seg.size, -1, dtype=np.int64)
    for text, info in reader.iter_field("id"):
        post_id = int(text)
        if info.doc_frequency() == 1:
            ids[info.min_id()] = post_id
        else:
            # An edited post's older (deleted) version may share the segment.
            ids[whoosh_arrays.decode(reader, "id", text).ids] = post_id
    reader.__dict__["_forum_post_ids"] = ids
    return ids


def _stored_hit(searcher: Any, docnum: int, score: float, texts: dict[int, str]) -> Hit:
    return _plain_hit(searcher.stored_fields(docnum), score, texts)


@dataclass
class _Facets:
    """One segment's kind per document and (document, tag) pairs, as arrays."""

    kind_names: list[str]
    kinds: NDArray[np.int32]
    tag_names: list[str]
    tag_docs: NDArray[np.int64]
    tag_codes: NDArray[np.int64]


def _facet_arrays(seg: whoosh_arrays.Segment) -> _Facets:
    """Read once per segment reader and kept with it: segments never change."""
    reader = seg.reader
    cached = reader.__dict__.get("_forum_facet_arrays")
    if cached is not None:
        return cached  # type: ignore[no-any-return]
    kind_names = [""]
    kinds = np.zeros(seg.size, dtype=np.int32)
    for btext in reader.lexicon("kind"):
        kind_names.append(btext.decode("utf-8"))
        kinds[whoosh_arrays.decode(reader, "kind", btext).ids] = len(kind_names) - 1
    tag_names: list[str] = []
    docs: list[NDArray[Any]] = []
    codes: list[NDArray[np.int64]] = []
    for btext in reader.lexicon("tags"):
        ids = whoosh_arrays.decode(reader, "tags", btext).ids
        docs.append(ids.astype(np.int64))
        codes.append(np.full(len(ids), len(tag_names), dtype=np.int64))
        tag_names.append(btext.decode("utf-8"))
    facets = _Facets(
        kind_names,
        kinds,
        tag_names,
        np.concatenate(docs) if docs else np.zeros(0, dtype=np.int64),
        np.concatenate(codes) if codes else np.zeros(0, dtype=np.int64),
    )
    reader.__dict__["_forum_facet_arrays"] = facets
    return facets


def _count_facets(
    seg: whoosh_arrays.Segment,
    mask: NDArray[np.bool_],
    kinds: Counter[str],
    tags: Counter[str],
) -> None:
    """Add the kinds and tags of ``mask``'s documents to the counters (every match)."""
    facets = _facet_arrays(seg)
    kind_counts = np.bincount(facets.kinds[mask], minlength=len(facets.kind_names))
    for name, n in zip(facets.kind_names, kind_counts.tolist(), strict=True):
        if n:
            kinds[name] += n
    if len(facets.tag_docs):
        picked = facets.tag_codes[mask[facets.tag_docs]]
        tag_counts = np.bincount(picked, minlength=len(facets.tag_names))
        for index in np.flatnonzero(tag_counts).tolist():
            tags[facets.tag_names[index]] += int(tag_counts[index])


def _combine(
    clauses: list[query.Query],
    must: list[query.Query],
    must_not: list[query.Query],
    *,
    all_words: bool,
) -> query.Query:
    parts: list[query.Query] = list(must)
    if clauses:
        parts.insert(0, query.And(clauses) if all_words else _Or(clauses))
    combined: query.Query = query.And(parts) if len(parts) > 1 else parts[0]
    if must_not:
        combined = query.AndNot(combined, _Or(must_not))
    return combined


def _numeric_range(fieldname: str, r: q.Range) -> query.Query:
    value = int(r.value)  # type: ignore[arg-type]
    if r.op == "=":
        return query.NumericRange(fieldname, value, value)
    if r.op in (">", ">="):
        return query.NumericRange(fieldname, value, None, startexcl=r.op == ">")
    return query.NumericRange(fieldname, None, value, endexcl=r.op == "<")


def _date_range(r: q.Range) -> query.Query:
    day = r.value
    assert isinstance(day, dt.date)
    start = dt.datetime(day.year, day.month, day.day)
    end = start + dt.timedelta(days=1) - dt.timedelta(microseconds=1)
    if r.op == "=":
        return query.DateRange("created", start, end)
    if r.op == ">":
        return query.DateRange("created", end, None, startexcl=True)
    if r.op == ">=":
        return query.DateRange("created", start, None)
    if r.op == "<":
        return query.DateRange("created", None, start, endexcl=True)
    return query.DateRange("created", None, end)


_TOKEN = re.compile(r"\w+", re.UNICODE)
SNIPPET_WORDS = 32
SNIPPET_SCAN = 20_000


_stem_word = words.stem


def _highlight_terms(whoosh_q: query.Query) -> dict[str, set[str]]:
    """The stems a query looks for in the body and the title, for highlighting."""
    wanted: dict[str, set[str]] = {"body": set(), "title": set()}
    for field, text in whoosh_q.iter_all_terms(phrases=True):
        if field in wanted:
            wanted[field].add(text.decode("utf-8") if isinstance(text, bytes) else text)
    return wanted


@lru_cache(maxsize=4_096)
def _candidates(wanted: frozenset[str]) -> re.Pattern[str]:
    """Words that may stem to one of ``wanted``: those starting with its first letters.

    The Snowball English stemmer keeps a word's first two letters when the stem has four or
    more (``dying`` gives ``die``), and always its first letter (checked on the distinct
    words of the Stack Exchange dumps), so only these words need stemming.
    """
    prefixes = sorted({w[:2] if len(w) >= 4 else w[:1] for w in wanted if w})
    # Whole words (as _TOKEN cuts them) that start with one of the prefixes.
    return re.compile(r"(?<!\w)(?=" + "|".join(map(re.escape, prefixes)) + r")\w+")


def _highlight(wanted: set[str], text: str, fragments: int) -> str:
    """Escaped ``text`` with <mark> around words whose stem is ``wanted``.

    Whoosh's highlighter re-runs the whole analyzer and scores every fragment (a few ms
    per hit); here only words that can match are stemmed (with a cache), and the best
    window of SNIPPET_WORDS words is picked directly.
    """
    if not text or not wanted:
        return ""
    scanned = text[:SNIPPET_SCAN]
    # (word number, character offset) of each matching word.
    hits: list[tuple[int, int]] = []
    number, cursor = 0, 0
    lowered = scanned.lower()
    aligned = len(lowered) == len(scanned)
    if aligned:
        found = _candidates(frozenset(wanted)).finditer(lowered)
    else:
        # A letter whose lower case is longer (İ) shifts offsets: stem every word instead.
        found = _TOKEN.finditer(scanned)
    for m in found:
        if _stem_word(m.group(0) if aligned else m.group(0).lower()) not in wanted:
            continue
        number += len(_TOKEN.findall(scanned, cursor, m.start()))
        cursor = m.start()
        hits.append((number, cursor))
    if not hits:
        return ""
    total = len(_TOKEN.findall(scanned))
    if fragments == 0:
        start, end = 0, total
    else:
        # The window of SNIPPET_WORDS words holding the most matches.
        numbers = [n for n, _offset in hits]
        best_start, best_count, right = numbers[0], 0, 0
        for left in range(len(numbers)):
            while right < len(numbers) and numbers[right] - numbers[left] < SNIPPET_WORDS:
                right += 1
            if right - left > best_count:
                best_start, best_count = numbers[left], right - left
        start = max(0, min(best_start - 6, total - SNIPPET_WORDS))
        end = min(total, start + SNIPPET_WORDS)
    matched = {offset for _n, offset in hits}
    out: list[str] = []
    cursor = -1
    for m in islice(_TOKEN.finditer(scanned), start, end):
        if cursor < 0:
            cursor = m.start() if start > 0 else 0
        out.append(text[cursor : m.start()])
        if m.start() in matched:
            out.append(MARK_START + m.group(0) + MARK_END)
        else:
            out.append(m.group(0))
        cursor = m.end()
    if end >= total:
        out.append(text[cursor:])
    snippet = "".join(out).strip()
    if fragments:
        snippet = ("… " if start > 0 else "") + snippet + (" …" if end < total else "")
    return marked_html(snippet)
