"""How large a request body may be: MAX_CONTENT_LENGTH, or more for a file sent to /uploads.

The limit must hold before anything reads the body, and the first readers are hooks that run
before any view (the NUL guard, CSRF). The request class therefore knows it by itself: a POST
to the upload address may carry UPLOAD_MAX_BYTES plus the form around the file; every other
request MAX_CONTENT_LENGTH. A larger body is refused with 413 before it is read.
"""

from __future__ import annotations

from flask import Flask, Request, current_app

#: Room for the multipart headers and the CSRF field around the file.
FORM_OVERHEAD = 64 * 1024
#: The address that takes files.
UPLOAD_PATH = "/uploads"


class LimitedRequest(Request):
    """A request whose body limit depends on where it is sent."""

    @property
    def max_content_length(self) -> int | None:
        """UPLOAD_MAX_BYTES (and the form's overhead) for uploads, else MAX_CONTENT_LENGTH."""
        if self._max_content_length is not None:
            return self._max_content_length
        if not current_app:
            return None
        if self.method == "POST" and self.path.rstrip("/") == UPLOAD_PATH:
            return int(current_app.config["UPLOAD_MAX_BYTES"]) + FORM_OVERHEAD
        limit = current_app.config["MAX_CONTENT_LENGTH"]
        return int(limit) if limit is not None else None

    @max_content_length.setter
    def max_content_length(self, value: int | None) -> None:
        self._max_content_length = value


def init_app(app: Flask) -> None:
    """Serve every request of ``app`` with the limits above."""
    app.request_class = LimitedRequest
