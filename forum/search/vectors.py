"""Post vectors: stored in ``post_vectors``, searched by cosine similarity.

Every live post has one row: the model key that made it, a hash of the text embedded, and the
vector (float16 bytes). On PostgreSQL with pgvector the same vector is also kept in the
``embedding vector(384)`` column under an HNSW index and searched there. Elsewhere (SQLite, the
embedded default) the rows are copied, as float32, into a read-only matrix file in the
instance directory (``SEARCH_VECTOR_DIR``), memory-mapped by every worker and searched by
brute-force dot products. After a round of changes the writer patches it in place (rows
overwritten or appended, removed ones zeroed); ``forum search sync`` and ``rebuild`` write
it afresh. Readers reopen it when it changes.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import hashlib
import logging
import os
import re
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import delete, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session

from forum.db import utcnow
from forum.models import PostVector
from forum.search import embed_service, embeddings
from forum.search.base import Hit
from forum.search.documents import SearchDoc, build_documents, iter_all_documents
from forum.search.embed_service import EmbedClient
from forum.search.embeddings import DIMENSIONS, Embedder, PoolEmbedder, Vectors

log = logging.getLogger(__name__)

#: Characters of a post given to the model (it reads the first MAX_TOKENS word pieces).
TEXT_CHARS = 1500
#: Posts embedded per round of `sync` (sorted by length within it, stored together).
BATCH = 256
RANKINGS = ("hybrid", "lexical", "semantic")

#: What embeds texts here: the model in this process, or the host's embedding service.
Model = Embedder | EmbedClient


def doc_text(doc: SearchDoc) -> str:
    """What is embedded for a post: title, tags, then the start of the body."""
    parts = [doc.title, " ".join(doc.tags), doc.body[:TEXT_CHARS]]
    return "\n".join(p for p in parts if p)


def content_hash(key: str, value: str) -> str:
    """Identifies what a vector was made from (the model key and the text)."""
    return hashlib.sha1(f"{key}\x1f{value}".encode()).hexdigest()


def ranking(config: Mapping[str, str]) -> str:
    """The effective ranking: the configured one, or lexical when no model is available."""
    wanted = config.get("ranking", "hybrid")
    if wanted not in RANKINGS or wanted == "lexical":
        return "lexical"
    if embedder(config) is None:
        return "lexical"
    return wanted


def embedder(config: Mapping[str, str]) -> Model | None:
    """The process's embedder with the configured threads and cut (None without the model): a
    client of the host's embedding service when ``embed_socket`` names one (the model in this
    process while the service cannot be reached or reads another cut)."""
    threads = int(config.get("embed_threads", "1") or 1)
    tokens = int(config.get("embed_tokens") or 0) or embeddings.MAX_TOKENS
    socket_path = config.get("embed_socket") or ""
    if socket_path:
        timeout = float(config.get("embed_timeout") or embed_service.TIMEOUT_SECONDS)
        return embed_service.get_client(socket_path, threads, timeout, tokens)
    return embeddings.get_embedder(threads, tokens)


def embedder_status(config: Mapping[str, str]) -> str:
    """Which embedder this process uses, for /healthz: "shared", "in-process" or why not
    the shared one."""
    return embed_service.status(
        config.get("embed_socket") or "", int(config.get("embed_threads", "1") or 1)
    )


# --- PostgreSQL ---------------------------------------------------------------------------


def pgvector_ready(bind: Session | Connection) -> bool:
    """Whether the ``embedding`` column is a pgvector column (the extension was available)."""
    row = bind.execute(
        text(
            "SELECT format_type(a.atttypid, a.atttypmod) FROM pg_attribute a"
            " WHERE a.attrelid = to_regclass('post_vectors') AND a.attname = 'embedding'"
            " AND NOT a.attisdropped"
        )
    ).scalar()
    return bool(row and str(row).startswith("vector"))


#: hnsw.ef_search: candidates the HNSW search keeps (pgvector's default is 40), raised to the
#: rows asked for: one pass then finds them (at 100k posts, recall@10 0.955 and @200 0.932
#: against exact search for the 200 nearest; starting at 40 and going on iteratively found
#: the same rows in no less time).
PG_EF_SEARCH = 40
#: hnsw.iterative_scan (pgvector 0.8): when filtered rows (a tag) leave the list short, the
#: index scan goes on; "relaxed_order" may return it slightly out of order (sorted again).
PG_ITERATIVE_SCAN = "relaxed_order"
#: hnsw.max_scan_tuples: where an iterative scan stops (pgvector's default).
PG_MAX_SCAN_TUPLES = 20_000
#: With a tag filter, at most this many tagged posts are compared one by one (exact); more,
#: and the HNSW index is scanned with the filter.
PG_EXACT_ROWS = 5_000
#: Search the index on a connection of the semantic leg's own, beside the lexical search. Off:
#: a request would then hold two of the pool's connections at once, and under a burst every
#: request can hold one while waiting for a second until the pool times out (a simultaneous
#: writes test caught it on PostgreSQL). The leg searches on the request's session instead.
PG_OWN_CONNECTION = False


def _pg_literal(vector: np.ndarray[Any, Any]) -> str:
    return "[" + ",".join(f"{x:.6f}" for x in vector.tolist()) + "]"


# --- storing ------------------------------------------------------------------------------


@dataclass
class VectorDrift:
    """Posts whose vector is missing, stale (other text or model), or left over."""

    missing: list[int] = field(default_factory=list)
    stale: list[int] = field(default_factory=list)
    extra: list[int] = field(default_factory=list)
    other_model: int = 0

    @property
    def ok(self) -> bool:
        """No difference at all."""
        return not (self.missing or self.stale or self.extra)


def stored_hashes(session: Session) -> dict[int, tuple[str, str]]:
    """Every stored vector's post id with its (model key, content hash)."""
    rows = session.execute(
        select(PostVector.post_id, PostVector.model_key, PostVector.content_hash)
    ).all()
    return {r.post_id: (r.model_key, r.content_hash) for r in rows}


