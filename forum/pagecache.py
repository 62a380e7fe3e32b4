"""Rendered pages for visitors, kept until the next write to the database.

A visitor (no login; a session holding at most a CSRF token) sees the same list, tag,
article, search and profile pages as every other visitor, so a page rendered for one serves
the next until anything changes. Anything: every committed write through the app's engine,
in any worker process on this host, moves the *generation* (a token in the instance folder),
and a worker that sees a new generation drops every page it kept. So vote counts, view
counts and new posts show at once, exactly as without the cache.

A member never gets a kept page, and a page is kept only when it was rendered for a
visitor: anonymous posts read the same for every visitor, so nothing in a kept page names
anyone a fresh render would not. The page's CSRF token (in its ``<meta>``) is the one thing
that differs between visitors: it is cut out when the page is kept and the current visitor's
own token goes in when it is served. A page is kept at most ``PAGE_CACHE_SECONDS`` (relative
times such as "5 minutes ago" age even when nothing is written). Kept pages carry an ETag,
so a browser that asks again with ``If-None-Match`` gets a 304.

Parts of a page can be kept too: ``kept_fragment`` for a part that reads the same for
everyone, ``kept_shared_fragment`` for one that reads the same for an audience (the viewers a
part's template cannot tell apart) but for a few marked spots each request fills for its
viewer, such as which vote arrows show pressed, and its CSRF token.

With several app hosts, each host's generation moves only with its own writes: set
``FORUM_PAGE_CACHE=false`` there, or share the instance folder.
"""

from __future__ import annotations

import hashlib
import os
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flask import Flask, Response, current_app, g, request, session
from markupsafe import Markup
from sqlalchemy import Engine, event

#: Endpoints whose visitor pages are kept: what people open daily. (Search results are kept as
#: a part inside the view, after its rate limit: a kept page would answer before the limit.)
CACHEABLE_ENDPOINTS = frozenset(
    {
        "main.index",
        "questions.index",
        "tags.index",
        "tags.detail",
        "wiki.index",
        "wiki.detail",
        "users.profile",
    }
)
#: Endpoints whose view looks its kept page up itself, once it has counted the visit.
VIEW_COUNTED_ENDPOINTS = frozenset({"questions.detail"})
#: Pages kept per worker, and the largest page kept.
MAX_PAGES = 512
MAX_PAGE_BYTES = 512 * 1024
#: What a kept page holds in place of the CSRF token of the visitor it was rendered for.
_TOKEN_MARK = b"\x00csrf\x00"
#: Session keys a visitor's page may depend on without being personal: the CSRF secret.
_VISITOR_SESSION_KEYS = frozenset({"csrf_token"})
_WRITE_VERBS = frozenset(
    {"INSERT", "UPDATE", "DELETE", "REPLACE", "MERGE", "CREATE", "DROP", "ALTER", "TRUNCATE"}
)
#: A spot of a shared part that each request fills for its viewer (``mark``): the random word
#: (new in every process) keeps text that members write from ever reading as one.
_MARK_WORD = os.urandom(8).hex()
_MARK = re.compile("\x00" + _MARK_WORD + r":([a-z]+):(\d+)\x00")
_DIRTY = "forum.pagecache.dirty"
_EXTENSION_KEY = "forum.pagecache"
_STATE = "forum.pagecache.state"


@dataclass(frozen=True)
class KeptPage:
    """A visitor's page as rendered: its body (CSRF token cut out), type and ETag."""

    body: bytes
    mimetype: str
    etag: str
    #: ``time.monotonic()`` when it was rendered: relative times ("5 minutes ago") age.
    rendered_at: float


