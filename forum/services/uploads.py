"""Uploads: what may be uploaded, images re-encoded without their metadata, and where bytes live.

An image is decoded and encoded again with Pillow: a file that only claims to be an image fails
to decode and is refused, and what the camera wrote beside the pixels (GPS position, serial
numbers, comments) is not copied. Documents (PDF, plain text, CSV, zip) are kept as sent, after
a check that their content is what their name says; they are served as downloads. SVG, HTML and
anything else are refused.

The bytes live in one of two backends behind :class:`Storage`: a folder (the embedded default,
under the instance) or a database table (every app host sees every file). The ``uploads`` row
names its backend, so files keep being served after the configured backend changes.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import secrets
import unicodedata
import warnings
import zipfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from PIL import Image, ImageOps, ImageSequence, UnidentifiedImageError
from sqlalchemy import select
from sqlalchemy.orm import Session

from forum.files import create_private_file, make_private_dir
from forum.models import Upload, UploadBlob, User

#: Pillow format -> (stored content type, extension).
IMAGE_FORMATS = {
    "PNG": ("image/png", "png"),
    "JPEG": ("image/jpeg", "jpg"),
    "GIF": ("image/gif", "gif"),
    "WEBP": ("image/webp", "webp"),
}
#: Extensions of accepted documents -> stored content type.
DOCUMENT_TYPES = {
    "pdf": "application/pdf",
    "txt": "text/plain",
    "csv": "text/csv",
    "zip": "application/zip",
}
_IMAGE_EXTENSIONS = frozenset({"png", "jpg", "jpeg", "gif", "webp"})
#: Extensions refused by name, whatever the content: browsers run scripts inside them.
_ACTIVE_EXTENSIONS = frozenset({"svg", "svgz", "html", "htm", "xhtml", "xht", "xml", "shtml"})
#: Frames an animated image may have.
MAX_FRAMES = 200
#: The name of a stored file: random, URL-safe, with the extension of its type.
NAME_PATTERN = re.compile(r"^[A-Za-z0-9_-]{32}\.(?:png|jpg|gif|webp|pdf|txt|csv|zip)$")
#: Backends by configuration name.
BACKENDS = ("folder", "database")

ACCEPTED = "Upload a PNG, JPEG, GIF or WebP image, or a PDF, plain text (.txt), CSV or zip file."


class UploadRefused(Exception):
    """The file is not accepted; ``status`` is 413 for a file too large, else 400."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


@dataclass(frozen=True)
class Limits:
    """How large an upload may be, in bytes and (for an image) in pixels."""

    max_bytes: int = 8 * 1024 * 1024
    max_pixels: int = 25_000_000


@dataclass(frozen=True)
class Accepted:
    """A file ready to store: its bytes, type, extension and cleaned original name."""

    data: bytes
    content_type: str
    extension: str
    original_name: str

    @property
    def is_image(self) -> bool:
        """Whether the file is an image (shown in pages rather than downloaded)."""
        return self.content_type.startswith("image/")


# --- validation ---------------------------------------------------------------------------


def clean_name(filename: str) -> str:
    """The sender's file name without folders, control characters or Markdown brackets."""
    base = filename.replace("\\", "/").rsplit("/", 1)[-1]
    base = "".join(ch for ch in base if unicodedata.category(ch)[0] != "C")
    base = re.sub(r"[\[\]()<>`*_|\"]", "", base)
    base = " ".join(base.split()).strip(". ")
    return base[:200] or "file"


def _extension(filename: str) -> str:
    _stem, dot, ext = filename.rpartition(".")
    return ext.lower() if dot else ""


def _looks_like_markup(data: bytes) -> bool:
    head = data[:1024].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    return head.startswith((b"<?xml", b"<!doctype", b"<svg", b"<html", b"<!--")) or (
        b"<svg" in head or b"<html" in head or b"<script" in head
    )


def validate(data: bytes, filename: str, limits: Limits) -> Accepted:
    """Check an upload and return what to store: re-encoded image or verified document."""
    if len(data) > limits.max_bytes:
        raise UploadRefused(
            f"The file is {_size(len(data))}; uploads may be at most {_size(limits.max_bytes)}.",
            status=413,
        )
    if not data:
        raise UploadRefused("The file is empty. " + ACCEPTED)
    name = clean_name(filename)
    ext = _extension(name)
    if ext in _ACTIVE_EXTENSIONS or (ext not in _IMAGE_EXTENSIONS and _looks_like_markup(data)):
        raise UploadRefused(
            "SVG, HTML and XML files are not accepted: a browser would run what they contain. "
            + ACCEPTED
        )
    if ext in DOCUMENT_TYPES:
        _check_document(data, ext)
        return Accepted(data, DOCUMENT_TYPES[ext], ext, name)
    if ext and ext not in _IMAGE_EXTENSIONS:
        raise UploadRefused(f"Files of type .{ext} are not accepted. " + ACCEPTED)
    image, content_type, extension = reencode(data, limits)
    stem = name.rsplit(".", 1)[0] if ext else name
    return Accepted(image, content_type, extension, f"{stem}.{extension}")


