"""gunicorn starts the host's embedding service, its workers embed through it without loading
the model themselves, and it stops with gunicorn."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=30) as response:
        return str(response.read().decode())


def children(pid: int) -> dict[int, str]:
    """The processes whose parent is ``pid``, with their command lines."""
    found = {}
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            ppid = re.search(r"^PPid:\s+(\d+)", status.read_text(), re.M)
            cmdline = (status.parent / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if ppid and int(ppid.group(1)) == pid:
            found[int(status.parent.name)] = cmdline
    return found


def maps_onnxruntime(pid: int) -> bool:
    return "onnxruntime" in Path(f"/proc/{pid}/maps").read_text()


def alive(pid: int) -> bool:
    try:
        state = re.search(r"^State:\s+(\w)", Path(f"/proc/{pid}/status").read_text(), re.M)
    except OSError:
        return False
    return state is not None and state.group(1) != "Z"


@pytest.mark.slow
def test_gunicorn_workers_embed_through_one_shared_service(
    sqlite_template: Path, tmp_path: Path
) -> None:
    database = tmp_path / "forum.db"
    shutil.copyfile(sqlite_template, database)
    instance = tmp_path / "instance"
    port = free_port()
    env = {
        **os.environ,
        "FORUM_DATABASE_URL": f"sqlite:///{database}",
        "FORUM_INSTANCE_PATH": str(instance),
        "FORUM_BIND": f"127.0.0.1:{port}",
        "FORUM_WORKERS": "2",
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "metrics"),
        "FORUM_PUBLIC_READ": "true",
        "FORUM_SEARCH_RANKING": "hybrid",
    }
    env.pop("FORUM_SEARCH_EMBED_SOCKET", None)
    env.pop("FORUM_EMBED_SERVICE", None)
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", str(PROJECT_ROOT / "gunicorn.conf.py")],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    service_pid = 0
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 90
        while True:
            try:
                get(base + "/healthz")
                break
            except OSError:
                assert server.poll() is None, "gunicorn exited"
                assert time.monotonic() < deadline, "gunicorn did not start"
                time.sleep(0.2)
        socket_path = instance / f"embed-{server.pid}.sock"
        assert socket_path.is_socket()
        assert socket_path.stat().st_mode & 0o777 == 0o600
        processes = children(server.pid)
        services = [pid for pid, cmd in processes.items() if "embed_service" in cmd]
        workers = [pid for pid in processes if pid not in services]
        assert len(services) == 1 and len(workers) == 2, processes
        service_pid = services[0]
        for i in range(12):
            query = urllib.parse.quote(f"undo a broken schema upgrade {i}")
            html = get(f"{base}/search?q={query}")
            assert "Ranked by words and meaning" in html
            health = json.loads(get(base + "/healthz"))
            assert health["search"]["semantic"] == "on"
            assert health["search"]["embedder"] == "shared"
        # The model runs in the service alone: no worker has onnxruntime in its memory.
        assert maps_onnxruntime(service_pid)
        for worker in workers:
            assert not maps_onnxruntime(worker), f"worker {worker} loaded the model"
    finally:
        server.send_signal(signal.SIGTERM)
        logs = server.communicate(timeout=60)[0].decode()
    assert "embedding service started" in logs or "serving" in logs, logs[-2000:]
    deadline = time.monotonic() + 15
    while service_pid and alive(service_pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert service_pid and not alive(service_pid), "the embedding service outlived gunicorn"
    assert not list(instance.glob("embed-*.sock"))
