"""Portable backups: every table as JSON lines in one .tar.gz, restorable on SQLite or PostgreSQL.

The archive holds ``manifest.json`` (format, version, schema revision, row counts, table
order) followed by ``tables/<name>.jsonl``: one JSON object per row, keyed by column name,
and ``uploads/<name>``: the files of the uploads folder (uploads kept in the database are rows of
``upload_blobs`` like any other).
Values are written in a database-neutral form (ISO 8601 times in UTC, enum values, base64
bytes) and read back by the column types of the schema being restored into. The tables are
those of ``Base.metadata`` when the backup runs, so new areas' tables are covered as they
appear.
"""

from __future__ import annotations

import base64
import datetime as dt
import decimal
import enum
import io
import json
import re
import shutil
import tarfile
import tempfile
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Connection,
    Date,
    DateTime,
    Engine,
    Integer,
    LargeBinary,
    Numeric,
    Table,
    Time,
    Uuid,
    bindparam,
    delete,
    func,
    inspect,
    literal,
    select,
    text,
    update,
)
from sqlalchemy.schema import Column

from forum.db import Base
from forum.files import PRIVATE_FILE, create_private_file, make_private_dir
from forum.services.tags import tag_counts_statement
from forum.services.uploads import NAME_PATTERN as UPLOAD_NAME

FORMAT = "forum-backup"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
BATCH_SIZE = 1000
_TABLE_MEMBER = re.compile(r"^tables/([A-Za-z0-9_]+)\.jsonl$")
_UPLOADS_PREFIX = "uploads/"

Progress = Callable[[str, int], None]


class BackupError(Exception):
    """A backup cannot be written or restored; the message says why and what to do."""


@dataclass
class Summary:
    """What a backup or restore did: rows per table, in order, and the schema revision."""

    tables: dict[str, int] = field(default_factory=dict)
    revision: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    #: Files of the uploads folder written or restored.
    uploads: int = 0

    @property
    def total_rows(self) -> int:
        """Rows over all tables."""
        return sum(self.tables.values())


def tables() -> list[Table]:
    """The tables to back up, parents before children (foreign-key order)."""
    import forum.models  # noqa: F401 - every model module registers its tables on Base

    return list(Base.metadata.sorted_tables)


def schema_revision(conn: Connection) -> list[str]:
    """The Alembic revisions the database is at (one per branch head), sorted."""
    if not inspect(conn).has_table("alembic_version"):
        return []
    return sorted(conn.scalars(text("SELECT version_num FROM alembic_version")).all())


def row_counts(engine: Engine) -> dict[str, int]:
    """Rows in each model table that exists in the database."""
    with engine.connect() as conn:
        present = set(inspect(conn).get_table_names())
        return {
            t.name: conn.scalar(select(func.count()).select_from(t)) or 0
            for t in tables()
            if t.name in present
        }


# --- values ------------------------------------------------------------------------------


def encode_value(column: Column[Any], value: Any) -> Any:
    """A JSON-ready form of ``value`` read from ``column``."""
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, str):
        return value
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(dt.UTC)
        elif getattr(column.type, "timezone", False):
            # SQLite keeps no offset; forum writes UTC, so a naive time here is UTC.
            value = value.replace(tzinfo=dt.UTC)
        return value.isoformat()
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, decimal.Decimal | uuid.UUID):
        return str(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, dict | list):
        return value
    raise BackupError(f"{column.table.name}.{column.name}: cannot store a {type(value).__name__}")


def decode_value(column: Column[Any], value: Any) -> Any:
    """The Python value ``column`` expects for the archived ``value``."""
    if value is None:
        return None
    kind = column.type
    if isinstance(kind, DateTime):
        moment = dt.datetime.fromisoformat(value)
        if kind.timezone:
            return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)
        return moment.astimezone(dt.UTC).replace(tzinfo=None) if moment.tzinfo else moment
    if isinstance(kind, Date):
        return dt.date.fromisoformat(value)
    if isinstance(kind, Time):
        return dt.time.fromisoformat(value)
    if isinstance(kind, LargeBinary):
        return base64.b64decode(value)
    if isinstance(kind, Uuid):
        return uuid.UUID(value) if kind.as_uuid else value
    if isinstance(kind, Numeric) and getattr(kind, "asdecimal", False) and isinstance(value, str):
        return decimal.Decimal(value)
    return value


