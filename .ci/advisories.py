"""Known vulnerabilities of the installed packages, from pip-audit's report and PyPI.

Usage: advisories.py REPORT [--index-url URL]

REPORT is the JSON report of `pip-audit --local --skip-editable --format json`. pip-audit looks
every package up in PyPI's per-release JSON (`/pypi/NAME/VERSION/json`). For each package it
could not look up (editable installs of the project itself aside), this script asks the
project-level JSON instead (`/pypi/NAME/json`, under --index-url or $PYPI_JSON_URL, default
https://pypi.org/pypi). PyPI documents that endpoint's `vulnerabilities` array as the known
vulnerabilities of the project's most recent release only
(https://docs.pypi.org/api/json/, "Get a project"). So:

- when the installed version is the release that answer calls the latest (`info.version`), its
  advisories apply to the installed package; those with a non-null `withdrawn` timestamp were
  retracted upstream and are ignored (same page, "Known vulnerabilities");
- when it is any other version, the answer says nothing about it and the package is reported
  as not checked, with the reason.

Output: one line per known vulnerability, then a summary line "N of M installed packages
checked, K known vulnerabilities, U not checked." The packages not checked are listed on
stderr with the reason. They do not fail the run by themselves: the summary says how many
there are, so a partial check is never presented as a complete one.

Exit status: 1 when any known vulnerability was found; otherwise 2 when the advisory source
did not answer at all (not one package could be looked up) or the report cannot be read;
otherwise 0.

Every request is given up after REQUEST_TIMEOUT seconds (connection and each read are limited
to what is left of that time), and of the TOTAL_BUDGET seconds left when the first starts:
a package not asked by then is not checked.
"""

from __future__ import annotations

import argparse
import http.client
import importlib.metadata
import json
import os
import re
import sys
import time
import urllib.parse
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TextIO

from packaging.version import InvalidVersion, Version

DEFAULT_INDEX_URL = "https://pypi.org/pypi"
REQUEST_TIMEOUT = 10.0  # seconds, per request
TOTAL_BUDGET = 120.0  # seconds; requests not started by then are not made
WORKERS = 8
MAX_BODY = 64 * 1024 * 1024  # the largest project JSON we depend on is about 7 MB
LISTED_UNCHECKED = 20  # how many unchecked packages stderr names one by one


@dataclass(frozen=True)
class Vulnerability:
    package: str
    version: str
    id: str
    aliases: tuple[str, ...]
    fixed_in: tuple[str, ...]

    def line(self) -> str:
        aliases = f" ({', '.join(self.aliases)})" if self.aliases else ""
        fixes = ", ".join(self.fixed_in) or "no fix yet"
        return f"{self.package} {self.version}: {self.id}{aliases}, fixed in {fixes}"


@dataclass(frozen=True)
class Unchecked:
    package: str
    reason: str


@dataclass
class Outcome:
    total: int = 0
    checked_by_pip_audit: int = 0
    checked_by_project_json: int = 0
    to_look_up: int = 0  # packages left to the project-level JSON
    answered: int = 0  # of which the index returned the project's record
    vulnerabilities: list[Vulnerability] = field(default_factory=list)
    unchecked: list[Unchecked] = field(default_factory=list)
    editable: list[str] = field(default_factory=list)  # the project itself, not audited

    @property
    def checked(self) -> int:
        return self.checked_by_pip_audit + self.checked_by_project_json

    def exit_status(self) -> int:
        if self.vulnerabilities:
            return 1
        if self.to_look_up and not self.answered:
            return 2
        return 0


@dataclass(frozen=True)
class Project:
    """The part of a project-level JSON answer used here."""

    latest: str  # info.version
    advisories: list[dict[str, Any]]  # vulnerabilities: those of the latest release


class NoAnswer(Exception):
    """No project record: network error, timeout, 404, 5xx, not the expected JSON..."""


