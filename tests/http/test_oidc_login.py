"""OpenID Connect sign-in against a real provider (oidc-provider under Node.js, on loopback)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from forum.models import AuditLog, Department, Identity, Role, User
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
