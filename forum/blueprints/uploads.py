"""Uploads: members send images and attachments; everyone reads them from this origin."""

from __future__ import annotations

import io
from pathlib import Path

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    jsonify,
    render_template,
    request,
    send_file,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_login import login_required
from werkzeug.exceptions import RequestEntityTooLarge

from forum.db import get_session
from forum.extensions import limiter
from forum.limits import member_key, upload_limit
from forum.services import uploads
from forum.web import current_member

bp = Blueprint("uploads", __name__)

#: A year: a name is never reused for other bytes, so a stored file never changes.
CACHE_SECONDS = 365 * 24 * 3600
#: A file opened on its own runs nothing and loads nothing, whatever a browser makes of it.
FILE_POLICY = "default-src 'none'; sandbox"


def _folder() -> Path:
    return uploads.upload_folder(current_app.config, current_app.instance_path)


def _limits() -> uploads.Limits:
    return uploads.Limits(
        max_bytes=int(current_app.config["UPLOAD_MAX_BYTES"]),
        max_pixels=int(current_app.config["UPLOAD_MAX_PIXELS"]),
    )


def _wants_json() -> bool:
    """The editor's script asks for JSON; a plain form (no JavaScript) gets a page."""
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "application/json"


def _refuse(message: str, status: int) -> ResponseReturnValue:
    if _wants_json():
        return jsonify(error=message), status
    return render_template("uploads/new.html", error=message, limits=_limits()), status


@bp.errorhandler(RequestEntityTooLarge)
def too_large(_exc: RequestEntityTooLarge) -> ResponseReturnValue:
    """A body past the upload limit is refused before it is read, with the limit named."""
    limit = _limits().max_bytes / (1024 * 1024)
    return _refuse(f"The file is too large: uploads may be at most {limit:.1f} MiB.", 413)


@bp.get("/uploads")
@login_required
def new() -> ResponseReturnValue:
    """The upload form (for browsers without JavaScript; the editor uploads by itself)."""
    return render_template("uploads/new.html", limits=_limits())


@bp.post("/uploads")
@login_required
@limiter.limit(upload_limit, key_func=member_key)
def create() -> ResponseReturnValue:
    """Store the file of the ``file`` field; answer its address and Markdown."""
    sent = request.files.get("file")
    if sent is None or not sent.filename:
        return _refuse("Choose a file to upload. " + uploads.ACCEPTED, 400)
    limits = _limits()
    data = sent.stream.read(limits.max_bytes + 1)
    db = get_session()
    try:
        row = uploads.upload(
            db,
            owner=current_member(),
            data=data,
            filename=sent.filename,
            limits=limits,
            store=uploads.storage(db, current_app.config["UPLOAD_STORAGE"], _folder()),
        )
    except uploads.UploadRefused as exc:
        db.rollback()
        return _refuse(exc.message, exc.status)
    db.commit()
    url = url_for("uploads.serve", name=row.name)
    markdown = uploads.markdown_for(row, url)
    if _wants_json():
        return jsonify(url=url, markdown=markdown, content_type=row.content_type), 201
    return render_template(
        "uploads/new.html", upload=row, url=url, markdown=markdown, limits=limits
    ), 201


@bp.get("/uploads/<name>")
def serve(name: str) -> ResponseReturnValue:
    """An uploaded file, with its stored type; anything but an image is a download."""
    db = get_session()
    row = uploads.by_name(db, name)
    if row is None:
        abort(404)
    data = uploads.storage(db, row.storage, _folder()).get(row.name)
    if data is None:
        # The row outlived its bytes; `forum uploads verify` reports it.
        abort(404)
    image = uploads.is_image(row)
    response: Response = send_file(
        io.BytesIO(data),
        mimetype=row.content_type,
        as_attachment=not image,
        download_name=row.original_name,
        etag=row.sha256,
        max_age=CACHE_SECONDS,
        conditional=True,
    )
    response.cache_control.immutable = True
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = FILE_POLICY
    response.headers["Cross-Origin-Resource-Policy"] = "same-origin"
    return response