def canonical_name(name: str) -> str:
    """The project name as PyPI's URLs spell it (PEP 503 normalisation)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def installed_version(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def same_release(installed: str, latest: str) -> bool:
    try:
        return Version(installed) == Version(latest)
    except InvalidVersion:
        return installed == latest


def fetch_project(index_url: str, name: str, timeout: float) -> Project:
    """GET {index_url}/{name}/json, giving up after `timeout` seconds in all."""
    url = f"{index_url.rstrip('/')}/{urllib.parse.quote(canonical_name(name))}/json"
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise NoAnswer(f"unsupported index URL {index_url!r}")
    deadline = time.monotonic() + timeout

    def time_left() -> float:
        left = deadline - time.monotonic()
        if left <= 0:
            raise NoAnswer(f"no complete answer within {timeout:g} s from {url}")
        return left

    connection_class = (
        http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    )
    connection = connection_class(parts.hostname, parts.port, timeout=timeout)
    try:
        connection.request(
            "GET", parts.path, headers={"Accept": "application/json", "Connection": "close"}
        )
        # Kept: the connection lets go of its socket once the response says it will close.
        sock = connection.sock
        if sock is None:
            raise NoAnswer(f"no connection to {parts.netloc}")
        sock.settimeout(time_left())
        with connection.getresponse() as response:
            if response.status == 404:
                raise NoAnswer(f"no such project at {url}")
            if response.status != 200:
                raise NoAnswer(f"HTTP {response.status} from {url}")
            body = bytearray()
            while not response.isclosed():  # it closes itself once the body is read
                sock.settimeout(time_left())
                chunk = response.read(256 * 1024)
                if not chunk:
                    break
                body += chunk
                if len(body) > MAX_BODY:
                    raise NoAnswer(f"answer from {url} larger than {MAX_BODY} bytes")
        data = json.loads(body)
    except TimeoutError as error:
        raise NoAnswer(f"no complete answer within {timeout:g} s from {url}") from error
    except (OSError, http.client.HTTPException, ValueError) as error:
        raise NoAnswer(f"{type(error).__name__} from {url}: {error}") from error
    finally:
        connection.close()
    info = data.get("info") if isinstance(data, dict) else None
    latest = info.get("version") if isinstance(info, dict) else None
    advisories = data.get("vulnerabilities") if isinstance(data, dict) else None
    if not isinstance(latest, str) or not isinstance(advisories, list):
        raise NoAnswer(f"answer from {url} has no info.version or vulnerabilities list")
    return Project(latest, [entry for entry in advisories if isinstance(entry, dict)])


def installed_release_advisories(
    name: str, version: str, project: Project
) -> list[Vulnerability] | Unchecked:
    """The advisories that apply to the installed release, or why the answer does not say."""
    if not same_release(version, project.latest):
        return Unchecked(
            name,
            f"installed {version}, latest on the index is {project.latest}; the project JSON "
            "lists the known vulnerabilities of the latest release only",
        )
    return [
        Vulnerability(
            package=name,
            version=version,
            id=str(entry.get("id", "unnamed advisory")),
            aliases=tuple(str(alias) for alias in entry.get("aliases") or ()),
            fixed_in=tuple(str(fix) for fix in entry.get("fixed_in") or ()),
        )
        for entry in project.advisories
        if not entry.get("withdrawn")  # an RFC 3339 timestamp once retracted upstream
    ]


def audit(
    report: dict[str, Any],
    index_url: str,
    version_of: Callable[[str], str | None] = installed_version,
    request_timeout: float = REQUEST_TIMEOUT,
    total_budget: float = TOTAL_BUDGET,
) -> Outcome:
    outcome = Outcome()
    to_ask: list[tuple[str, str]] = []
    for dep in report["dependencies"]:
        name = str(dep["name"])
        reason = dep.get("skip_reason")
        if reason is None:
            outcome.total += 1
            outcome.checked_by_pip_audit += 1
            outcome.vulnerabilities.extend(
                Vulnerability(
                    package=name,
                    version=str(dep["version"]),
                    id=str(vuln["id"]),
                    aliases=tuple(vuln.get("aliases") or ()),
                    fixed_in=tuple(vuln.get("fix_versions") or ()),
                )
                for vuln in dep.get("vulns") or ()
            )
        elif "editable" in str(reason):
            outcome.editable.append(name)
        else:
            outcome.total += 1
            version = version_of(name)
            if version is None:
                outcome.unchecked.append(Unchecked(name, f"{reason}; version not found locally"))
            else:
                to_ask.append((name, version))

    outcome.to_look_up = len(to_ask)
    deadline = time.monotonic() + total_budget

    def ask(name: str) -> Project | NoAnswer | None:
        """None when the total budget was used up before this request could start."""
        left = deadline - time.monotonic()
        if left <= 0:
            return None
        try:
            return fetch_project(index_url, name, min(request_timeout, left))
        except NoAnswer as error:
            return error

    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        answers = list(pool.map(ask, [name for name, _ in to_ask]))

    for (name, version), answer in zip(to_ask, answers, strict=True):
        if answer is None:
            outcome.unchecked.append(
                Unchecked(name, f"{version}: not asked, {total_budget:g} s budget used up")
            )
            continue
        if isinstance(answer, NoAnswer):
            outcome.unchecked.append(Unchecked(name, f"{version}: {answer}"))
            continue
        outcome.answered += 1
        result = installed_release_advisories(name, version, answer)
        if isinstance(result, Unchecked):
            outcome.unchecked.append(result)
        else:
            outcome.checked_by_project_json += 1
            outcome.vulnerabilities.extend(result)
    return outcome


def print_outcome(outcome: Outcome, out: TextIO, err: TextIO) -> None:
    for vulnerability in outcome.vulnerabilities:
        print(vulnerability.line(), file=out)
    print(
        f"Checked by pip-audit: {outcome.checked_by_pip_audit}; by the latest-release "
        f"advisories of the project JSON: {outcome.checked_by_project_json}.",
        file=out,
    )
    print(
        f"{outcome.checked} of {outcome.total} installed packages checked, "
        f"{len(outcome.vulnerabilities)} known vulnerabilities, "
        f"{len(outcome.unchecked)} not checked.",
        file=out,
    )
    if outcome.editable:
        print(f"Not audited (editable installs): {', '.join(outcome.editable)}", file=err)
    if outcome.unchecked:
        print("Not checked:", file=err)
        for item in outcome.unchecked[:LISTED_UNCHECKED]:
            print(f"  {item.package}: {item.reason}", file=err)
        if len(outcome.unchecked) > LISTED_UNCHECKED:
            print(f"  ... and {len(outcome.unchecked) - LISTED_UNCHECKED} more", file=err)
    if outcome.to_look_up and not outcome.answered:
        print("The advisory source answered for none of the packages.", file=err)


def main(
    argv: Sequence[str] | None = None,
    version_of: Callable[[str], str | None] = installed_version,
    out: TextIO = sys.stdout,
    err: TextIO = sys.stderr,
) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("report", help="pip-audit's JSON report")
    parser.add_argument(
        "--index-url",
        default=os.environ.get("PYPI_JSON_URL", DEFAULT_INDEX_URL),
        help="base of the project JSON URLs (default: $PYPI_JSON_URL or %(default)s)",
    )
    args = parser.parse_args(argv)
    try:
        with open(args.report, encoding="utf-8") as file:
            report = json.load(file)
        if not isinstance(report, dict) or not isinstance(report.get("dependencies"), list):
            raise ValueError("no dependencies list")
    except (OSError, ValueError) as error:
        print(f"cannot read the pip-audit report {args.report}: {error}", file=err)
        return 2
    outcome = audit(report, args.index_url, version_of)
    print_outcome(outcome, out, err)
    return outcome.exit_status()


if __name__ == "__main__":
    sys.exit(main())
