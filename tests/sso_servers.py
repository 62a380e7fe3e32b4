"""Real identity servers for the single sign-on tests, on loopback ports.

- ``OidcProvider``: the ``oidc-provider`` package (npm, ``tests/oidc``) run with Node.js, with
  one client and accounts read from a file at every sign-in (``set_accounts``).
- ``Slapd``: Debian's OpenLDAP server with a temporary configuration (mdb backend, the core,
  cosine, inetorgperson and nis schemas, the memberof overlay) and a small test directory;
  with ``tls=True`` it also listens on ``ldaps://`` and offers StartTLS, with a certificate
  from a throwaway CA made at run time (``make_ca``).

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
from dataclasses import dataclass
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


@dataclass(frozen=True)
class CertificateAuthority:
    """A CA made for one test run: its certificate (PEM file) and key."""

    cert_file: Path
    key: Any
    cert: Any

    def issue(self, folder: Path, host: str = "127.0.0.1") -> tuple[Path, Path]:
        """A server certificate for ``host`` (IP address and ``localhost``) signed by this CA;
        returns the certificate and key PEM files."""
        import datetime as dt
        import ipaddress

        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import rsa
        from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        now = dt.datetime.now(dt.UTC)
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)]))
            .issuer_name(self.cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(
                x509.SubjectAlternativeName(
                    [x509.IPAddress(ipaddress.ip_address(host)), x509.DNSName("localhost")]
                ),
                critical=False,
            )
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .sign(self.key, hashes.SHA256())
        )
        cert_file, key_file = folder / "server.pem", folder / "server-key.pem"
        cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        key_file.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.TraditionalOpenSSL,
                serialization.NoEncryption(),
            )
        )
        return cert_file, key_file


def make_ca(folder: Path, name: str = "forum test CA") -> CertificateAuthority:
    """A new self-signed CA (RSA 2048, valid one day) with its certificate in ``folder``."""
    import datetime as dt

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    folder.mkdir(parents=True, exist_ok=True)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_file = folder / "ca.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return CertificateAuthority(cert_file=cert_file, key=key, cert=cert)


SLAPD_TLS_CONF = """\
TLSCACertificateFile {ca}
TLSCertificateFile {cert}
TLSCertificateKeyFile {key}
"""

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

    def __init__(self, folder: Path, *, tls: bool = False) -> None:
        if not Path(SLAPD).exists():
            unavailable("slapd is missing: apt-get install slapd ldap-utils to run the LDAP tests")
        (folder / "data").mkdir(parents=True)
        conf = folder / "slapd.conf"
        settings = SLAPD_CONF.format(
            schemas=SCHEMAS,
            folder=folder,
            suffix=LDAP_SUFFIX,
            admin=LDAP_ADMIN,
            password=LDAP_ADMIN_PASSWORD,
        )
        self.port = free_port()
        self.url = f"ldap://127.0.0.1:{self.port}"
        listen = [f"{self.url}/"]
        #: The CA that signed the server's certificate (with ``tls``), and the ldaps:// URL.
        self.ca: CertificateAuthority | None = None
        self.ldaps_url: str | None = None
        if tls:
            self.ca = make_ca(folder / "ca")
            cert, key = self.ca.issue(folder)
            settings = SLAPD_TLS_CONF.format(ca=self.ca.cert_file, cert=cert, key=key) + settings
            self.ldaps_port = free_port()
            self.ldaps_url = f"ldaps://127.0.0.1:{self.ldaps_port}"
            listen.append(f"{self.ldaps_url}/")
        conf.write_text(settings)
        self.log = folder / "slapd.log"
        with self.log.open("wb") as log:
            self.process: subprocess.Popen[bytes] | None = subprocess.Popen(
                [SLAPD, "-f", str(conf), "-h", " ".join(listen), "-d", "0"],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        _wait_for_port(self.port, self.process, self.log)
        self._load()

    def _admin(self) -> Any:
        import ldap3

        return ldap3.Connection(
            ldap3.Server(self.url), LDAP_ADMIN, LDAP_ADMIN_PASSWORD, auto_bind=True
        )

    def set_members(self, group: str, members: list[str]) -> None:
        """Make ``members`` (uids) the members of ``group`` (a group needs at least one)."""
        import ldap3

        conn = self._admin()
        changes = {"member": [(ldap3.MODIFY_REPLACE, [person_dn(m) for m in members])]}
        assert conn.modify(group_dn(group), changes), conn.result
        conn.unbind()

    def _load(self) -> None:
        conn = self._admin()
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
