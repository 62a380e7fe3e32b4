"""The search interface; the configured backend lives beside this module."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any


def backend_status(config: dict[str, Any] | Any) -> dict[str, Any]:
    """What /healthz reports about search: the backend and whether its storage is usable."""
    backend = config["SEARCH_BACKEND"]
    if backend == "postgres":
        ok = str(config["DATABASE_URL"]).startswith("postgresql")
        return {
            "backend": backend,
            "ok": ok,
            **({} if ok else {"error": "the postgres backend needs a PostgreSQL database"}),
        }
    index_dir = Path(config["SEARCH_INDEX_DIR"])
    try:
        index_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        return {"backend": backend, "ok": False, "error": f"index directory: {exc.strerror}"}
    writable = os.access(index_dir, os.W_OK)
    return {
        "backend": backend,
        "ok": writable,
        **({} if writable else {"error": "index directory is not writable"}),
    }
