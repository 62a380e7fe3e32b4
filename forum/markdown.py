"""Markdown to safe HTML: markdown-it-py with plugins, Pygments, then one bleach allowlist.

Everything members write goes through ``render_markdown`` once, on save; the result is stored
(``body_html``) and is the only user HTML a template may mark safe. HTML from elsewhere (an
import) goes through ``sanitize_html`` alone.

One thing skips the sanitiser's HTML parse, whose time goes by the tag: a fenced code block that
Pygments highlighted (most of a tutorial's tags). Such a block reaches ``sanitize_html`` as a
placeholder naming a random per-call nonce, and is put back afterwards, when its HTML is in a
grammar narrower than the allowlist (see ``_VERBATIM_BLOCK``): fixed tags, classes the allowlist
accepts, and escaped text bleach would leave as it is. Anything else goes through bleach whole.
"""

from __future__ import annotations

import html
import re
import secrets
import threading
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

import bleach
from bleach.html5lib_shim import Filter
from linkify_it import LinkifyIt
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
from pygments.lexer import Lexer
from pygments.lexers import find_lexer_class_by_name
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
    if tag == "pre":
        # Scrollable code must take the keyboard focus; no other value reorders the page.
        return name == "tabindex" and value == "0"
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


#: The address of an image uploaded to this site (see forum.services.uploads): the one kind of
#: image member content may show, since it comes from this origin and names no reader.
UPLOADED_IMAGE = re.compile(r"^/uploads/[A-Za-z0-9_-]{32}\.(?:png|jpg|gif|webp)$")


def uploaded_image_path(src: str) -> str | None:
    """The path of an image uploaded to this site, else None."""
    value = src.strip()
    return value if UPLOADED_IMAGE.match(value) else None


def external_image_url(src: str) -> str | None:
    """The address of an image on another site (absolute http/https), else None.

    Relative (``/questions/1``, ``x.png``) and scheme-relative (``//host/x``) addresses are
    refused outright: on this site they would be requests a reader's browser makes unasked.
    """
    value = src.strip()
    parts = urlsplit(value)
    if parts.scheme.lower() in {"http", "https"} and parts.netloc and not value.startswith("//"):
        return value
    return None


class _ImagePolicyFilter(Filter):  # type: ignore[misc]
    """Member content never makes a reader's browser load an image from elsewhere.

    An image is a request the reader did not choose to make: a unique external image in an
    answer tells its owner who opens the page, and when (on an anonymous question, who asked
    it). Images uploaded to this site (``/uploads/<random name>``) are shown; external images
    become links the reader may follow, marked as images; any other image (another path on
    this site, scheme-relative, another scheme) is reduced to its alt text.
    """

    def __iter__(self) -> Any:
        in_link = 0
        for token in super().__iter__():
            if token.get("name") == "a" and token["type"] in {"StartTag", "EndTag"}:
                in_link += 1 if token["type"] == "StartTag" else -1
            if token["type"] not in {"StartTag", "EmptyTag"} or token["name"] != "img":
                yield token
                continue
            attrs = token["data"]
            local = uploaded_image_path(html.unescape(str(attrs.get((None, "src"), ""))))
            if local is not None:
                kept = {k: v for k, v in attrs.items() if k in {(None, "alt"), (None, "title")}}
                yield {**token, "data": {(None, "src"): local, **kept}}
                continue
            # Attribute values arrive with their entities; the text is escaped again on output.
            alt = " ".join(html.unescape(str(attrs.get((None, "alt"), ""))).split())
            href = external_image_url(str(attrs.get((None, "src"), "")))
            if href is None or in_link > 0:
                # Inside a link (a badge linking somewhere) the link itself stays the way out.
                if alt:
                    yield {"type": "Characters", "data": alt}
                continue
            yield {
                "type": "StartTag",
                "name": "a",
                "data": {
                    (None, "href"): href,
                    (None, "class"): "external-image",
                    (None, "title"): "Image on another site (opens it)",
                },
            }
            yield {"type": "Characters", "data": f"Image: {alt}" if alt else "Image"}
            yield {"type": "EndTag", "name": "a", "data": {}}


