"""The Markdown pipeline: CommonMark plus extensions, rendered safely, with wiki links and a TOC."""

from __future__ import annotations

from typing import Any

import pytest

from forum.markdown import (
    MAX_MARKDOWN_BYTES,
    MarkdownTooLarge,
    WikiTarget,
    render_document,
    render_markdown,
    sanitize_html,
    wiki_key,
)
from tests.unit.xss_check import load_vectors, problems, url_scheme

VECTORS = load_vectors()


def resolve(title: str) -> WikiTarget:
    if wiki_key(title) == "sql basics":
        return WikiTarget("/articles/sql-basics", True)
    return WikiTarget("/articles/new?title=" + title.replace(" ", "%20"), False)


def test_the_corpus_is_complete() -> None:
    assert len(VECTORS) == 257
    assert len({v["id"] for v in VECTORS}) == 257


@pytest.mark.parametrize("vector", VECTORS, ids=[v["id"] for v in VECTORS])
def test_every_xss_vector_comes_out_inert(vector: dict[str, Any]) -> None:
    html = render_markdown(vector["markdown"], wiki_resolver=resolve, toc=True)
    assert problems(html) == []
    # The sanitiser's output is stable when parsed and sanitised again.
    assert sanitize_html(html) == html


@pytest.mark.parametrize("vector", VECTORS[:60], ids=[v["id"] for v in VECTORS[:60]])
def test_vectors_as_raw_html_are_sanitised_too(vector: dict[str, Any]) -> None:
    # HTML that never went through Markdown (an import) relies on sanitize_html alone.
    cleaned = sanitize_html(vector["markdown"])
    assert problems(cleaned) == []
    assert sanitize_html(cleaned) == cleaned


@pytest.mark.parametrize(
    "html",
    [
        "<script>alert(1)</script>",
        '<img src="x" onerror="alert(1)">',
        '<a href="javascript:alert(1)">x</a>',
        '<a href="jav&#x09;ascript:alert(1)">x</a>',
        "<svg><script>alert(1)</script></svg>",
        '<p style="color:red">x</p>',
        '<iframe src="https://example.com"></iframe>',
    ],
)
def test_the_static_check_itself_catches_live_html(html: str) -> None:
    assert problems(html) != []


def test_url_scheme_decodes_like_a_browser() -> None:
    assert url_scheme("java\nscript:alert(1)") == "javascript"
    assert url_scheme("%6Aavascript:alert(1)") == "javascript"
    assert url_scheme("/articles/x") is None
    assert url_scheme("HTTPS://example.com") == "https"


def test_code_takes_the_keyboard_focus_and_no_member_can_set_one() -> None:
    """Long code scrolls sideways: Tab must reach it; a member's own tabindex is dropped."""
    html = render_markdown("    indented code\n\n```\nfenced\n```\n")
    assert html.count('<pre tabindex="0">') == 2
    sanitized = sanitize_html('<pre tabindex="3">a</pre><p tabindex="0">b</p>')
    assert "tabindex" not in sanitized


def test_commonmark_and_extensions() -> None:
    html = render_markdown(
        "# Title\n\n*em* **strong** ~~gone~~ `code`\n\n"
        "- [x] done\n- [ ] todo\n\n"
        "Footnote[^1].\n\n[^1]: The note.\n\n"
        "Visit https://example.com today.\n"
    )
    assert '<h1 id="h-title">Title</h1>' in html
    assert "<em>em</em> <strong>strong</strong> <s>gone</s> <code>code</code>" in html
    assert '<input class="task-list-item-checkbox" checked disabled type="checkbox"> done' in html
    assert 'id="fn1"' in html and "The note." in html
    assert '<a href="https://example.com" rel="nofollow ugc noopener">https://example.com</a>' in (
        html
    )


def test_raw_html_is_shown_as_text() -> None:
    html = render_markdown('<b onclick="x()">bold</b>\n\n<div>block</div>')
    assert "&lt;b onclick=" in html and "<b " not in html and "<div>" not in html


