"""Markdown structure limits: every shape a page could be slow on is refused or renders fast."""

from __future__ import annotations

import gc
import time

import pytest

from forum import markdown
from forum.markdown import (
    MAX_ADDRESSES,
    MAX_BLOCKS,
    MAX_HEADINGS,
    MAX_LINES,
    MAX_MARKDOWN_BYTES,
    MAX_MARKUP_CHARACTERS,
    MAX_NESTING,
    MAX_TABLE_COLUMNS,
    MAX_TABLE_PIPES,
    MAX_TABLE_ROWS,
    MarkdownTooComplex,
    MarkdownTooLarge,
    WikiTarget,
    render_document,
)


def _fill(unit: str, size: int = MAX_MARKDOWN_BYTES) -> str:
    """``unit`` repeated to just under ``size`` bytes."""
    return unit * ((size - 16) // len(unit.encode()))


def _table(rows: int, columns: int = 2) -> str:
    return (
        "|" + "a|" * columns + "\n|" + "-|" * columns + "\n" + ("|" + "x|" * columns + "\n") * rows
    )


def _nested_list(depth: int) -> str:
    return "".join("  " * level + "- item\n" for level in range(depth))


ALLOWED_AND_REFUSED = [
    pytest.param(_table(MAX_TABLE_ROWS - 1), _table(MAX_TABLE_ROWS), "rows", id="table-rows"),
    pytest.param(
        _table(2, MAX_TABLE_COLUMNS), _table(2, MAX_TABLE_COLUMNS + 1), "columns", id="columns"
    ),
    pytest.param("x\n\n" * MAX_BLOCKS, "x\n\n" * (MAX_BLOCKS + 1), "blocks", id="blocks"),
    pytest.param("# h\n" * MAX_HEADINGS, "# h\n" * (MAX_HEADINGS + 1), "headings", id="headings"),
    pytest.param("> " * MAX_NESTING + "x", "> " * (MAX_NESTING + 1) + "x", "nested", id="quotes"),
    pytest.param(_nested_list(MAX_NESTING), _nested_list(MAX_NESTING + 1), "nested", id="lists"),
    pytest.param("a|" * MAX_TABLE_PIPES, "a|" * (MAX_TABLE_PIPES + 1), "cell borders", id="pipes"),
    pytest.param("x\n" * MAX_LINES, "x\n" * (MAX_LINES + 1), "lines", id="lines"),
    pytest.param(
        "[" * MAX_MARKUP_CHARACTERS, "[" * (MAX_MARKUP_CHARACTERS + 1), "formatting", id="markup"
    ),
]


@pytest.mark.parametrize(("allowed", "refused", "message"), ALLOWED_AND_REFUSED)
def test_each_structure_limit_allows_up_to_it_and_refuses_past_it(
    allowed: str, refused: str, message: str
) -> None:
    assert render_document(allowed).html
    with pytest.raises(MarkdownTooComplex, match=message):
        render_document(refused)


def test_too_complex_is_a_too_large_error_so_every_form_shows_it() -> None:
    assert issubclass(MarkdownTooComplex, MarkdownTooLarge)


def test_the_inline_element_limit_refuses_formatting_past_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(markdown, "MAX_INLINE_TOKENS", 100)
    assert render_document("**a** " * 20).html
    with pytest.raises(MarkdownTooComplex, match="formatting"):
        render_document("**a** " * 30)


def _resolve(title: str) -> WikiTarget:
    return WikiTarget("/articles/" + title, True)


#: The worst shapes found for the parser, its plugins and the sanitiser, filling the size cap.
WORST_SHAPES = {
    "tables of the most rows": _fill(_table(MAX_TABLE_ROWS - 1) + "\n"),
    "one long table": _table(MAX_TABLE_ROWS - 1, 1) * 1,
    "wide tables": _fill(_table(40, MAX_TABLE_COLUMNS) + "\n"),
    "paragraphs": _fill("x\n\n"),
    "list items": _fill("- x\n"),
    "headings with one title": _fill("# h\n"),
    "hard line breaks": _fill("a  \n"),
    "emphasis": _fill("*a* "),
    "underscores": _fill("_a"),
    "code spans": _fill("`a` "),
    "backticks": _fill("`"),
    "links": _fill("[a](b) "),
    "open brackets": _fill("["),
    "wiki links": _fill("[[a]] "),
    "footnote references": _fill("[^1] ") + "\n\n[^1]: x\n",
    "mentions": _fill("@a "),
    "bare links": _fill("http://a.b "),
    "bare links at the limit": "http://a.b " * MAX_ADDRESSES,
    "www links": _fill("www.a.b "),
    "autolinks": _fill("<http://a.b> "),
    "tag-like text": _fill("<a "),
    "entities": _fill("&amp;"),
    "whitespace lines": _fill(" \n"),
    "quote markers": _fill(">"),
    "deep lists": _fill(_nested_list(MAX_NESTING) + "\n"),
    "fences": _fill("```\n"),
    "task items": _fill("- [ ] x\n"),
    "one long line": _fill("a"),
}


@pytest.mark.parametrize("source", WORST_SHAPES.values(), ids=WORST_SHAPES.keys())
def test_the_worst_shapes_at_the_size_cap_take_well_under_a_second(source: str) -> None:
    assert len(source.encode()) <= MAX_MARKDOWN_BYTES
    # CPU time of this thread: other work on the machine (and threads other tests left
    # running) does not count against it, nor does collecting the garbage of earlier tests.
    gc.collect()
    started = time.thread_time()
    try:
        render_document(source, wiki_resolver=_resolve, mention_resolver=lambda n: "/u/" + n)
    except MarkdownTooComplex:
        pass
    assert time.thread_time() - started < 1.0


@pytest.mark.parametrize(
    "line",
    ["- item", "      * item", "+ item", "12. item", "3) item", "> quote", "   > > quote", "-"],
)
def test_list_items_and_quotes_past_the_block_limit_are_refused_before_parsing(line: str) -> None:
    # Nested containers are the block parser's slowest lines: they are counted first.
    markdown.check_markup(f"{line}\n" * MAX_BLOCKS)
    with pytest.raises(MarkdownTooComplex, match="list items and quotes"):
        markdown.check_markup(f"{line}\n" * (MAX_BLOCKS + 1))


@pytest.mark.parametrize("line", ["*emphasis*", "-dash", "2023.12", "1.5 litres", "a > b"])
def test_lines_that_only_look_like_containers_are_not_counted_as_such(line: str) -> None:
    markdown.check_markup(f"{line}\n\n" * (MAX_BLOCKS + 1))