class Generation:
    """The token that moves with every committed write of any process sharing ``path``."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists():
            self.move()

    def move(self) -> None:
        """A new random token: two processes moving it at once still both change it."""
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT, 0o600)
        try:
            os.pwrite(fd, os.urandom(16), 0)
        finally:
            os.close(fd)

    def read(self) -> bytes:
        """The current token (a fresh read: another process may have moved it)."""
        try:
            fd = os.open(self.path, os.O_RDONLY)
        except FileNotFoundError:
            return b""
        try:
            return os.pread(fd, 16, 0)
        finally:
            os.close(fd)


class PageCache:
    """One worker's kept pages, all of one generation."""

    def __init__(self, generation: Generation, max_age: float) -> None:
        self.generation = generation
        self.max_age = max_age
        self._lock = threading.Lock()
        self._pages: OrderedDict[str, KeptPage] = OrderedDict()
        self._of: bytes = b""

    def get(self, key: str, generation: bytes) -> KeptPage | None:
        """The page kept under ``key`` in ``generation``; pages of an older one are dropped."""
        with self._lock:
            if generation != self._of:
                self._pages.clear()
                self._of = generation
                return None
            page = self._pages.get(key)
            if page is None:
                return None
            if time.monotonic() - page.rendered_at > self.max_age:
                del self._pages[key]
                return None
            self._pages.move_to_end(key)
            return page

    def put(self, key: str, generation: bytes, page: KeptPage) -> None:
        """Keep ``page`` if its generation is still the current one (else it may be stale)."""
        with self._lock:
            if generation != self._of:
                return
            self._pages[key] = page
            self._pages.move_to_end(key)
            while len(self._pages) > MAX_PAGES:
                self._pages.popitem(last=False)

    def __len__(self) -> int:
        return len(self._pages)


def _is_write(statement: str) -> bool:
    words = statement.lstrip(" (\n\t").split(None, 1)
    if not words:
        return False
    verb = words[0].upper()
    if verb == "WITH":
        upper = statement.upper()
        return any(f"{write} " in upper for write in ("INSERT", "UPDATE", "DELETE"))
    return verb in _WRITE_VERBS


