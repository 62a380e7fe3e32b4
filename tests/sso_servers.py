"""Real identity servers for the single sign-on tests, on loopback ports.

- ``OidcProvider``: the ``oidc-provider`` package (npm, ``tests/oidc``) run with Node.js, with
  one client and accounts read from a file at every sign-in (``set_accounts``).
- ``Slapd``: Debian's OpenLDAP server with a temporary configuration (mdb backend, the core,
  cosine, inetorgperson and nis schemas, the memberof overlay) and a small test directory.

A missing Node.js, ``npm ci`` or slapd skips visibly, or fails when FORUM_REQUIRE_BROWSER=1
(as in CI, which installs them).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import time
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import pytest
import requests

ROOT = Path(__file__).resolve().parents[1]
OIDC_DIR = ROOT / "tests" / "oidc"
CLIENT_ID = "forum-test"
CLIENT_SECRET = "forum-test-secret"
SLAPD = shutil.which("slapd") or "/usr/sbin/slapd"
SCHEMAS = Path("/etc/ldap/schema")
LDAP_SUFFIX = "dc=example,dc=org"
LDAP_ADMIN = f"cn=admin,{LDAP_SUFFIX}"
LDAP_ADMIN_PASSWORD = "admin-secret"
LDAP_SERVICE = f"cn=forum-service,{LDAP_SUFFIX}"
LDAP_SERVICE_PASSWORD = "service-secret"


def unavailable(message: str) -> None:
    """Skip visibly, or fail where the servers are required (CI)."""
    if os.environ.get("FORUM_REQUIRE_BROWSER") == "1":
        pytest.fail(message)
    pytest.skip(message)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_for_port(port: int, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited: {log.read_text(errors='replace')[-2000:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing listens on port {port} after 30 s")


def _stop(process: subprocess.Popen[bytes] | None) -> None:
    if process is not None and process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


class OidcProvider:
    """An OpenID provider process whose client redirects to ``redirect_uris``."""

    def __init__(self, folder: Path, redirect_uris: list[str]) -> None:
        if shutil.which("node") is None:
            unavailable("node is missing: the OpenID Connect tests run oidc-provider with Node.js")
        if not (OIDC_DIR / "node_modules" / "oidc-provider").is_dir():
            unavailable("tests/oidc/node_modules is missing: run `make install-dev` (npm ci)")
        self.folder = folder
        self.port = free_port()
        self.issuer = f"http://127.0.0.1:{self.port}"
        self.accounts_file = folder / "accounts.json"
        self.set_accounts({})
        config = {
            "port": self.port,
            "accounts": str(self.accounts_file),
            "clients": [
                {
                    "client_id": CLIENT_ID,
                    "client_secret": CLIENT_SECRET,
                    "redirect_uris": redirect_uris,
                    "grant_types": ["authorization_code"],
                    "response_types": ["code"],
                }
            ],
        }
        config_file = folder / "provider.json"
        config_file.write_text(json.dumps(config))
        self.log = folder / "provider.log"
        with self.log.open("wb") as log:
            self.process: subprocess.Popen[bytes] | None = subprocess.Popen(
                ["node", str(OIDC_DIR / "provider.mjs"), str(config_file)],
                cwd=OIDC_DIR,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        _wait_for_port(self.port, self.process, self.log)

    def set_accounts(self, accounts: dict[str, dict[str, Any]]) -> None:
        """The provider's accounts and their claims from now on (by account id = ``sub``)."""
        self.accounts_file.write_text(json.dumps(accounts))

    def app_config(self, **extra: Any) -> dict[str, Any]:
        """forum's settings for this provider."""
        return {
            "OIDC_ISSUER": self.issuer,
            "OIDC_CLIENT_ID": CLIENT_ID,
            "OIDC_CLIENT_SECRET": CLIENT_SECRET,
            "OIDC_PROVIDER_NAME": "Example SSO",
            **extra,
        }

    def sign_in(self, authorization_url: str, account: str, redirect_prefix: str) -> str:
        """Sign in as ``account`` on the provider's login page, as a browser would; returns
        the URL the provider sends the browser back to (forum's callback with code and state).
        """
        browser = requests.Session()
        url = authorization_url
        response = browser.get(url, allow_redirects=False, timeout=10)
        for _ in range(10):
            if response.status_code in (302, 303):
                url = urljoin(url, response.headers["Location"])
                if url.startswith(redirect_prefix):
                    return url
                response = browser.get(url, allow_redirects=False, timeout=10)
                continue
            form = re.search(r'<form[^>]*action="([^"]+)"', response.text)
            assert form and 'name="login"' in response.text, response.text[:500]
            response = browser.post(
                urljoin(url, form.group(1)),
                data={"prompt": "login", "login": account, "password": "any"},
                allow_redirects=False,
                timeout=10,
            )
        raise AssertionError(f"the provider never sent the browser back: {url}")

    def stop(self) -> None:
        """Stop the provider."""
        _stop(self.process)
        self.process = None