def _new_cleaner() -> bleach.sanitizer.Cleaner:
    return bleach.sanitizer.Cleaner(
        tags=ALLOWED_TAGS,
        attributes=_allowed_attribute,
        protocols=ALLOWED_PROTOCOLS,
        strip=False,
        strip_comments=True,
        # The image policy first, so the links it makes get the external-link rel too.
        filters=[_ImagePolicyFilter, _LinkRelFilter],
    )


#: bleach's Cleaner keeps parser state while it cleans, so it is not thread-safe: each thread
#: (threaded gunicorn workers, the development server) gets its own.
_CLEANERS = threading.local()


def _cleaner() -> bleach.sanitizer.Cleaner:
    cleaner: bleach.sanitizer.Cleaner | None = getattr(_CLEANERS, "cleaner", None)
    if cleaner is None:
        cleaner = _CLEANERS.cleaner = _new_cleaner()
    return cleaner


def sanitize_html(html: str) -> str:
    """The one place bleach runs: keep only allowlisted tags, attributes and URL schemes."""
    cleaned: str = _cleaner().clean(html)
    return cleaned


class MarkdownTooLarge(ValueError):
    """The Markdown source is over MAX_MARKDOWN_BYTES."""


def _slugify(text: str) -> str:
    normalised = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    slug = re.sub(r"[^a-z0-9]+", "-", normalised.lower()).strip("-")
    return HEADING_ID_PREFIX + (slug or "section")


_FORMATTER = HtmlFormatter(nowrap=True)


@lru_cache(maxsize=256)
def _lexer_class(name: str) -> type[Lexer] | None:
    """The lexer class for a fence's language name, or None (a lookup scans every lexer).

    The class, not an instance: a few lexers keep state while they lex (TNT, Modula-2, the
    PostgreSQL ones), so each block gets its own, as ``get_lexer_by_name`` gave it.
    """
    try:
        found: type[Lexer] = find_lexer_class_by_name(name)
    except ClassNotFound:
        return None
    return found


def _highlight(code: str, lang: str, _attrs: str) -> str:
    """Pygments with CSS classes only (no inline styles, so the CSP holds)."""
    name = (lang or "").strip().split()[0].lower() if lang else ""
    if not name:
        return ""
    lexer_class = _lexer_class(name)
    if lexer_class is None:
        return ""
    # Keep leading and trailing blank lines: the code is shown exactly as written.
    body = highlight(code, lexer_class(stripnl=False), _FORMATTER)
    safe_name = re.sub(r"[^a-z0-9_+-]", "", name)
    return f'<pre class="highlight"><code class="language-{safe_name}">{body}</code></pre>\n'


#: What a highlighted block may be to skip the sanitiser's parse: the tags ``_render_fence``
#: writes, Pygments' ``<span class>`` (never nested, never holding a tag), classes ``_CLASS_RE``
#: accepts (so the allowlist would keep them), and text with ``<``, ``>`` and ``&`` escaped and
#: none of the control characters bleach rewrites. Such HTML is inert in any element, and bleach
#: would return it unchanged (tests/unit/test_markdown_verbatim.py checks both).
_VERBATIM_TEXT = r"(?:[^<>&\x00-\x08\x0b-\x1f]|&(?:amp|lt|gt);)"
_VERBATIM_BLOCK = re.compile(
    r'<div class="codeblock"><pre tabindex="0" class="highlight">'
    r'<code class="language-[a-z0-9_-]{1,191}">'
    rf'(?:{_VERBATIM_TEXT}|<span class="[a-z0-9 _-]{{1,200}}">{_VERBATIM_TEXT}*</span>)*'
    r"</code></pre></div>"
)
#: The ``env`` key under which ``render_document`` collects highlighted blocks.
_VERBATIM_KEY = "_verbatim_blocks"
#: Any placeholder: "verbatim", the nonce, "n", the block's number, "x" (so no digit runs on).
_PLACEHOLDER = re.compile(r"verbatim[0-9a-f]{32}n[0-9]{1,6}x")


