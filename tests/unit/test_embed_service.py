"""The host's embedding service: the same vectors as the model in the process, concurrent
clients (threads and processes), the fallback when the service is gone or hangs, refused
oversize requests, the socket's mode, supervision, and search and /healthz through it."""

from __future__ import annotations

import logging
import multiprocessing
import os
import shutil
import signal
import socket
import stat
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from flask import Flask
from sqlalchemy.orm import Session

from forum import search
from forum.search import embed_service, embeddings, vectors
from forum.search.embed_service import EmbedClient, EmbedServer, ServiceError
from tests.conftest import base_config
from tests.unit.test_semantic_search import PARAPHRASE, build, ids

TEXTS = [
    "How do I roll back a failed database migration?",
    "Chocolate cake recipe for the office party",
    "",
    "word " * 400,
    "x" * 20_000,  # one unknown word piece after another: longer than any request would cut
    "Ünïcödé — 数据库迁移失败怎么办",
]


@pytest.fixture(scope="module")
def model() -> embeddings.Embedder:
    return embeddings.Embedder(1)


@pytest.fixture(scope="module")
def shared_model() -> embeddings.Embedder:
    return embeddings.Embedder(1, serial=False)


@pytest.fixture(scope="module")
def socket_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # A short path: a Unix socket's path is limited to 107 bytes.
    folder = Path(f"/tmp/embed-test-{os.getpid()}")
    folder.mkdir(mode=0o700, exist_ok=True)
    yield folder  # type: ignore[misc]
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="module")
def server(socket_dir: Path, shared_model: embeddings.Embedder) -> Iterator[EmbedServer]:
    server = EmbedServer(socket_dir / "embed.sock", shared_model)
    thread = threading.Thread(target=server.serve, daemon=True)
    thread.start()
    yield server
    server.stop()
    thread.join(5)
    assert not thread.is_alive()


@pytest.fixture(autouse=True)
def _fresh_clients() -> Iterator[None]:
    embed_service.reset()
    yield
    embed_service.reset()


@pytest.fixture
def connect() -> Iterator[Any]:
    """Make clients, closed after the test."""
    made: list[EmbedClient] = []

    def make(path: str | Path, **kw: Any) -> EmbedClient:
        made.append(EmbedClient(str(path), **kw))
        return made[-1]

    yield make
    for client in made:
        client.close()


def test_vectors_through_the_service_match_the_model_in_process(
    server: EmbedServer, model: embeddings.Embedder, connect: Any
) -> None:
    client = connect(server.path)
    assert client.key == model.key
    assert client.service_pid == os.getpid()
    got = client.embed(TEXTS)
    expected = model.embed([t or " " for t in TEXTS])
    assert got.shape == (len(TEXTS), embeddings.DIMENSIONS) and got.dtype == np.float32
    np.testing.assert_allclose(got, expected, atol=1e-5)
    np.testing.assert_allclose(client.embed_one(TEXTS[0]), expected[0], atol=1e-5)
    assert client.shared


def test_more_texts_than_one_request_holds_are_split(
    server: EmbedServer, model: embeddings.Embedder, connect: Any
) -> None:
    texts = [f"question number {i} about search" for i in range(embed_service.MAX_TEXTS * 2 + 3)]
    got = connect(server.path).embed(texts)
    np.testing.assert_allclose(got, model.embed(texts), atol=1e-5)


def _embed_in_another_process(path: str, texts: list[str]) -> tuple[int, bytes]:
    client = EmbedClient(path)
    vectors_ = client.embed(texts)
    client.close()
    # The vectors came from the service: this process did not load the model itself.
    assert client.shared and "onnxruntime" not in sys.modules
    return os.getpid(), vectors_.tobytes()


def test_concurrent_threads_and_processes_get_their_own_vectors(
    server: EmbedServer, model: embeddings.Embedder, connect: Any
) -> None:
    texts = [f"topic {i}: {word}" for i, word in enumerate(["gunicorn", "cake", "sql"] * 8)]
    expected = {t: v for t, v in zip(texts, model.embed(texts), strict=True)}
    client = connect(server.path)

    def one(text: str) -> tuple[str, np.ndarray[Any, Any]]:
        return text, client.embed([text])[0]

    with ThreadPoolExecutor(8) as threads:
        for text, vector in threads.map(one, texts * 2):
            np.testing.assert_allclose(vector, expected[text], atol=1e-5)
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(2, mp_context=context) as processes:
        jobs = [
            processes.submit(_embed_in_another_process, str(server.path), texts[i::2])
            for i in range(2)
        ]
        for i, job in enumerate(jobs):
            pid, data = job.result(timeout=120)
            assert pid != os.getpid()
            got = np.frombuffer(data, dtype=np.float32).reshape(-1, embeddings.DIMENSIONS)
            np.testing.assert_allclose(got, [expected[t] for t in texts[i::2]], atol=1e-5)