# --- backup ------------------------------------------------------------------------------


def _rows(conn: Connection, table: Table) -> Iterator[dict[str, Any]]:
    order = list(table.primary_key.columns) or list(table.columns)
    result = conn.execution_options(stream_results=True, yield_per=BATCH_SIZE).execute(
        select(table).order_by(*order)
    )
    columns = list(table.columns)
    for row in result:
        yield {c.name: encode_value(c, row[i]) for i, c in enumerate(columns)}


def _upload_files(folder: Path | None) -> list[Path]:
    """The uploaded files of ``folder`` (leftovers of interrupted writes are not uploads)."""
    if folder is None or not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.is_file() and UPLOAD_NAME.match(p.name))


def backup(
    engine: Engine,
    out: Path,
    *,
    uploads_dir: Path | None = None,
    progress: Progress | None = None,
) -> Summary:
    """Write every table of the database at ``engine``, and the files of ``uploads_dir``, to
    the archive ``out``."""
    summary = Summary()
    out = Path(out)
    with tempfile.TemporaryDirectory(prefix="forum-backup-") as work:
        folder = Path(work)
        # One snapshot: a REPEATABLE READ transaction on PostgreSQL, a read transaction on
        # SQLite, so rows written meanwhile never leave a child without its parent.
        with engine.connect() as conn:
            if conn.dialect.name == "postgresql":
                conn = conn.execution_options(isolation_level="REPEATABLE READ")
            with conn.begin():
                summary.revision = schema_revision(conn)
                present = set(inspect(conn).get_table_names())
                for table in tables():
                    if table.name not in present:
                        summary.notes.append(f"{table.name}: not in this database, skipped")
                        continue
                    count = 0
                    raw = create_private_file(folder / f"{table.name}.jsonl")
                    with io.TextIOWrapper(raw, encoding="utf-8") as handle:
                        for row in _rows(conn, table):
                            handle.write(json.dumps(row, ensure_ascii=False, sort_keys=True))
                            handle.write("\n")
                            count += 1
                    summary.tables[table.name] = count
                    if progress:
                        progress(table.name, count)
        manifest = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "created_at": dt.datetime.now(dt.UTC).isoformat(),
            "dialect": engine.dialect.name,
            "schema_revision": summary.revision,
            "tables": [{"name": name, "rows": rows} for name, rows in summary.tables.items()],
        }
        files = _upload_files(uploads_dir)
        summary.uploads = len(files)
        manifest["uploads"] = summary.uploads
        partial = out.with_name(out.name + ".partial")
        out.parent.mkdir(parents=True, exist_ok=True)
        # The archive holds every member's data and password hash: 0600 from its creation.
        with create_private_file(partial) as raw, tarfile.open(fileobj=raw, mode="w:gz") as archive:
            _add_bytes(archive, MANIFEST, json.dumps(manifest, indent=2).encode())
            for name in summary.tables:
                archive.add(
                    folder / f"{name}.jsonl", arcname=f"tables/{name}.jsonl", filter=_private
                )
            for path in files:
                archive.add(path, arcname=_UPLOADS_PREFIX + path.name, filter=_private)
        # Only a complete archive ever carries the requested name.
        partial.replace(out)
    return summary


def _private(info: tarfile.TarInfo) -> tarfile.TarInfo:
    """Members unpack as 0600 files of whoever extracts them."""
    info.mode = PRIVATE_FILE
    return info


