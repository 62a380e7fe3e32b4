"""Response headers and redirect targets that keep pages safe."""

from __future__ import annotations

import string
from urllib.parse import unquote, urlsplit

from flask import Flask, Request, Response, request

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        # Member content shows no images (external ones become links), so none load from
        # elsewhere: an image in a post can neither track readers nor carry a data: payload.
        "img-src 'self'",
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


#: Values of ``Accept`` that only a page load sends (images, scripts and styles never do).
_HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})


def is_page_view(req: Request) -> bool:
    """Whether a GET is a person opening the page, not an ``<img>``, a fetch or a prefetch.

    Browsers say so in Fetch Metadata (``Sec-Fetch-Dest: document``). Without it (an old
    browser, a script), only a request that names HTML in ``Accept`` counts: browsers ask for
    images with ``image/*`` or ``*/*``, never with ``text/html``.
    """
    purpose = (req.headers.get("Sec-Purpose") or req.headers.get("Purpose") or "").lower()
    if "prefetch" in purpose or "prerender" in purpose:
        return False
    dest = req.headers.get("Sec-Fetch-Dest")
    if dest is not None:
        return dest.strip().lower() == "document"
    return any(value.lower() in _HTML_TYPES for value, _quality in req.accept_mimetypes)


#: Headers every response carries unless the view set its own (name, lower-case name, value).
_DEFAULT_HEADERS = tuple(
    (name, name.lower(), value)
    for name, value in (
        ("Content-Security-Policy", CONTENT_SECURITY_POLICY),
        ("X-Content-Type-Options", "nosniff"),
        ("Referrer-Policy", "strict-origin-when-cross-origin"),
        ("X-Frame-Options", "DENY"),
        ("Cross-Origin-Opener-Policy", "same-origin"),
        ("Permissions-Policy", "camera=(), microphone=(), geolocation=()"),
    )
)
_HSTS = "max-age=31536000; includeSubDomains"


def set_security_headers(response: Response) -> Response:
    """Headers on every response: CSP, no sniffing, no framing, a strict referrer policy."""
    headers = response.headers
    # One pass over the headers the view set, then appends: ``setdefault`` would scan them
    # again for each of the eight names, on every response.
    present = {key.lower() for key in headers.keys()}
    for name, lower, value in _DEFAULT_HEADERS:
        if lower not in present:
            headers.add(name, value)
    # The request object itself (one context look-up) rather than a proxy per attribute.
    current = request._get_current_object()  # type: ignore[attr-defined]
    if current.is_secure and "strict-transport-security" not in present:
        headers.add("Strict-Transport-Security", _HSTS)
    if current.endpoint != "static" and "cache-control" not in present:
        # Pages carry per-member content and CSRF tokens: never store them in shared caches.
        headers["Cache-Control"] = "no-store" if current.method != "GET" else "private, no-cache"
    return response


def init_app(app: Flask) -> None:
    """Attach the security headers to every response."""
    app.after_request(set_security_headers)