SLAPD_CONF = """\
include {schemas}/core.schema
include {schemas}/cosine.schema
include {schemas}/inetorgperson.schema
include {schemas}/nis.schema
modulepath /usr/lib/ldap
moduleload back_mdb
moduleload memberof
pidfile {folder}/slapd.pid
database mdb
maxsize 16777216
suffix "{suffix}"
rootdn "{admin}"
rootpw {password}
directory {folder}/data
overlay memberof
"""

PEOPLE = {
    "alice": {
        "cn": "Alice Liddell",
        "sn": "Liddell",
        "displayName": "Alice Liddell",
        "mail": "alice@example.org",
        "departmentNumber": "Engineering",
        "title": "Staff Engineer",
        "userPassword": "alice-password",
    },
    "bob": {
        "cn": "Bob Stone",
        "sn": "Stone",
        "mail": "bob@example.org",
        "departmentNumber": "Research",
        "title": "Researcher",
        "description": "Bob's description",
        "userPassword": "bob-password",
    },
}
GROUPS = {"forum-admins": ["alice"], "forum-moderators": ["bob"]}


def person_dn(uid: str) -> str:
    """The test directory's DN for ``uid``."""
    return f"uid={uid},ou=people,{LDAP_SUFFIX}"


def group_dn(name: str) -> str:
    """The test directory's DN for group ``name``."""
    return f"cn={name},ou=groups,{LDAP_SUFFIX}"


class Slapd:
    """An OpenLDAP server process with the test directory loaded."""

    def __init__(self, folder: Path) -> None:
        if not Path(SLAPD).exists():
            unavailable("slapd is missing: apt-get install slapd ldap-utils to run the LDAP tests")
        (folder / "data").mkdir(parents=True)
        conf = folder / "slapd.conf"
        conf.write_text(
            SLAPD_CONF.format(
                schemas=SCHEMAS,
                folder=folder,
                suffix=LDAP_SUFFIX,
                admin=LDAP_ADMIN,
                password=LDAP_ADMIN_PASSWORD,
            )
        )
        self.port = free_port()
        self.url = f"ldap://127.0.0.1:{self.port}"
        self.log = folder / "slapd.log"
        with self.log.open("wb") as log:
            self.process: subprocess.Popen[bytes] | None = subprocess.Popen(
                [SLAPD, "-f", str(conf), "-h", f"{self.url}/", "-d", "0"],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        _wait_for_port(self.port, self.process, self.log)
        self._load()

    def _load(self) -> None:
        import ldap3

        conn = ldap3.Connection(
            ldap3.Server(self.url), LDAP_ADMIN, LDAP_ADMIN_PASSWORD, auto_bind=True
        )
        entries: list[tuple[str, list[str], dict[str, Any]]] = [
            (LDAP_SUFFIX, ["dcObject", "organization"], {"o": "Example", "dc": "example"}),
            (f"ou=people,{LDAP_SUFFIX}", ["organizationalUnit"], {}),
            (f"ou=groups,{LDAP_SUFFIX}", ["organizationalUnit"], {}),
            (
                LDAP_SERVICE,
                ["organizationalRole", "simpleSecurityObject"],
                {"userPassword": LDAP_SERVICE_PASSWORD},
            ),
        ]
        entries += [(person_dn(uid), ["inetOrgPerson"], attrs) for uid, attrs in PEOPLE.items()]
        entries += [
            (group_dn(name), ["groupOfNames"], {"member": [person_dn(m) for m in members]})
            for name, members in GROUPS.items()
        ]
        for dn, classes, attributes in entries:
            assert conn.add(dn, classes, attributes), (dn, conn.result)
        conn.unbind()

    def stop(self) -> None:
        """Stop the server."""
        _stop(self.process)
        self.process = None
