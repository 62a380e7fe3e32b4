"""OpenID Connect sign-in against a real provider (oidc-provider under Node.js, on loopback)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import pyotp
import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from forum import create_app
from forum.db import utcnow
from forum.models import AuditLog, Department, Identity, Role, TotpSecret, User
from forum.services import accounts, tokens, two_factor
from forum.sso import oidc
from tests.conftest import TEST_PASSWORD
from tests.factories import make_user
from tests.sso_servers import OidcProvider

CALLBACK = "http://localhost/login/oidc/callback"
ALICE = {
    "email": "alice@example.org",
    "email_verified": True,
    "name": "Alice Liddell",
    "preferred_username": "alice",
    "department": "Engineering",
    "job_title": "Staff Engineer",
    "groups": ["forum-mods"],
}


@pytest.fixture(scope="module")
def provider(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OidcProvider]:
    server = OidcProvider(tmp_path_factory.mktemp("oidc"), [CALLBACK])
    yield server
    server.stop()


@pytest.fixture
def app_config(app_config: dict[str, Any], provider: OidcProvider) -> dict[str, Any]:
    provider.set_accounts({"alice": ALICE})
    oidc.clear_cache()
    return {
        **app_config,
        # Company sign-in is how people reach a members-only site: nothing here is public.
        "PUBLIC_READ": False,
        **provider.app_config(
            OIDC_CLAIM_GROUPS="groups",
            OIDC_MODERATOR_GROUPS="forum-mods",
            OIDC_ADMIN_GROUPS=["forum-admins"],
        ),
    }


def start(client: FlaskClient, next_url: str | None = None) -> str:
    """Press "Sign in with ..."; returns the provider's authorization URL."""
    response = client.get("/login/oidc", query_string={"next": next_url} if next_url else None)
    assert response.status_code == 302
    location = response.headers["Location"]
    query = parse_qs(urlparse(location).query)
    assert query["code_challenge_method"] == ["S256"] and query["code_challenge"]
    assert query["state"] and query["nonce"]
    return location


def callback_path(url: str) -> str:
    parts = urlparse(url)
    return f"{parts.path}?{parts.query}"


def sign_in(
    client: FlaskClient, provider: OidcProvider, account: str = "alice", next_url: str | None = None
) -> Any:
    """The whole round trip; returns forum's answer to the provider's redirect."""
    back = provider.sign_in(start(client, next_url), account, CALLBACK)
    return client.get(callback_path(back))


def member(session: Session, username: str = "alice") -> User:
    session.rollback()  # a new snapshot: the app committed in its own session
    user = session.scalar(select(User).where(User.username == username))
    assert user is not None
    return user


def test_login_page_offers_the_provider(client: FlaskClient) -> None:
    page = client.get("/login?next=/tags").get_data(as_text=True)
    assert "Sign in with Example SSO" in page
    assert 'href="/login/oidc?next=/tags"' in page


def test_first_login_provisions_and_the_next_updates(
    app: Flask, client: FlaskClient, session: Session, provider: OidcProvider
) -> None:
    session.add_all([Department(name="Engineering"), Department(name="Research")])
    session.commit()
    response = sign_in(client, provider, next_url="/tags")
    assert response.status_code == 302 and response.headers["Location"] == "/tags"
    alice = member(session)
    assert (alice.email, alice.display_name) == ("alice@example.org", "Alice Liddell")
    assert (alice.department, alice.job_title, alice.role) == (
        "Engineering",
        "Staff Engineer",
        Role.MODERATOR,
    )
    assert alice.password_hash is None
    identity = session.scalar(select(Identity).where(Identity.user_id == alice.id))
    assert identity is not None and (identity.provider, identity.subject) == ("oidc", "alice")
    assert client.get("/").status_code == 200
    assert "Alice Liddell" in client.get("/").get_data(as_text=True)

    # Later logins update the mapped fields; an unknown department is left out.
    client.post("/logout", data={"csrf_token": _csrf(client)})
    provider.set_accounts({"alice": {**ALICE, "department": "research", "job_title": "Lead"}})
    assert sign_in(client, provider).status_code == 302
    alice = member(session)
    assert (alice.department, alice.job_title) == ("Research", "Lead")
    provider.set_accounts({"alice": {**ALICE, "department": "Unknown Team"}})
    client.post("/logout", data={"csrf_token": _csrf(client)})
    assert sign_in(client, provider).status_code == 302
    assert member(session).department == "Research"
    assert session.scalar(select(Department).where(Department.name == "Unknown Team")) is None
    assert session.scalar(select(AuditLog).where(AuditLog.action == "sso.provision")) is not None
    assert len(session.scalars(select(User)).all()) == 1


def _csrf(client: FlaskClient) -> str:
    import re

    page = client.get("/", follow_redirects=True).get_data(as_text=True)
    match = re.search(r'<meta name="csrf-token" content="([^"]+)"', page)
    assert match
    return match.group(1)