def _check_document(data: bytes, ext: str) -> None:
    if ext == "pdf" and not data.startswith(b"%PDF-"):
        raise UploadRefused("This file is named .pdf but is not a PDF document.")
    if ext == "zip" and not zipfile.is_zipfile(io.BytesIO(data)):
        raise UploadRefused("This file is named .zip but is not a zip archive.")
    if ext in {"txt", "csv"}:
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            raise UploadRefused(
                f"This .{ext} file is not UTF-8 text; save it as UTF-8 and upload it again."
            ) from None
        if "\x00" in text:
            raise UploadRefused(f"This .{ext} file holds binary data, not text.")


#: What Pillow raises on a damaged, truncated or oversized image.
_BROKEN = (
    OSError,
    SyntaxError,
    ValueError,
    EOFError,
    Image.DecompressionBombError,
    Image.DecompressionBombWarning,
)


def reencode(data: bytes, limits: Limits) -> tuple[bytes, str, str]:
    """Decode an image and encode its pixels again (no metadata): (bytes, type, extension)."""
    refused = UploadRefused(
        "This file is not a PNG, JPEG, GIF or WebP image (or it is damaged). " + ACCEPTED
    )
    with warnings.catch_warnings():
        # Pillow warns, then raises, on images past its own pixel limit: both are refusals.
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            source = Image.open(io.BytesIO(data))
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            # Past Pillow's own limit, which it checks as it reads the size.
            raise UploadRefused(
                f"The image has too many pixels; images may hold at most "
                f"{limits.max_pixels:,} pixels.",
                status=413,
            ) from None
        except (UnidentifiedImageError, *_BROKEN):
            raise refused from None
        with source:
            if source.format not in IMAGE_FORMATS:
                raise refused
            frames = int(getattr(source, "n_frames", 1))
            width, height = source.size
            if width * height * min(frames, MAX_FRAMES) > limits.max_pixels:
                raise UploadRefused(
                    f"The image is {width} × {height} pixels"
                    + (f" in {frames} frames" if frames > 1 else "")
                    + f"; images may hold at most {limits.max_pixels:,} pixels.",
                    status=413,
                )
            if frames > MAX_FRAMES:
                raise UploadRefused(
                    f"The animation has {frames} frames; at most {MAX_FRAMES} are accepted."
                )
            try:
                encoded = _encode(source, frames)
            except _BROKEN:
                raise refused from None
    content_type, extension = IMAGE_FORMATS[str(source.format)]
    return encoded, content_type, extension


#: Per-frame settings an animation needs; nothing else of ``Image.info`` is written back.
_ANIMATION_KEYS = ("duration", "loop", "transparency", "background", "disposal")


def _clean_frame(frame: Image.Image, fmt: str) -> Image.Image:
    kept: dict[str | tuple[int, int], Any] = {
        k: frame.info[k] for k in _ANIMATION_KEYS if k in frame.info
    }
    if fmt == "JPEG":
        # Turn the pixels as the camera's orientation tag says, since the tag is not kept.
        frame = ImageOps.exif_transpose(frame)
        if frame.mode not in {"RGB", "L", "CMYK"}:
            frame = frame.convert("RGB")
    copy = frame.copy()
    copy.info = kept
    return copy


def _encode(source: Image.Image, frames: int) -> bytes:
    fmt = str(source.format)
    out = io.BytesIO()
    if frames > 1 and fmt in {"GIF", "WEBP", "PNG"}:
        images = [_clean_frame(frame, fmt) for frame in ImageSequence.Iterator(source)]
        first = images[0]
        first.save(
            out,
            format=fmt,
            save_all=True,
            append_images=images[1:],
            duration=[im.info.get("duration", 100) for im in images],
            loop=source.info.get("loop", 0),
        )
        return out.getvalue()
    source.load()
    image = _clean_frame(source, fmt)
    options: dict[str, Any] = {}
    if fmt == "JPEG":
        options = {"quality": 90, "optimize": True}
    elif fmt == "WEBP":
        options = {"lossless": source.info.get("lossless", False), "quality": 90}
    elif fmt == "PNG":
        options = {"optimize": True}
    image.save(out, format=fmt, **options)
    return out.getvalue()


def _size(count: int) -> str:
    if count >= 1024 * 1024:
        return f"{count / (1024 * 1024):.1f} MiB"
    if count >= 1024:
        return f"{count / 1024:.0f} KiB"
    return f"{count} bytes"


# --- storage ------------------------------------------------------------------------------


class Storage(Protocol):
    """Where the bytes of uploads live."""

    name: str

    def put(self, name: str, data: bytes) -> None:
        """Store ``data`` as ``name``."""

    def get(self, name: str) -> bytes | None:
        """The bytes stored as ``name``, or None."""

    def names(self) -> Iterator[str]:
        """Every stored name (for verification)."""