def write(session: Session, model: Model | PoolEmbedder, docs: Sequence[SearchDoc]) -> int:
    """Embed ``docs`` and store their vectors (replacing older ones); return how many."""
    if not docs:
        return 0
    texts = [doc_text(d) for d in docs]
    return store(session, model.key, docs, texts, model.embed(texts))


def store(
    session: Session, key: str, docs: Sequence[SearchDoc], texts: Sequence[str], vectors: Vectors
) -> int:
    """Store the vectors of ``docs`` made by the model ``key`` from ``texts``; return how many."""
    if not docs:
        return 0
    # A transaction that read and then writes fails at once on SQLite when another
    # connection wrote meanwhile: end the reads, and let the writes start a new one.
    session.commit()
    now = utcnow()
    rows = [
        {
            "post_id": d.id,
            "model_key": key,
            "content_hash": content_hash(key, t),
            "vector": embeddings.to_bytes(v),
            "updated_at": now,
        }
        for d, t, v in zip(docs, texts, vectors, strict=True)
    ]
    # An upsert: another worker may store the same post's vector at the same moment (two
    # changes to one post drained in two processes); the later write wins, neither fails.
    dialect = session.get_bind().dialect.name
    upsert = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(PostVector)
    replaced = {name: upsert.excluded[name] for name in ("model_key", "content_hash", "vector")}
    session.execute(
        upsert.on_conflict_do_update(
            index_elements=[PostVector.post_id],
            set_={**replaced, "updated_at": upsert.excluded["updated_at"]},
        ),
        rows,
    )
    if dialect == "postgresql" and pgvector_ready(session):
        session.execute(
            text("UPDATE post_vectors SET embedding = CAST(:v AS vector) WHERE post_id = :id"),
            [{"v": _pg_literal(v), "id": d.id} for d, v in zip(docs, vectors, strict=True)],
        )
    return len(rows)


def sync(
    engine: Engine,
    config: Mapping[str, str],
    post_ids: Iterable[int] | None = None,
    *,
    model: Model | None = None,
    progress: Callable[[int], None] | None = None,
    processes: int = 1,
) -> int:
    """Bring the vectors of ``post_ids`` (None: every post) up to date; return how many were
    embedded. Posts whose vector has this model's key and their text's hash are skipped, so
    an interrupted run resumes where it stopped. With ``processes`` > 1 the model runs in
    that many worker processes once more than one batch is to be embedded."""
    model = model or embedder(config)
    if model is None:
        return 0
    pool: list[PoolEmbedder] = []
    try:
        return _sync(engine, config, post_ids, model, progress, processes, pool)
    finally:
        for p in pool:
            p.close()


