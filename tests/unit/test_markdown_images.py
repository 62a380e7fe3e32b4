"""Member content never makes a reader's browser load an image: external images become links,
every other image source is refused, and the CSP allows images from this site only."""

from __future__ import annotations

import pytest

from forum.markdown import external_image_url, render_markdown, sanitize_html
from forum.security import CONTENT_SECURITY_POLICY

REFUSED_SOURCES = [
    "/questions/1",
    "/search?q=secret",
    "questions/1",
    "../questions/1",
    "pixel.png",
    "?track=1",
    "#x",
    "//evil.example/pixel.png",
    " //evil.example/pixel.png",
    "/\\evil.example/pixel.png",
    "\\\\evil.example\\pixel.png",
    "https:evil.example/pixel.png",
    "https:/evil.example/pixel.png",
    "data:image/png;base64,iVBORw0KGgo=",
    "javascript:alert(1)",
    "ftp://evil.example/pixel.png",
    "file:///etc/passwd",
]


@pytest.mark.parametrize("src", REFUSED_SOURCES)
def test_relative_scheme_relative_and_other_sources_are_refused(src: str) -> None:
    assert external_image_url(src) is None
    html = render_markdown(f"![the pixel]({src.strip()})")
    assert "<img" not in html
    assert "the pixel" in html  # the alt text stays readable
    assert 'class="external-image"' not in html
    imported = sanitize_html(f'<p><img src="{src}" alt="the pixel"></p>')
    assert "<img" not in imported and "the pixel" in imported


@pytest.mark.parametrize(
    "markdown",
    [
        "![Tracking pixel](https://tracker.example/p.png?id=42)",
        "![Tracking pixel](HTTPS://tracker.example/p.png?id=42)",
        '![Tracking pixel](<https://tracker.example/p.png?id=42> "title")',
        "![Tracking pixel][px]\n\n[px]: https://tracker.example/p.png?id=42",
        "| a |\n|---|\n| ![Tracking pixel](https://tracker.example/p.png?id=42) |",
        "> - ![Tracking pixel](https://tracker.example/p.png?id=42)",
    ],
)
def test_external_images_become_links_marked_as_images(markdown: str) -> None:
    html = render_markdown(markdown)
    assert "<img" not in html
    assert 'class="external-image"' in html
    assert "Image: Tracking pixel" in html
    assert 'rel="nofollow ugc noopener"' in html
    assert "tracker.example/p.png?id=42" in html


def test_an_image_inside_a_link_leaves_just_the_link() -> None:
    html = render_markdown("[![build](https://ci.example/badge.svg)](https://ci.example/job)")
    assert html == '<p><a href="https://ci.example/job" rel="nofollow ugc noopener">build</a></p>\n'


def test_imported_html_images_follow_the_same_policy() -> None:
    html = sanitize_html(
        '<p><img src="https://a.example/i.png" alt="x &amp; y"> <IMG SRC="/users/me">'
        '<img src="https://a.example/j.png" onerror="alert(1)"></p>'
    )
    assert "<img" not in html.lower() and "onerror" not in html
    assert '<a href="https://a.example/i.png" class="external-image"' in html
    assert "Image: x &amp; y" in html and ">Image</a>" in html


def test_alt_text_is_escaped_once() -> None:
    html = render_markdown('![<b>bold</b> & "quoted"](https://a.example/i.png)')
    assert 'Image: &lt;b&gt;bold&lt;/b&gt; &amp; "quoted"</a>' in html


def test_the_csp_allows_images_from_this_site_only() -> None:
    directives = dict(
        (part.split(" ", 1) + [""])[:2] for part in CONTENT_SECURITY_POLICY.split("; ")
    )
    assert directives["img-src"] == "'self'"
    assert "data:" not in CONTENT_SECURITY_POLICY and "https:" not in CONTENT_SECURITY_POLICY