def test_an_oversize_request_is_refused_and_its_connection_closed(server: EmbedServer) -> None:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
        conn.settimeout(5)
        conn.connect(str(server.path))
        conn.sendall(struct.pack(">I", embed_service.MAX_REQUEST_BYTES + 1) + b"E")
        answer = embed_service.read_frame(conn, embed_service.MAX_RESPONSE_BYTES)
        assert answer[:1] == embed_service.ERROR and b"over the limit" in answer
        # Closed: the rest of the frame is never read (what was sent and unread resets it).
        try:
            rest = conn.recv(1)
        except ConnectionResetError:
            rest = b""
        assert rest == b""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
        conn.settimeout(5)
        conn.connect(str(server.path))
        too_many = ["a"] * (embed_service.MAX_TEXTS + 1)
        embed_service.write_frame(conn, embed_service.encode_texts(too_many))
        answer = embed_service.read_frame(conn, embed_service.MAX_RESPONSE_BYTES)
        assert answer[:1] == embed_service.ERROR and b"at most" in answer
        # A malformed request is answered with an error; the connection still serves.
        embed_service.write_frame(conn, b"E" + struct.pack(">I", 2) + struct.pack(">I", 99))
        assert embed_service.read_frame(conn, 4096)[:1] == embed_service.ERROR
        embed_service.write_frame(conn, embed_service.encode_texts(["still here"]))
        answer = embed_service.read_frame(conn, embed_service.MAX_RESPONSE_BYTES)
        assert embed_service.decode_vectors(answer, 1).shape == (1, embeddings.DIMENSIONS)


def test_the_socket_is_for_its_owner_only(server: EmbedServer) -> None:
    assert stat.S_IMODE(server.path.stat().st_mode) == 0o600


def test_a_gone_service_falls_back_to_the_model_in_process(
    socket_dir: Path,
    shared_model: embeddings.Embedder,
    model: embeddings.Embedder,
    caplog: pytest.LogCaptureFixture,
) -> None:
    path = socket_dir / "gone.sock"
    server = EmbedServer(path, shared_model)
    thread = threading.Thread(target=server.serve, daemon=True)
    thread.start()
    client = embed_service.get_client(str(path))
    assert isinstance(client, EmbedClient)
    assert vectors.embedder_status({"embed_socket": str(path)}) == "shared"
    server.stop()
    thread.join(5)
    assert not path.exists()  # the service removes its socket when it stops
    caplog.set_level(logging.INFO, logger="forum.search.embed_service")
    for text in TEXTS[:3]:
        np.testing.assert_allclose(client.embed_one(text), model.embed([text or " "])[0], atol=1e-5)
    assert not client.shared
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "embedding in this process" in warnings[0].getMessage()
    assert vectors.embedder_status({"embed_socket": str(path)}).startswith("in-process")
    # A process that starts while the service is gone uses the model in its own process.
    embed_service.reset()
    assert isinstance(embed_service.get_client(str(path)), embeddings.Embedder)
    assert vectors.embedder_status({"embed_socket": str(path)}).startswith("in-process")


def test_a_hung_service_costs_one_timeout_then_the_model_in_process(
    socket_dir: Path, server: EmbedServer, model: embeddings.Embedder, connect: Any
) -> None:
    hung_path = socket_dir / "hung.sock"
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(hung_path))
    listener.listen(8)  # accepts connections (the kernel does) and never answers
    try:
        client = connect(server.path, timeout=0.3)
        client.path = str(hung_path)
        client.close()
        started = time.monotonic()
        with pytest.raises(ServiceError, match="Timeout"):
            client._remote(["a query"])
        assert time.monotonic() - started < 1.5
        embeddings.get_embedder(1)  # loaded beforehand: only the timeout is timed below
        started = time.monotonic()
        vector = client.embed_one("a query that hangs")
        assert time.monotonic() - started < 1.5
        np.testing.assert_allclose(vector, model.embed(["a query that hangs"])[0], atol=1e-5)
        # The service is not asked again before RETRY_SECONDS: no further timeouts.
        started = time.monotonic()
        client.embed(["another query"])
        assert time.monotonic() - started < 0.25
    finally:
        listener.close()


