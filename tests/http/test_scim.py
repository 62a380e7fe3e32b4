"""SCIM 2.0 provisioning at /scim/v2: the bearer token, Users operations and discovery."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from forum.models import AccessToken, AuditLog, LoginSession, User
from forum.services import accounts, identity, tokens
from forum.services.errors import Conflict
from forum.services.identity import ExternalAccount, SignInPolicy
from tests.conftest import Browser
from tests.factories import make_user

TOKEN = "scim-test-token-0123456789abcdef"
SCIM = "application/scim+json"
ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"


@pytest.fixture
def app_config(app_config: dict[str, Any]) -> dict[str, Any]:
    """SCIM on, and the members-only default (SCIM must not be sent to the login page)."""
    return {**app_config, "SCIM_TOKEN": TOKEN, "PUBLIC_READ": False}


def _call(
    client: FlaskClient, method: str, path: str, body: Any = None, token: str | None = TOKEN
) -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return client.open(
        "/scim/v2" + path,
        method=method,
        headers=headers,
        data=None if body is None else json.dumps(body),
        content_type=SCIM,
    )


def _fresh(session: Session) -> None:
    session.rollback()
    session.expire_all()


def test_without_the_token_every_operation_is_refused(app: Flask, client: FlaskClient) -> None:
    for method, path in (("GET", "/Users"), ("POST", "/Users"), ("DELETE", "/Users/1")):
        for token in (None, "wrong-token"):
            answer = _call(client, method, path, {"userName": "x"}, token=token)
            assert answer.status_code == 401
            assert answer.mimetype == SCIM
            assert answer.get_json()["schemas"] == [ERROR]
            assert answer.get_json()["status"] == "401"
    # A logged-in admin's cookie is no authority here.
    app.config["SCIM_TOKEN"] = None
    assert _call(client, "GET", "/Users").status_code == 401


def test_create_read_find_replace_patch_and_delete(
    app: Flask, client: FlaskClient, session: Session
) -> None:
    make_user(session, "taken", email="taken@example.com")
    session.commit()
    created = _call(
        client,
        "POST",
        "/Users",
        {
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": "Ada.Lovelace@Example.com",
            "name": {"givenName": "Ada", "familyName": "Lovelace"},
            "emails": [{"value": "ada@example.com", "primary": True}],
            "title": "Analyst",
            "active": True,
        },
    )
    assert created.status_code == 201, created.get_data(as_text=True)
    assert created.mimetype == SCIM
    user = created.get_json()
    assert user["userName"] == "ada.lovelace@example.com"
    assert user["displayName"] == "Ada Lovelace"
    assert user["emails"][0]["value"] == "ada@example.com"
    assert user["active"] is True
    assert created.headers["Location"].endswith(f"/scim/v2/Users/{user['id']}")
    member = session.get(User, int(user["id"]))
    assert member is not None and member.username == "ada.lovelace"
    assert member.password_hash is None and member.job_title == "Analyst"

    assert _call(client, "GET", f"/Users/{user['id']}").get_json() == user
    for unknown in ("999999", "99999999999999999999", "abc"):
        missing = _call(client, "GET", f"/Users/{unknown}")
        assert missing.status_code == 404 and missing.get_json()["schemas"] == [ERROR]

    # Duplicates are refused with the SCIM uniqueness error.
    again = _call(client, "POST", "/Users", {"userName": "ada.lovelace@example.com"})
    assert again.status_code == 409 and again.get_json()["scimType"] == "uniqueness"
    clash = _call(
        client, "POST", "/Users", {"userName": "bob", "emails": [{"value": "taken@example.com"}]}
    )
    assert clash.status_code == 409
    no_name = _call(client, "POST", "/Users", {"displayName": "Nobody"})
    assert no_name.status_code == 400 and no_name.get_json()["scimType"] == "invalidValue"

    # Filter by userName (the provider's name, case-insensitive; or a member's own username).
    found = _call(client, "GET", '/Users?filter=userName eq "ADA.lovelace@example.com"')
    assert found.get_json()["totalResults"] == 1
    assert found.get_json()["Resources"][0]["id"] == user["id"]
    local = _call(client, "GET", '/Users?filter=userName eq "taken"').get_json()
    assert [r["userName"] for r in local["Resources"]] == ["taken"]
    none = _call(client, "GET", '/Users?filter=userName eq "nobody"').get_json()
    assert none["totalResults"] == 0 and none["Resources"] == []
    bad = _call(client, "GET", '/Users?filter=displayName co "a"')
    assert bad.status_code == 400 and bad.get_json()["scimType"] == "invalidFilter"
    page = _call(client, "GET", "/Users?startIndex=2&count=1").get_json()
    assert page["totalResults"] == 2 and page["startIndex"] == 2 and page["itemsPerPage"] == 1
    assert page["Resources"][0]["id"] == user["id"]
    far = _call(client, "GET", "/Users?startIndex=99999999999999999999&count=9999999999").get_json()
    assert far["totalResults"] == 2 and far["Resources"] == []
    assert _call(client, "GET", "/Users?count=many").status_code == 400

    # Replace.
    replaced = _call(
        client,
        "PUT",
        f"/Users/{user['id']}",
        {"userName": "ada@example.com", "displayName": "Ada King", "active": True},
    )
    assert replaced.status_code == 200
    assert replaced.get_json()["userName"] == "ada@example.com"
    assert replaced.get_json()["displayName"] == "Ada King"

    # Patch names and email, with and without a path (Entra sends "Replace").
    patched = _call(
        client,
        "PATCH",
        f"/Users/{user['id']}",
        {
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [
                {"op": "Replace", "path": "displayName", "value": "Ada L."},
                {"op": "replace", "value": {"emails": [{"value": "ada.l@example.com"}]}},
            ],
        },
    )
    assert patched.status_code == 200, patched.get_data(as_text=True)
    assert patched.get_json()["displayName"] == "Ada L."
    assert patched.get_json()["emails"][0]["value"] == "ada.l@example.com"
    unsupported = _call(
        client,
        "PATCH",
        f"/Users/{user['id']}",
        {"Operations": [{"op": "remove", "path": "title"}]},
    )
    assert unsupported.status_code == 400
    not_json = client.post(
        "/scim/v2/Users",
        data="{",
        content_type=SCIM,
        headers={"Authorization": f"Bearer {TOKEN}"},
    )
    assert not_json.status_code == 400 and not_json.get_json()["scimType"] == "invalidSyntax"

    # Delete deactivates; the member and their record stay.
    assert _call(client, "DELETE", f"/Users/{user['id']}").status_code == 204
    gone = _call(client, "GET", f"/Users/{user['id']}").get_json()
    assert gone["active"] is False


def test_deactivation_ends_sessions_revokes_tokens_and_is_audited_as_the_client(
    app: Flask, session: Session
) -> None:
    leaver = make_user(session, "leaver")
    tokens.create(session, user=leaver, name="script", scopes=["read"], expires_in_days=None)
    session.commit()
    browser = Browser(app.test_client())
    assert browser.login("leaver").status_code == 302
    assert browser.get("/").status_code == 200
    client = app.test_client()

    off = _call(
        client,
        "PATCH",
        f"/Users/{leaver.id}",
        {"Operations": [{"op": "replace", "path": "active", "value": "False"}]},
    )
    assert off.status_code == 200 and off.get_json()["active"] is False
    # The live login session ended, the access token was revoked.
    assert browser.get("/").status_code == 302
    _fresh(session)
    assert session.scalar(select(AccessToken.revoked_at)) is not None
    assert session.scalars(select(LoginSession.revoked_at)).all() != [None]

    on = _call(client, "PUT", f"/Users/{leaver.id}", {"userName": "leaver", "active": True})
    assert on.status_code == 200 and on.get_json()["active"] is True
    assert Browser(app.test_client()).login("leaver").status_code == 302

    _fresh(session)
    rows = session.execute(
        select(AuditLog.action, AuditLog.actor_id, AuditLog.reason)
        .where(AuditLog.target_type == "user", AuditLog.target_id == leaver.id)
        .order_by(AuditLog.id)
    ).all()
    assert [(action, actor) for action, actor, _ in rows] == [
        ("member.deactivate", None),
        ("member.reactivate", None),
    ]
    assert all("(by the SCIM client)" in reason for _, _, reason in rows)


def test_discovery_resources(client: FlaskClient) -> None:
    config = _call(client, "GET", "/ServiceProviderConfig")
    assert config.mimetype == SCIM
    assert config.get_json()["patch"] == {"supported": True}
    assert config.get_json()["filter"]["supported"] is True
    types = _call(client, "GET", "/ResourceTypes").get_json()
    assert types["Resources"][0]["endpoint"] == "/Users"
    schemas = _call(client, "GET", "/Schemas").get_json()
    names = {a["name"] for a in schemas["Resources"][0]["attributes"]}
    assert {"userName", "active", "emails"} <= names
    one = "/Schemas/urn:ietf:params:scim:schemas:core:2.0:User"
    assert _call(client, "GET", one).get_json()["id"].endswith(":User")


def test_a_provisioned_member_signs_in_through_the_company_provider(
    client: FlaskClient, session: Session
) -> None:
    created = _call(
        client,
        "POST",
        "/Users",
        {"userName": "grace@example.com", "emails": [{"value": "grace@example.com"}]},
    ).get_json()
    account = ExternalAccount(
        provider="oidc", subject="g-1", email="grace@example.com", email_verified=False
    )
    with pytest.raises(Conflict):
        identity.sign_in(session, account, SignInPolicy())
    verified = replace(account, email_verified=True, display_name="Grace Hopper")
    member = identity.sign_in(session, verified, SignInPolicy())
    assert isinstance(member, User) and member.id == int(created["id"])
    assert member.display_name == "Grace Hopper"


def test_scim_keeps_out_a_member_the_company_sign_in_deactivated(
    app: Flask, session: Session
) -> None:
    client = app.test_client()
    for method, body in (
        ("PATCH", {"Operations": [{"op": "replace", "path": "active", "value": False}]}),
        ("DELETE", None),
    ):
        leaver = make_user(session, f"leaver-{method.lower()}")
        accounts.deactivate(session, None, leaver, by_sso="not in an allowed oidc group")
        session.commit()
        answer = _call(client, method, f"/Users/{leaver.id}", body)
        assert answer.status_code in (200, 204), method
        _fresh(session)
        user = session.get(User, leaver.id)
        assert user is not None and not user.is_active and not user.deactivated_by_sso, method
