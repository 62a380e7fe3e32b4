"""OpenID Connect: the authorization code flow with PKCE, and ID token validation.

No Flask here: the blueprint keeps the pending request (state, nonce, PKCE verifier) in the
signed session and calls ``authorization_request`` and ``finish``. The provider's metadata comes
from its discovery document (``<issuer>/.well-known/openid-configuration``) and its signing keys
from its ``jwks_uri``; both are cached for an hour, and the keys are fetched again at once when a
token names a key the cache lacks (the provider rotated its keys).
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import requests
from authlib.integrations.requests_client import OAuth2Session
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from joserfc.jwt import JWTClaimsRegistry

from forum.services.identity import ExternalAccount

#: Signature algorithms an ID token may use (never "none", never a shared-secret HMAC).
ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "EdDSA")
#: Clock difference tolerated between the provider and forum, in seconds.
LEEWAY = 60
CACHE_SECONDS = 3600


class OidcError(Exception):
    """The provider could not be used, or its answer is not to be trusted."""


@dataclass(frozen=True)
class ClaimNames:
    """Which claims hold the member's fields."""

    username: str = "preferred_username"
    display_name: str = "name"
    email: str = "email"
    department: str = "department"
    job_title: str = "job_title"
    groups: str | None = None


@dataclass(frozen=True)
class OidcSettings:
    """A configured provider and forum's client at it."""

    issuer: str
    client_id: str
    client_secret: str | None = None
    scopes: str = "openid email profile"
    claims: ClaimNames = ClaimNames()
    timeout: float = 10.0

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> OidcSettings:
        """The ``OIDC_*`` settings of the app's configuration."""
        return cls(
            issuer=str(config["OIDC_ISSUER"]),
            client_id=str(config["OIDC_CLIENT_ID"]),
            client_secret=config.get("OIDC_CLIENT_SECRET") or None,
            scopes=str(config.get("OIDC_SCOPES") or "openid email profile"),
            claims=ClaimNames(
                username=str(config.get("OIDC_CLAIM_USERNAME") or "preferred_username"),
                display_name=str(config.get("OIDC_CLAIM_DISPLAY_NAME") or "name"),
                email=str(config.get("OIDC_CLAIM_EMAIL") or "email"),
                department=str(config.get("OIDC_CLAIM_DEPARTMENT") or "department"),
                job_title=str(config.get("OIDC_CLAIM_JOB_TITLE") or "job_title"),
                groups=config.get("OIDC_CLAIM_GROUPS") or None,
            ),
            timeout=float(config.get("OIDC_TIMEOUT") or 10),
        )


@dataclass(frozen=True)
class PendingLogin:
    """What the browser's return from the provider must match (kept in the signed session)."""

    state: str
    nonce: str
    code_verifier: str
    redirect_uri: str


_cache: dict[str, tuple[float, dict[str, Any]]] = {}
_cache_lock = threading.Lock()


def _get_json(url: str, settings: OidcSettings, *, fresh: bool = False) -> dict[str, Any]:
    with _cache_lock:
        cached = _cache.get(url)
    if cached is not None and not fresh and time.monotonic() - cached[0] < CACHE_SECONDS:
        return cached[1]
    try:
        response = requests.get(url, timeout=settings.timeout)
        response.raise_for_status()
        data = response.json()
    except (requests.RequestException, ValueError) as exc:
        raise OidcError(f"could not read {url}: {exc}") from exc
    if not isinstance(data, dict):
        raise OidcError(f"{url} is not a JSON object")
    with _cache_lock:
        _cache[url] = (time.monotonic(), data)
    return data


def clear_cache() -> None:
    """Forget every provider's metadata and keys."""
    with _cache_lock:
        _cache.clear()


def metadata(settings: OidcSettings) -> dict[str, Any]:
    """The provider's discovery document, checked to be the configured issuer's."""
    doc = _get_json(settings.issuer.rstrip("/") + "/.well-known/openid-configuration", settings)
    if doc.get("issuer") != settings.issuer:
        raise OidcError(f"the discovery document names issuer {doc.get('issuer')!r}")
    for key in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
        if not isinstance(doc.get(key), str):
            raise OidcError(f"the discovery document has no {key}")
    return doc


def authorization_request(settings: OidcSettings, redirect_uri: str) -> tuple[str, PendingLogin]:
    """Where to send the browser, and what its return must match (state, nonce, PKCE)."""
    doc = metadata(settings)
    pending = PendingLogin(
        state=secrets.token_urlsafe(32),
        nonce=secrets.token_urlsafe(32),
        code_verifier=secrets.token_urlsafe(48),
        redirect_uri=redirect_uri,
    )
    client = _client(settings, redirect_uri)
    url, _state = client.create_authorization_url(
        doc["authorization_endpoint"],
        state=pending.state,
        nonce=pending.nonce,
        code_verifier=pending.code_verifier,
    )
    return str(url), pending