def test_links_and_images_keep_only_safe_schemes() -> None:
    html = render_markdown(
        "[ok](https://a.example) [mail](mailto:a@b.example) [rel](/articles/x) "
        "[bad](javascript:alert(1)) [data](data:text/html,hi) ![img](https://a.example/i.png) "
        "![bad](javascript:alert(1))"
    )
    assert 'href="https://a.example" rel="nofollow ugc noopener"' in html
    assert 'href="mailto:a@b.example"' in html and 'href="/articles/x"' in html
    assert "javascript:" not in html.replace("[bad](javascript:alert(1))", "")
    assert "data:text" not in html or 'href="data:' not in html
    # Images never load: an external one becomes a link (see test_markdown_images.py).
    assert '<a href="https://a.example/i.png" class="external-image"' in html
    assert "<img" not in html and 'src="javascript' not in html


def test_relative_links_get_no_rel() -> None:
    assert render_markdown("[x](/articles/y)") == '<p><a href="/articles/y">x</a></p>\n'


def test_heading_ids_are_prefixed_and_unique() -> None:
    html = render_markdown("## main\n\n## main\n\n## Ünïcode title!\n")
    assert 'id="h-main"' in html and 'id="h-main-1"' in html and 'id="h-unicode-title"' in html


def test_fenced_code_is_highlighted_with_classes_and_wrapped_for_a_copy_button() -> None:
    html = render_markdown("```python\ndef f(x):\n    return x < 1\n```\n\n```\nplain <b>\n```\n")
    assert (
        '<div class="codeblock"><pre tabindex="0" class="highlight"><code class="language-python">'
        in html
    )
    assert '<span class="k">def</span>' in html and "&lt;" in html
    assert (
        '<div class="codeblock"><pre tabindex="0"><code>plain &lt;b&gt;\n</code></pre></div>'
        in html
    )
    assert "style=" not in html


def test_table_alignment_uses_classes_not_styles() -> None:
    html = render_markdown("| a | b | c |\n|:--|:-:|--:|\n| 1 | 2 | 3 |\n")
    assert '<th class="align-left">a</th>' in html
    assert '<td class="align-center">2</td>' in html
    assert '<td class="align-right">3</td>' in html
    assert "style" not in html


def test_wiki_links_resolve_through_the_resolver() -> None:
    doc = render_document(
        "See [[SQL Basics]], [[Code review tips|the tips]] and [[SQL basics]] again.",
        wiki_resolver=resolve,
    )
    assert '<a class="wikilink" href="/articles/sql-basics">SQL Basics</a>' in doc.html
    assert (
        '<a class="wikilink wikilink--missing" href="/articles/new?title=Code%20review%20tips" '
        'title="No article yet: create it">the tips</a>'
    ) in doc.html
    assert doc.wiki_links == ["SQL Basics", "Code review tips", "SQL basics"]


def test_wiki_links_without_a_resolver_stay_text() -> None:
    assert render_markdown("[[Anything]]") == "<p>[[Anything]]</p>\n"


def test_wiki_link_labels_are_escaped() -> None:
    html = render_markdown("[[<img src=x onerror=alert(1)>]]", wiki_resolver=resolve)
    assert problems(html) == [] and "&lt;img" in html


def test_table_of_contents_lists_h2_and_h3() -> None:
    source = "# Top\n\n## Install\n\n### On Linux\n\n## Use `it`\n"
    doc = render_document(source, toc=True)
    assert doc.html.startswith('<nav class="toc" aria-label="Contents">')
    assert '<li class="toc__level-3"><a href="#h-on-linux">On Linux</a></li>' in doc.html
    assert '<a href="#h-use-it">Use it</a>' in doc.html
    assert "#h-top" not in doc.html.split("</nav>")[0]
    assert "<nav" not in render_document("## Only one\n", toc=True).html
    assert "<nav" not in render_document(source, toc=False).html


def test_size_cap_gives_a_clear_error() -> None:
    render_markdown("x" * MAX_MARKDOWN_BYTES)
    with pytest.raises(MarkdownTooLarge, match="limited to 200 KB"):
        render_markdown("x" * (MAX_MARKDOWN_BYTES + 1))


def test_member_ids_cannot_clobber_page_ids() -> None:
    html = sanitize_html('<h2 id="main">x</h2><a id="site-search-q">y</a>')
    assert 'id="main"' not in html and 'id="site-search-q"' not in html
