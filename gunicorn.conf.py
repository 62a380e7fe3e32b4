"""gunicorn settings for production: ``gunicorn -c gunicorn.conf.py`` (or ``make serve-prod``).

Every value can be changed through the environment variables named below.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

wsgi_app = "forum:create_app()"
bind = os.environ.get("FORUM_BIND", "127.0.0.1:8000")

# Sync workers: each request holds one worker, so the count bounds concurrency. Two per core
# plus one keeps the cores busy while some workers wait on PostgreSQL.
workers = int(os.environ.get("FORUM_WORKERS") or 2 * (os.cpu_count() or 1) + 1)
threads = int(os.environ.get("FORUM_THREADS") or 1)
# Each worker's app sizes its database pool from its threads (forum.db.pool_settings).
os.environ["FORUM_THREADS"] = str(threads)
timeout = int(os.environ.get("FORUM_WORKER_TIMEOUT") or 30)
graceful_timeout = int(os.environ.get("FORUM_GRACEFUL_TIMEOUT") or 30)
keepalive = int(os.environ.get("FORUM_KEEPALIVE") or 5)
# Recycle workers now and then so a slow leak never grows without bound; the jitter keeps
# them from restarting all at once. Not too often: a new worker spends about a second of CPU
# starting and loses its caches (related questions, URLs, statements).
max_requests = int(os.environ.get("FORUM_MAX_REQUESTS") or 20_000)
max_requests_jitter = max_requests // 10

# Never import the app in the master: each worker opens its own database pool and search
# index after the fork (a Whoosh index or a connection shared across a fork breaks).
preload_app = False

# One line per request: who, what, status, size, the request id forum returned and the
# duration in milliseconds.
accesslog = os.environ.get("FORUM_ACCESS_LOG", "-")
errorlog = os.environ.get("FORUM_ERROR_LOG", "-")
loglevel = os.environ.get("FORUM_LOG_LEVEL", "info")
access_log_format = (
    '%(h)s "%(r)s" %(s)s %(B)s request_id=%({x-request-id}o)s duration_ms=%(M)s "%(a)s"'
)

# Workers inherit the master's umask: the SQLite database, its WAL and the search index files
# they create are readable by this account only.
os.umask(0o077)

# A proxy on this host relays outside requests from loopback: /metrics needs METRICS_TOKEN here.
os.environ.setdefault("FORUM_METRICS_REQUIRE_TOKEN", "true")

# Prometheus metrics from every worker: each writes its samples under this folder and
# /metrics adds them up. It must be set before a worker imports forum.
_own_metrics_dir = not os.environ.get("PROMETHEUS_MULTIPROC_DIR")
if _own_metrics_dir:
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="forum-metrics-")


def on_starting(server: Any) -> None:
    """Start from an empty metrics folder: old workers' files would be counted again."""
    folder = Path(os.environ["PROMETHEUS_MULTIPROC_DIR"])
    if folder.exists():
        for child in folder.iterdir():
            if child.is_dir():
                shutil.rmtree(child)
            else:
                child.unlink()
    folder.mkdir(parents=True, exist_ok=True)


# The embedding model runs once per host, in a process of its own that the master starts
# (a new program, not a fork: an onnxruntime session does not survive a fork) and restarts
# if it dies; the workers embed through its Unix socket (SEARCH_EMBED_SOCKET). Set
# FORUM_EMBED_SERVICE=off to have each worker load the model instead.
_embed_service: list[Any] = []


def when_ready(server: Any) -> None:
    """Import forum's code before the workers fork (they share those pages), and start the
    host's embedding service.

    No app is made here (no connection crosses the fork). The workers learn the service's
    socket from FORUM_SEARCH_EMBED_SOCKET, set here before they are forked.
    """
    import importlib
    import pkgutil

    import forum

    for module in pkgutil.walk_packages(forum.__path__, "forum."):
        if not module.name.startswith(("forum.demo", "forum.cli")):
            importlib.import_module(module.name)

    from forum import locations
    from forum.search import embed_service

    if not embed_service.service_wanted(os.environ):
        return
    # One socket per master: after a binary upgrade (USR2) the new master starts its own
    # service beside the old one's instead of finding the socket taken. (gunicorn re-executes
    # with the environment it started with, so the variable set below does not carry over.)
    path = os.environ.get("FORUM_SEARCH_EMBED_SOCKET") or str(
        embed_service.master_socket(locations.instance_path(), os.getpid())
    )
    if len(os.fsencode(path)) > 100:
        server.log.warning("embedding service not started: socket path too long: %s", path)
        return
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    supervisor = embed_service.Supervisor(path)
    supervisor.start()
    _embed_service.append(supervisor)
    if not supervisor.wait_ready():
        server.log.warning("the embedding service is not answering; workers may load the model")
    os.environ["FORUM_SEARCH_EMBED_SOCKET"] = path


def child_exit(server: Any, worker: Any) -> None:
    """Drop a dead worker's live gauges from the metrics."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def on_exit(server: Any) -> None:
    """Stop the embedding service, and remove the metrics folder this configuration created
    for itself."""
    for supervisor in _embed_service:
        supervisor.stop()
    if _own_metrics_dir:
        shutil.rmtree(os.environ["PROMETHEUS_MULTIPROC_DIR"], ignore_errors=True)
