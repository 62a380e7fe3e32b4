"""Markdown to safe HTML: markdown-it-py with plugins, Pygments, then one bleach allowlist.

Everything members write goes through ``render_markdown`` once, on save; the result is stored
(``body_html``) and is the only user HTML a template may mark safe. HTML from elsewhere (an
import) goes through ``sanitize_html`` alone.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

import bleach
from bleach.html5lib_shim import Filter
from markdown_it import MarkdownIt
from mdit_py_plugins.anchors import anchors_plugin
from mdit_py_plugins.footnote import footnote_plugin
from mdit_py_plugins.tasklists import tasklists_plugin
from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import get_lexer_by_name
from pygments.util import ClassNotFound

#: Largest Markdown source accepted, in bytes of UTF-8.
MAX_MARKDOWN_BYTES = 200 * 1024
#: Heading ids get this prefix so member content cannot clobber the page's own ids.
HEADING_ID_PREFIX = "h-"

ALLOWED_TAGS = frozenset(
    {
        "a",
        "abbr",
        "b",
        "blockquote",
        "br",
        "code",
        "dd",
        "del",
        "div",
        "dl",
        "dt",
        "em",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "hr",
        "i",
        "img",
        "input",
        "kbd",
        "li",
        "ol",
        "p",
        "pre",
        "s",
        "section",
        "span",
        "strong",
        "sub",
        "sup",
        "table",
        "tbody",
        "td",
        "th",
        "thead",
        "tr",
        "ul",
    }
)
ALLOWED_PROTOCOLS = frozenset({"http", "https", "mailto"})
_CLASS_RE = re.compile(r"^[a-z0-9 _-]{1,200}$")
_ID_RE = re.compile(r"^(?:h-|fn|fnref)[a-z0-9_:-]{0,120}$")


def _allowed_attribute(tag: str, name: str, value: str) -> bool:
    """The attribute allowlist, per tag, with value checks where a value could do harm."""
    if name == "class":
        return tag in {
            "code",
            "pre",
            "span",
            "div",
            "section",
            "li",
            "sup",
            "a",
            "ul",
            "input",
            "td",
            "th",
        } and bool(_CLASS_RE.match(value))
    if name == "id":
        return tag in {"h1", "h2", "h3", "h4", "h5", "h6", "li", "sup", "a"} and bool(
            _ID_RE.match(value)
        )
    if tag == "a":
        return name in {"href", "title"}
    if tag == "img":
        if name == "src":
            return urlsplit(value.strip()).scheme.lower() in {"", "http", "https"}
        return name in {"alt", "title"}
    if tag == "input":
        return (name == "type" and value == "checkbox") or name in {"checked", "disabled"}
    if tag == "ol":
        return name == "start" and value.isdigit()
    if tag in {"td", "th"}:
        return name == "colspan" and value.isdigit()
    if tag == "abbr":
        return name == "title"
    return False


class _LinkRelFilter(Filter):  # type: ignore[misc]
    """Adds ``rel="nofollow ugc noopener"`` to links that leave the site."""

    def __iter__(self) -> Any:
        for token in super().__iter__():
            if token["type"] == "StartTag" and token["name"] == "a":
                attrs = token["data"]
                href = attrs.get((None, "href"), "")
                if urlsplit(href).scheme.lower() in {"http", "https"} or href.startswith("//"):
                    attrs[(None, "rel")] = "nofollow ugc noopener"
                    attrs[(None, "target")] = None
                    attrs.pop((None, "target"), None)
            yield token


_CLEANER = bleach.sanitizer.Cleaner(
    tags=ALLOWED_TAGS,
    attributes=_allowed_attribute,
    protocols=ALLOWED_PROTOCOLS,
    strip=False,
    strip_comments=True,
    filters=[_LinkRelFilter],
)


def sanitize_html(html: str) -> str:
    """The one place bleach runs: keep only allowlisted tags, attributes and URL schemes."""
    return _CLEANER.clean(html)


class MarkdownTooLarge(ValueError):
    """The Markdown source is over MAX_MARKDOWN_BYTES."""


def _slugify(text: str) -> str:
    normalised = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    slug = re.sub(r"[^a-z0-9]+", "-", normalised.lower()).strip("-")
    return HEADING_ID_PREFIX + (slug or "section")


_FORMATTER = HtmlFormatter(nowrap=True)


def _highlight(code: str, lang: str, _attrs: str) -> str:
    """Pygments with CSS classes only (no inline styles, so the CSP holds)."""
    name = (lang or "").strip().split()[0].lower() if lang else ""
    if not name:
        return ""
    try:
        lexer = get_lexer_by_name(name)
    except ClassNotFound:
        return ""
    body = highlight(code, lexer, _FORMATTER)
    safe_name = re.sub(r"[^a-z0-9_+-]", "", name)
    return f'<pre class="highlight"><code class="language-{safe_name}">{body}</code></pre>\n'


@lru_cache(maxsize=1)
def _parser() -> MarkdownIt:
    md = MarkdownIt(
        "commonmark",
        # Raw HTML is never passed through: it is shown as text.
        {"html": False, "linkify": True, "typographer": False, "highlight": _highlight},
    )
    md.enable(["table", "strikethrough", "linkify"])
    md.use(footnote_plugin)
    md.use(tasklists_plugin, enabled=False)
    md.use(anchors_plugin, min_level=1, max_level=4, slug_func=_slugify)
    return md


def render_markdown(source: str) -> str:
    """Render member Markdown to sanitised HTML; raises MarkdownTooLarge over the size cap."""
    if len(source.encode("utf-8")) > MAX_MARKDOWN_BYTES:
        raise MarkdownTooLarge(
            f"Markdown is limited to {MAX_MARKDOWN_BYTES // 1024} KB; this is "
            f"{len(source.encode('utf-8')) // 1024} KB."
        )
    return sanitize_html(_parser().render(source))
