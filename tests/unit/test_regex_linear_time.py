"""Every regular expression that reads member input runs in linear time at the size cap.

Each pattern runs on adversarial shapes (runs of the repeated character, alternating whitespace
and newlines, unclosed brackets) at the cap and at a quarter of it. A linear pattern takes about
4x as long on the larger input; a quadratic one about 16x, and seconds at the cap.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any

import pytest

from forum import markdown, observability
from forum.importers import stackexchange
from forum.markdown import MAX_MARKDOWN_BYTES
from forum.search import documents, query, whoosh_backend, whoosh_schema
from forum.services import (
    accounts,
    articles,
    circles,
    gaps,
    mentions,
    moderation,
    paths,
    questions,
    tags,
    tutorial_requests,
)

CAP = MAX_MARKDOWN_BYTES
#: Below this many seconds at the cap, timings are too small to compare (and harmless).
FLOOR = 0.01
#: A linear pattern grows ~4x for 4x the input; quadratic ones grow ~16x.
MAX_RATIO = 8.0
#: However the ratio comes out, no pattern may take this long at the cap.
MAX_SECONDS = 0.5


def _fill(unit: str, size: int) -> str:
    return unit * max(1, size // len(unit))


def _all(pattern: re.Pattern[str]) -> Callable[[str], Any]:
    return lambda text: [m.group(0) for m in pattern.finditer(text)]


def _every_position(pattern: re.Pattern[str], trigger: str) -> Callable[[str], Any]:
    """``match`` at every ``trigger`` character, as the Markdown inline rules call patterns."""

    def run(text: str) -> int:
        found = 0
        pos = text.find(trigger)
        while pos != -1:
            found += pattern.match(text, pos) is not None
            pos = text.find(trigger, pos + 1)
        return found

    return run


_CANDIDATES = whoosh_backend._candidates(frozenset({"kubernetes", "deploy", "ab"}))

#: (pattern's owner, the call that applies it, the unit of the adversarial text, a suffix)
CASES: list[tuple[str, Callable[[str], Any], str, str]] = [
    ("documents.plain_text", documents.plain_text, " \n", "x-"),
    ("documents.plain_text", documents.plain_text, "\t\n", "> x"),
    ("documents.plain_text", documents.plain_text, "[", "](x)"),
    ("documents.plain_text", documents.plain_text, "[a](", ""),
    ("documents.plain_text", documents.plain_text, "![a", "]"),
    ("documents.plain_text", documents.plain_text, " >", "x"),
    ("documents.plain_text", documents.plain_text, "\n >", "x"),
    ("documents.plain_text", documents.plain_text, " -", "\n"),
    ("documents._LINK", lambda t: documents._LINK.sub(r"\1", t), "[", "]("),
    ("documents._LINK", lambda t: documents._LINK.sub(r"\1", t), "[a](", ")"),
    ("documents._MARKUP", lambda t: documents._MARKUP.sub(" ", t), " \n", "x"),
    ("documents._MARKUP", lambda t: documents._MARKUP.sub(" ", t), "> ", "x"),
    ("mentions._MENTION_TAG_RE", _all(mentions._MENTION_TAG_RE), "<a ", ""),
    ("mentions._MENTION_TAG_RE", _all(mentions._MENTION_TAG_RE), "<a class ", ">"),
    ("mentions._HREF_RE", _all(mentions._HREF_RE), 'href="/users/', '"'),
    ("markdown._WIKI_RE", _every_position(markdown._WIKI_RE, "["), "[[", "]]"),
    ("markdown._CONTAINER_LINE", _all(markdown._CONTAINER_LINE), " ", "- x"),
    ("markdown._CONTAINER_LINE", _all(markdown._CONTAINER_LINE), "1", ". x"),
    ("markdown._CONTAINER_LINE", _all(markdown._CONTAINER_LINE), " \n", "> x"),
    ("markdown._WIKI_RE", _every_position(markdown._WIKI_RE, "["), "[[a|", "]]"),
    ("markdown._MENTION_RE", _every_position(markdown._MENTION_RE, "@"), "@", "a"),
    ("markdown._MENTION_RE", _every_position(markdown._MENTION_RE, "@"), "@a.", ""),
    ("markdown._slugify", markdown._slugify, "-", "a"),
    ("markdown._slugify", markdown._slugify, "a-", ""),
    ("questions.slugify", questions.slugify, "-a", "!"),
    ("articles._slug_base", articles._slug_base, "a -", ""),
    ("circles.find_post id", lambda t: re.fullmatch(r"#?\d{1,9}", t), "1", "x"),
    ("tags.parse_tags", tags.parse_tags, ", ", "x"),
    ("tags.TAG_NAME_RE", tags.TAG_NAME_RE.match, "a", "!"),
    ("gaps.words", gaps.words, "a.", ""),
    ("gaps.words", gaps.words, "+#", " "),
    ("tutorial_requests._ARTICLE_PATH", tutorial_requests._ARTICLE_PATH.search, "/articles/", ""),
    (
        "tutorial_requests._QUESTION_PATH",
        tutorial_requests._QUESTION_PATH.search,
        "/questions/",
        "",
    ),
    ("circles._ARTICLE_PATH", circles._ARTICLE_PATH.search, "/articles/a", "/x/"),
    ("circles._QUESTION_PATH", circles._QUESTION_PATH.search, "/questions/1", "x"),
    ("paths._QUESTION_PATH", paths._QUESTION_PATH.match, "/questions/1", "//"),
    ("paths._ARTICLE_PATH", paths._ARTICLE_PATH.match, "/articles/", "//"),
    ("accounts.USERNAME_RE", accounts.USERNAME_RE.match, "a", "!"),
    ("moderation._TARGET", moderation._TARGET.match, "post:1", ""),
    ("observability._VALID_REQUEST_ID", observability._VALID_REQUEST_ID.match, "a", " "),
    ("query._WORD", _all(query._WORD), "a.", "-"),
    ("query._WORD", _all(query._WORD), "a'-", "+#"),
    ("whoosh_schema._WORDS", _all(whoosh_schema._WORDS), "a.", "."),
    ("whoosh_schema._WORDS", _all(whoosh_schema._WORDS), "a*", "."),
    ("whoosh_backend._TOKEN", _all(whoosh_backend._TOKEN), "a ", ""),
    ("whoosh_backend._candidates", _all(_CANDIDATES), "kub ", "d"),
    ("whoosh_backend._candidates", _all(_CANDIDATES), "a", ""),
    ("stackexchange._TAGS_ANGLE", _all(stackexchange._TAGS_ANGLE), "<", ">"),
    ("stackexchange._TAGS_ANGLE", _all(stackexchange._TAGS_ANGLE), "<a", ""),
    ("stackexchange._markdown_spacing", lambda t: re.sub(r"\n{3,}", "\n\n", t), "\n\n", "x"),
]


def _seconds(run: Callable[[str], Any], text: str) -> float:
    """The best of three runs, in CPU time of this process."""
    best = float("inf")
    for _ in range(3):
        started = time.process_time()
        run(text)
        best = min(best, time.process_time() - started)
    return best


@pytest.mark.parametrize(
    ("run", "unit", "suffix"),
    [pytest.param(run, unit, suffix, id=f"{name}[{unit!r}]") for name, run, unit, suffix in CASES],
)
def test_the_pattern_is_linear_at_the_size_cap(
    run: Callable[[str], Any], unit: str, suffix: str
) -> None:
    small = _seconds(run, _fill(unit, CAP // 4) + suffix)
    large = _seconds(run, _fill(unit, CAP) + suffix)
    assert large < MAX_SECONDS
    if large > FLOOR:
        assert large / max(small, FLOOR / 4) < MAX_RATIO


def test_the_query_patterns_are_fast_at_the_query_cap() -> None:
    """Queries are refused past MAX_QUERY_LENGTH before any pattern reads them."""
    cap = query.MAX_QUERY_LENGTH
    for text in (_fill(" /a", cap), _fill("[", cap), _fill("a.", cap), _fill("{1,", cap)):
        started = time.process_time()
        query._REGEX_HINT.search(text)
        query._WORD.findall(text)
        assert time.process_time() - started < 0.05


def test_a_quadratic_pattern_fails_this_test() -> None:
    """The check itself: the old link pattern of plain_text is caught."""
    old_link = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
    small = _seconds(lambda t: old_link.sub(r"\1", t), _fill("[", CAP // 16))
    large = _seconds(lambda t: old_link.sub(r"\1", t), _fill("[", CAP // 4))
    assert large > FLOOR and large / small > MAX_RATIO
