"""Password hashing with scrypt, and the rules that keep passwords from being guessable."""

from __future__ import annotations

from werkzeug.security import check_password_hash, generate_password_hash

# Passwords of ten characters or more that appear near the top of public breach lists.
COMMON_PASSWORDS = frozenset(
    {
        "1234567890",
        "0123456789",
        "12345678910",
        "123456789a",
        "1q2w3e4r5t",
        "1qaz2wsx3edc",
        "abcdefghij",
        "abcd123456",
        "password12",
        "password123",
        "password1234",
        "passw0rd123",
        "qwertyuiop",
        "qwerty1234",
        "qwerty12345",
        "qwerty123456",
        "iloveyou123",
        "1234567890a",
        "asdfghjkl1",
        "asdfghjkl;",
        "zxcvbnm123",
        "letmein123",
        "welcome123",
        "welcome2024",
        "welcome2025",
        "welcome2026",
        "football123",
        "baseball123",
        "superman123",
        "princess123",
        "sunshine123",
        "trustno1234",
        "changeme123",
        "administrator",
        "adminadmin",
        "admin12345",
        "admin123456",
        "1111111111",
        "0000000000",
        "9876543210",
        "monkey12345",
        "dragon12345",
        "michael123",
        "charlie123",
        "computer123",
        "internet123",
        "starwars123",
        "whatever123",
        "iloveyou12",
        "password!1",
    }
)


def hash_password(password: str, method: str) -> str:
    """Hash ``password`` with ``method`` (werkzeug's syntax, e.g. ``scrypt:131072:8:1``)."""
    return generate_password_hash(password, method=method)


def verify_password(password_hash: str | None, password: str) -> bool:
    """True if ``password`` matches; an account without a password never matches."""
    if not password_hash:
        return False
    return check_password_hash(password_hash, password)


def needs_rehash(password_hash: str, method: str) -> bool:
    """True when the hash was made with other parameters than ``method``."""
    return password_hash.split("$", 1)[0] != method


def password_problems(password: str, *, min_length: int, personal: list[str]) -> list[str]:
    """What makes ``password`` weak; an empty list means it is acceptable."""
    problems: list[str] = []
    if len(password) < min_length:
        problems.append(f"Use at least {min_length} characters.")
    if len(password) > 256:
        problems.append("Use at most 256 characters.")
    lowered = password.lower()
    if lowered in COMMON_PASSWORDS:
        problems.append("This password is too common; choose one that is not on breach lists.")
    if len(set(password)) < 4:
        problems.append("Use more than three different characters.")
    for word in personal:
        if word and len(word) >= 3 and word.lower() in lowered:
            problems.append("Don't build the password from your name, username or email.")
            break
    return problems