class _VerbatimBlocks:
    """Highlighted code blocks held back from the sanitiser, each behind a placeholder.

    A placeholder is letters and digits (which bleach passes as they are) with a nonce drawn
    afresh for every document: member text cannot name one, so only the blocks collected here
    are ever put back, each where the renderer wrote it. In the sanitiser's output a placeholder
    can only be text inside an allowlisted element, none of which takes its content as raw text,
    so a block put back there parses as the elements it is.
    """

    def __init__(self) -> None:
        self.nonce = secrets.token_hex(16)
        self.blocks: dict[str, str] = {}

    def hold(self, block: str) -> str:
        """A placeholder for ``block`` when it is in the verbatim grammar, else ``block``."""
        if _VERBATIM_BLOCK.fullmatch(block) is None:
            return block
        key = f"verbatim{self.nonce}n{len(self.blocks)}x"
        self.blocks[key] = block
        return key

    def restore(self, cleaned: str) -> str | None:
        """``cleaned`` with every block back; None unless it holds each placeholder once and no
        other (text that looks like one, whatever its nonce, sends the document the slow way)."""
        found = _PLACEHOLDER.findall(cleaned)
        if len(found) != len(self.blocks) or set(found) != self.blocks.keys():
            return None
        if not found:
            return cleaned
        return _PLACEHOLDER.sub(lambda match: self.blocks[match.group(0)], cleaned)


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


#: Code scrolls sideways when its lines are long: keyboard users reach it with Tab.
_FOCUSABLE_PRE = '<pre tabindex="0"'


def _render_fence(
    self: RendererHTML, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType
) -> str:
    # The wrapper is the hook static/js/wiki.js adds a copy button to.
    inner = RendererHTML.fence(self, tokens, idx, options, env).replace("<pre", _FOCUSABLE_PRE, 1)
    block = f'<div class="codeblock">{inner.rstrip()}</div>'
    verbatim: _VerbatimBlocks | None = env.get(_VERBATIM_KEY)
    if verbatim is not None and inner.startswith('<pre tabindex="0" class="highlight">'):
        block = verbatim.hold(block)
    return block + "\n"


def _render_code_block(
    self: RendererHTML, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType
) -> str:
    return RendererHTML.code_block(self, tokens, idx, options, env).replace(
        "<pre", _FOCUSABLE_PRE, 1
    )


class _Linkify(LinkifyIt):  # type: ignore[misc]
    """linkify-it with a quicker pretest that answers as its own does; the same links are found.

    markdown-it runs the pretest on every paragraph, and ``test`` on each text node of those
    that pass. linkify-it's pretest is one search trying, at every position of the text, a large
    character class then its schemes, hosts and ``@``: most of a paragraph's parse. Here each
    part runs only where it can match: a scheme ends in ``:`` or is ``//``, a fuzzy host starts
    at ``localhost``, ``www.`` or a dot. ``test`` can be true only where the pretest is (its
    three ways to find a link begin with those same three searches), so that is asked first.
    """

    def __init__(self) -> None:
        super().__init__()
        names = [name for name, valid in self._compiled.items() if name and valid]
        if not all(name.endswith(":") or name == "//" for name in names):
            raise RuntimeError(f"linkify-it schemes changed: {names}")
        self._scheme_lengths = sorted({len(name) for name in names if name.endswith(":")})
        self._scheme_test = re.compile(self.re["schema_test"], re.IGNORECASE)
        self._host_test = re.compile(self.re["host_fuzzy_test"], re.IGNORECASE)
        self._localhost = re.compile("localhost", re.IGNORECASE)

    def _starts(self, text: str) -> set[int]:
        """Where a match of the scheme search could begin: one before a scheme (or at 0)."""
        starts: set[int] = set()
        colon = text.find(":")
        while colon >= 0:
            starts.update(max(colon - length, 0) for length in self._scheme_lengths)
            colon = text.find(":", colon + 1)
        slashes = text.find("//")
        while slashes >= 0:
            starts.add(max(slashes - 1, 0))
            slashes = text.find("//", slashes + 1)
        return starts

    def _host(self, text: str) -> bool:
        """``re.search(host_fuzzy_test, text)``: localhost, www. or a dot and what follows."""
        if self._localhost.search(text):
            return True
        dot = text.find(".")
        while dot >= 0:
            if self._host_test.match(text, dot) or (
                dot >= 3 and self._host_test.match(text, dot - 3)
            ):
                return True
            dot = text.find(".", dot + 1)
        return False

    def pretest(self, text: str) -> bool:
        return (
            "@" in text
            or any(self._scheme_test.match(text, start) for start in self._starts(text))
            or self._host(text)
        )

    def test(self, text: str) -> bool:
        return self.pretest(text) and bool(super().test(text))