def _client(settings: OidcSettings, redirect_uri: str) -> OAuth2Session:
    return OAuth2Session(
        client_id=settings.client_id,
        client_secret=settings.client_secret,
        scope=settings.scopes,
        redirect_uri=redirect_uri,
        code_challenge_method="S256",
        token_endpoint_auth_method=("client_secret_basic" if settings.client_secret else "none"),
    )


def validate_id_token(
    id_token: str,
    *,
    keys: Mapping[str, Any],
    issuer: str,
    client_id: str,
    nonce: str,
    now: int | None = None,
) -> dict[str, Any]:
    """The claims of ``id_token`` once its signature (by one of ``keys``, a JWKS), issuer,
    audience, expiry and nonce are right; raises ``OidcError`` otherwise."""
    try:
        token = jwt.decode(id_token, KeySet.import_key_set(dict(keys)), algorithms=ALGORITHMS)  # type: ignore[arg-type]
    except (JoseError, ValueError) as exc:
        raise OidcError(f"the ID token's signature does not verify: {exc}") from exc
    registry = JWTClaimsRegistry(
        now=now,
        leeway=LEEWAY,
        iss={"essential": True, "value": issuer},
        aud={"essential": True, "value": client_id},
        sub={"essential": True},
        exp={"essential": True},
        iat={"essential": True},
        nonce={"essential": True, "value": nonce},
    )
    try:
        registry.validate(token.claims)
    except JoseError as exc:
        raise OidcError(f"the ID token is not for this sign-in: {exc}") from exc
    claims = dict(token.claims)
    audience = claims["aud"]
    # With several audiences, the token must say it was issued to forum (OIDC Core 3.1.3.7).
    if isinstance(audience, list) and len(audience) > 1 and claims.get("azp") != client_id:
        raise OidcError("the ID token was issued to another party")
    return claims


def _validate(
    settings: OidcSettings, doc: Mapping[str, Any], id_token: str, nonce: str
) -> dict[str, Any]:
    keys = _get_json(doc["jwks_uri"], settings)
    try:
        return validate_id_token(
            id_token, keys=keys, issuer=settings.issuer, client_id=settings.client_id, nonce=nonce
        )
    except OidcError:
        # The provider may have rotated its keys since they were cached: fetch them once more.
        fresh = _get_json(doc["jwks_uri"], settings, fresh=True)
        if fresh == keys:
            raise
        return validate_id_token(
            id_token, keys=fresh, issuer=settings.issuer, client_id=settings.client_id, nonce=nonce
        )


def finish(
    settings: OidcSettings, pending: PendingLogin, *, code: str, issuer: str | None = None
) -> dict[str, Any]:
    """Exchange the code (with the PKCE verifier) and return the validated claims.

    ``issuer`` is the ``iss`` parameter of the browser's return, when the provider sends one
    (RFC 9207): it must be the configured issuer. The userinfo endpoint's claims are added to
    the ID token's when the provider has one (many send profile claims only there); the ID
    token's own claims win.
    """
    if issuer is not None and issuer != settings.issuer:
        raise OidcError("the authorization response comes from another issuer")
    doc = metadata(settings)
    client = _client(settings, pending.redirect_uri)
    try:
        token = client.fetch_token(
            doc["token_endpoint"],
            grant_type="authorization_code",
            code=code,
            code_verifier=pending.code_verifier,
            timeout=settings.timeout,
        )
    except Exception as exc:  # Authlib raises its own errors and requests' alike
        raise OidcError(f"the code exchange failed: {exc}") from exc
    id_token = token.get("id_token")
    if not isinstance(id_token, str):
        raise OidcError("the token response has no ID token")
    claims = _validate(settings, doc, id_token, pending.nonce)
    userinfo_url = doc.get("userinfo_endpoint")
    access_token = token.get("access_token")
    if isinstance(userinfo_url, str) and isinstance(access_token, str):
        try:
            response = requests.get(
                userinfo_url,
                headers={"Authorization": f"Bearer {access_token}"},
                timeout=settings.timeout,
            )
            response.raise_for_status()
            info = response.json()
        except (requests.RequestException, ValueError) as exc:
            raise OidcError(f"could not read the userinfo endpoint: {exc}") from exc
        if isinstance(info, dict) and info.get("sub") == claims["sub"]:
            claims = {**info, **claims}
    return claims


def _text(value: Any) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    return None


def _groups(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list):
        return tuple(str(item) for item in value if isinstance(item, (str, int)))
    return ()


def account(claims: Mapping[str, Any], names: ClaimNames) -> ExternalAccount:
    """The provider's account that validated ``claims`` describe."""
    verified = claims.get("email_verified")
    return ExternalAccount(
        provider="oidc",
        subject=str(claims["sub"]),
        username=_text(claims.get(names.username)),
        display_name=_text(claims.get(names.display_name)),
        email=_text(claims.get(names.email)),
        # Some providers send the flag as a string.
        email_verified=verified is True or verified == "true",
        department=_text(claims.get(names.department)),
        job_title=_text(claims.get(names.job_title)),
        groups=_groups(claims.get(names.groups)) if names.groups else (),
    )
