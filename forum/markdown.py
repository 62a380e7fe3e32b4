"""Markdown to safe HTML: markdown-it-py with plugins, Pygments, then one bleach allowlist.

Everything members write goes through ``render_markdown`` once, on save; the result is stored
(``body_html``) and is the only user HTML a template may mark safe. HTML from elsewhere (an
import) goes through ``sanitize_html`` alone.
"""

from __future__ import annotations

import html
import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

import bleach
from bleach.html5lib_shim import Filter
from markdown_it import MarkdownIt
from markdown_it.renderer import RendererHTML
from markdown_it.rules_core import StateCore
from markdown_it.rules_inline import StateInline
from markdown_it.token import Token
from markdown_it.utils import EnvType, OptionsDict
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
        # Wraps a task-list checkbox so it has an accessible name (no attributes allowed).
        "label",
        "li",
        "nav",
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
            "ol",
            "p",
            "nav",
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
    if tag == "nav":
        return name == "aria-label" and value == "Contents"
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
    cleaned: str = _CLEANER.clean(html)
    return cleaned


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
        # Keep leading and trailing blank lines: the code is shown exactly as written.
        lexer = get_lexer_by_name(name, stripnl=False)
    except ClassNotFound:
        return ""
    body = highlight(code, lexer, _FORMATTER)
    safe_name = re.sub(r"[^a-z0-9_+-]", "", name)
    return f'<pre class="highlight"><code class="language-{safe_name}">{body}</code></pre>\n'


#: Longest ``[[wiki link]]`` target accepted (the length of an article title).
MAX_WIKI_TARGET = 200
_WIKI_RE = re.compile(r"\[\[([^\[\]\n|]{1,200})(?:\|([^\[\]\n]{1,200}))?\]\]")
_ALIGN_RE = re.compile(r"^text-align:(left|right|center)$")


@dataclass(frozen=True)
class WikiTarget:
    """Where a ``[[wiki link]]`` points: an existing article, or a page to create it."""

    href: str
    exists: bool


#: Turns a wiki link's title into its target; the knowledge base passes one in.
WikiResolver = Callable[[str], WikiTarget]


@dataclass(frozen=True)
class Heading:
    """A heading of a rendered document, for its table of contents."""

    level: int
    anchor: str
    text: str


@dataclass
class Rendered:
    """The output of ``render_document``: safe HTML and what the source links to."""

    html: str
    wiki_links: list[str] = field(default_factory=list)
    headings: list[Heading] = field(default_factory=list)
    #: Usernames of the members the source mentions, in order of first mention.
    mentions: list[str] = field(default_factory=list)


def wiki_key(title: str) -> str:
    """How wiki link targets and article titles are matched: case- and spacing-insensitive."""
    return " ".join(title.split()).casefold()[:MAX_WIKI_TARGET]


def _wikilink_rule(state: StateInline, silent: bool) -> bool:
    """Inline rule: ``[[Title]]`` or ``[[Title|label]]``."""
    if state.src[state.pos : state.pos + 2] != "[[" or state.env.get("wiki_resolver") is None:
        # Without a knowledge base (answers, comments) brackets keep their CommonMark meaning.
        return False
    match = _WIKI_RE.match(state.src, state.pos)
    if match is None or not match.group(1).strip():
        return False
    if not silent:
        token = state.push("wikilink", "", 0)
        token.meta = {
            "target": " ".join(match.group(1).split()),
            "label": " ".join((match.group(2) or match.group(1)).split()),
        }
        token.content = match.group(0)
    state.pos = match.end()
    return True


def _render_wikilink(
    self: RendererHTML, tokens: Sequence[Token], idx: int, _options: OptionsDict, env: EnvType
) -> str:
    token = tokens[idx]
    resolver: WikiResolver = env["wiki_resolver"]
    target = str(token.meta["target"])
    env.setdefault("wiki_links", []).append(target)
    resolved = resolver(target)
    label = html.escape(str(token.meta["label"]))
    href = html.escape(resolved.href, quote=True)
    if resolved.exists:
        return f'<a class="wikilink" href="{href}">{label}</a>'
    return (
        f'<a class="wikilink wikilink--missing" href="{href}" '
        f'title="No article yet: create it">{label}</a>'
    )


#: Turns a mentioned username into the member's profile URL, or None when there is no such member.
MentionResolver = Callable[[str], str | None]
_MENTION_RE = re.compile(r"@([A-Za-z0-9][A-Za-z0-9_.-]{0,31})")
#: A mention never continues a word, an address or a path: ``me@example.com`` is no mention.
_MENTION_BLOCKED_BEFORE = frozenset("_.-+@/=&")


def _mention_rule(state: StateInline, silent: bool) -> bool:
    """Inline rule: ``@username`` of an existing member (never inside a link's text)."""
    resolver: MentionResolver | None = state.env.get("mention_resolver")
    if resolver is None or state.src[state.pos] != "@" or state.linkLevel > 0:
        return False
    before = state.src[state.pos - 1] if state.pos > 0 else " "
    if before.isalnum() or before in _MENTION_BLOCKED_BEFORE:
        return False
    match = _MENTION_RE.match(state.src, state.pos, state.posMax)
    if match is None:
        return False
    name = match.group(1).rstrip("._-")
    href = resolver(name.lower()) if name else None
    if href is None:
        return False
    if not silent:
        # An ordinary link, so alt texts, heading anchors and linkify treat it as one.
        token = state.push("link_open", "a", 1)
        token.attrs = {"class": "mention", "href": href}
        token.markup = "mention"
        text = state.push("text", "", 0)
        text.content = "@" + name
        state.push("link_close", "a", -1).markup = "mention"
        state.env.setdefault("mentions", []).append(name.lower())
    state.pos += 1 + len(name)
    return True