def _sync(
    engine: Engine,
    config: Mapping[str, str],
    post_ids: Iterable[int] | None,
    model: Model,
    progress: Callable[[int], None] | None,
    processes: int,
    pool: list[PoolEmbedder],
) -> int:
    done = 0
    wanted: list[int] = []
    # One window is embedded (in the worker processes) while the next is read and the last
    # stored: the processes never wait for the database.
    running: tuple[list[SearchDoc], list[str], Callable[[], Vectors]] | None = None

    def start(docs: list[SearchDoc]) -> tuple[list[SearchDoc], list[str], Callable[[], Vectors]]:
        texts = [doc_text(d) for d in docs]
        if processes > 1 and isinstance(model, Embedder) and (pool or len(docs) >= BATCH):
            # A whole window (more may follow): worth starting the processes. (The processes
            # load the model themselves; a client of the host's service embeds there.)
            if not pool:
                pool.append(PoolEmbedder(processes, model))
            return docs, texts, pool[0].start(texts)
        vectors = model.embed(texts)
        return docs, texts, lambda: vectors

    def finish(job: tuple[list[SearchDoc], list[str], Callable[[], Vectors]] | None) -> int:
        if job is None:
            return 0
        docs, texts, collect = job
        count = store(session, model.key, docs, texts, collect())
        session.commit()
        return count

    with Session(engine) as session:
        known = stored_hashes(session)
        if post_ids is None:
            docs_iter: Iterable[SearchDoc] = iter_all_documents(session)
            live: set[int] | None = set()
        else:
            wanted = sorted(set(post_ids))
            built = build_documents(session, wanted)
            docs_iter = list(built.values())
            gone = [i for i in wanted if i not in built and i in known]
            session.commit()
            if gone:
                session.execute(delete(PostVector).where(PostVector.post_id.in_(gone)))
                session.commit()
            live = None
        pending: list[SearchDoc] = []
        seen = 0
        for doc in docs_iter:
            seen += 1
            if live is not None:
                live.add(doc.id)
            if known.get(doc.id) != (model.key, content_hash(model.key, doc_text(doc))):
                pending.append(doc)
            if len(pending) >= BATCH:
                job = start(pending)
                done += finish(running)
                running = job
                pending = []
            if progress is not None:
                progress(seen)
        done += finish(running)
        done += finish(start(pending) if pending else None)
        if live is not None:
            extra = sorted(known.keys() - live)
            for start_at in range(0, len(extra), 500):
                chunk = extra[start_at : start_at + 500]
                session.execute(delete(PostVector).where(PostVector.post_id.in_(chunk)))
        session.commit()
    if engine.dialect.name != "postgresql":
        if post_ids is None:
            export_matrix(engine, config)
        else:
            patch_matrix(engine, config, wanted)
    return done


def verify(engine: Engine, config: Mapping[str, str]) -> VectorDrift:
    """Compare the stored vectors with the posts and the model (without embedding)."""
    model = embedder(config)
    drift = VectorDrift()
    with Session(engine) as session:
        known = stored_hashes(session)
        live: set[int] = set()
        for doc in iter_all_documents(session):
            live.add(doc.id)
            if doc.id not in known:
                drift.missing.append(doc.id)
            elif model is not None and known[doc.id] != (
                model.key,
                content_hash(model.key, doc_text(doc)),
            ):
                drift.stale.append(doc.id)
                if known[doc.id][0] != model.key:
                    drift.other_model += 1
        drift.extra = sorted(known.keys() - live)
    return drift


# --- background embedding after a drain ----------------------------------------------------

_EXECUTOR: ThreadPoolExecutor | None = None
_EXECUTOR_LOCK = threading.Lock()
_FUTURES: list[Future[int]] = []
#: Post ids waiting for the embedding thread, per (engine, vector folder): changes arriving
#: while it works are embedded together in its next round (one matrix rewrite per round).
_WAITING: dict[tuple[int, str], set[int]] = {}