def test_group_change_demotes_a_moderator_at_next_login(
    app: Flask, session: Session, provider: OidcProvider
) -> None:
    assert sign_in(app.test_client(), provider).status_code == 302
    assert member(session).role is Role.MODERATOR
    provider.set_accounts({"alice": {**ALICE, "groups": ["everyone"]}})
    assert sign_in(app.test_client(), provider).status_code == 302
    assert member(session).role is Role.MEMBER
    provider.set_accounts({"alice": {**ALICE, "groups": ["forum-admins"]}})
    assert sign_in(app.test_client(), provider).status_code == 302
    assert member(session).role is Role.ADMIN
    reasons = session.scalars(
        select(AuditLog.reason).where(AuditLog.action == "sso.role").order_by(AuditLog.id)
    ).all()
    assert reasons == [
        "member → moderator from oidc groups",
        "moderator → member from oidc groups",
        "member → admin from oidc groups",
    ]


def test_a_state_is_accepted_once(app: Flask, provider: OidcProvider) -> None:
    client = app.test_client()
    back = provider.sign_in(start(client), "alice", CALLBACK)
    assert client.get(callback_path(back)).status_code == 302
    client.post("/logout", data={"csrf_token": _csrf(client)})
    replay = client.get(callback_path(back))
    assert replay.status_code == 400
    assert "already" in replay.get_data(as_text=True)
    # Nor in another browser, which never started this sign-in.
    assert app.test_client().get(callback_path(back)).status_code == 400
    # A state forum never issued.
    assert client.get("/login/oidc/callback?code=x&state=forged").status_code == 400


def test_a_nonce_mismatch_is_refused(app: Flask, session: Session, provider: OidcProvider) -> None:
    client = app.test_client()
    back = provider.sign_in(start(client), "alice", CALLBACK)
    with client.session_transaction() as browser_session:
        waiting = browser_session["sso_oidc"]
        browser_session["sso_oidc"] = {
            state: {**entry, "nonce": "another-nonce"} for state, entry in waiting.items()
        }
    assert client.get(callback_path(back)).status_code == 400
    assert session.scalar(select(User.id)) is None


def test_next_cannot_leave_the_site(app: Flask, provider: OidcProvider) -> None:
    for target in ("https://evil.example/", "//evil.example/x", "/\\evil.example"):
        response = sign_in(app.test_client(), provider, next_url=target)
        assert response.status_code == 302
        assert response.headers["Location"] == "/", target


def test_verified_email_links_only_with_the_local_password(
    app: Flask, session: Session, provider: OidcProvider
) -> None:
    local = make_user(session, "alice.local", email="alice@example.org")
    session.commit()
    client = app.test_client()
    response = sign_in(client, provider, next_url="/tags")
    assert response.status_code == 302 and response.headers["Location"] == "/login/link"
    page = client.get("/login/link").get_data(as_text=True)
    assert "alice.local" in page
    assert session.scalar(select(Identity.id)) is None

    wrong = client.post("/login/link", data={"csrf_token": _csrf(client), "password": "nope"})
    assert wrong.status_code == 400
    assert "not the password" in wrong.get_data(as_text=True)
    assert session.scalar(select(Identity.id)) is None

    right = client.post(
        "/login/link", data={"csrf_token": _csrf(client), "password": TEST_PASSWORD}
    )
    assert right.status_code == 302 and right.headers["Location"] == "/tags"
    session.rollback()
    identity = session.scalar(select(Identity))
    assert identity is not None and identity.user_id == local.id
    assert len(session.scalars(select(User)).all()) == 1
    # From now on the provider's account signs in as the linked member directly.
    assert sign_in(app.test_client(), provider).headers["Location"] == "/"


def test_unverified_email_never_links(app: Flask, session: Session, provider: OidcProvider) -> None:
    make_user(session, "alice.local", email="alice@example.org")
    session.commit()
    provider.set_accounts({"alice": {**ALICE, "email_verified": False}})
    response = sign_in(app.test_client(), provider)
    assert response.status_code == 409
    assert session.scalar(select(Identity.id)) is None
    assert len(session.scalars(select(User)).all()) == 1


