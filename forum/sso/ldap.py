"""LDAP / Active Directory: check a username and password against the directory.

Two ways to find the account: bind directly as the DN a template makes from the username
(``uid={username},ou=people,dc=example,dc=org``; the username is escaped as a DN value), or bind
with a service account, search for exactly one entry with a filter (the username is escaped with
ldap3's ``escape_filter_chars``), then bind as that entry with the password. Groups come from an
attribute of the entry (``memberOf``) or from a search for groups naming the entry as a member.
No Flask here: ``authenticate`` answers an ``ExternalAccount`` or None.
"""

from __future__ import annotations

import logging
import ssl
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import ldap3
from ldap3.core.exceptions import LDAPException
from ldap3.utils.conv import escape_filter_chars
from ldap3.utils.dn import escape_rdn, parse_dn

from forum.services.identity import ExternalAccount

log = logging.getLogger(__name__)

#: Longest username or password sent to the directory.
INPUT_MAX = 256


@dataclass(frozen=True)
class LdapSettings:
    """A configured directory (the ``LDAP_*`` settings)."""

    url: str
    user_dn_template: str | None = None
    bind_dn: str | None = None
    bind_password: str | None = None
    search_base: str | None = None
    search_filter: str = "(uid={username})"
    start_tls: bool = False
    ca_file: str | None = None
    attr_subject: str = "entryUUID"
    attr_username: str = "uid"
    attr_display_name: str = "displayName"
    attr_email: str = "mail"
    attr_department: str = "departmentNumber"
    attr_job_title: str = "title"
    group_attribute: str | None = "memberOf"
    group_search_base: str | None = None
    group_search_filter: str = "(&(objectClass=groupOfNames)(member={dn}))"
    timeout: float = 10.0

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> LdapSettings:
        """The ``LDAP_*`` settings of the app's configuration."""

        def text(key: str, default: str | None = None) -> str | None:
            value = config.get(f"LDAP_{key}")
            return str(value) if value not in (None, "") else default

        return cls(
            url=str(config["LDAP_URL"]),
            user_dn_template=text("USER_DN_TEMPLATE"),
            bind_dn=text("BIND_DN"),
            bind_password=text("BIND_PASSWORD"),
            search_base=text("SEARCH_BASE"),
            search_filter=text("SEARCH_FILTER", "(uid={username})") or "",
            start_tls=bool(config.get("LDAP_START_TLS")),
            ca_file=text("CA_FILE"),
            attr_subject=text("ATTR_SUBJECT", "entryUUID") or "",
            attr_username=text("ATTR_USERNAME", "uid") or "",
            attr_display_name=text("ATTR_DISPLAY_NAME", "displayName") or "",
            attr_email=text("ATTR_EMAIL", "mail") or "",
            attr_department=text("ATTR_DEPARTMENT", "departmentNumber") or "",
            attr_job_title=text("ATTR_JOB_TITLE", "title") or "",
            group_attribute=text("GROUP_ATTRIBUTE"),
            group_search_base=text("GROUP_SEARCH_BASE"),
            group_search_filter=text(
                "GROUP_SEARCH_FILTER", "(&(objectClass=groupOfNames)(member={dn}))"
            )
            or "",
            timeout=float(config.get("LDAP_TIMEOUT") or 10),
        )

    @property
    def attributes(self) -> list[str]:
        """The attributes read from the member's entry."""
        names = [
            self.attr_subject,
            self.attr_username,
            self.attr_display_name,
            "cn",
            self.attr_email,
            self.attr_department,
            self.attr_job_title,
        ]
        if self.group_attribute:
            names.append(self.group_attribute)
        return sorted({n for n in names if n})


class DirectoryUnavailable(Exception):
    """The directory could not be reached or refused the service account."""


def _server(settings: LdapSettings) -> ldap3.Server:
    tls = None
    if settings.start_tls or settings.url.lower().startswith("ldaps://"):
        tls = ldap3.Tls(
            validate=ssl.CERT_REQUIRED,
            ca_certs_file=settings.ca_file,
            version=ssl.PROTOCOL_TLS_CLIENT,
        )
    return ldap3.Server(
        settings.url, get_info=ldap3.NONE, tls=tls, connect_timeout=max(1, int(settings.timeout))
    )


def _connect(settings: LdapSettings, user: str | None, password: str | None) -> ldap3.Connection:
    """An open connection bound as ``user`` (StartTLS first when configured).

    Raises ``DirectoryUnavailable`` when the server cannot be reached; a refused bind leaves the
    connection unbound (``conn.bound`` is False).
    """
    conn = ldap3.Connection(
        _server(settings),
        user=user,
        password=password,
        authentication=ldap3.SIMPLE if user else ldap3.ANONYMOUS,
        receive_timeout=max(1, int(settings.timeout)),
        raise_exceptions=False,
        read_only=True,
    )
    try:
        conn.open()
        if settings.start_tls and not settings.url.lower().startswith("ldaps://"):
            if not conn.start_tls():
                raise DirectoryUnavailable(f"StartTLS refused: {conn.result}")
        conn.bind()
    except LDAPException as exc:
        try:
            conn.unbind()
        except (LDAPException, OSError):
            pass  # a failed TLS handshake has closed the socket already
        if conn.socket is not None:  # ldap3 leaves the socket of a failed connect open
            conn.socket.close()
        raise DirectoryUnavailable(str(exc)) from exc
    return conn