def enqueue(engine: Engine, config: Mapping[str, str], post_ids: Iterable[int]) -> None:
    """Embed ``post_ids`` soon in this process's embedding thread (after the lexical index
    has them: embedding never delays lexical indexing)."""
    ids = set(post_ids)
    if not ids or config.get("ranking", "hybrid") == "lexical":
        return
    global _EXECUTOR
    key = (id(engine), config["vector_dir"])
    with _EXECUTOR_LOCK:
        if _EXECUTOR is None:
            _EXECUTOR = ThreadPoolExecutor(max_workers=1, thread_name_prefix="embed")
        _FUTURES[:] = [f for f in _FUTURES if not f.done()]
        waiting = _WAITING.get(key)
        if waiting is not None:
            waiting |= ids
            return
        try:
            future = _EXECUTOR.submit(_sync_waiting, engine, dict(config), key)
        except RuntimeError:
            # The interpreter is exiting (a worker stopping): `forum search sync` embeds them.
            log.info("embedding skipped while the process exits; `forum search sync` does it")
            return
        _WAITING[key] = ids
        _FUTURES.append(future)


def _sync_waiting(engine: Engine, config: dict[str, str], key: tuple[int, str]) -> int:
    with _EXECUTOR_LOCK:
        ids = _WAITING.pop(key, set())
    try:
        return sync(engine, config, ids)
    except Exception:  # noqa: BLE001 - `forum search sync` embeds what is missed
        log.exception("embedding posts failed; `forum search sync` embeds them later")
        return 0


def wait(timeout: float = 30.0) -> None:
    """Wait for queued embedding to finish (tests, the CLI)."""
    with _EXECUTOR_LOCK:
        futures = list(_FUTURES)
    for f in futures:
        f.result(timeout=timeout)


# --- the matrix file (SQLite) -------------------------------------------------------------


def _matrix_paths(config: Mapping[str, str]) -> tuple[Path, Path]:
    folder = Path(config["vector_dir"])
    return folder / "vectors.f32", folder / "ids.i64"


@contextlib.contextmanager
def _matrix_lock(config: Mapping[str, str]) -> Iterator[None]:
    """Held while the matrix files are written (by any process)."""
    folder = Path(config["vector_dir"])
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / "matrix.lock", "a+b") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _replace(path: Path, data: np.ndarray[Any, Any]) -> None:
    tmp = path.with_name(path.name + f".{os.getpid()}.{threading.get_ident()}.tmp")
    data.tofile(tmp)
    os.replace(tmp, path)


def export_matrix(engine: Engine, config: Mapping[str, str]) -> int:
    """Write the stored vectors of the current model to the matrix files (atomically)."""
    model = embedder(config)
    if model is None:
        return 0
    matrix_path, ids_path = _matrix_paths(config)
    with Session(engine) as session:
        rows = session.execute(
            select(PostVector.post_id, PostVector.vector)
            .where(PostVector.model_key == model.key)
            .order_by(PostVector.post_id)
        ).all()
    ids = np.array([r.post_id for r in rows], dtype=np.int64)
    # float32 on disk: numpy multiplies float16 without BLAS, twenty times slower.
    matrix = np.frombuffer(b"".join(r.vector for r in rows), dtype="<f2").astype("<f4")
    with _matrix_lock(config):
        # The matrix first: until the ids follow, readers see sizes that disagree and keep
        # the matrix they have.
        _replace(matrix_path, matrix)
        _replace(ids_path, ids)
    return len(ids)


def patch_matrix(engine: Engine, config: Mapping[str, str], post_ids: Iterable[int]) -> int:
    """Bring the rows of ``post_ids`` in the matrix files up to date without rewriting them:
    changed rows are overwritten in place, new ones appended, those without a vector any
    more zeroed under the id -1 (``forum search sync`` writes the files afresh). Return how
    many rows changed."""
    model = embedder(config)
    if model is None:
        return 0
    wanted = sorted(set(post_ids))
    matrix_path, ids_path = _matrix_paths(config)
    if not (matrix_path.exists() and ids_path.exists()):
        return export_matrix(engine, config)
    if not wanted:
        return 0
    with Session(engine) as session:
        stored = dict(
            session.execute(
                select(PostVector.post_id, PostVector.vector).where(
                    PostVector.model_key == model.key, PostVector.post_id.in_(wanted)
                )
            ).all()
        )
    row_bytes = DIMENSIONS * 4
    with _matrix_lock(config):
        ids = np.fromfile(ids_path, dtype=np.int64)
        if matrix_path.stat().st_size != ids.size * row_bytes:
            return export_matrix(engine, config)
        rows = np.flatnonzero(np.isin(ids, np.array(wanted, dtype=np.int64)))
        at = {int(ids[r]): int(r) for r in rows}
        added: list[int] = []
        with open(matrix_path, "r+b") as handle:
            for post_id in wanted:
                data = stored.get(post_id)
                row = np.zeros(DIMENSIONS, dtype="<f4")
                if data is not None:
                    row = embeddings.from_bytes(data).astype("<f4")
                if post_id in at:
                    handle.seek(at[post_id] * row_bytes)
                    handle.write(row.tobytes())
                    if data is None:
                        ids[at[post_id]] = -1
                elif data is not None:
                    handle.seek(0, os.SEEK_END)
                    handle.write(row.tobytes())
                    added.append(post_id)
        _replace(ids_path, np.concatenate([ids, np.array(added, dtype=np.int64)]))
    return len(at) + len(added)


