"""Highlighted code skips the sanitiser's parse only when that changes nothing and proves safe.

``render_document`` holds each Pygments block back behind a placeholder naming a per-call nonce
and puts it back after bleach; the reference here is the pipeline without that: everything the
renderer wrote through ``sanitize_html``. The cheaper linkify is checked against linkify-it.
"""

from __future__ import annotations

from typing import Any

import pytest
from bleach._vendor import html5lib
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from linkify_it import LinkifyIt

from forum import markdown
from forum.markdown import WikiTarget, render_document, render_markdown, sanitize_html
from tests.unit.xss_check import problems

NONCE = "0123456789abcdef" * 2


def resolve(title: str) -> WikiTarget:
    return WikiTarget("/articles/" + title.lower().replace(" ", "-"), True)


def mention(name: str) -> str | None:
    return "/users/" + name if name in {"ann", "bob"} else None


def through_bleach(source: str, *, toc: bool = False) -> str:
    """The document with all the renderer's HTML (highlighted code too) through the sanitiser."""
    env: dict[str, Any] = {"wiki_resolver": resolve, "mention_resolver": mention}
    return sanitize_html(markdown._render_body(source, env, toc))


def code_texts(html: str) -> list[str]:
    """The text of each code element, as a browser shows it."""
    fragment = html5lib.parseFragment(html, treebuilder="etree", namespaceHTMLElements=False)
    return ["".join(code.itertext()) for code in fragment.iter("code")]


def rendered(source: str, *, toc: bool = False) -> str:
    return render_markdown(source, wiki_resolver=resolve, toc=toc, mention_resolver=mention)


