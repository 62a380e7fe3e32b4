"""Server-side login sessions and the account a login form names."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from forum.models import LoginSession
from forum.services import logins
from tests.factories import make_user


def test_a_session_loads_until_revoked(session: Session) -> None:
    user = make_user(session, "grace")
    secret = logins.start(session, user, user_agent="Firefox " + "x" * 500)
    row = session.scalars(select(LoginSession)).one()
    assert row.key_hash != secret and len(row.user_agent or "") == logins.USER_AGENT_LENGTH
    assert logins.load(session, user.get_id(), secret) == (user, row)
    logins.revoke(session, secret)
    session.expire_all()
    assert logins.load(session, user.get_id(), secret) is None


@pytest.mark.parametrize("tamper", ["user id", "token", "secret", "garbage", "inactive"])
def test_anything_but_the_exact_session_loads_nobody(session: Session, tamper: str) -> None:
    user = make_user(session, "grace")
    other = make_user(session, "tom")
    secret = logins.start(session, user)
    user_id = user.get_id()
    if tamper == "user id":
        user_id = f"{other.id}.{user.auth_token}"
    elif tamper == "token":
        user_id = f"{user.id}.{other.auth_token}"
    elif tamper == "secret":
        secret = logins.start(session, other)
    elif tamper == "garbage":
        user_id = "1.; drop table users"
    else:
        user.is_active = False
        session.flush()
    assert logins.load(session, user_id, secret) is None


def test_revoke_all_keeps_only_the_named_session(session: Session) -> None:
    user = make_user(session, "grace")
    keep = logins.start(session, user)
    others = [logins.start(session, user) for _ in range(3)]
    old_token = user.auth_token
    assert logins.revoke_all(session, user, keep_secret=keep) == 3
    assert user.auth_token != old_token
    session.expire_all()
    assert logins.load(session, user.get_id(), keep) is not None
    assert all(logins.load(session, user.get_id(), s) is None for s in others)
    assert [logins.is_current(s, keep) for s in logins.active_sessions(session, user)] == [True]


def test_idle_sessions_end_and_old_ones_are_forgotten(session: Session) -> None:
    user = make_user(session, "grace")
    secret = logins.start(session, user)
    row = session.scalars(select(LoginSession)).one()
    row.last_seen_at = dt.datetime.now(dt.UTC) - dt.timedelta(days=20)
    session.flush()
    assert logins.load(session, user.get_id(), secret, idle_limit=dt.timedelta(days=30))
    assert logins.load(session, user.get_id(), secret, idle_limit=dt.timedelta(days=14)) is None
    logins.start(session, user, forget_before=dt.datetime.now(dt.UTC) - dt.timedelta(days=14))
    assert len(session.scalars(select(LoginSession)).all()) == 1


def test_the_login_form_names_one_account_by_username_or_email(session: Session) -> None:
    user = make_user(session, "grace", email="grace@example.com")
    for typed in ("grace", " GRACE ", "Grace@Example.com"):
        assert logins.account_id_for_login(session, typed) == user.id
    assert logins.account_id_for_login(session, "nobody") is None
    assert logins.account_id_for_login(session, "  ") is None