def test_supervisor_restarts_a_dead_service_and_stops_it(socket_dir: Path, connect: Any) -> None:
    path = socket_dir / "supervised.sock"
    supervisor = embed_service.Supervisor(path, poll_seconds=0.1)
    supervisor.start()
    try:
        assert supervisor.wait_ready(60)
        first = connect(path).service_pid
        os.kill(first, signal.SIGKILL)
        deadline = time.monotonic() + 60
        while supervisor.started < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert supervisor.wait_ready(60)
        second = connect(path)
        assert second.service_pid != first
        assert second.embed(["back again"]).shape == (1, embeddings.DIMENSIONS)
    finally:
        supervisor.stop()
    assert supervisor.process is not None and supervisor.process.poll() is not None
    assert not path.exists()


def test_supervisor_gives_up_after_bounded_restarts(socket_dir: Path) -> None:
    supervisor = embed_service.Supervisor(
        socket_dir / "never.sock",
        restarts=2,
        poll_seconds=0.05,
        command=[sys.executable, "-c", "raise SystemExit(3)"],
    )
    supervisor.start()
    try:
        assert supervisor._thread is not None
        supervisor._thread.join(30)
        assert not supervisor._thread.is_alive()
        assert supervisor.started == 3  # the first run and two restarts
    finally:
        supervisor.stop()


def test_service_exits_when_its_parent_is_gone(socket_dir: Path) -> None:
    path = socket_dir / "orphan.sock"
    server = EmbedServer(path, embeddings.Embedder(1, serial=False))
    # A parent that is not this process's: the service takes it as gone at once.
    thread = threading.Thread(target=server.serve, kwargs={"parent": os.getppid() + 1})
    thread.start()
    thread.join(5)
    assert not thread.is_alive() and not path.exists()


def test_service_wanted_follows_the_settings() -> None:
    assert embed_service.service_wanted({})
    assert not embed_service.service_wanted({"FORUM_EMBED_SERVICE": "off"})
    assert not embed_service.service_wanted({"FORUM_SEARCH_RANKING": "lexical"})


# --- search through the service ------------------------------------------------------------


@pytest.fixture
def app_config(tmp_path: Path, sqlite_template: Path, server: EmbedServer) -> dict[str, Any]:
    database = tmp_path / "forum.db"
    shutil.copyfile(sqlite_template, database)
    return base_config(
        tmp_path,
        f"sqlite:///{database}",
        SEARCH_RANKING="hybrid",
        SEARCH_EMBED_SOCKET=str(server.path),
    )


def test_search_and_health_use_the_shared_embedder(
    app: Flask, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Loading the model in this process would be a failure here.
    def refuse(threads: int) -> embeddings.Embedder:
        raise AssertionError("the model was loaded in the worker")

    embeddings.reset()
    monkeypatch.setattr(embeddings, "load", refuse)
    try:
        c = build(session)
        page = search.search(session, PARAPHRASE)
        assert page.ranking == "hybrid"
        assert ids(page)[0] == c.migration.id
        health = app.test_client().get("/healthz").get_json()
        assert health["search"]["semantic"] == "on"
        assert health["search"]["embedder"] == "shared"
    finally:
        search.close_backends()
        embeddings.reset()


def test_each_master_has_its_own_socket_and_dead_masters_sockets_go(tmp_path: Path) -> None:
    from forum.search.embed_service import master_socket

    gone = subprocess.Popen(["true"])  # a process that is surely gone once waited for
    gone.wait()
    stale = tmp_path / f"embed-{gone.pid}.sock"
    stale.touch()
    live = tmp_path / f"embed-{os.getppid()}.sock"  # another master, still running
    live.touch()
    other = tmp_path / "embed-notapid.sock"
    other.touch()
    mine = master_socket(tmp_path, os.getpid())
    assert mine == tmp_path / f"embed-{os.getpid()}.sock"
    assert master_socket(tmp_path, os.getppid()) != mine
    assert not stale.exists()
    assert live.exists()
    assert other.exists()


def test_a_service_reading_another_cut_is_not_used(server: EmbedServer) -> None:
    """Its vectors would carry another model key than this app's: the model runs here."""
    same = embed_service.get_client(str(server.path), 1, 1.0, embeddings.MAX_TOKENS)
    assert isinstance(same, EmbedClient)
    embed_service.reset()
    other = embed_service.get_client(str(server.path), 1, 1.0, 32)
    assert isinstance(other, embeddings.Embedder)
    assert other.key == f"{same.key}/t32"