class _View:
    """One opening of the matrix files: the ids and the rows they name, and (made when
    first needed) the ids sorted with their row numbers, to find the rows of given posts."""

    def __init__(self, ids: np.ndarray[Any, Any], matrix: np.ndarray[Any, Any]) -> None:
        self.ids = ids
        self.matrix = matrix
        self._sorted: tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]] | None = None

    def rows_of(self, post_ids: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
        """The rows of ``post_ids`` in ascending order (posts without a row left out)."""
        found = self._sorted
        if found is None:
            order = np.argsort(self.ids, kind="stable")
            found = self._sorted = (order, self.ids[order])
        order, sorted_ids = found
        wanted = np.asarray(post_ids, dtype=np.int64)
        if not sorted_ids.size or not wanted.size:
            return np.zeros(0, dtype=np.int64)
        at = np.minimum(np.searchsorted(sorted_ids, wanted), sorted_ids.size - 1)
        hit = (sorted_ids[at] == wanted) & (wanted >= 0)
        return np.sort(order[at[hit]])


class _Matrix:
    """The memory-mapped matrix, reopened when the file changes."""

    def __init__(self) -> None:
        self.stamp: tuple[float, int, float] | None = None
        self.view = _View(np.zeros(0, dtype=np.int64), np.zeros((0, DIMENSIONS), dtype="<f4"))

    @property
    def ids(self) -> np.ndarray[Any, Any]:
        """The post id of each row (-1: a removed post's zeroed row)."""
        return self.view.ids

    @property
    def matrix(self) -> np.ndarray[Any, Any]:
        """The rows (float32, unit length)."""
        return self.view.matrix


_MATRICES: dict[str, _Matrix] = {}
_MATRIX_LOCK = threading.Lock()


def _open_matrix(config: Mapping[str, str]) -> _Matrix:
    matrix_path, ids_path = _matrix_paths(config)
    with _MATRIX_LOCK:
        held = _MATRICES.setdefault(str(matrix_path), _Matrix())
        try:
            a, b = matrix_path.stat(), ids_path.stat()
        except FileNotFoundError:
            return held
        stamp = (a.st_mtime, a.st_size, b.st_mtime)
        if stamp != held.stamp:
            ids = np.fromfile(ids_path, dtype=np.int64)
            if a.st_size == ids.size * DIMENSIONS * 4 and ids.size:
                # The rows the ids name: rows appended meanwhile wait for their ids. Replaced
                # in one assignment: a search under way keeps the view it took.
                held.view = _View(
                    ids, np.memmap(matrix_path, dtype="<f4", mode="r", shape=(ids.size, DIMENSIONS))
                )
                held.stamp = stamp
        return held


# --- searching ----------------------------------------------------------------------------


#: Rows from which a product is split between two threads (below, one is quicker).
SPLIT_ROWS = 20_000
#: Threads that find nearest posts while the lexical search runs (numpy's loop and
#: onnxruntime release the GIL), and the thread that takes the second half of a product.
_LEGS: ThreadPoolExecutor | None = None
_HALVES: ThreadPoolExecutor | None = None
_POOLS_LOCK = threading.Lock()


def _pools() -> tuple[ThreadPoolExecutor, ThreadPoolExecutor]:
    global _LEGS, _HALVES
    with _POOLS_LOCK:
        if _LEGS is None or _HALVES is None:
            _LEGS = ThreadPoolExecutor(max_workers=4, thread_name_prefix="nearest")
            _HALVES = ThreadPoolExecutor(max_workers=1, thread_name_prefix="nearest-half")
        return _LEGS, _HALVES


def _forget_pools() -> None:
    """A forked child has none of its parent's threads: it starts its own pools."""
    global _LEGS, _HALVES
    _LEGS = _HALVES = None


os.register_at_fork(after_in_child=_forget_pools)


def start_nearest(
    session: Session,
    config: Mapping[str, str],
    model: Model,
    text: str,
    limit: int,
    within: np.ndarray[Any, Any] | None = None,
    *,
    tags: Sequence[str] = (),
) -> Callable[[], list[tuple[int, float]]]:
    """Start looking for the ``limit`` posts nearest to ``text`` on another thread (the text
    embedded, then the vectors searched) and return what waits for them: the caller runs its
    lexical search meanwhile. On PostgreSQL the HNSW index is searched on a connection of the
    thread's own (a session belongs to one thread), at the same time as the lexical search
    on the session; a session bound to one connection (tests) searches when waited for.
    ``tags``: on PostgreSQL, only posts with every one of these tags (see :func:`nearest`).
    ``within``: on the matrix file, only these posts are candidates (see
    :func:`nearest_in_matrix`)."""
    legs, _ = _pools()
    bind = session.get_bind()
    if bind.dialect.name == "postgresql":
        if isinstance(bind, Engine) and PG_OWN_CONNECTION:
            engine = bind

            def leg() -> list[tuple[int, float]]:
                vector = model.embed_one(text)
                with engine.connect() as conn:
                    if not pgvector_ready(conn):
                        return []
                    return pg_nearest(conn, vector, limit, tags)

            return legs.submit(leg).result
        vector = legs.submit(model.embed_one, text)
        return lambda: nearest(session, config, vector.result(), limit, tags=tags)
    found = legs.submit(
        lambda: nearest_in_matrix(config, model.embed_one(text), limit, within=within)
    )
    return found.result


def nearest(
    session: Session,
    config: Mapping[str, str],
    vector: np.ndarray[Any, Any],
    limit: int,
    *,
    tags: Sequence[str] = (),
) -> list[tuple[int, float]]:
    """The ``limit`` posts nearest to ``vector`` with their cosine similarity, best first.
    ``tags`` (PostgreSQL only; the matrix is searched whole and its callers filter) keeps
    only posts with every one of these tags (an answer has its question's)."""
    if session.get_bind().dialect.name == "postgresql":
        if not pgvector_ready(session):
            return []
        return pg_nearest(session.connection(), vector, limit, tags)
    return nearest_in_matrix(config, vector, limit)


def pg_settings(limit: int = 200) -> dict[str, str]:
    """The pgvector settings a search for ``limit`` posts runs with (its transaction only)."""
    return {
        "hnsw.ef_search": str(max(PG_EF_SEARCH, limit)),
        "hnsw.iterative_scan": PG_ITERATIVE_SCAN,
        "hnsw.max_scan_tuples": str(PG_MAX_SCAN_TUPLES),
    }


def pg_nearest(
    conn: Connection, vector: np.ndarray[Any, Any], limit: int, tags: Sequence[str] = ()
) -> list[tuple[int, float]]:
    """:func:`nearest` on PostgreSQL: the HNSW index searched in ``conn``'s transaction, with
    the settings of :func:`pg_settings` for that transaction only (SET LOCAL)."""
    settings = pg_settings(limit)
    conn.execute(
        text(
            "SELECT set_config('hnsw.ef_search', :ef, true),"
            " set_config('hnsw.iterative_scan', :scan, true),"
            " set_config('hnsw.max_scan_tuples', :tuples, true)"
        ),
        {
            "ef": settings["hnsw.ef_search"],
            "scan": settings["hnsw.iterative_scan"],
            "tuples": settings["hnsw.max_scan_tuples"],
        },
    )
    values: dict[str, Any] = {"v": _pg_literal(vector), "n": int(limit)}
    wanted = list(dict.fromkeys(tags))
    source = "post_vectors AS v"
    where = ["v.embedding IS NOT NULL"]
    if wanted:
        # The posts with every tag (an answer has its question's), up to PG_EXACT_ROWS: as
        # few as that are compared one by one (exact, and cheaper than an index scan that
        # would read on and on to find the few); more, and the index is scanned, each post's
        # tags looked up as it comes (an iterative scan goes on past ef_search until enough
        # pass, so the list is not cut short as it would be filtered after the scan).
        first = "(SELECT id FROM tags WHERE name = :t0)"
        others = "".join(
            f" AND EXISTS (SELECT 1 FROM post_tags AS o WHERE o.post_id = tagged.owner"
            f" AND o.tag_id = (SELECT id FROM tags WHERE name = :t{n}))"
            for n in range(1, len(wanted))
        )
        tagged = list(
            conn.execute(
                text(
                    "SELECT post_id FROM (SELECT post_id, post_id AS owner FROM post_tags"
                    f" WHERE tag_id = {first} UNION ALL SELECT a.id, a.parent_id"
                    " FROM post_tags AS pt JOIN posts AS a ON a.parent_id = pt.post_id"
                    f" WHERE pt.tag_id = {first}) AS tagged WHERE true{others} LIMIT :rows"
                ),
                {
                    **{f"t{n}": tag for n, tag in enumerate(wanted)},
                    "rows": PG_EXACT_ROWS + 1,
                },
            ).scalars()
        )
        if len(tagged) <= PG_EXACT_ROWS:
            if not tagged:
                return []
            rows = conn.execute(
                text(
                    "WITH near AS MATERIALIZED (SELECT post_id, embedding <=> CAST(:v AS vector)"
                    " AS distance FROM post_vectors WHERE post_id = ANY(:ids)"
                    " AND embedding IS NOT NULL)"
                    " SELECT post_id, 1 - distance AS score FROM near"
                    " ORDER BY distance, post_id LIMIT :n"
                ),
                {**values, "ids": tagged},
            ).all()
            return [(int(r.post_id), float(r.score)) for r in rows]
        source += " JOIN posts AS p ON p.id = v.post_id"
        for n, tag in enumerate(wanted):
            values[f"t{n}"] = tag
            where.append(
                "EXISTS (SELECT 1 FROM post_tags AS pt"
                " WHERE pt.post_id = coalesce(p.parent_id, p.id)"
                f" AND pt.tag_id = (SELECT id FROM tags WHERE name = :t{n}))"
            )
    # A relaxed-order scan may return the list slightly out of order: sorted again.
    rows = conn.execute(
        text(
            "WITH near AS MATERIALIZED (SELECT v.post_id, v.embedding <=> CAST(:v AS vector)"
            f" AS distance FROM {source} WHERE {' AND '.join(where)}"
            " ORDER BY v.embedding <=> CAST(:v AS vector) LIMIT :n)"
            " SELECT post_id, 1 - distance AS score FROM near ORDER BY distance, post_id"
        ),
        values,
    ).all()
    return [(int(r.post_id), float(r.score)) for r in rows]


#: A search restricted to some posts multiplies only their rows (copied out of the matrix
#: first) when they are fewer than this share of the matrix; otherwise every row, then
#: keeps theirs. Copying a row out and multiplying it costs about twice as much as
#: multiplying it where it lies (measured at 100k rows).
RESTRICTED_SHARE = 0.25


def nearest_in_matrix(
    config: Mapping[str, str],
    vector: np.ndarray[Any, Any],
    limit: int,
    *,
    within: np.ndarray[Any, Any] | None = None,
) -> list[tuple[int, float]]:
    """:func:`nearest` on the matrix file (SQLite). ``within`` (post ids): only those posts'
    rows are candidates, such as the posts with a tag the query asks for (a filter applied
    after taking the nearest of every post would leave few of them)."""
    view = _open_matrix(config).view
    ids, matrix = view.ids, view.matrix
    if not ids.size:
        return []
    vector = vector.astype("<f4")
    if within is None:
        scores = scores_of(matrix, vector)
        row_ids = ids
    else:
        rows = view.rows_of(within)
        if not rows.size:
            return []
        if rows.size < RESTRICTED_SHARE * ids.size:
            scores = scores_of_rows(matrix, rows, vector)
        else:
            scores = scores_of(matrix, vector)[rows]
        row_ids = ids[rows]
    k = min(limit, scores.size)
    top = np.argpartition(-scores, k - 1)[:k]
    top = top[np.argsort(-scores[top], kind="stable")]
    return [(int(row_ids[i]), float(scores[i])) for i in top if row_ids[i] >= 0]


def scores_of(matrix: np.ndarray[Any, Any], vector: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """Every row's dot product with ``vector``. numpy's own loop, not BLAS: OpenBLAS wakes a
    thread pool for a matrix-vector product, which on a busy machine costs more than the
    product (8 ms against 0.1 ms at 3k rows). From SPLIT_ROWS rows the second half is
    multiplied on another thread at the same time (the loop releases the GIL): the product
    is bound by reading the matrix, which two cores do faster (100k rows: 25 -> 12 ms)."""
    rows = matrix.shape[0]
    if rows < SPLIT_ROWS:
        scores: np.ndarray[Any, Any] = np.einsum("ij,j->i", matrix, vector)
        return scores
    _, halves = _pools()
    half = rows // 2
    second = halves.submit(np.einsum, "ij,j->i", matrix[half:], vector)
    first = np.einsum("ij,j->i", matrix[:half], vector)
    return np.concatenate([first, second.result()])


#: Rows copied out of the matrix at a time by :func:`scores_of_rows` (6 MB).
GATHER_ROWS = 4096


def scores_of_rows(
    matrix: np.ndarray[Any, Any], rows: np.ndarray[Any, Any], vector: np.ndarray[Any, Any]
) -> np.ndarray[Any, Any]:
    """The dot products of ``rows`` of ``matrix`` with ``vector``: the rows copied out
    GATHER_ROWS at a time (never a copy of them all), from SPLIT_ROWS rows half of them on
    another thread, as :func:`scores_of` does."""

    def part(chunk: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
        out = np.empty(chunk.size, dtype="<f4")
        for start in range(0, chunk.size, GATHER_ROWS):
            block = np.asarray(matrix[chunk[start : start + GATHER_ROWS]])
            out[start : start + GATHER_ROWS] = np.einsum("ij,j->i", block, vector)
        return out

    if rows.size < SPLIT_ROWS:
        return part(rows)
    _, halves = _pools()
    half = rows.size // 2
    second = halves.submit(part, rows[half:])
    first = part(rows[:half])
    return np.concatenate([first, second.result()])


_WORDS = re.compile(r"\w+")


def accepts(doc: Hit, query: Any, body: str = "") -> bool:
    """Whether the post of ``doc`` (with its text ``body``) passes the filters of a parsed
    query (tags, people, kinds, states, scores, dates, excluded words): what the lexical
    backends apply, for semantic hits."""
    from forum.search import query as q

    tags = set(doc.tags)
    if any(t not in tags for t in query.tags) or tags & set(query.excluded_tags):
        return False
    if query.users and (doc.username or "") not in query.users:
        return False
    kinds = set(query.kinds)
    if query.article_types:
        if doc.subtype not in query.article_types:
            return False
        kinds = kinds or {"article"}
    if not kinds and query.statuses & {"answered", "unanswered"}:
        kinds = {"question"}
    if kinds and doc.kind not in kinds:
        return False
    if "answered" in query.statuses and doc.answer_count == 0:
        return False
    if "unanswered" in query.statuses and doc.answer_count > 0:
        return False
    if "accepted" in query.statuses and not doc.accepted:
        return False
    ops: dict[str, Callable[[Any, Any], bool]] = {
        ">": lambda a, b: a > b,
        ">=": lambda a, b: a >= b,
        "<": lambda a, b: a < b,
        "<=": lambda a, b: a <= b,
        "=": lambda a, b: a == b,
    }
    if any(not ops[r.op](doc.post_score, r.value) for r in query.score):
        return False
    created = doc.created_at
    if created is None:
        return not query.created
    if created.tzinfo is None:
        created = created.replace(tzinfo=dt.UTC)
    if any(not ops[r.op](created.astimezone(dt.UTC).date(), r.value) for r in query.created):
        return False
    if query.excluded:
        found = set(_WORDS.findall(f"{doc.title} {body} {' '.join(doc.tags)}".lower()))
        for node in query.excluded:
            words = [node.text] if isinstance(node, q.Word) else list(getattr(node, "words", ()))
            if words and all(w.lower() in found for w in words):
                return False
    return True
