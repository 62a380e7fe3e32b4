"""Response headers and redirect targets that keep pages safe."""

from __future__ import annotations

import string
from urllib.parse import unquote, urlsplit

from flask import Flask, Response, request

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' https: data:",
        "font-src 'self'",
        "connect-src 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
        "object-src 'none'",
    ]
)

_ALLOWED_PATH_CHARS = set(string.ascii_letters + string.digits + "/-._~%!$&'()*+,;=:@?#")


def is_safe_next(target: str | None) -> bool:
    """True if ``target`` is a path on this site (never another host or a script URL).

    Only plain absolute paths are accepted: no scheme, no host, no backslashes and no
    encoded slashes or backslashes that a browser could turn into ``//host``.
    """
    if not target or not target.startswith("/") or target.startswith("//"):
        return False
    if any(ch not in _ALLOWED_PATH_CHARS for ch in target):
        return False
    decoded = target
    for _ in range(3):
        decoded = unquote(decoded)
    if decoded.startswith("//") or "\\" in decoded or any(ord(c) < 32 for c in decoded):
        return False
    parts = urlsplit(target)
    return not parts.scheme and not parts.netloc


def safe_next(target: str | None, default: str) -> str:
    """``target`` when it is a safe local path, else ``default``."""
    return target if target is not None and is_safe_next(target) else default


def set_security_headers(response: Response) -> Response:
    """Headers on every response: CSP, no sniffing, no framing, a strict referrer policy."""
    headers = response.headers
    headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
    headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
    if request.is_secure:
        headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
    if request.endpoint != "static" and "Cache-Control" not in headers:
        # Pages carry per-member content and CSRF tokens: never store them in shared caches.
        headers["Cache-Control"] = "no-store" if request.method != "GET" else "private, no-cache"
    return response


def init_app(app: Flask) -> None:
    """Attach the security headers to every response."""
    app.after_request(set_security_headers)
