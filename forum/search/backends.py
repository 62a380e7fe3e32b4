"""The search backends of this process: which one a configuration names, opened once."""

from __future__ import annotations

import atexit
import threading
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

from forum.search.base import Backend

_BACKENDS: OrderedDict[tuple[str, str], Backend] = OrderedDict()
_BACKENDS_LOCK = threading.Lock()
#: Open backends kept per process (tests make many apps; old ones are closed).
_MAX_BACKENDS = 4


def search_config(config: Mapping[str, Any]) -> dict[str, str]:
    """The part of the app's configuration sessions carry for search (sessionmaker info)."""
    return {
        "backend": str(config["SEARCH_BACKEND"]),
        "index_dir": str(config["SEARCH_INDEX_DIR"]),
        "database_url": str(config["DATABASE_URL"]),
        "time_limit": str(float(config["SEARCH_TIME_LIMIT"])),
        "ranking": str(config.get("SEARCH_RANKING", "hybrid")),
        "vector_dir": str(
            config.get("SEARCH_VECTOR_DIR") or config["SEARCH_INDEX_DIR"] + "-vectors"
        ),
        "embed_threads": str(int(config.get("SEARCH_EMBED_THREADS") or 1)),
        "embed_socket": str(config.get("SEARCH_EMBED_SOCKET") or ""),
        "embed_timeout": str(float(config.get("SEARCH_EMBED_TIMEOUT") or 1.0)),
        "embed_tokens": str(int(config.get("SEARCH_EMBED_TOKENS") or 0)),
    }


def get_backend(config: Mapping[str, str]) -> Backend:
    """The process's backend for ``config`` (one searcher per process, reused)."""
    name = config["backend"]
    key = (name, config["database_url"] if name == "postgres" else config["index_dir"])
    with _BACKENDS_LOCK:
        backend = _BACKENDS.get(key)
        if backend is not None:
            _BACKENDS.move_to_end(key)
            return backend
        if name == "postgres":
            from forum.search.postgres_backend import PostgresBackend

            backend = PostgresBackend()
        else:
            from forum.search.whoosh_backend import WhooshBackend

            backend = WhooshBackend(config["index_dir"])
        _BACKENDS[key] = backend
        while len(_BACKENDS) > _MAX_BACKENDS:
            _key, old = _BACKENDS.popitem(last=False)
            old.close()
        return backend


def close_backends() -> None:
    """Close every open backend (at exit, and between tests)."""
    with _BACKENDS_LOCK:
        while _BACKENDS:
            _key, backend = _BACKENDS.popitem()
            backend.close()


atexit.register(close_backends)