def _first(entry: Mapping[str, Any], name: str) -> str | None:
    values = next((v for k, v in entry.items() if k.lower() == name.lower()), None)
    if isinstance(values, list):
        values = values[0] if values else None
    return str(values) if values not in (None, "") else None


def _subject(raw: Mapping[str, Any], name: str) -> str | None:
    """The entry's stable id, from the raw value: AD's binary objectGUID as a UUID."""
    values = next((v for k, v in raw.items() if k.lower() == name.lower()), None)
    value = values[0] if isinstance(values, list) and values else values
    if not isinstance(value, bytes) or not value:
        return None
    if name.lower() == "objectguid" and len(value) == 16:
        return str(uuid.UUID(bytes_le=value))
    try:
        return value.decode()
    except UnicodeDecodeError:
        return value.hex()


def _all(entry: Mapping[str, Any], name: str) -> list[str]:
    values = next((v for k, v in entry.items() if k.lower() == name.lower()), None)
    if values is None:
        return []
    if not isinstance(values, list):
        values = [values]
    return [str(v) for v in values]


Entry = tuple[dict[str, Any], dict[str, Any]]


def _entry(found: Mapping[str, Any]) -> Entry:
    """An entry's attributes and raw (bytes) attributes."""
    return dict(found.get("attributes") or {}), dict(found.get("raw_attributes") or {})


def _read_entry(conn: ldap3.Connection, dn: str, settings: LdapSettings) -> Entry | None:
    conn.search(dn, "(objectClass=*)", search_scope=ldap3.BASE, attributes=settings.attributes)
    entries = [e for e in conn.response or [] if e.get("type") == "searchResEntry"]
    return _entry(entries[0]) if len(entries) == 1 else None


def _find(settings: LdapSettings, username: str) -> tuple[str, Entry] | None:
    """The DN and attributes of the one entry the search filter finds for ``username``."""
    conn = _connect(settings, settings.bind_dn, settings.bind_password)
    try:
        if not conn.bound:
            raise DirectoryUnavailable(f"the service account's bind was refused: {conn.result}")
        query = settings.search_filter.replace("{username}", escape_filter_chars(username))
        conn.search(
            settings.search_base or "",
            query,
            search_scope=ldap3.SUBTREE,
            attributes=settings.attributes,
            size_limit=2,
        )
        entries = [e for e in conn.response or [] if e.get("type") == "searchResEntry"]
        if len(entries) != 1:
            return None
        return str(entries[0]["dn"]), _entry(entries[0])
    finally:
        conn.unbind()


def _group_names(dns: list[str]) -> list[str]:
    """Each group as its DN and as its first RDN's value (``cn=forum-admins,...``: both)."""
    names: list[str] = []
    for dn in dns:
        names.append(dn)
        try:
            names.append(parse_dn(dn)[0][1])
        except (LDAPException, IndexError):
            continue
    return names


def _groups(
    conn: ldap3.Connection, settings: LdapSettings, dn: str, entry: Mapping[str, Any]
) -> list[str]:
    dns = _all(entry, settings.group_attribute) if settings.group_attribute else []
    if settings.group_search_base:
        query = settings.group_search_filter.replace("{dn}", escape_filter_chars(dn))
        conn.search(settings.group_search_base, query, search_scope=ldap3.SUBTREE, attributes=[])
        dns += [str(e["dn"]) for e in conn.response or [] if e.get("type") == "searchResEntry"]
    return _group_names(dns)


def authenticate(settings: LdapSettings, username: str, password: str) -> ExternalAccount | None:
    """The directory's account for ``username`` when ``password`` is its password, else None.

    An empty password is refused before the directory is asked: LDAP treats a simple bind
    without a password as an anonymous bind, which succeeds. Raises ``DirectoryUnavailable``
    when the directory cannot be reached.
    """
    username = username.strip()
    if not username or not password or len(username) > INPUT_MAX or len(password) > INPUT_MAX:
        return None
    found: tuple[str, Entry] | None
    if settings.user_dn_template:
        found = (settings.user_dn_template.replace("{username}", escape_rdn(username)), ({}, {}))
    else:
        found = _find(settings, username)
        if found is None:
            return None
    dn, (entry, raw) = found
    conn = _connect(settings, dn, password)
    try:
        if not conn.bound:
            return None
        if not raw:
            read = _read_entry(conn, dn, settings)
            if read is None:
                return None
            entry, raw = read
        subject = _subject(raw, settings.attr_subject)
        if subject is None:
            log.warning("LDAP entry %s has no %s attribute", dn, settings.attr_subject)
            return None
        groups = _groups(conn, settings, dn, entry)
    finally:
        conn.unbind()
    return ExternalAccount(
        provider="ldap",
        subject=subject,
        username=_first(entry, settings.attr_username) or username,
        display_name=_first(entry, settings.attr_display_name) or _first(entry, "cn"),
        email=_first(entry, settings.attr_email),
        # The directory is run by the company: its addresses are the company's records.
        email_verified=True,
        department=_first(entry, settings.attr_department),
        job_title=_first(entry, settings.attr_job_title),
        groups=tuple(groups),
    )