@dataclass
class FolderStorage:
    """Files in one folder (by default ``instance/uploads``): the embedded default."""

    root: Path
    name: str = field(default="folder", init=False)

    def put(self, name: str, data: bytes) -> None:
        """Write the file whole under a temporary name, then give it its own."""
        _check_name(name)
        make_private_dir(self.root)
        partial = self.root / f".{name}.partial"
        with create_private_file(partial) as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        partial.replace(self.root / name)

    def get(self, name: str) -> bytes | None:
        """The file's bytes, or None when it is missing."""
        if NAME_PATTERN.match(name) is None:
            return None
        try:
            return (self.root / name).read_bytes()
        except FileNotFoundError:
            return None

    def names(self) -> Iterator[str]:
        """The files of the folder (a leftover ``.partial`` counts: it is an orphan)."""
        if not self.root.is_dir():
            return
        for path in sorted(self.root.iterdir()):
            if path.is_file():
                yield path.name


@dataclass
class DatabaseStorage:
    """Rows of ``upload_blobs``, written in the upload's own transaction."""

    session: Session
    name: str = field(default="database", init=False)

    def put(self, name: str, data: bytes) -> None:
        """Stage the bytes beside the upload row (the caller commits both)."""
        _check_name(name)
        self.session.add(UploadBlob(name=name, data=data))

    def get(self, name: str) -> bytes | None:
        """The stored bytes, or None."""
        data = self.session.scalar(select(UploadBlob.data).where(UploadBlob.name == name))
        return bytes(data) if data is not None else None

    def names(self) -> Iterator[str]:
        """Every stored name."""
        yield from self.session.scalars(select(UploadBlob.name).order_by(UploadBlob.name))


def _check_name(name: str) -> None:
    if NAME_PATTERN.match(name) is None:
        raise ValueError(f"not an upload name: {name!r}")


def upload_folder(config: Mapping[str, Any], instance_path: str) -> Path:
    """The folder backend's folder: UPLOAD_DIR, else ``uploads`` under the instance."""
    configured = config.get("UPLOAD_DIR")
    return Path(configured) if configured else Path(instance_path) / "uploads"


def storage(session: Session, backend: str, folder: Path) -> Storage:
    """The backend called ``backend`` ("folder" or "database")."""
    if backend == "folder":
        return FolderStorage(folder)
    if backend == "database":
        return DatabaseStorage(session)
    raise ValueError(f"unknown upload storage {backend!r}; choose one of {', '.join(BACKENDS)}")


# --- uploads ------------------------------------------------------------------------------


def new_name(extension: str) -> str:
    """A name nobody can guess: 192 random bits, URL-safe."""
    return f"{secrets.token_urlsafe(24)}.{extension}"


def upload(
    session: Session,
    *,
    owner: User,
    data: bytes,
    filename: str,
    limits: Limits,
    store: Storage,
) -> Upload:
    """Validate a file, store its bytes and stage its row (the caller commits)."""
    accepted = validate(data, filename, limits)
    name = new_name(accepted.extension)
    store.put(name, accepted.data)
    row = Upload(
        name=name,
        owner_id=owner.id,
        original_name=accepted.original_name,
        content_type=accepted.content_type,
        size=len(accepted.data),
        sha256=hashlib.sha256(accepted.data).hexdigest(),
        storage=store.name,
    )
    session.add(row)
    session.flush()
    return row


def by_name(session: Session, name: str) -> Upload | None:
    """The upload called ``name``, or None."""
    if NAME_PATTERN.match(name) is None:
        return None
    return session.scalar(select(Upload).where(Upload.name == name))


def is_image(row: Upload) -> bool:
    """Whether the upload is an image (shown inline; any other file is downloaded)."""
    return row.content_type in {content_type for content_type, _ext in IMAGE_FORMATS.values()}


def markdown_for(row: Upload, url: str) -> str:
    """The Markdown that shows an image, or links to an attachment."""
    label = row.original_name
    if is_image(row):
        alt = label.rsplit(".", 1)[0] or "image"
        return f"![{alt}]({url})"
    return f"[{label}]({url})"


# --- verification -------------------------------------------------------------------------


@dataclass
class Report:
    """Drift between upload rows and stored bytes."""

    checked: int = 0
    missing: list[str] = field(default_factory=list)
    damaged: list[str] = field(default_factory=list)
    orphans: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when every row has its bytes, intact, and every stored file has a row."""
        return not (self.missing or self.damaged or self.orphans)


def verify(session: Session, folder: Path) -> Report:
    """Compare every upload row with its backend's bytes, and every stored file with the rows."""
    report = Report()
    stores = {backend: storage(session, backend, folder) for backend in BACKENDS}
    known: dict[str, set[str]] = {backend: set() for backend in BACKENDS}
    for row in session.scalars(select(Upload).order_by(Upload.id)):
        report.checked += 1
        store = stores.get(row.storage)
        if store is None:
            report.missing.append(f"{row.name} (unknown storage {row.storage!r})")
            continue
        known[row.storage].add(row.name)
        data = store.get(row.name)
        if data is None:
            report.missing.append(f"{row.name} ({row.storage})")
        elif hashlib.sha256(data).hexdigest() != row.sha256:
            report.damaged.append(f"{row.name} ({row.storage})")
    for backend, store in stores.items():
        report.orphans.extend(
            f"{name} ({backend})" for name in store.names() if name not in known[backend]
        )
    return report