def _table_alignment(state: StateCore) -> None:
    """Core rule: table alignment as classes, since the CSP forbids style attributes."""
    for token in state.tokens:
        if token.type in {"th_open", "td_open"}:
            style = token.attrs.pop("style", None)
            match = _ALIGN_RE.match(str(style or ""))
            if match:
                token.attrSet("class", f"align-{match.group(1)}")


def _collect_headings(state: StateCore) -> None:
    """Core rule (after the anchors): remember headings for a table of contents."""
    headings: list[Heading] = state.env.setdefault("headings", [])
    tokens = state.tokens
    for i, token in enumerate(tokens):
        if token.type == "heading_open" and i + 1 < len(tokens):
            anchor = token.attrGet("id")
            if anchor:
                text = "".join(
                    child.content
                    for child in tokens[i + 1].children or []
                    if child.type in {"text", "code_inline"}
                )
                headings.append(Heading(int(token.tag[1]), str(anchor), text))


def _render_fence(
    self: RendererHTML, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType
) -> str:
    # The wrapper is the hook static/js/wiki.js adds a copy button to.
    inner = RendererHTML.fence(self, tokens, idx, options, env)
    return f'<div class="codeblock">{inner.rstrip()}</div>\n'


@lru_cache(maxsize=2)
def _parser(linkify: bool = True) -> MarkdownIt:
    md = MarkdownIt(
        "commonmark",
        # Raw HTML is never passed through: it is shown as text.
        {"html": False, "linkify": linkify, "typographer": False, "highlight": _highlight},
    )
    md.enable(["table", "strikethrough", "linkify"])
    md.use(footnote_plugin)
    md.use(tasklists_plugin, enabled=False, label=True)
    md.use(anchors_plugin, min_level=1, max_level=4, slug_func=_slugify)
    md.inline.ruler.before("link", "wikilink", _wikilink_rule)
    md.inline.ruler.before("link", "mention", _mention_rule)
    md.core.ruler.push("table_alignment", _table_alignment)
    md.core.ruler.push("headings", _collect_headings)
    md.add_render_rule("wikilink", _render_wikilink)
    md.add_render_rule("fence", _render_fence)
    return md


def _toc_html(headings: list[Heading]) -> str:
    items = "".join(
        f'<li class="toc__level-{h.level}"><a href="#{html.escape(h.anchor, quote=True)}">'
        f"{html.escape(h.text)}</a></li>"
        for h in headings
    )
    return (
        '<nav class="toc" aria-label="Contents"><p class="toc__title">Contents</p>'
        f'<ol class="toc__list">{items}</ol></nav>\n'
    )


def check_size(source: str) -> None:
    """Raise MarkdownTooLarge when ``source`` is over the size cap."""
    size = len(source.encode("utf-8"))
    if size > MAX_MARKDOWN_BYTES:
        raise MarkdownTooLarge(
            f"Markdown is limited to {MAX_MARKDOWN_BYTES // 1024} KB; this is "
            f"{-(-size // 1024)} KB."
        )


def render_unsanitised(
    source: str, env: dict[str, Any] | None = None, *, linkify: bool = True
) -> str:
    """The parser's HTML before sanitising (the conformance script compares both).

    ``linkify=False`` turns off only the bare-URL extension, so the script can tell which
    differences from CommonMark it causes.
    """
    rendered: str = _parser(linkify).render(source, env if env is not None else {})
    return rendered


def render_document(
    source: str,
    *,
    wiki_resolver: WikiResolver | None = None,
    toc: bool = False,
    mention_resolver: MentionResolver | None = None,
) -> Rendered:
    """Render Markdown to sanitised HTML, with wiki links resolved and an optional contents list.

    Raises MarkdownTooLarge over the size cap. The table of contents lists h2 and h3 headings
    and appears when there are at least two of them. With a ``mention_resolver``, ``@username``
    of an existing member (outside code and links) becomes a link to their profile.
    """
    check_size(source)
    env: dict[str, Any] = {"wiki_resolver": wiki_resolver, "mention_resolver": mention_resolver}
    body = _parser().render(source, env)
    headings: list[Heading] = env.get("headings", [])
    contents = [h for h in headings if h.level in (2, 3)]
    if toc and len(contents) >= 2:
        body = _toc_html(contents) + body
    links = list(dict.fromkeys(env.get("wiki_links", [])))
    mentions = list(dict.fromkeys(env.get("mentions", [])))
    return Rendered(
        html=sanitize_html(body), wiki_links=links, headings=headings, mentions=mentions
    )


def render_markdown(
    source: str,
    *,
    wiki_resolver: WikiResolver | None = None,
    toc: bool = False,
    mention_resolver: MentionResolver | None = None,
) -> str:
    """Render member Markdown to sanitised HTML; raises MarkdownTooLarge over the size cap."""
    return render_document(
        source, wiki_resolver=wiki_resolver, toc=toc, mention_resolver=mention_resolver
    ).html