def watch(engine: Engine, generation: Generation) -> None:
    """Move ``generation`` once a connection of ``engine`` that wrote is handed back.

    A connection goes back to the pool only when its transaction has ended, so a page
    rendered after the move reads the write; one rendered before it is kept under the old
    generation, which no request asks for again. (A rolled-back write moves it too: harmless.)
    """

    def after_execute(conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if _is_write(statement):
            conn.info[_DIRTY] = True

    def checkin(_dbapi_connection: Any, record: Any) -> None:
        if record is not None and record.info.pop(_DIRTY, False):
            generation.move()

    event.listen(engine, "after_cursor_execute", after_execute)
    event.listen(engine.pool, "checkin", checkin)


def page_cache(app: Flask | None = None) -> PageCache | None:
    """The app's page cache, or None when ``PAGE_CACHE`` is off."""
    cache: PageCache | None = (app or current_app).extensions.get(_EXTENSION_KEY)
    return cache


def _visitor_request(endpoints: frozenset[str] = CACHEABLE_ENDPOINTS) -> bool:
    """A GET of a listed page by someone not logged in, whose session is only a CSRF secret."""
    if request.method not in {"GET", "HEAD"} or request.endpoint not in endpoints:
        return False
    from flask_login import current_user

    if current_user.is_authenticated:
        return False
    return set(session.keys()) <= _VISITOR_SESSION_KEYS


def _key() -> str:
    return request.full_path


def serve_kept_page() -> Response | None:
    """``before_request``: answer a visitor from the kept page, with their own CSRF token."""
    return _kept_response(CACHEABLE_ENDPOINTS)


def kept_page_for_visitor() -> Response | None:
    """For a view of ``VIEW_COUNTED_ENDPOINTS``, once it has counted the visit: the kept page.

    A visit that counted moved the generation (its write), so such a visit never finds one.
    """
    return _kept_response(VIEW_COUNTED_ENDPOINTS)


def _kept_response(endpoints: frozenset[str]) -> Response | None:
    cache = page_cache()
    if cache is None or not _visitor_request(endpoints):
        return None
    from forum.web import csrf_token

    generation = cache.generation.read()
    kept = cache.get(_key(), generation)
    if kept is None:
        g.setdefault(_STATE, generation)
        return None
    response = Response(
        kept.body.replace(_TOKEN_MARK, csrf_token().encode()), mimetype=kept.mimetype
    )
    response.set_etag(kept.etag)
    response.make_conditional(request)
    return response


def keep_page(response: Response) -> Response:
    """``after_request``: keep a visitor's freshly rendered page for the next visitor."""
    generation = g.pop(_STATE, None)
    cache = page_cache()
    if (
        cache is None
        or generation is None
        or response.status_code != 200
        or response.direct_passthrough
        or response.mimetype != "text/html"
        or not _visitor_request(CACHEABLE_ENDPOINTS | VIEW_COUNTED_ENDPOINTS)
    ):
        return response
    if any(key.lower() == "set-cookie" for key in response.headers.keys()):
        # Set by something other than the session (which Flask saves after this hook).
        return response
    body = response.get_data()
    if len(body) > MAX_PAGE_BYTES:
        return response
    from forum.web import csrf_token

    if g.get(current_app.config.get("WTF_CSRF_FIELD_NAME", "csrf_token")):
        body = body.replace(csrf_token().encode(), _TOKEN_MARK)
    rendered_at = time.monotonic()
    etag = hashlib.blake2b(
        generation + request.full_path.encode() + str(rendered_at).encode(), digest_size=12
    ).hexdigest()
    cache.put(_key(), generation, KeptPage(body, response.mimetype, etag, rendered_at))
    response.set_etag(etag)
    response.make_conditional(request)
    return response


def kept_fragment(name: str, render: Callable[[], str | tuple[str, bool]]) -> Markup:
    """A part of a page that reads the same for everyone (members too), kept like pages.

    ``name`` must say everything the part depends on (list, page number...); ``render``
    makes it, queries included, when no kept copy of this generation is at hand, and may
    answer ``(html, False)`` for a part not to keep (its making has an effect each time).
    The part must hold nothing personal: no CSRF token, no "you", nothing only some may see.
    """
    cache = page_cache()
    generation = cache.generation.read() if cache is not None else b""
    key = "\x00" + name
    kept = cache.get(key, generation) if cache is not None else None
    if kept is not None:
        return Markup(kept.body.decode())
    made = render()
    html, keep = made if isinstance(made, tuple) else (made, True)
    if cache is not None and keep:
        cache.put(key, generation, KeptPage(html.encode(), "text/html", "", time.monotonic()))
    return Markup(html)


def mark(kind: str, ident: int = 0) -> Markup:
    """A spot of a shared part (:func:`kept_shared_fragment`) that each viewer's request fills:
    ``kind`` says what goes there (``fill`` answers it), ``ident`` for which post or comment."""
    return Markup(f"\x00{_MARK_WORD}:{kind}:{ident}\x00")


def current_generation() -> bytes:
    """The generation now (empty with the cache off): read it before loading what a
    :func:`kept_shared_fragment` renders."""
    cache = page_cache()
    return cache.generation.read() if cache is not None else b""


def kept_shared_fragment(
    name: str,
    render: Callable[[bool], str],
    fill: Mapping[str, Callable[[int], str]],
    *,
    loaded_in: bytes,
) -> Markup:
    """A part of a page that reads the same for a whole audience but for a few marked spots.

    ``name`` must say everything the part depends on, the audience it is rendered for
    included: everything about the viewer it branches on. ``render(True)`` renders it with a
    :func:`mark` wherever the viewer's own state goes (which vote arrows show pressed);
    ``fill[kind](ident)`` answers each mark for the current viewer, in one pass over the kept
    text. The CSRF token is cut out when the part is kept and the viewer's own goes in, as on
    kept pages. With the cache off, ``render(False)`` renders it for the viewer as it is.

    ``loaded_in`` is the generation read (:func:`current_generation`) before what ``render``
    shows was loaded: when a write came since (the visit's own view count, or anyone's
    vote), that may be older than the generation now, so the part is rendered for this
    viewer alone, as with the cache off, and not kept.
    """
    cache = page_cache()
    if cache is None:
        return Markup(render(False))
    generation = cache.generation.read()
    if generation != loaded_in:
        return Markup(render(False))
    from forum.web import csrf_token

    key = "\x01" + name
    kept = cache.get(key, generation)
    if kept is not None:
        html = kept.body.decode()
    else:
        html = render(True)
        if g.get(current_app.config.get("WTF_CSRF_FIELD_NAME", "csrf_token")):
            html = html.replace(csrf_token(), mark("csrf"))
        cache.put(key, generation, KeptPage(html.encode(), "text/html", "", time.monotonic()))

    csrf_mark = mark("csrf")
    if csrf_mark in html:
        html = html.replace(csrf_mark, csrf_token())

    def filled(found: re.Match[str]) -> str:
        return fill[found.group(1)](int(found.group(2)))

    return Markup(_MARK.sub(filled, html))


def init_app(app: Flask) -> None:
    """Keep visitors' pages when ``PAGE_CACHE`` is on (after the access checks are wired)."""
    app.add_template_global(mark, "kept_mark")
    if not app.config["PAGE_CACHE"]:
        return
    from forum.db import get_engine

    generation = Generation(Path(app.instance_path) / "page-generation")
    watch(get_engine(app), generation)
    app.extensions[_EXTENSION_KEY] = PageCache(generation, float(app.config["PAGE_CACHE_SECONDS"]))
    app.before_request(serve_kept_page)
    app.after_request(keep_page)