@pytest.fixture
def held(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The blocks the renderer held back from the sanitiser, in order."""
    blocks: list[str] = []
    hold = markdown._VerbatimBlocks.hold

    def spy(self: markdown._VerbatimBlocks, block: str) -> str:
        placeholder = hold(self, block)
        if placeholder != block:
            blocks.append(block)
        return placeholder

    monkeypatch.setattr(markdown._VerbatimBlocks, "hold", spy)
    return blocks


@pytest.fixture
def known_nonce(monkeypatch: pytest.MonkeyPatch) -> str:
    """What an attacker would need to forge a placeholder: this call's nonce."""
    monkeypatch.setattr(markdown.secrets, "token_hex", lambda _n=None: NONCE)
    return NONCE


TUTORIAL = """# Billing

## Query

Run [[SQL basics]] first, then @ann checks https://example.com/x and www.example.org.

```python
def f(rows: list[dict[str, float]]) -> float:
    return sum(r["amount"] for r in rows if r['s'] == "paid" and 1 < 2 & 3)
```

- in a list

  ```sql
  SELECT '<b>' AS x, "y" FROM t WHERE a <> b; -- &amp;
  ```

> ```js
> document.write("</script><img src=x onerror=alert(1)>")
> ```

## Footnote

Text[^1].

[^1]: With code:

    ```bash
    echo "$HOME" > /dev/null && cat <<EOF
    ```
"""


def test_highlighted_blocks_skip_the_parse_and_come_out_as_bleach_would(held: list[str]) -> None:
    html = rendered(TUTORIAL, toc=True)
    assert len(held) == 4
    assert html == through_bleach(TUTORIAL, toc=True)
    assert "verbatim" not in html
    assert problems(html) == []
    assert sanitize_html(html) == html
    for block in held:
        assert html.count(block) == 1


def test_code_that_closes_its_block_stays_text(held: list[str]) -> None:
    source = "```python\n</code></pre></div><script>alert(1)</script>\n```\n"
    html = rendered(source)
    assert len(held) == 1
    assert "<script" not in html
    assert code_texts(html) == ["</code></pre></div><script>alert(1)</script>\n"]
    assert html == through_bleach(source)
    assert problems(html) == []


@pytest.mark.parametrize(
    "prose",
    [
        f"verbatim{NONCE}n0x",
        f"`verbatim{NONCE}n0x`",
        f"    verbatim{NONCE}n0x",
        f"```\nverbatim{NONCE}n0x\n```",
        f"[verbatim{NONCE}n0x](https://example.com/verbatim{NONCE}n0x)",
        f"verbatim{NONCE}n1x verbatim{NONCE}n9x",
        # Another nonce: unknowable, yet text shaped like a placeholder is never put back.
        f"verbatim{'f' * 32}n0x",
    ],
)
def test_a_forged_placeholder_stays_text(known_nonce: str, prose: str) -> None:
    source = f"{prose}\n\n```python\nx = '<b>'\n```\n\n{prose}\n"
    html = rendered(source)
    assert html == through_bleach(source)
    assert html.count('<code class="language-python">') == 1
    assert "<b>" not in html
    assert problems(html) == []


def test_a_placeholder_inside_highlighted_code_is_just_code(known_nonce: str) -> None:
    source = (
        f"```python\nverbatim{known_nonce}n0x = 1\n```\n\n```sql\nverbatim{known_nonce}n1x\n```\n"
    )
    html = rendered(source)
    assert html == through_bleach(source)
    assert html.count(f"verbatim{known_nonce}n0x") == 1
    assert html.count(f"verbatim{known_nonce}n1x") == 1


@pytest.mark.parametrize(
    "lang",
    # "c++" makes class="language-c++", which the allowlist drops; a non-ASCII name may too.
    ["c++", "objective-c++"],
)
def test_blocks_outside_the_grammar_go_through_bleach(held: list[str], lang: str) -> None:
    source = f"```{lang}\nint main() {{ return 1 < 2; }}\n```\n"
    html = rendered(source)
    assert held == []
    assert html == through_bleach(source)
    assert 'class="highlight"' in html and "language-" not in html


def test_code_with_characters_bleach_rewrites_goes_through_bleach(held: list[str]) -> None:
    source = "```python\nx = '\x01\x0b\x0c'\n```\n"
    html = rendered(source)
    assert held == []
    assert html == through_bleach(source)


HEAD = '<div class="codeblock"><pre tabindex="0" class="highlight"><code class="language-python">'
TAIL = "</code></pre></div>"


@pytest.mark.parametrize(
    "inner",
    [
        "",
        "x = 1\n",
        '<span class="k">def</span> <span class="nf">f</span>()\n',
        '<span class="s2">&quot;</span>',  # Pygments escapes quotes no more, but would be safe
        '<span class="o">&lt;</span>&amp;&gt; "q" \'q\' \t\n\u2028\ufffe é',
        '<span class="w">    </span><span class="c1"># x</span>\n',
    ],
)
def test_the_grammar_takes_pygments_output(inner: str) -> None:
    fits = markdown._VERBATIM_BLOCK.fullmatch(HEAD + inner + TAIL) is not None
    assert fits is ("&quot;" not in inner)


@pytest.mark.parametrize(
    "block",
    [
        HEAD + "<script>alert(1)</script>" + TAIL,
        HEAD + "</code></pre></div><script>alert(1)</script>" + TAIL,
        HEAD + TAIL + "<script>alert(1)</script>",
        HEAD + TAIL + HEAD + TAIL,
        HEAD + '<span class="k" onclick="alert(1)">x</span>' + TAIL,
        HEAD + '<span class="k"><span class="n">x</span></span>' + TAIL,
        HEAD + '<span class="K">x</span>' + TAIL,
        HEAD + '<span class="k">x' + TAIL,
        HEAD + "</span>x" + TAIL,
        HEAD + '<span class="">x</span>' + TAIL,
        HEAD + '<span class="k&quot; onclick=&quot;x">x</span>' + TAIL,
        HEAD + "<span class=k>x</span>" + TAIL,
        HEAD + "<img src=x onerror=alert(1)>" + TAIL,
        HEAD + "<!-- x -->" + TAIL,
        HEAD + "&#60;script&#62;" + TAIL,
        HEAD + "&lt" + TAIL,
        HEAD + "a & b" + TAIL,
        HEAD + "x\x00y" + TAIL,
        HEAD + "x\ry" + TAIL,
        HEAD + "x\x0cy" + TAIL,
        HEAD.replace("language-python", "language-c++") + TAIL,
        HEAD.replace("language-python", 'language-x" onclick="alert(1)') + TAIL,
        HEAD.replace('tabindex="0"', 'tabindex="1"') + TAIL,
        HEAD.replace('<pre tabindex="0" class="highlight">', "<pre>") + TAIL,
        '<div class="codeblock"><pre tabindex="0"><code>x' + TAIL,
    ],
)
def test_the_grammar_refuses_anything_else(block: str) -> None:
    assert markdown._VERBATIM_BLOCK.fullmatch(block) is None


def test_a_large_block_is_checked_in_linear_time() -> None:
    code = 'def f(x):\n    return "<" & x  # é\n' * 5000
    html = render_markdown(f"```python\n{code}```\n")
    assert html.count('<span class="k">def</span>') == 5000


def test_the_nonce_is_new_for_every_document() -> None:
    assert markdown._VerbatimBlocks().nonce != markdown._VerbatimBlocks().nonce
    assert len(markdown._VerbatimBlocks().nonce) == 32


LANGUAGES = ["python", "sql", "js", "html", "bash", "c", "c++", "ruby", "json", "diff", "pycon"]
LANGUAGES += ["console", "php", "postgresql", "http", "tnt", "latex", "nosuchlanguage", ""]
CODE = st.lists(
    st.sampled_from(
        list("<>&\"'`~*_[]()#|\\@:/. \t\n\r\x00\x01\x0b\x0c\u2028\ufffeéab01")
        + ["</code>", "</pre>", "</div>", "<script>", "&amp;", "&lt;", "&#x3c;", "def ", "x = "]
        + ['<span class="k">', "</span>", f"verbatim{NONCE}n0x", "```", "~~~", "http://a.io"]
    ),
    max_size=40,
).map("".join)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(st.tuples(st.sampled_from(LANGUAGES), CODE), min_size=1, max_size=4),
    st.sampled_from(["", "- ", "> ", "1. "]),
    st.booleans(),
)
def test_any_code_comes_out_as_bleach_would_and_inert(
    blocks: list[tuple[str, str]], container: str, nonce_known: bool
) -> None:
    source = "\n\n".join(
        f"{container}````{lang}\n{code}\n````\n\nSee `x` and [[Step {i}]] @ann."
        for i, (lang, code) in enumerate(blocks)
    )
    if nonce_known:
        previous = markdown.secrets.token_hex
        markdown.secrets.token_hex = lambda _n=None: NONCE
    try:
        document = render_document(
            source, wiki_resolver=resolve, toc=True, mention_resolver=mention
        )
    finally:
        if nonce_known:
            markdown.secrets.token_hex = previous
    assert document.html == through_bleach(source, toc=True)
    assert problems(document.html) == []
    assert sanitize_html(document.html) == document.html


