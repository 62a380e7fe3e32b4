"""CommonMark 0.31.2 conformance of forum's Markdown pipeline, before and after sanitising.

Usage: .venv/bin/python bench/commonmark_conformance.py [--spec PATH] [--verbose]

Each of the spec's examples is rendered by the pipeline's parser (``render_unsanitised``) and
compared with the spec's HTML after the normalisation the spec's own test runner applies
(test/normalize.py: whitespace around block tags, attribute order, entities). Decorations the
pipeline adds on purpose are removed before comparing, and the script names them:

- heading ``id`` attributes (``h-`` anchors for links and the table of contents);
- the ``<div class="codeblock">`` wrapper around fenced code (the copy button's hook);
- Pygments' ``<span class>`` tokens and ``class="highlight"`` inside fenced code;
- ``rel="nofollow ugc noopener"`` on external links (after sanitising).

"Before" counts examples the parser gets right; "after" counts examples whose sanitised output
is still right. Failures are classified: an example whose Markdown contains raw HTML (which the
security policy shows as text) is "raw HTML"; anything else is listed by number.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections import Counter
from html import escape
from html.entities import name2codepoint
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import quote, unquote

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from forum.markdown import render_unsanitised, sanitize_html  # noqa: E402

SPEC = Path(__file__).resolve().parents[2] / "shared" / "data" / "commonmark" / "spec-0.31.2.json"
BLOCK_TAGS = frozenset(
    "article header aside hgroup blockquote hr iframe body li map button object canvas ol "
    "caption output col p colgroup pre dd progress div section dl table td dt tbody embed "
    "textarea fieldset tfoot figcaption th figure thead footer tr form ul h1 h2 h3 h4 h5 h6 "
    "video script style".split()
)
_WHITESPACE = re.compile(r"\s+")
_RAW_HTML = re.compile(r"<(?:[A-Za-z][A-Za-z0-9-]*[\s/>]|/[A-Za-z]|!--|\?|![A-Z]|!\[CDATA\[)")
_EXTERNAL_REL = "nofollow ugc noopener"


class _Normaliser(HTMLParser):
    """The spec runner's normaliser, plus removal of the pipeline's named decorations."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=False)
        self.last = "starttag"
        self.last_tag = ""
        self.in_pre = False
        self.in_highlight = 0
        self.skip_end: list[bool] = []
        self.output = ""

    def handle_data(self, data: str) -> None:
        after_tag = self.last in {"endtag", "starttag"}
        after_block = after_tag and self.last_tag in BLOCK_TAGS
        if after_tag and self.last_tag == "br":
            data = data.lstrip("\n")
        if not self.in_pre:
            data = _WHITESPACE.sub(" ", data)
        if after_block and not self.in_pre:
            data = data.lstrip() if self.last == "starttag" else data.strip()
        self.output += data
        self.last = "data"

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attrs = list(attrs)
        if tag == "div" and ("class", "codeblock") in attrs:
            self.skip_end.append(True)
            return
        if tag == "div":
            self.skip_end.append(False)
        if tag == "span" and self.in_pre:
            self.in_highlight += 1
            return
        if tag == "pre":
            self.in_pre = True
            attrs = [a for a in attrs if a != ("class", "highlight")]
        if tag in {"h1", "h2", "h3", "h4", "h5", "h6"}:
            attrs = [a for a in attrs if a[0] != "id"]
        if tag == "a":
            attrs = [a for a in attrs if a != ("rel", _EXTERNAL_REL)]
        if tag in BLOCK_TAGS:
            self.output = self.output.rstrip()
        self.output += "<" + tag
        for name, value in sorted(attrs, key=lambda a: (a[0], a[1] or "")):
            self.output += " " + name
            if name in {"href", "src"} and value is not None:
                self.output += '="' + quote(unquote(value), safe="/:?#&=%@+,;!$*'()~") + '"'
            elif value is not None:
                self.output += '="' + escape(value, quote=True) + '"'
        self.output += ">"
        self.last_tag = tag
        self.last = "starttag"

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        if tag == "div" and self.skip_end and self.skip_end.pop():
            return
        if tag == "span" and self.in_highlight:
            self.in_highlight -= 1
            return
        if tag == "pre":
            self.in_pre = False
        elif tag in BLOCK_TAGS:
            self.output = self.output.rstrip()
        self.output += f"</{tag}>"
        self.last_tag = tag
        self.last = "endtag"

    def handle_comment(self, data: str) -> None:
        self.output += f"<!--{data}-->"
        self.last = "comment"

    def handle_decl(self, decl: str) -> None:
        self.output += f"<!{decl}>"
        self.last = "decl"

    def unknown_decl(self, data: str) -> None:
        self.output += f"<!{data}>"
        self.last = "decl"

    def handle_pi(self, data: str) -> None:
        self.output += f"<?{data}>"
        self.last = "pi"

    def handle_entityref(self, name: str) -> None:
        code = name2codepoint.get(name)
        self._char(chr(code) if code is not None else None, f"&{name};")
        self.last = "ref"

    def handle_charref(self, name: str) -> None:
        try:
            number = int(name[1:], 16) if name.lower().startswith("x") else int(name)
            char: str | None = chr(number) if 0 < number < 0x110000 else "\ufffd"
        except ValueError:
            char = None
        self._char(char, f"&#{name};")
        self.last = "ref"

    def _char(self, char: str | None, fallback: str) -> None:
        replacements = {"<": "&lt;", ">": "&gt;", "&": "&amp;", '"': "&quot;"}
        self.output += fallback if char is None else replacements.get(char, char)


