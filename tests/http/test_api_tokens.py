"""Personal access tokens: made at /settings/tokens or with `forum tokens create`, shown once,
stored hashed, scoped, expiring, revocable, and dead once their member is deactivated."""

from __future__ import annotations

import datetime as dt
import hashlib
import re

from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from forum.models import AccessToken, AuditLog, Role
from forum.services import accounts, tokens
from tests.conftest import Browser
from tests.factories import make_user
from tests.http.api_helpers import api_get, api_send, assert_problem, bearer, make_token


def test_settings_page_creates_a_token_shown_once_and_stored_hashed(
    app: Flask, browser: Browser, session: Session
) -> None:
    make_user(session, "dana")
    session.commit()
    browser.login("dana")
    page = browser.get("/settings/tokens").get_data(as_text=True)
    assert 'name="name"' in page and "aria-required" in page
    created = browser.post(
        "/settings/tokens",
        {"name": "release notes", "scope_read": "y", "scope_write": "y", "expires": "30"},
    )
    assert created.status_code == 200
    assert created.headers["Cache-Control"] == "no-store"
    secret = re.search(r"(fpat_[A-Za-z0-9_-]+)", created.get_data(as_text=True)).group(1)
    row = session.scalars(select(AccessToken)).one()
    assert row.token_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert secret not in (row.token_hash, row.prefix) and secret.startswith(row.prefix)
    assert row.scope_list == ["read", "write"] and row.expires_at is not None
    # Listed with its use, never with its secret again.
    assert api_get(app, "/questions", secret).status_code == 200
    listing = browser.get("/settings/tokens").get_data(as_text=True)
    assert "release notes" in listing and "last used" in listing and secret not in listing


def test_settings_form_refuses_a_token_without_scopes(browser: Browser, session: Session) -> None:
    make_user(session, "eli")
    session.commit()
    browser.login("eli")
    refused = browser.post("/settings/tokens", {"name": "nothing", "expires": "90"})
    assert refused.status_code == 400
    text = refused.get_data(as_text=True)
    assert "Choose at least one scope" in text and 'value="nothing"' in text
    assert session.scalars(select(AccessToken)).first() is None


def test_revoking_stops_the_token_and_only_its_owner_may(
    app: Flask, browser: Browser, session: Session
) -> None:
    owner, other = make_user(session, "fay"), make_user(session, "gus")
    secret = make_token(session, owner)
    token_id = session.scalars(select(AccessToken.id)).one()
    make_token(session, other, name="other")
    browser.login("gus")
    assert browser.post(f"/settings/tokens/{token_id}/revoke").status_code == 404
    assert api_get(app, "/questions", secret).status_code == 200
    browser.logout()
    browser.login("fay")
    assert browser.post(f"/settings/tokens/{token_id}/revoke").status_code == 302
    assert_problem(api_get(app, "/questions", secret), 401)


def test_expired_tokens_and_deactivated_members_are_refused(app: Flask, session: Session) -> None:
    member = make_user(session, "hal")
    secret = make_token(session, member, expires_in_days=1)
    assert api_get(app, "/questions", secret).status_code == 200
    row = session.scalars(select(AccessToken)).one()
    row.expires_at = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
    session.commit()
    refused = assert_problem(api_get(app, "/questions", secret), 401)
    assert "expired" in refused["detail"]
    fresh = make_token(session, member, name="fresh")
    member.is_active = False
    session.commit()
    response = api_get(app, "/questions", fresh)
    assert_problem(response, 401)
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]


def test_scopes_read_for_get_write_for_the_rest(app: Flask, session: Session) -> None:
    member = make_user(session, "ivy")
    reader = make_token(session, member, scopes=("read",))
    writer = make_token(session, member, name="writer", scopes=("write",))
    assert api_get(app, "/questions", reader).status_code == 200
    body = assert_problem(api_get(app, "/questions", writer), 403)
    assert body["missing_scope"] == "read" and "'read'" in body["detail"]
    refused = api_send(app, "POST", "/questions/1/answers", reader, {"body": "hello"})
    assert assert_problem(refused, 403)["missing_scope"] == "write"
    assert 'scope="write"' in refused.headers["WWW-Authenticate"]


def test_no_token_or_a_cookie_alone_is_401(app: Flask, browser: Browser, session: Session) -> None:
    make_user(session, "jon")
    session.commit()
    browser.login("jon")
    # The browser's logged-in session cookie is no credential for the API.
    response = browser.get("/api/v1/questions")
    assert_problem(response, 401)
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert_problem(app.test_client().get("/api/v1/questions", headers=bearer("fpat_nope")), 401)
    assert_problem(app.test_client().get("/api/v1/nothing-here"), 404)


def test_cli_prints_a_working_token(app: Flask, session: Session) -> None:
    make_user(session, "kim")
    session.commit()
    runner = app.test_cli_runner()
    result = runner.invoke(
        args=["tokens", "create", "kim", "--name", "ci", "--scope", "read", "--expires-days", "7"]
    )
    assert result.exit_code == 0, result.output
    secret = result.output.strip()
    assert api_get(app, "/questions", secret).status_code == 200
    row = session.scalars(select(AccessToken)).one()
    assert row.name == "ci" and row.scope_list == ["read"] and row.expires_at is not None
    unknown = runner.invoke(args=["tokens", "create", "nobody", "--name", "x"])
    assert unknown.exit_code != 0 and "No member" in unknown.output


def test_last_use_is_recorded(app: Flask, session: Session) -> None:
    member = make_user(session, "lea")
    secret = make_token(session, member)
    assert session.scalars(select(AccessToken)).one().last_used_at is None
    session.rollback()
    api_get(app, "/tags", secret)
    session.rollback()
    used = session.scalars(select(AccessToken)).one()
    assert used.last_used_at is not None and tokens.is_usable(used)


def test_audit_entries_written_through_a_token_name_it(session: Session) -> None:
    member = make_user(session, "mod")
    make_token(session, member, name="cleanup job")
    token = session.scalars(select(AccessToken)).one()
    tokens.act_through(session, token)
    entry = AuditLog(actor_id=member.id, action="x", target_type="post", target_id=1, reason="r")
    session.add(entry)
    session.flush()
    assert entry.reason == "r (via token cleanup job)"


def test_deactivation_revokes_every_token_and_reactivation_restores_none(
    app: Flask, session: Session
) -> None:
    boss = make_user(session, "boss", role=Role.ADMIN)
    leaver = make_user(session, "leaver")
    first = make_token(session, leaver, name="ci")
    make_token(session, leaver, name="bot")
    accounts.deactivate(session, actor=boss, member=leaver)
    session.commit()
    rows = session.scalars(select(AccessToken).where(AccessToken.user_id == leaver.id)).all()
    assert len(rows) == 2 and all(row.revoked_at is not None for row in rows)
    accounts.reactivate(session, actor=boss, member=leaver)
    session.commit()
    assert_problem(api_get(app, "/questions", first), 401)