def test_linking_an_account_with_two_factor_asks_for_a_code(
    app: Flask, session: Session, provider: OidcProvider
) -> None:
    local = make_user(session, "alice.local", email="alice@example.org")
    two_factor.begin(session, local)
    row = session.get(TotpSecret, local.id)
    assert row is not None
    # Turned on a few minutes ago: the current code has not been used yet.
    earlier = utcnow() - dt.timedelta(minutes=5)
    recovery = two_factor.confirm(session, local, pyotp.TOTP(row.secret).at(earlier), now=earlier)
    session.commit()
    totp = pyotp.TOTP(row.secret)
    client = app.test_client()
    assert sign_in(client, provider).headers["Location"] == "/login/link"
    page = client.get("/login/link").get_data(as_text=True)
    assert 'name="code"' in page

    # The password alone, or with a wrong code, does not link.
    for code in ("", "000000", "abcde-fghij"):
        answer = client.post(
            "/login/link",
            data={"csrf_token": _csrf(client), "password": TEST_PASSWORD, "code": code},
        )
        assert answer.status_code == 400, code
        assert "That code is not right" in answer.get_data(as_text=True)
    assert session.scalar(select(Identity.id)) is None
    # A wrong password with a right code does not link either (and uses no recovery code).
    answer = client.post(
        "/login/link",
        data={"csrf_token": _csrf(client), "password": "nope", "code": recovery[0]},
    )
    assert answer.status_code == 400 and session.scalar(select(Identity.id)) is None

    right = client.post(
        "/login/link",
        data={"csrf_token": _csrf(client), "password": TEST_PASSWORD, "code": totp.now()},
    )
    assert right.status_code == 302
    session.rollback()
    identity = session.scalar(select(Identity))
    assert identity is not None and identity.user_id == local.id

    # A recovery code does too (another company account with the same address).
    session.delete(identity)
    session.commit()
    client = app.test_client()
    assert sign_in(client, provider).headers["Location"] == "/login/link"
    answer = client.post(
        "/login/link",
        data={"csrf_token": _csrf(client), "password": TEST_PASSWORD, "code": recovery[0]},
    )
    assert answer.status_code == 302
    session.rollback()
    assert session.scalar(select(Identity.user_id)) == local.id
    assert two_factor.recovery_codes_left(session, local) == len(recovery) - 1


def test_linking_without_two_factor_asks_no_code(
    app: Flask, session: Session, provider: OidcProvider
) -> None:
    make_user(session, "alice.local", email="alice@example.org")
    session.commit()
    client = app.test_client()
    assert sign_in(client, provider).headers["Location"] == "/login/link"
    assert 'name="code"' not in client.get("/login/link").get_data(as_text=True)


def test_a_member_out_of_the_allowed_group_is_deactivated_until_back(
    app: Flask, session: Session, provider: OidcProvider
) -> None:
    app.config["OIDC_REQUIRED_GROUPS"] = ["Staff"]
    staff = {**ALICE, "groups": ["forum-mods", "staff"]}
    provider.set_accounts({"alice": staff, "mallory": {**ALICE, "email": "m@example.org"}})
    live = app.test_client()
    assert sign_in(live, provider).status_code == 302
    assert live.get("/tags").status_code == 200
    alice = member(session)
    _, token = tokens.create(
        session, user=alice, name="laptop", scopes=["read"], expires_in_days=None
    )
    session.commit()
    assert tokens.authenticate(session, token) is not None

    # Someone never in the group is refused, and not created.
    refused = sign_in(app.test_client(), provider, "mallory")
    assert refused.status_code == 403
    assert "not in a group allowed" in refused.get_data(as_text=True)
    assert session.scalar(select(func.count()).select_from(User)) == 1

    # Removed from the group: refused at the next sign-in, and deactivated at once.
    provider.set_accounts({"alice": ALICE})
    refused = sign_in(app.test_client(), provider)
    assert refused.status_code == 403
    assert "not in a group allowed" in refused.get_data(as_text=True)
    alice = member(session)
    assert not alice.is_active and alice.deactivated_by_sso
    assert live.get("/tags").status_code == 302  # the live session has ended
    assert "Your login session has ended" in live.get("/login").get_data(as_text=True)
    assert tokens.authenticate(session, token) is None
    reason = session.scalar(select(AuditLog.reason).where(AuditLog.action == "member.deactivate"))
    assert reason is not None and "company sign-in" in reason and "oidc" in reason

    # Back in the group: the next sign-in reactivates them.
    provider.set_accounts({"alice": staff})
    assert sign_in(app.test_client(), provider).status_code == 302
    alice = member(session)
    assert alice.is_active and not alice.deactivated_by_sso
    assert (
        session.scalar(select(AuditLog.reason).where(AuditLog.action == "member.reactivate"))
        == "(by the company sign-in: in an allowed oidc group again)"
    )

    # An admin's deactivation is not undone by a sign-in from the group.
    accounts.deactivate(session, None, alice)
    session.commit()
    assert sign_in(app.test_client(), provider).status_code == 403
    alice = member(session)
    assert not alice.is_active and not alice.deactivated_by_sso
    # Nor by one from outside it (which leaves the admin's deactivation as it is).
    provider.set_accounts({"alice": ALICE})
    assert sign_in(app.test_client(), provider).status_code == 403
    assert not member(session).deactivated_by_sso


def test_required_groups_need_the_groups_claim(
    app_config: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FORUM_INSTANCE_PATH", str(tmp_path / "instance"))
    config = {**app_config, "OIDC_CLAIM_GROUPS": None, "OIDC_REQUIRED_GROUPS": ["staff"]}
    with pytest.raises(ValueError, match="OIDC_CLAIM_GROUPS"):
        create_app(config)