def _add_bytes(archive: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mtime = int(dt.datetime.now(dt.UTC).timestamp())
    info.mode = 0o600
    archive.addfile(info, io.BytesIO(data))


# --- restore -----------------------------------------------------------------------------


def read_manifest(archive_path: Path) -> dict[str, Any]:
    """The manifest of a backup archive, checked for format and version."""
    with tarfile.open(archive_path, "r:gz") as archive:
        member = archive.extractfile(MANIFEST)
        if member is None:
            raise BackupError(f"{archive_path}: no {MANIFEST}; not a forum backup")
        manifest: dict[str, Any] = json.load(member)
    if manifest.get("format") != FORMAT:
        raise BackupError(f"{archive_path}: not a forum backup")
    if manifest.get("format_version") != FORMAT_VERSION:
        raise BackupError(
            f"{archive_path}: format version {manifest.get('format_version')} is not supported "
            f"(this forum reads version {FORMAT_VERSION})"
        )
    return manifest


def _unpack(archive_path: Path, folder: Path) -> int:
    """Extract only the expected members, by name, never following paths in the archive.

    Tables go to ``folder``, uploaded files to ``folder/uploads``; returns how many files.
    """
    files = 0
    with tarfile.open(archive_path, "r:gz") as archive:
        for member in archive:
            if member.name == MANIFEST or not member.isfile():
                continue
            match = _TABLE_MEMBER.match(member.name)
            upload = member.name.removeprefix(_UPLOADS_PREFIX)
            if match is not None:
                target_path = folder / f"{match.group(1)}.jsonl"
            elif member.name.startswith(_UPLOADS_PREFIX) and UPLOAD_NAME.match(upload):
                target_path = make_private_dir(folder / "uploads") / upload
                files += 1
            else:
                continue
            source = archive.extractfile(member)
            if source is None:
                continue
            with source, create_private_file(target_path) as target:
                shutil.copyfileobj(source, target)
    return files


def _place_uploads(unpacked: Path, uploads_dir: Path) -> None:
    """Move restored files into the uploads folder (a file already there is replaced)."""
    if not unpacked.is_dir():
        return
    make_private_dir(uploads_dir)
    for path in sorted(unpacked.iterdir()):
        shutil.move(path, uploads_dir / path.name)


def _read_rows(path: Path) -> Iterator[dict[str, Any]]:
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                yield json.loads(line)


def _batches(rows: Iterable[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    batch: list[dict[str, Any]] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def _deferred_columns(table: Table, loaded_before: set[str]) -> list[Column[Any]]:
    """Nullable foreign keys to rows that may not be inserted yet (self or cycle references).

    They are inserted as NULL and set once every table is in, so no constraint needs to be
    switched off (which PostgreSQL allows only to superusers).
    """
    deferred = []
    for fk in table.foreign_keys:
        target = fk.column.table.name
        if (target == table.name or target not in loaded_before) and fk.parent.nullable:
            deferred.append(fk.parent)
    return deferred


def _has_rows(conn: Connection, present: set[str]) -> list[str]:
    return [
        t.name
        for t in tables()
        if t.name in present and conn.scalar(select(literal(1)).select_from(t).limit(1))
    ]


def restore(
    engine: Engine,
    archive_path: Path,
    *,
    force: bool = False,
    uploads_dir: Path | None = None,
    progress: Progress | None = None,
) -> Summary:
    """Load the archive into the (migrated, empty) database at ``engine``.

    With ``force`` the database's rows are deleted first. Everything happens in one
    transaction: a failure leaves the database as it was. The archive's uploaded files go to
    ``uploads_dir`` once the rows are in.
    """
    manifest = read_manifest(archive_path)
    archived = [entry["name"] for entry in manifest["tables"]]
    expected = {entry["name"]: int(entry["rows"]) for entry in manifest["tables"]}
    known = {t.name: t for t in tables()}
    unknown = [name for name in archived if name not in known]
    if unknown:
        raise BackupError(
            "The archive has tables this version of forum does not know: "
            + ", ".join(unknown)
            + ". Restore it with the forum version that wrote it."
        )
    summary = Summary(revision=list(manifest.get("schema_revision", [])))
    with tempfile.TemporaryDirectory(prefix="forum-restore-") as work:
        folder = Path(work)
        summary.uploads = _unpack(archive_path, folder)
        expected_uploads = int(manifest.get("uploads", 0))
        if summary.uploads != expected_uploads:
            raise BackupError(
                f"The archive lists {expected_uploads} uploaded files but holds {summary.uploads}"
            )
        if summary.uploads and uploads_dir is None:
            raise BackupError("The archive holds uploaded files but no uploads folder was given")
        with engine.begin() as conn:
            inspector = inspect(conn)
            present = set(inspector.get_table_names())
            missing = [name for name in archived if name not in present]
            if missing:
                raise BackupError(
                    "The database lacks tables " + ", ".join(missing) + "; run `forum db upgrade`."
                )
            current = schema_revision(conn)
            if current != summary.revision:
                summary.notes.append(
                    f"schema revision {','.join(current) or 'none'} differs from the archive's "
                    f"{','.join(summary.revision) or 'none'}"
                )
            busy = _has_rows(conn, present)
            if busy and not force:
                raise BackupError(
                    "The database is not empty (rows in "
                    + ", ".join(busy)
                    + "). Restore into an empty database, or pass --force to replace its content."
                )
            if busy:
                for table in reversed(tables()):
                    if table.name in present:
                        conn.execute(delete(table))
            _load(conn, folder, archived, known, summary, progress)
            # Stored counts follow the restored posts (an older archive has none).
            conn.execute(tag_counts_statement())
            for name, rows in expected.items():
                if summary.tables.get(name) != rows:
                    raise BackupError(
                        f"{name}: the archive lists {rows} rows "
                        f"but holds {summary.tables.get(name)}"
                    )
            if conn.dialect.name == "postgresql":
                _reset_sequences(conn, [known[name] for name in archived])
        if uploads_dir is not None:
            _place_uploads(folder / "uploads", uploads_dir)
    return summary


def _load(
    conn: Connection,
    folder: Path,
    archived: list[str],
    known: dict[str, Table],
    summary: Summary,
    progress: Progress | None,
) -> None:
    order = [t for t in tables() if t.name in set(archived)]
    loaded: set[str] = set()
    pending_updates: list[tuple[Table, list[Column[Any]], list[dict[str, Any]]]] = []
    for table in order:
        deferred = _deferred_columns(table, loaded)
        deferred_names = {c.name for c in deferred}
        key = list(table.primary_key.columns)
        columns = {c.name: c for c in table.columns}
        # Columns an UPDATE would stamp (updated_at): the later UPDATE writes them back.
        touched = [c for c in table.columns if c.onupdate is not None]
        later: list[dict[str, Any]] = []
        count = 0
        path = folder / f"{table.name}.jsonl"
        rows = _read_rows(path) if path.exists() else iter(())
        for batch in _batches(rows, BATCH_SIZE):
            values = []
            for raw in batch:
                strange = set(raw) - set(columns)
                if strange:
                    raise BackupError(
                        f"{table.name}: the archive has columns {sorted(strange)} "
                        "that this database lacks; run `forum db upgrade`."
                    )
                row = {name: decode_value(columns[name], v) for name, v in raw.items()}
                if deferred_names:
                    links = {n: row[n] for n in deferred_names if row.get(n) is not None}
                    if links:
                        keys = {f"k_{c.name}": row[c.name] for c in key}
                        kept = {f"o_{c.name}": row.get(c.name) for c in touched}
                        later.append({**keys, **kept, **links})
                        row.update(dict.fromkeys(links))
                values.append(row)
            conn.execute(table.insert(), values)
            count += len(values)
        if later:
            pending_updates.append((table, deferred, later))
        loaded.add(table.name)
        summary.tables[table.name] = count
        if progress:
            progress(table.name, count)
    for table, deferred, later in pending_updates:
        key = list(table.primary_key.columns)
        touched = [c for c in table.columns if c.onupdate is not None]
        for column in deferred:
            updates = [
                {**{k: r[k] for k in r if k[:2] in ("k_", "o_")}, "v": r[column.name]}
                for r in later
                if column.name in r
            ]
            statement = (
                update(table)
                .where(*[c == bindparam(f"k_{c.name}") for c in key])
                .values(
                    {column.name: bindparam("v")}
                    | {c.name: bindparam(f"o_{c.name}") for c in touched}
                )
            )
            for batch in _batches(updates, BATCH_SIZE):
                conn.execute(statement, batch)


def _reset_sequences(conn: Connection, restored: list[Table]) -> None:
    """Point each serial/identity sequence past the largest restored id."""
    for table in restored:
        key = list(table.primary_key.columns)
        if len(key) != 1 or not isinstance(key[0].type, Integer):
            continue
        sequence = conn.scalar(
            text("SELECT pg_get_serial_sequence(:table, :column)"),
            {"table": table.name, "column": key[0].name},
        )
        if sequence is None:
            continue
        highest = conn.scalar(select(func.max(key[0]))) or 0
        conn.execute(
            text("SELECT setval(CAST(:sequence AS regclass), :next, false)"),
            {"sequence": sequence, "next": highest + 1},
        )
