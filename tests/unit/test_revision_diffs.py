"""Revision diffs: line-based, bounded in size and work, cached by (post, from, to)."""

from __future__ import annotations

import difflib
import time
from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy.orm import Session

from forum.markdown import MAX_MARKDOWN_BYTES
from forum.services import articles, revisions
from forum.services.revisions import MAX_DIFF_LINES, DiffLine, diff_texts
from tests.factories import make_article, make_user


def _lines(n: int, fmt: str = "line {i}") -> str:
    return "\n".join(fmt.format(i=i) for i in range(n))


def test_a_diff_shows_removed_and_added_lines_with_context() -> None:
    diff = diff_texts("alpha\nbeta\ngamma\n", "alpha\nbeta!\ngamma\n")
    assert diff.lines == (
        DiffLine(" ", "alpha"),
        DiffLine("-", "beta"),
        DiffLine("+", "beta!"),
        DiffLine(" ", "gamma"),
    )
    assert not diff.too_large


def test_long_unchanged_runs_collapse_to_one_gap_line() -> None:
    old = _lines(1000)
    new = old.replace("line 500\n", "line five hundred\n")
    diff = diff_texts(old, new)
    ops = [line.op for line in diff.lines]
    assert ops.count("-") == 1 and ops.count("+") == 1
    assert ops.count("…") == 2 and ops.count(" ") == 2 * revisions.DIFF_CONTEXT
    assert diff.lines[0] == DiffLine("…", "497 unchanged lines")


def test_one_edit_in_a_long_article_is_compared_however_long_it_is() -> None:
    old = "word\n" * (MAX_MARKDOWN_BYTES // 5)
    new = old + "one more line\n"
    diff = diff_texts(old, new)
    assert not diff.too_large
    assert DiffLine("+", "one more line") in diff.lines


def test_texts_past_the_caps_are_too_large_to_compare() -> None:
    many_changes = diff_texts(_lines(MAX_DIFF_LINES + 1, "a{i}"), _lines(10, "b{i}"))
    assert many_changes.too_large and many_changes.lines == ()
    huge = "x" * (revisions.MAX_DIFF_CHARS // 2 + 1)
    assert diff_texts(huge, huge + "y").too_large
    assert revisions.diff_lines(huge, huge + "y") == []


def test_the_line_matcher_never_sees_more_than_the_cap(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[tuple[int, int]] = []
    real = difflib.SequenceMatcher

    def spy(junk: Any, a: list[str], b: list[str], autojunk: bool = True) -> Any:
        seen.append((len(a), len(b)))
        return real(junk, a, b, autojunk=autojunk)

    monkeypatch.setattr(revisions.difflib, "SequenceMatcher", spy)
    for old, new in _worst_shapes():
        diff_texts(old, new)
    assert seen and max(max(pair) for pair in seen) <= MAX_DIFF_LINES
    # Intraline matching (ndiff's fancy replace) is never used.
    monkeypatch.setattr(revisions.difflib, "ndiff", None)
    diff_texts("a b c\n", "a b d\n")


def _worst_shapes() -> list[tuple[str, str]]:
    """Shapes that make line matchers slow, at the comparison cap and at the size cap."""
    n = MAX_DIFF_LINES
    cap = MAX_MARKDOWN_BYTES
    return [
        # Every other line changed: one recursion of the matcher per match.
        (_lines(n, "{i}"), "\n".join(str(i) if i % 2 else f"y{i}" for i in range(n))),
        # Repeated lines just under the popularity cut-off, reordered.
        (_lines(n, "l{i}"), "\n".join(f"l{(i * 7) % 100}" for i in range(n))),
        (_lines(n, "l{i}"), "\n".join(reversed(_lines(n, "l{i}").split("\n")))),
        # Similar long lines (ndiff's intraline pass was super-quadratic on these).
        (
            "\n".join("x" * 60 + str(i) for i in range(n)),
            "\n".join("x" * 61 + str(i) for i in range(n)),
        ),
        # Whole 200 KB bodies of whitespace and of one character per line.
        (" \n" * (cap // 2), " \n" * (cap // 2 - 1) + "x-"),
        ("x\n" * (cap // 2), "y\n" * (cap // 2)),
    ]


def test_the_worst_diffs_at_the_caps_take_well_under_a_second() -> None:
    for old, new in _worst_shapes():
        started = time.perf_counter()
        diff_texts(old, new)
        assert time.perf_counter() - started < 1.0


def test_diffs_are_cached_by_post_and_revisions(
    session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    article = make_article(session, title="Cache me", body="alpha\nbeta\n")
    articles.edit_article(
        session,
        article,
        editor=make_user(session),
        data=articles.ArticleData(
            title="Cache me", body_md="alpha\ngamma\n", tags_text="howto", article_type="tip"
        ),
        base_revision=1,
    )
    session.flush()
    calls: list[str] = []
    real = revisions.diff_texts

    def counted(old: str, new: str, **kwargs: Any) -> Any:
        calls.append(old)
        return real(old, new, **kwargs)

    monkeypatch.setattr(revisions, "diff_texts", counted)
    first = revisions.diff_revisions(session, article, 1, 2)[2]
    second = revisions.diff_revisions(session, article, 1, 2)[2]
    assert first is second and len(calls) == 1
    reverse = revisions.diff_revisions(session, article, 2, 1)[2]
    assert len(calls) == 2 and DiffLine("+", "beta") in reverse.lines
    # The cache is bounded: the oldest entries make way.
    for n in range(revisions.DIFF_CACHE_SIZE + 5):
        fake = SimpleNamespace(post_id=-1, id=n, title="t", tags_text="", body_md=str(n))
        revisions.compare(fake, fake)  # type: ignore[arg-type]
    assert len(revisions._DIFF_CACHE) == revisions.DIFF_CACHE_SIZE
