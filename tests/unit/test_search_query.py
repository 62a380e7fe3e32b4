"""The query language: what each operator parses to, and what is refused with a reason."""

from __future__ import annotations

import datetime as dt
import time

import pytest

from forum.search.query import All, Any_, Phrase, QueryRefused, Range, Word, parse


def test_words_phrases_and_exclusions() -> None:
    q = parse('Kubernetes "rolling update" -docker -"old cluster"')
    assert q.clauses == [Word("kubernetes"), Phrase(("rolling", "update"))]
    assert q.excluded == [Word("docker"), Phrase(("old", "cluster"))]
    assert q.words() == ["kubernetes", "rolling", "update"]


def test_or_joins_neighbours_and_parentheses_group() -> None:
    q = parse("vpn (docker OR podman OR buildah) laptop")
    assert q.clauses == [
        Word("vpn"),
        Any_((Word("docker"), Word("podman"), Word("buildah"))),
        Word("laptop"),
    ]
    assert parse("(a b) OR c").clauses == [Any_((All((Word("a"), Word("b"))), Word("c")))]


def test_filters() -> None:
    q = parse(
        "tag:Python -tag:django user:@Amara is:question is:tip is:answered"
        " score:>=3 created:>2025-01-01"
    )
    assert q.clauses == []
    assert q.tags == ["python"] and q.excluded_tags == ["django"]
    assert q.users == ["amara"]
    assert q.kinds == {"question"} and q.article_types == {"tip"}
    assert q.statuses == {"answered"}
    assert q.score == [Range(">=", 3)]
    assert q.created == [Range(">", dt.date(2025, 1, 1))]
    assert q.has_filters and not q.is_empty


def test_trailing_wildcard_on_three_letters() -> None:
    assert parse("kub*").clauses == [Word("kub", prefix=True)]


def test_technical_words_and_unknown_colons_stay_words() -> None:
    assert parse("c++ node.js").clauses == [Word("c++"), Word("node.js")]
    assert parse("http://intranet").clauses == [Phrase(("http", "intranet"))]


def test_a_natural_question_with_a_question_mark_is_fine() -> None:
    q = parse("why does my laptop refuse the proxy?")
    assert Word("proxy") in q.clauses


@pytest.mark.parametrize("text", ["", "   ", "!!!", "( )", '""'])
def test_nothing_to_search_is_empty_not_an_error(text: str) -> None:
    assert parse(text).is_empty


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("*", "Wildcards"),
        ("*kube", "Wildcards"),
        ("ku*be", "Wildcards"),
        ("a*", "at least 3 letters"),
        ("x" * 501, "longer than 500"),
        ("(" * 1000 + "a" + ")" * 1000, "longer than"),
        ("(((((a)))))", "nests parentheses"),
        ("/kube.*/", "Regular expressions"),
        ("k[ue]be", "Regular expressions"),
        ("a|b", "Regular expressions"),
        ("^start", "Regular expressions"),
        ("is:poem", "is: accepts"),
        ("score:lots", "score:"),
        ("created:>2025-13-45", "not a date"),
        ("tag:", "tag: needs"),
        ("user:", "user: needs a username"),
        ("user:@", "user: needs a username"),
        ("user:@@amara", "user: needs a username"),
        ('user:""', "user: needs a username"),
        ("user:-", "user: needs a username"),
        ("-user:amara", "user: needs a username"),
        (" ".join(f"w{n}" for n in range(30)), "more than 24 terms"),
    ],
)
def test_refusals_say_why(text: str, reason: str) -> None:
    started = time.monotonic()
    with pytest.raises(QueryRefused, match=reason.replace("+", r"\+").replace("*", r"\*")):
        parse(text)
    assert time.monotonic() - started < 0.1
