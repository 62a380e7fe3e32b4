"""ID token validation (forum.sso.oidc.validate_id_token) with keys the test controls."""

from __future__ import annotations

import time
from typing import Any

import pytest
from joserfc import jwt
from joserfc.jwk import KeySet, OctKey, RSAKey

from forum.sso import group_list, oidc

ISSUER = "https://login.example.org"
CLIENT = "forum"
NONCE = "n-0S6_WzA2Mj"
KEY = RSAKey.generate_key(2048, parameters={"kid": "k1"})
JWKS = KeySet([KEY]).as_dict(private=False)


def token(key: Any = KEY, alg: str = "RS256", **changes: Any) -> str:
    now = int(time.time())
    claims = {
        "iss": ISSUER,
        "aud": CLIENT,
        "sub": "248289761001",
        "iat": now,
        "exp": now + 300,
        "nonce": NONCE,
        **changes,
    }
    claims = {k: v for k, v in claims.items() if v is not None}
    return jwt.encode({"alg": alg, "kid": "k1"}, claims, key)


def validate(id_token: str, **kwargs: Any) -> dict[str, Any]:
    options = {"keys": JWKS, "issuer": ISSUER, "client_id": CLIENT, "nonce": NONCE, **kwargs}
    return oidc.validate_id_token(id_token, **options)


def test_a_good_token_passes() -> None:
    assert validate(token())["sub"] == "248289761001"
    assert validate(token(aud=[CLIENT, "other"], azp=CLIENT))["azp"] == CLIENT


@pytest.mark.parametrize(
    ("changes", "why"),
    [
        ({"iss": "https://evil.example.org"}, "another issuer"),
        ({"aud": "another-client"}, "another audience"),
        ({"aud": [CLIENT, "other"]}, "several audiences, not issued to forum"),
        ({"exp": int(time.time()) - 3600, "iat": int(time.time()) - 7200}, "expired"),
        ({"nonce": "replayed-nonce"}, "another nonce"),
        ({"nonce": None}, "no nonce"),
        ({"sub": None}, "no subject"),
    ],
)
def test_a_token_for_something_else_is_refused(changes: dict[str, Any], why: str) -> None:
    with pytest.raises(oidc.OidcError):
        validate(token(**changes))


def test_a_token_signed_with_another_key_is_refused() -> None:
    other = RSAKey.generate_key(2048, parameters={"kid": "k1"})
    with pytest.raises(oidc.OidcError):
        validate(token(key=other))


def test_a_shared_secret_signature_is_refused() -> None:
    secret = OctKey.generate_key(256, parameters={"kid": "k1"})
    keys = KeySet([secret]).as_dict(private=True)
    with pytest.raises(oidc.OidcError):
        validate(token(key=secret, alg="HS256"), keys=keys)


def test_claims_become_an_account() -> None:
    names = oidc.ClaimNames(username="upn", display_name="name", department="dept", groups="groups")
    account = oidc.account(
        {
            "sub": "abc",
            "upn": "ada@example.org",
            "name": "Ada L",
            "email": "ada@example.org",
            "email_verified": "true",
            "dept": "Research",
            "groups": ["g1", "g2"],
        },
        names,
    )
    assert (account.subject, account.username, account.email_verified) == (
        "abc",
        "ada@example.org",
        True,
    )
    assert (account.department, account.groups) == ("Research", ("g1", "g2"))
    assert oidc.account({"sub": "x"}, oidc.ClaimNames()).email_verified is False


def test_group_lists_from_settings() -> None:
    assert group_list("a, b") == ["a", "b"]
    assert group_list('["x", "y"]') == ["x", "y"]
    assert group_list("cn=admins,ou=groups,dc=example;cn=ops,dc=example") == [
        "cn=admins,ou=groups,dc=example",
        "cn=ops,dc=example",
    ]
    assert group_list(None) == []
