"""POST /uploads and GET /uploads/<name>: who may upload, limits, answers, serving headers."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from PIL import Image
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

from forum.extensions import limiter
from forum.models import Tag, Upload, UploadBlob
from tests.conftest import Browser
from tests.factories import make_user

JSON = {"Accept": "application/json"}


def png(size: tuple[int, int] = (32, 24)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, "teal").save(out, format="PNG")
    return out.getvalue()


def send(browser: Browser, data: bytes, filename: str, **kwargs: Any) -> Any:
    """Upload as the editor's script does (multipart, CSRF token, asking for JSON).

    The body is encoded here, in memory: the test client would spool a large one to a
    temporary file that it never closes.
    """
    boundary, body = encode_multipart(
        {
            "csrf_token": browser.csrf_token(),
            "file": FileStorage(io.BytesIO(data), filename=filename),
        }
    )
    return browser.client.post(
        "/uploads",
        data=body,
        content_type=f"multipart/form-data; boundary={boundary}",
        headers=kwargs.pop("headers", JSON),
        **kwargs,
    )


@pytest.fixture
def member(browser: Browser, session: Session) -> Browser:
    make_user(session, "writer")
    session.commit()
    browser.login("writer")
    return browser


def test_an_image_upload_answers_its_address_and_markdown(
    member: Browser, session: Session
) -> None:
    response = send(member, png(), "architecture diagram.png")
    assert response.status_code == 201, response.get_data(as_text=True)
    body = response.get_json()
    row = session.scalars(select(Upload)).one()
    assert body["url"] == f"/uploads/{row.name}"
    assert body["markdown"] == f"![architecture diagram](/uploads/{row.name})"
    assert body["content_type"] == "image/png"
    assert row.owner_id is not None and row.original_name == "architecture diagram.png"


def test_uploading_needs_a_signed_in_member(client: FlaskClient, browser: Browser) -> None:
    response = send(browser, png(), "x.png")
    assert response.status_code in (302, 401)
    assert "/login" in response.headers.get("Location", "/login")


def test_uploading_needs_the_csrf_token(member: Browser, session: Session) -> None:
    response = member.client.post(
        "/uploads",
        data={"file": (io.BytesIO(png()), "x.png")},
        content_type="multipart/form-data",
        headers=JSON,
    )
    assert response.status_code == 400
    assert session.scalars(select(Upload)).all() == []


@pytest.mark.parametrize(
    ("data", "filename", "message"),
    [
        (b"<svg xmlns='http://www.w3.org/2000/svg'/>", "logo.svg", "SVG, HTML and XML"),
        (b"plain words", "photo.png", "is not a PNG, JPEG, GIF or WebP image"),
        (b"MZ", "tool.exe", "Files of type .exe are not accepted"),
    ],
)
def test_refused_files_get_a_clear_message(
    member: Browser, session: Session, data: bytes, filename: str, message: str
) -> None:
    response = send(member, data, filename)
    assert response.status_code == 400
    assert message in response.get_json()["error"]
    assert session.scalars(select(Upload)).all() == []


def test_a_request_without_a_file_is_refused(member: Browser) -> None:
    response = member.post("/uploads", {}, headers=JSON)
    assert response.status_code == 400
    assert response.get_json()["error"].startswith("Choose a file to upload.")


@pytest.fixture
def small_limits(app_config: dict[str, Any]) -> dict[str, Any]:
    app_config.update(UPLOAD_MAX_BYTES=100_000, UPLOAD_MAX_PIXELS=10_000)
    return app_config


@pytest.mark.usefixtures("small_limits")
def test_files_over_the_limits_are_refused_with_413(member: Browser, session: Session) -> None:
    # Just over the file limit: read in full, refused by the upload check.
    response = send(member, b"a" * 100_001, "notes.txt")
    assert response.status_code == 413
    assert "uploads may be at most" in response.get_json()["error"]
    # Far over: refused before the body is read, with the same kind of message.
    response = send(member, b"a" * 300_000, "notes.txt")
    assert response.status_code == 413
    assert "uploads may be at most 0.1 MiB" in response.get_json()["error"]
    # Too many pixels.
    response = send(member, png((200, 200)), "wide.png")
    assert response.status_code == 413
    assert "at most 10,000 pixels" in response.get_json()["error"]
    assert session.scalars(select(Upload)).all() == []


def test_uploads_may_be_larger_than_other_requests(member: Browser, app: Flask) -> None:
    limit = app.config["MAX_CONTENT_LENGTH"]
    text = b"line of text\n" * (limit // 13 + 1000)
    assert limit < len(text) < app.config["UPLOAD_MAX_BYTES"]
    assert send(member, text, "big.txt").status_code == 201
    # Other addresses keep the general limit.
    response = member.post("/articles/preview", {"body": "x" * (limit + 10)})
    assert response.status_code == 413


@pytest.fixture
def limited(app_config: dict[str, Any]) -> dict[str, Any]:
    app_config.update(RATELIMIT_ENABLED=True, UPLOAD_RATE_LIMIT="2 per minute")
    return app_config


@pytest.mark.usefixtures("limited")
def test_uploads_are_rate_limited_per_member(member: Browser, app: Flask) -> None:
    limiter.reset()
    assert send(member, png(), "a.png").status_code == 201
    assert send(member, png(), "b.png").status_code == 201
    assert send(member, png(), "c.png").status_code == 429


def test_images_are_served_inline_with_their_type_and_long_caching(
    member: Browser, client: FlaskClient
) -> None:
    url = send(member, png(), "shot.png").get_json()["url"]
    response = client.get(url)
    assert response.status_code == 200
    assert response.mimetype == "image/png"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "attachment" not in response.headers.get("Content-Disposition", "")
    cache = response.headers["Cache-Control"]
    assert "max-age=31536000" in cache and "immutable" in cache
    assert response.headers["Content-Security-Policy"] == "default-src 'none'; sandbox"
    with Image.open(io.BytesIO(response.data)) as image:
        assert image.size == (32, 24)
    again = client.get(url, headers={"If-None-Match": response.headers["ETag"]})
    assert again.status_code == 304


def test_attachments_are_served_as_downloads(member: Browser, client: FlaskClient) -> None:
    body = send(member, b"%PDF-1.4\n%%EOF", "Quarterly report.pdf").get_json()
    assert body["markdown"] == f"[Quarterly report.pdf]({body['url']})"
    response = client.get(body["url"])
    assert response.status_code == 200
    assert response.mimetype == "application/pdf"
    assert response.headers["Content-Disposition"].startswith("attachment;")
    assert "Quarterly report.pdf" in response.headers["Content-Disposition"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    text = send(member, b"<b>not markup here</b>", "notes.txt").get_json()
    served = client.get(text["url"])
    assert served.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert served.headers["Content-Disposition"].startswith("attachment;")


def test_unknown_and_malformed_names_are_404(client: FlaskClient) -> None:
    for name in ["A" * 32 + ".png", "secret_key", "..%2Fsecret_key", "x.png"]:
        assert client.get(f"/uploads/{name}").status_code == 404


@pytest.fixture
def database_storage(app_config: dict[str, Any]) -> dict[str, Any]:
    app_config["UPLOAD_STORAGE"] = "database"
    return app_config


@pytest.mark.usefixtures("database_storage")
def test_the_database_backend_keeps_files_where_every_host_sees_them(
    member: Browser, session: Session, app: Flask, client: FlaskClient
) -> None:
    url = send(member, png(), "shared.png").get_json()["url"]
    row = session.scalars(select(Upload)).one()
    assert row.storage == "database"
    assert session.get(UploadBlob, row.name) is not None
    assert not (Path(app.instance_path) / "uploads").exists()
    response = client.get(url)
    assert response.status_code == 200 and response.mimetype == "image/png"


def test_without_javascript_the_form_page_shows_the_markdown(
    member: Browser, session: Session
) -> None:
    page = member.get("/uploads")
    assert page.status_code == 200
    assert 'enctype="multipart/form-data"' in page.get_data(as_text=True)
    response = send(member, png(), "diagram.png", headers={"Accept": "text/html"})
    assert response.status_code == 201
    row = session.scalars(select(Upload)).one()
    html = response.get_data(as_text=True)
    assert f"![diagram](/uploads/{row.name})" in html
    refused = send(member, b"<html></html>", "x.html", headers={"Accept": "text/html"})
    assert refused.status_code == 400
    assert "SVG, HTML and XML files are not accepted" in refused.get_data(as_text=True)


def test_the_article_editor_offers_uploads(member: Browser) -> None:
    html = member.get("/articles/new").get_data(as_text=True)
    assert 'id="article-upload"' in html and 'action="/uploads"' in html
    assert 'form="article-upload"' in html and "data-upload-pick" in html


def test_a_published_article_shows_its_uploaded_image(member: Browser, session: Session) -> None:
    session.add(Tag(name="deploy"))
    session.commit()
    markdown = send(member, png(), "screen.png").get_json()["markdown"]
    response = member.post(
        "/articles/new",
        {
            "title": "Deploying with screenshots",
            "article_type": "tutorial",
            "body": f"Click here:\n\n{markdown}\n",
            "tags": "deploy",
        },
        follow_redirects=True,
    )
    assert response.status_code == 200
    url = markdown.split("(")[1].rstrip(")")
    assert f'<img src="{url}" alt="screen">' in response.get_data(as_text=True)


def run(app: Flask, *args: str) -> Any:
    return app.test_cli_runner().invoke(args=list(args))


def test_verify_reports_missing_and_orphaned_files(member: Browser, app: Flask) -> None:
    first = send(member, png(), "one.png").get_json()["url"].rsplit("/", 1)[1]
    send(member, b"notes", "two.txt")
    result = run(app, "uploads", "verify")
    assert result.exit_code == 0, result.output
    assert "checked: 2, missing: 0, damaged: 0, orphaned: 0" in result.output
    folder = Path(app.instance_path) / "uploads"
    (folder / first).rename(folder / ("Z" * 32 + ".png"))
    result = run(app, "uploads", "verify")
    assert result.exit_code == 1
    assert "missing: 1, damaged: 0, orphaned: 1" in result.output
    assert f"{first} (folder)" in result.output and "Z" * 32 + ".png (folder)" in result.output


def test_backup_and_restore_carry_the_uploaded_files(
    member: Browser, app: Flask, tmp_path: Path
) -> None:
    url = send(member, png(), "kept.png").get_json()["url"]
    name = url.rsplit("/", 1)[1]
    folder = Path(app.instance_path) / "uploads"
    original = (folder / name).read_bytes()
    archive = tmp_path / "backup.tar.gz"
    result = run(app, "backup", str(archive))
    assert result.exit_code == 0, result.output
    assert "and 1 uploaded files" in result.output
    with tarfile.open(archive) as handle:
        assert f"uploads/{name}" in handle.getnames()
    (folder / name).unlink()
    result = run(app, "restore", str(archive), "--force", "--no-search-rebuild")
    assert result.exit_code == 0, result.output
    assert "and 1 uploaded files" in result.output
    assert (folder / name).read_bytes() == original
    assert run(app, "uploads", "verify").exit_code == 0
