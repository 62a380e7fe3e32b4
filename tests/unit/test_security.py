"""Redirect targets after login stay on the site."""

from __future__ import annotations

import pytest

from forum.security import is_safe_next, safe_next

HOSTILE = [
    "//evil.example",
    "/\\evil.example",
    "\\\\evil.example",
    "https:evil.example",
    "https://evil.example/",
    "%2f%2fevil.example",
    "/%2f%2fevil.example",
    "/%5cevil.example",
    "/%252f%252fevil.example",
    "javascript:alert(1)",
    "JaVaScRiPt:alert(1)",
    " //evil.example",
    "/\t/evil.example",
    "/\n/evil.example",
    "///evil.example",
    "",
    None,
]


@pytest.mark.parametrize("target", HOSTILE)
def test_hostile_targets_are_refused(target: str | None) -> None:
    assert not is_safe_next(target)
    assert safe_next(target, "/") == "/"


@pytest.mark.parametrize("target", ["/", "/users/amara", "/users?q=a%20b&page=2", "/a/b#c"])
def test_local_paths_are_kept(target: str) -> None:
    assert safe_next(target, "/home") == target