@lru_cache(maxsize=2)
def _parser(linkify: bool = True) -> MarkdownIt:
    md = MarkdownIt(
        "commonmark",
        # Raw HTML is never passed through: it is shown as text.
        {"html": False, "linkify": linkify, "typographer": False, "highlight": _highlight},
    )
    md.enable(["table", "strikethrough", "linkify"])
    md.linkify = _Linkify()
    md.use(footnote_plugin)
    md.use(tasklists_plugin, enabled=False, label=True)
    md.use(anchors_plugin, min_level=1, max_level=4, slug_func=_slugify)
    md.inline.ruler.before("link", "wikilink", _wikilink_rule)
    md.inline.ruler.before("link", "mention", _mention_rule)
    md.core.ruler.before("block", "markup_limit", _markup_limit)
    md.core.ruler.after("block", "structure_limits", _structure_limits)
    md.core.ruler.after("inline", "inline_limits", _inline_limits)
    md.core.ruler.push("table_alignment", _table_alignment)
    md.core.ruler.push("headings", _collect_headings)
    md.add_render_rule("wikilink", _render_wikilink)
    md.add_render_rule("fence", _render_fence)
    md.add_render_rule("code_block", _render_code_block)
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
    verbatim = _VerbatimBlocks()
    env: dict[str, Any] = {
        "wiki_resolver": wiki_resolver,
        "mention_resolver": mention_resolver,
        _VERBATIM_KEY: verbatim,
    }
    cleaned = verbatim.restore(sanitize_html(_render_body(source, env, toc)))
    if cleaned is None:
        # Not each placeholder once (the text has one of its own, or the sanitiser moved one):
        # render again holding nothing back, and sanitise all of it.
        again = {"wiki_resolver": wiki_resolver, "mention_resolver": mention_resolver}
        cleaned = sanitize_html(_render_body(source, again, toc))
    return Rendered(
        html=cleaned,
        wiki_links=list(dict.fromkeys(env.get("wiki_links", []))),
        headings=env.get("headings", []),
        mentions=list(dict.fromkeys(env.get("mentions", []))),
    )


def _render_body(source: str, env: dict[str, Any], toc: bool) -> str:
    """The renderer's HTML, after the table of contents when one is wanted."""
    body: str = _parser().render(source, env)
    contents = [h for h in env.get("headings", []) if h.level in (2, 3)]
    if toc and len(contents) >= 2:
        body = _toc_html(contents) + body
    return body


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


#: Structure a document may have, checked as soon as it is parsed into blocks (and inline
#: elements), before the rules and the sanitiser whose time grows faster than the text: the
#: sanitiser's tree walker is quadratic in an element's number of children, and heading anchors
#: in the number of headings with the same title.
MAX_BLOCKS = 4000
MAX_TABLE_ROWS = 1000
MAX_TABLE_COLUMNS = 64
MAX_HEADINGS = 300
#: Lists and quotes inside each other.
MAX_NESTING = 8
MAX_INLINE_TOKENS = 60_000
#: Characters that start inline syntax; the inline parser spends most of its time on them.
MAX_MARKUP_CHARACTERS = 20_000
#: Lines, checked before parsing: the block parser's time is mostly per line.
MAX_LINES = 20_000
#: Table cell borders, checked before parsing: the table rule is the slowest per line.
MAX_TABLE_PIPES = 20_000
#: Web addresses, checked before parsing: finding bare links costs the most per character.
MAX_ADDRESSES = 2000
_MARKUP_CHARACTERS = "[]*_`<>&@!~\\"
#: A line that opens a list item or a quote: each becomes at least one block, and nested
#: containers are what the block parser spends most on per line.
_CONTAINER_LINE = re.compile(r"^[ \t]{0,64}(?:[-*+]|\d{1,9}[.)])(?:[ \t]|$)|^[ \t]{0,64}>", re.M)
_CONTAINERS = frozenset({"blockquote", "bullet_list", "ordered_list"})


