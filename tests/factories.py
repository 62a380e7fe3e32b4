"""Plain factory functions for arranging test data."""

from __future__ import annotations

import itertools
from typing import Any

from sqlalchemy.orm import Session

from forum.models import Role, User
from forum.services.passwords import hash_password
from tests.conftest import TEST_HASH_METHOD, TEST_PASSWORD

_counter = itertools.count(1)
_HASH = hash_password(TEST_PASSWORD, TEST_HASH_METHOD)


def make_user(
    session: Session, username: str | None = None, *, role: Role = Role.MEMBER, **fields: Any
) -> User:
    """A member whose password is TEST_PASSWORD, flushed so it has an id."""
    n = next(_counter)
    username = username or f"member{n}"
    user = User(
        username=username,
        email=fields.pop("email", f"{username}@example.com"),
        display_name=fields.pop("display_name", f"Member {n}"),
        password_hash=fields.pop("password_hash", _HASH),
        role=role,
        **fields,
    )
    session.add(user)
    session.flush()
    return user
