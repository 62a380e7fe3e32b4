"""Single sign-on: OpenID Connect (``oidc``) and LDAP / Active Directory (``ldap``).

The protocol modules turn a provider's answer into a ``forum.services.identity.ExternalAccount``;
``forum.services.identity`` decides which member that is (provisioning, linking, roles), and
``forum.sso.flow`` logs the member in. Settings are the ``OIDC_*``, ``LDAP_*`` and
``SSO_CREATE_DEPARTMENTS`` keys of the configuration (docs/identity.md).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from forum.services.identity import RoleMapping, SignInPolicy


def group_list(value: Any) -> list[str]:
    """A configured list of groups: a list, a JSON list, or comma-separated names."""
    if value is None:
        return []
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            try:
                value = json.loads(text)
            except ValueError:
                value = text.strip("[]").split(",")
        else:
            # Group DNs hold commas: ";" separates them when any name has an "=".
            value = text.split(";") if "=" in text else text.split(",")
    return [str(item).strip() for item in value if str(item).strip()]


def policy(config: Mapping[str, Any], prefix: str) -> SignInPolicy:
    """How sign-ins through the provider configured under ``prefix`` (``OIDC``, ``LDAP``) work."""
    roles = RoleMapping.of(
        group_list(config.get(f"{prefix}_ADMIN_GROUPS")),
        group_list(config.get(f"{prefix}_MODERATOR_GROUPS")),
    )
    if prefix == "OIDC" and not config.get("OIDC_CLAIM_GROUPS"):
        roles = RoleMapping()  # no groups claim: the provider does not manage roles
    return SignInPolicy.of(
        roles,
        create_departments=bool(config.get("SSO_CREATE_DEPARTMENTS")),
        required_groups=group_list(config.get(f"{prefix}_REQUIRED_GROUPS")),
    )


def oidc_enabled(config: Mapping[str, Any]) -> bool:
    """Whether OpenID Connect sign-in is configured."""
    return bool(config.get("OIDC_ISSUER") and config.get("OIDC_CLIENT_ID"))


def ldap_enabled(config: Mapping[str, Any]) -> bool:
    """Whether LDAP sign-in is configured."""
    return bool(config.get("LDAP_URL"))
