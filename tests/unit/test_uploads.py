"""Uploads: what is accepted, images re-encoded without metadata, both storage backends, verify."""

from __future__ import annotations

import hashlib
import io
import struct
import zipfile
import zlib
from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy import select
from sqlalchemy.orm import Session

from forum.markdown import UPLOADED_IMAGE, render_markdown
from forum.models import Upload, UploadBlob
from forum.services import uploads
from forum.services.uploads import Limits, UploadRefused
from tests.factories import make_user

LIMITS = Limits(max_bytes=1024 * 1024, max_pixels=1_000_000)
GPS_IFD = 0x8825


def image_bytes(fmt: str, size: tuple[int, int] = (40, 30), **options: object) -> bytes:
    """A small image in ``fmt``."""
    out = io.BytesIO()
    Image.new("RGB", size, (200, 40, 40)).save(out, format=fmt, **options)
    return out.getvalue()


def jpeg_with_gps() -> bytes:
    """A JPEG whose EXIF holds a camera make and a GPS position."""
    exif = Image.Exif()
    exif[0x010F] = "Spy camera"
    exif[GPS_IFD] = {1: "N", 2: (51.0, 30.0, 26.0), 3: "W", 4: (0.0, 7.0, 39.0)}
    return image_bytes("JPEG", exif=exif.tobytes())


