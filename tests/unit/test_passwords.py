"""Password hashing parameters and strength rules."""

from __future__ import annotations

import pytest

from forum.config import DEFAULTS
from forum.services.passwords import (
    hash_password,
    needs_rehash,
    password_problems,
    verify_password,
)


def test_default_is_scrypt_with_n_2_17() -> None:
    method = DEFAULTS["PASSWORD_HASH_METHOD"]
    name, n, r, p = method.split(":")
    assert name == "scrypt" and int(n) == 2**17 and int(r) == 8 and int(p) == 1
    hashed = hash_password("a long enough secret", method)
    assert hashed.startswith("scrypt:131072:8:1$")
    assert verify_password(hashed, "a long enough secret")
    assert not verify_password(hashed, "a long enough secreT")


def test_hash_made_with_other_parameters_needs_rehash() -> None:
    old = hash_password("a long enough secret", "scrypt:16384:8:1")
    assert needs_rehash(old, "scrypt:131072:8:1")
    assert not needs_rehash(old, "scrypt:16384:8:1")


def test_account_without_password_never_matches() -> None:
    assert not verify_password(None, "")
    assert not verify_password("", "anything")


@pytest.mark.parametrize(
    ("password", "fragment"),
    [
        ("short1", "at least 10"),
        ("qwertyuiop", "too common"),
        ("aaaaaaaaaaaa", "different characters"),
        ("newhire-rocks-2026", "your name"),
        ("x" * 257, "at most 256"),
    ],
)
def test_weak_passwords_are_explained(password: str, fragment: str) -> None:
    problems = password_problems(password, min_length=10, personal=["newhire", "New Hire"])
    assert any(fragment in p for p in problems), problems


def test_a_good_passphrase_passes() -> None:
    assert password_problems("lantern orbit pickle 42", min_length=10, personal=["tom"]) == []
