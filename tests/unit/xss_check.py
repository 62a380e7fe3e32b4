"""A static check that HTML is inert: what the XSS tests and bench/xss_static.py both apply."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from bleach._vendor import html5lib

VECTORS = Path(__file__).resolve().parents[3] / "shared" / "data" / "security" / "xss_public.jsonl"
FORBIDDEN_ELEMENTS = frozenset(
    {
        "script",
        "style",
        "iframe",
        "frame",
        "frameset",
        "object",
        "embed",
        "applet",
        "form",
        "svg",
        "math",
        "link",
        "meta",
        "base",
        "template",
        "noscript",
        "textarea",
        "select",
        "button",
        "video",
        "audio",
        "source",
        "portal",
        "xmp",
        "title",
    }
)
URL_ATTRIBUTES = frozenset(
    {
        "href",
        "src",
        "action",
        "formaction",
        "xlink:href",
        "srcset",
        "poster",
        "background",
        "data",
        "cite",
        "longdesc",
        "lowsrc",
        "dynsrc",
        "ping",
    }
)
LINK_SCHEMES = frozenset({"http", "https", "mailto"})
IMAGE_SCHEMES = frozenset({"http", "https"})
_CONTROL = re.compile(r"[\x00-\x20\x7f-\x9f]+")
_SCHEME = re.compile(r"^([a-z][a-z0-9+.-]*):")


def load_vectors(path: Path = VECTORS) -> list[dict[str, Any]]:
    """Every vector of the public XSS corpus."""
    with path.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def url_scheme(value: str) -> str | None:
    """The scheme a browser would see after decoding, or None for a relative URL."""
    decoded = value
    for _ in range(3):  # percent-encoding nested a few times
        decoded = unquote(decoded)
    cleaned = _CONTROL.sub("", decoded).lower()
    match = _SCHEME.match(cleaned)
    return match.group(1) if match else None


def problems(html: str) -> list[str]:
    """Everything in ``html`` that could run script; empty when the fragment is inert."""
    found: list[str] = []
    fragment = html5lib.parseFragment(html, treebuilder="etree", namespaceHTMLElements=False)
    for element in fragment.iter():
        tag = element.tag if isinstance(element.tag, str) else ""
        name = tag.rsplit("}", 1)[-1].lower()
        if name in FORBIDDEN_ELEMENTS or tag.startswith("{"):
            found.append(f"element <{name}>")
        for raw_attr, value in element.attrib.items():
            attr = str(raw_attr).rsplit("}", 1)[-1].lower()
            if attr.startswith("on"):
                found.append(f"<{name}> event handler {attr}")
            if attr == "style":
                found.append(f"<{name}> style attribute")
            if attr in URL_ATTRIBUTES or "href" in attr:
                scheme = url_scheme(str(value))
                allowed = IMAGE_SCHEMES if name == "img" else LINK_SCHEMES
                if scheme is not None and scheme not in allowed:
                    found.append(f"<{name} {attr}> scheme {scheme}:")
                if attr not in {"href", "src"}:
                    found.append(f"<{name}> URL attribute {attr}")
    return found