def normalise(html: str) -> str:
    """The comparable form of an HTML fragment."""
    parser = _Normaliser()
    parser.feed(html)
    parser.close()
    return parser.output


def _sanitiser_reason(raw: str, clean: str) -> str:
    """Why the sanitiser changed a fragment, in the security policy's words."""
    if raw.count("href=") > clean.count("href="):
        return "link with a URL scheme outside the allowlist (http, https, mailto) lost its href"
    if raw.count("class=") > clean.count("class="):
        return "code language class with characters outside the class allowlist dropped"
    return "other change"


def main() -> int:
    """Run every example and print the two figures and the failures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spec", type=Path, default=SPEC)
    parser.add_argument("--verbose", action="store_true", help="show each unexplained failure")
    args = parser.parse_args()
    examples = json.loads(args.spec.read_text(encoding="utf-8"))
    before = after = 0
    failed_sections: Counter[str] = Counter()
    unexplained: list[dict[str, object]] = []
    changed_by_sanitiser: list[tuple[int, str]] = []
    reasons: Counter[str] = Counter()
    linkified: list[int] = []
    for example in examples:
        expected = normalise(example["html"])
        raw = render_unsanitised(example["markdown"])
        clean = sanitize_html(raw)
        ok_before = normalise(raw) == expected
        ok_after = normalise(clean) == expected
        before += ok_before
        after += ok_after
        if ok_before and not ok_after:
            changed_by_sanitiser.append((int(example["example"]), _sanitiser_reason(raw, clean)))
        if not ok_before:
            failed_sections[str(example["section"])] += 1
            if _RAW_HTML.search(example["markdown"]):
                reasons["raw HTML, shown as text by policy"] += 1
            elif normalise(render_unsanitised(example["markdown"], linkify=False)) == expected:
                reasons["bare URL linked by the linkify extension"] += 1
                linkified.append(int(example["example"]))
            else:
                unexplained.append(example)
    total = len(examples)
    print(f"CommonMark {args.spec.stem.removeprefix('spec-')}: {total} examples")
    print(f"  passing before sanitising: {before}/{total} ({100 * before / total:.1f}%)")
    print(f"  passing after sanitising:  {after}/{total} ({100 * after / total:.1f}%)")
    print(f"  ratio after/before: {after / before:.3f}")
    print("Examples passing before sanitising that the sanitiser changes:")
    for number, reason in changed_by_sanitiser:
        print(f"  example {number}: {reason}")
    print("Failures by section (before sanitising):")
    for section, count in failed_sections.most_common():
        print(f"  {section}: {count}")
    print("Failures by cause:")
    for reason, count in reasons.most_common():
        print(f"  {reason}: {count}")
    if linkified:
        print(f"  (linkify examples: {', '.join(map(str, linkified))})")
    print(f"  unexplained: {len(unexplained)}")
    for example in unexplained:
        print(f"  example {example['example']} ({example['section']})")
        if args.verbose:
            print("    markdown:", json.dumps(example["markdown"]))
            print("    expected:", json.dumps(normalise(str(example["html"]))))
            print(
                "    got:     ", json.dumps(normalise(render_unsanitised(str(example["markdown"]))))
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