def png_claiming(width: int, height: int) -> bytes:
    """A tiny PNG file whose header claims ``width`` x ``height`` pixels."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\x00" * 16))
        + chunk(b"IEND", b"")
    )


@pytest.mark.parametrize(
    ("fmt", "filename", "content_type", "extension"),
    [
        ("PNG", "diagram.png", "image/png", "png"),
        ("JPEG", "photo.jpeg", "image/jpeg", "jpg"),
        ("GIF", "anim.gif", "image/gif", "gif"),
        ("WEBP", "shot.webp", "image/webp", "webp"),
    ],
)
def test_images_of_the_four_formats_are_reencoded(
    fmt: str, filename: str, content_type: str, extension: str
) -> None:
    accepted = uploads.validate(image_bytes(fmt), filename, LIMITS)
    assert (accepted.content_type, accepted.extension) == (content_type, extension)
    assert accepted.original_name == f"{filename.rsplit('.', 1)[0]}.{extension}"
    with Image.open(io.BytesIO(accepted.data)) as decoded:
        assert decoded.format == fmt and decoded.size == (40, 30)


def test_an_image_named_wrongly_is_stored_as_what_it_is() -> None:
    accepted = uploads.validate(image_bytes("PNG"), "screenshot.jpg", LIMITS)
    assert accepted.content_type == "image/png"
    assert accepted.original_name == "screenshot.png"


def test_a_jpeg_loses_its_gps_position_and_camera_metadata() -> None:
    original = jpeg_with_gps()
    with Image.open(io.BytesIO(original)) as before:
        assert before.getexif().get_ifd(GPS_IFD)  # the fixture really carries a position
    accepted = uploads.validate(original, "holiday.jpg", LIMITS)
    with Image.open(io.BytesIO(accepted.data)) as after:
        exif = after.getexif()
        assert not exif.get_ifd(GPS_IFD)
        assert 0x010F not in exif
        assert "exif" not in after.info
    assert b"Spy camera" not in accepted.data


def test_a_png_loses_its_text_chunks() -> None:
    from PIL.PngImagePlugin import PngInfo

    info = PngInfo()
    info.add_text("Comment", "home address: 1 Secret Lane")
    accepted = uploads.validate(image_bytes("PNG", pnginfo=info), "x.png", LIMITS)
    assert b"Secret Lane" not in accepted.data


def test_an_animated_gif_keeps_its_frames() -> None:
    frames = [Image.new("RGB", (10, 10), color) for color in ("red", "green", "blue")]
    out = io.BytesIO()
    frames[0].save(out, format="GIF", save_all=True, append_images=frames[1:], duration=50)
    accepted = uploads.validate(out.getvalue(), "spinner.gif", LIMITS)
    with Image.open(io.BytesIO(accepted.data)) as decoded:
        assert getattr(decoded, "n_frames", 1) == 3


@pytest.mark.parametrize(
    ("data", "filename"),
    [
        (b"just some text, honest", "photo.png"),
        (b"\x89PNG\r\n\x1a\n broken", "broken.png"),
        (image_bytes("PNG")[:60], "truncated.png"),
        (image_bytes("BMP"), "bitmap.bmp"),
        (image_bytes("BMP"), "bitmap"),
        (image_bytes("TIFF"), "scan.png"),
    ],
    ids=["text-named-png", "bad-header", "truncated", "bmp-by-name", "bmp-unnamed", "tiff-as-png"],
)
def test_files_that_only_claim_to_be_images_are_refused(data: bytes, filename: str) -> None:
    with pytest.raises(UploadRefused) as refused:
        uploads.validate(data, filename, LIMITS)
    assert refused.value.status == 400
    assert "PNG, JPEG, GIF or WebP" in refused.value.message


@pytest.mark.parametrize(
    ("data", "filename"),
    [
        (b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>', "logo.svg"),
        (b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"/>', "logo"),
        (b"<!DOCTYPE html><html><script>alert(1)</script></html>", "page.html"),
        (b"<html><body>hi</body></html>", "notes.htm"),
        (b"<html><script>alert(1)</script></html>", "notes.txt"),
    ],
    ids=["svg", "svg-unnamed", "html", "htm", "html-named-txt"],
)
def test_svg_and_html_are_refused_with_a_clear_message(data: bytes, filename: str) -> None:
    with pytest.raises(UploadRefused) as refused:
        uploads.validate(data, filename, LIMITS)
    assert "SVG, HTML and XML files are not accepted" in refused.value.message


def test_other_types_are_refused_naming_what_is_accepted() -> None:
    with pytest.raises(UploadRefused) as refused:
        uploads.validate(b"MZ\x90\x00", "setup.exe", LIMITS)
    assert refused.value.message.startswith("Files of type .exe are not accepted.")
    assert "PDF, plain text (.txt), CSV or zip" in refused.value.message


def test_documents_are_kept_as_sent_after_a_content_check() -> None:
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as handle:
        handle.writestr("a.txt", "hello")
    cases = [
        (b"%PDF-1.7\n...", "slides.pdf", "application/pdf"),
        ("name,team\nZoë,data\n".encode(), "people.csv", "text/csv"),
        (b"plain notes", "notes.TXT", "text/plain"),
        (archive.getvalue(), "example.zip", "application/zip"),
    ]
    for data, filename, content_type in cases:
        accepted = uploads.validate(data, filename, LIMITS)
        assert accepted.data == data and accepted.content_type == content_type
        assert not accepted.is_image


@pytest.mark.parametrize(
    ("data", "filename", "message"),
    [
        (b"not a pdf", "fake.pdf", "not a PDF"),
        (b"not a zip", "fake.zip", "not a zip"),
        ("café".encode("latin-1"), "notes.txt", "not UTF-8"),
        (b"a\x00b", "data.csv", "binary data"),
        (b"", "empty.png", "The file is empty"),
    ],
)
def test_documents_whose_content_is_not_what_their_name_says_are_refused(
    data: bytes, filename: str, message: str
) -> None:
    with pytest.raises(UploadRefused) as refused:
        uploads.validate(data, filename, LIMITS)
    assert message in refused.value.message


def test_a_file_over_the_size_limit_is_refused_with_413() -> None:
    with pytest.raises(UploadRefused) as refused:
        uploads.validate(b"x" * 2048, "notes.txt", Limits(max_bytes=1024))
    assert refused.value.status == 413
    assert "at most 1 KiB" in refused.value.message


def test_a_pixel_bomb_is_refused_before_it_is_decoded() -> None:
    bomb = png_claiming(100_000, 100_000)
    assert len(bomb) < 200
    with pytest.raises(UploadRefused) as refused:
        uploads.validate(bomb, "bomb.png", LIMITS)
    assert refused.value.status == 413
    assert "too many pixels" in refused.value.message
    # Below Pillow's own limit, forum's smaller one answers with the size.
    with pytest.raises(UploadRefused) as refused:
        uploads.validate(png_claiming(5000, 5000), "big.png", LIMITS)
    assert refused.value.status == 413
    assert "5000 × 5000 pixels" in refused.value.message


def test_the_pixel_limit_is_configurable() -> None:
    with pytest.raises(UploadRefused) as refused:
        uploads.validate(image_bytes("PNG", (20, 20)), "x.png", Limits(max_pixels=399))
    assert refused.value.status == 413
    assert uploads.validate(image_bytes("PNG", (20, 20)), "x.png", Limits(max_pixels=400))


def test_file_names_are_cleaned_for_markdown_and_headers() -> None:
    assert uploads.clean_name("C:\\Users\\me\\[draft] (v2).png") == "draft v2.png"
    assert uploads.clean_name("../../etc/passwd") == "passwd"
    assert uploads.clean_name("a\r\nb\x00.txt") == "ab.txt"
    assert uploads.clean_name("...") == "file"


def test_names_are_random_and_uploaded_images_are_allowed_by_the_sanitiser() -> None:
    names = {uploads.new_name("png") for _ in range(100)}
    assert len(names) == 100
    for name in names:
        assert uploads.NAME_PATTERN.match(name)
        assert UPLOADED_IMAGE.match(f"/uploads/{name}")


def test_rendered_markdown_shows_uploaded_images_only() -> None:
    name = uploads.new_name("png")
    html = render_markdown(
        f"![diagram](/uploads/{name})\n\n![elsewhere](/static/favicon.svg)\n\n"
        f"![pdf](/uploads/{name[:-3]}pdf)\n\n![outside](https://example.com/x.png)"
    )
    assert f'<img src="/uploads/{name}" alt="diagram">' in html
    assert html.count("<img") == 1
    assert "elsewhere" in html and "/static/favicon.svg" not in html
    assert 'href="https://example.com/x.png"' in html


# --- storage ------------------------------------------------------------------------------


def store_for(kind: str, session: Session, tmp_path: Path) -> uploads.Storage:
    return uploads.storage(session, kind, tmp_path / "uploads")


@pytest.mark.parametrize("kind", ["folder", "database"])
def test_upload_stores_bytes_and_row_in_either_backend(
    kind: str, session: Session, tmp_path: Path
) -> None:
    owner = make_user(session)
    store = store_for(kind, session, tmp_path)
    row = uploads.upload(
        session,
        owner=owner,
        data=jpeg_with_gps(),
        filename="team photo.jpg",
        limits=LIMITS,
        store=store,
    )
    session.commit()
    stored = store_for(kind, session, tmp_path).get(row.name)
    assert stored is not None and b"Spy camera" not in stored
    assert row.storage == kind and row.owner_id == owner.id
    assert row.size == len(stored) and row.sha256 == hashlib.sha256(stored).hexdigest()
    assert row.content_type == "image/jpeg" and row.original_name == "team photo.jpg"
    assert uploads.by_name(session, row.name) == row
    assert (
        uploads.markdown_for(row, f"/uploads/{row.name}") == f"![team photo](/uploads/{row.name})"
    )
    blobs = session.scalars(select(UploadBlob.name)).all()
    files = sorted(p.name for p in (tmp_path / "uploads").glob("*"))
    if kind == "database":
        assert blobs == [row.name] and files == []
    else:
        assert blobs == [] and files == [row.name]
        assert ((tmp_path / "uploads" / row.name).stat().st_mode & 0o777) == 0o600


def test_a_refused_upload_stores_nothing(session: Session, tmp_path: Path) -> None:
    owner = make_user(session)
    with pytest.raises(UploadRefused):
        uploads.upload(
            session,
            owner=owner,
            data=b"text",
            filename="x.png",
            limits=LIMITS,
            store=store_for("folder", session, tmp_path),
        )
    assert session.scalars(select(Upload)).all() == []
    assert not (tmp_path / "uploads").exists()


def test_unknown_names_are_not_looked_up(session: Session, tmp_path: Path) -> None:
    assert uploads.by_name(session, "../secret_key") is None
    assert store_for("folder", session, tmp_path).get("../secret_key") is None
    with pytest.raises(ValueError):
        store_for("folder", session, tmp_path).put("../x.png", b"")


def test_verify_finds_missing_damaged_and_orphaned_files(session: Session, tmp_path: Path) -> None:
    owner = make_user(session)
    rows = {}
    for kind in ("folder", "database"):
        for label in ("kept", "lost", "changed"):
            rows[kind, label] = uploads.upload(
                session,
                owner=owner,
                data=f"{kind} {label}".encode(),
                filename=f"{label}.txt",
                limits=LIMITS,
                store=store_for(kind, session, tmp_path),
            )
    session.commit()
    assert uploads.verify(session, tmp_path / "uploads").ok
    folder = tmp_path / "uploads"
    (folder / rows["folder", "lost"].name).unlink()
    (folder / rows["folder", "changed"].name).write_bytes(b"tampered")
    stray = uploads.new_name("png")
    (folder / stray).write_bytes(b"no row")
    session.delete(session.get(UploadBlob, rows["database", "lost"].name))
    session.get(UploadBlob, rows["database", "changed"].name).data = b"tampered"  # type: ignore[union-attr]
    session.add(UploadBlob(name=uploads.new_name("pdf"), data=b"%PDF-"))
    session.commit()

    report = uploads.verify(session, folder)
    assert report.checked == 6 and not report.ok
    assert sorted(report.missing) == sorted(
        [f"{rows['folder', 'lost'].name} (folder)", f"{rows['database', 'lost'].name} (database)"]
    )
    assert sorted(report.damaged) == sorted(
        [
            f"{rows['folder', 'changed'].name} (folder)",
            f"{rows['database', 'changed'].name} (database)",
        ]
    )
    assert f"{stray} (folder)" in report.orphans and len(report.orphans) == 2