PIECES = ["see ", "example.com", "www.example.org", "https://a.io/x?y=1", "//localhost/p", "a@b.co"]
PIECES += ["mailto:a@b.co", "ftp://f.net", "1.2.3.4", "localhost", ".", ":", "/", "//", "@", " "]
PIECES += ["[link](https://l.io)", "`c.io`", "**b.io**", "\\.", "&#46;", "<x.io>", "пример.рф"]
PIECES += ["x", "_", "-", "ex", "com", "http", "(", ")", "!", "*", "~~s.io~~", "[[w.io]]", "\n"]
PIECES += ["HTTPS:", "Mailto:", "httpſ:", "LOCALHOſT", "WWW", "www", ".1.", "io", ">", "｜", "\t"]


@settings(max_examples=500, deadline=None)
@given(st.lists(st.sampled_from(PIECES), max_size=25).map("".join))
def test_the_quick_linkify_answers_as_linkify_it(text: str) -> None:
    stock, quick = LinkifyIt(), markdown._Linkify()
    assert quick.pretest(text) == stock.pretest(text)
    assert quick.test(text) == stock.test(text)
    reference = markdown._parser.__wrapped__(True)
    reference.linkify = stock
    env: dict[str, Any] = {"wiki_resolver": resolve, "mention_resolver": mention}
    assert markdown.render_unsanitised(text, dict(env)) == reference.render(text, dict(env))
