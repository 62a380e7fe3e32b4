"""Whoosh snippets: the fast highlighter marks exactly the words a plain one would."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from forum.search.base import marked_html
from forum.search.documents import MARK_END, MARK_START
from forum.search.whoosh_backend import SNIPPET_WORDS, _highlight, _stem_word

WORDS = ["Deploying", "deployment", "eyed", "ies", "oed", "kubernetes", "Kube", "running"]
WORDS += ["runners", "the", "a", "printer", "PRINTERS", "naïve", "İstanbul", "x", "generalize"]
WORDS += ["generalizations", "café", "3.14", "foo_bar", "日本語", "proxy", "proxies", "ran"]
SEPARATORS = [" ", "  ", ", ", ". ", "\n", " - ", "(", ") ", "/", "'"]


def _plain(wanted: set[str], text: str, fragments: int) -> str:
    """Every word stemmed, then the same window: what the fast path must equal."""
    token = re.compile(r"\w+", re.UNICODE)
    tokens = list(token.finditer(text))
    hits = [i for i, m in enumerate(tokens) if _stem_word(m.group(0).lower()) in wanted]
    if not hits:
        return ""
    if fragments == 0:
        start, end = 0, len(tokens)
    else:
        best_start, best_count, right = hits[0], 0, 0
        for left in range(len(hits)):
            while right < len(hits) and hits[right] - hits[left] < SNIPPET_WORDS:
                right += 1
            if right - left > best_count:
                best_start, best_count = hits[left], right - left
        start = max(0, min(best_start - 6, len(tokens) - SNIPPET_WORDS))
        end = min(len(tokens), start + SNIPPET_WORDS)
    out, cursor = [], tokens[start].start() if start > 0 else 0
    for i in range(start, end):
        m = tokens[i]
        out.append(text[cursor : m.start()])
        word = m.group(0)
        out.append(MARK_START + word + MARK_END if i in set(hits) else word)
        cursor = m.end()
    if end >= len(tokens):
        out.append(text[cursor:])
    snippet = "".join(out).strip()
    if fragments:
        snippet = ("… " if start > 0 else "") + snippet + (" …" if end < len(tokens) else "")
    return marked_html(snippet)


@settings(max_examples=300, deadline=None)
@given(
    words=st.lists(st.sampled_from(WORDS), min_size=0, max_size=120),
    separators=st.lists(st.sampled_from(SEPARATORS), min_size=1, max_size=120),
    wanted_words=st.lists(st.sampled_from(WORDS), min_size=1, max_size=4),
    fragments=st.sampled_from([0, 2]),
)
def test_the_fast_highlighter_marks_what_stemming_every_word_marks(
    words: list[str], separators: list[str], wanted_words: list[str], fragments: int
) -> None:
    text = "".join(w + separators[i % len(separators)] for i, w in enumerate(words))
    wanted = {_stem_word(w.lower()) for w in wanted_words}
    assert _highlight(wanted, text, fragments) == _plain(wanted, text, fragments)


def test_a_long_body_gets_a_window_around_the_densest_matches() -> None:
    text = " ".join(["filler"] * 100 + ["printer", "jams", "printers"] + ["filler"] * 100)
    snippet = _highlight({"printer"}, text, fragments=2)
    assert snippet.startswith("… ") and snippet.endswith(" …")
    assert snippet.count("<mark>") == 2
    assert len(snippet.split()) <= SNIPPET_WORDS + 2