class MarkdownTooComplex(MarkdownTooLarge):
    """The Markdown has more blocks, table rows or columns, or nesting than a page may show."""


def check_structure(tokens: Sequence[Token]) -> None:
    """Raise MarkdownTooComplex when block tokens are past the structure limits."""
    blocks = rows = columns = depth = headings = 0
    for token in tokens:
        if token.nesting == -1:
            if token.type.rpartition("_")[0] in _CONTAINERS:
                depth -= 1
            continue
        if token.type == "inline":
            continue
        blocks += 1
        if blocks > MAX_BLOCKS:
            raise MarkdownTooComplex(
                f"A text may have {MAX_BLOCKS} paragraphs, list items, table rows and other"
                " blocks at most; split it up."
            )
        if token.type.rpartition("_")[0] in _CONTAINERS:
            depth += 1
            if depth > MAX_NESTING:
                raise MarkdownTooComplex(
                    f"Lists and quotes may be nested {MAX_NESTING} levels deep at most."
                )
        elif token.type == "heading_open":
            headings += 1
            if headings > MAX_HEADINGS:
                raise MarkdownTooComplex(f"A text may have {MAX_HEADINGS} headings at most.")
        elif token.type == "table_open":
            rows = 0
        elif token.type == "tr_open":
            rows, columns = rows + 1, 0
            if rows > MAX_TABLE_ROWS:
                raise MarkdownTooComplex(f"A table may have {MAX_TABLE_ROWS} rows at most.")
        elif token.type in {"th_open", "td_open"}:
            columns += 1
            if columns > MAX_TABLE_COLUMNS:
                raise MarkdownTooComplex(f"A table may have {MAX_TABLE_COLUMNS} columns at most.")


def check_inline(tokens: Sequence[Token]) -> None:
    """Raise MarkdownTooComplex when a text has more inline elements than a page may show."""
    count = 0
    for token in tokens:
        if token.type == "inline":
            count += len(token.children or ())
            if count > MAX_INLINE_TOKENS:
                raise MarkdownTooComplex(
                    "This text has too much formatting to show on one page: split it up."
                )


def check_markup(source: str) -> None:
    """Raise MarkdownTooComplex when the source has more lines or markup characters than allowed."""
    # str.count runs in C: a cheap bound on the parser's work before it starts.
    lines = source.count("\n")
    if lines > MAX_LINES:
        raise MarkdownTooComplex(f"A text may have {MAX_LINES} lines at most; this has {lines}.")
    addresses = source.count("://") + source.count("www.")
    if addresses > MAX_ADDRESSES:
        raise MarkdownTooComplex(
            f"A text may have {MAX_ADDRESSES} web addresses at most; this has {addresses}."
        )
    containers = sum(1 for _ in _CONTAINER_LINE.finditer(source))
    if containers > MAX_BLOCKS:
        raise MarkdownTooComplex(
            f"A text may have {MAX_BLOCKS} paragraphs, list items, table rows and other"
            f" blocks at most; this has {containers} list items and quotes alone. Split it up."
        )
    pipes = source.count("|")
    if pipes > MAX_TABLE_PIPES:
        raise MarkdownTooComplex(
            f"Tables may have {MAX_TABLE_PIPES} cell borders (|) in all; this text has {pipes}."
        )
    count = sum(source.count(c) for c in _MARKUP_CHARACTERS)
    if count > MAX_MARKUP_CHARACTERS:
        raise MarkdownTooComplex(
            "This text has too much formatting to show on one page "
            f"({count} markup characters such as [ * _ ` <; at most {MAX_MARKUP_CHARACTERS})."
        )


def _markup_limit(state: StateCore) -> None:
    """Core rule (first): the line and markup character limits."""
    check_markup(state.src)


def _structure_limits(state: StateCore) -> None:
    """Core rule (right after block parsing): the block structure limits."""
    check_structure(state.tokens)


def _inline_limits(state: StateCore) -> None:
    """Core rule (right after inline parsing): the inline element limit."""
    check_inline(state.tokens)
