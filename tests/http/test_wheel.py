"""forum built as a wheel and installed into a fresh virtualenv, away from the checkout.

The wheel must carry the templates, static files and migrations (kept at the top of the
repository) and every non-Python file of the package: the installed ``forum`` command then
migrates a SQLite database and serves pages with their stylesheet and scripts.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
#: What a build reads from the checkout. It is built from a copy, so that a build/ folder
#: left in the checkout by an earlier build can never add stale files to the wheel.
SOURCES = ("pyproject.toml", "setup.py", "README.md", "forum", "templates", "static", "migrations")
#: Folders kept beside the package in the checkout and inside it in the wheel.
DATA_FOLDERS = ("templates", "static", "migrations")
BUILD_TIMEOUT = 300
INSTALL_TIMEOUT = 600
COMMAND_TIMEOUT = 120
SERVER_START_TIMEOUT = 60

pytestmark = pytest.mark.slow


def _run(command: list[str], *, timeout: float, **kwargs: object) -> str:
    """Run ``command``; its output, or a failure showing it."""
    done = subprocess.run(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=timeout,
        check=False,
        **kwargs,  # type: ignore[arg-type]
    )
    assert done.returncode == 0, (
        f"{' '.join(command)} exited with {done.returncode}:\n{done.stdout}"
    )
    return done.stdout


def _source_files(folder: Path) -> set[str]:
    """Files under ``folder`` a build may ship, relative to it (no caches, no hidden files)."""
    return {
        path.relative_to(folder).as_posix()
        for path in folder.rglob("*")
        if path.is_file()
        and "__pycache__" not in path.parts
        and path.suffix not in {".pyc", ".pyo"}
        and not any(part.startswith(".") for part in path.relative_to(folder).parts)
    }


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel ``pip wheel`` builds from (a copy of) the checkout."""
    source = tmp_path_factory.mktemp("source")
    ignored = shutil.ignore_patterns("__pycache__", "*.py[co]", "*.egg-info")
    for name in SOURCES:
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, source / name, ignore=ignored)
        else:
            shutil.copy2(ROOT / name, source / name)
    dist = tmp_path_factory.mktemp("dist")
    pip_wheel = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-input", "-q"]
    _run([*pip_wheel, "-w", str(dist), str(source)], timeout=BUILD_TIMEOUT)
    (built,) = dist.glob("forum-*.whl")
    return built


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory, wheel: Path) -> Path:
    """A new virtualenv with the wheel and its dependencies installed (local package index)."""
    folder = tmp_path_factory.mktemp("venv")
    _run([sys.executable, "-m", "venv", str(folder)], timeout=COMMAND_TIMEOUT)
    python = folder / "bin" / "python"
    install = [str(python), "-m", "pip", "install", "--no-input", "-q", str(wheel)]
    _run(install, timeout=INSTALL_TIMEOUT, cwd=folder)
    return folder


def _clean_env(**extra: str) -> dict[str, str]:
    """This process's environment without forum's settings or an import path to the checkout."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("FORUM_", "FLASK_")) and k not in {"PYTHONPATH", "VIRTUAL_ENV"}
    }
    env.update(extra)
    return env


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _get(url: str) -> tuple[int, str, bytes]:
    """Status, content type and body of a GET (errors are answers too)."""
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.headers.get("Content-Type", ""), response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers.get("Content-Type", ""), error.read()


@pytest.fixture
def server(venv: Path, tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """``forum db upgrade`` then ``forum run`` from the installed wheel in an empty folder;
    yields the server's base URL and that folder."""
    work = tmp_path / "site"
    work.mkdir()
    env = _clean_env(FORUM_DATABASE_URL=f"sqlite:///{work / 'forum.db'}")
    forum = str(venv / "bin" / "forum")
    _run([forum, "db", "upgrade"], timeout=COMMAND_TIMEOUT, cwd=work, env=env)
    port = _free_port()
    log = work / "server.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [forum, "run", "--host", "127.0.0.1", "--port", str(port)],
            cwd=work,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + SERVER_START_TIMEOUT
        while True:
            assert proc.poll() is None, f"forum run exited:\n{log.read_text()}"
            try:
                if _get(f"{base}/healthz")[0] == 200:
                    break
            except OSError:
                pass  # not listening yet
            assert time.monotonic() < deadline, (
                f"no /healthz within the timeout:\n{log.read_text()}"
            )
            time.sleep(0.2)
        yield base, work
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=15)


def test_wheel_carries_templates_static_files_migrations_and_package_files(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
    expected = {f"forum/{name}" for name in _source_files(ROOT / "forum")}
    for folder in DATA_FOLDERS:
        expected |= {f"forum/{folder}/{name}" for name in _source_files(ROOT / folder)}
    assert any(name.endswith(".html") for name in expected)  # the comparison has substance
    assert sorted(expected - names) == []
    # Nothing outside the package: no top-level templates/ or static/ in site-packages.
    project, version = wheel.name.split("-")[:2]
    assert {name.split("/")[0] for name in names} == {"forum", f"{project}-{version}.dist-info"}


def test_installed_wheel_is_imported_from_the_new_virtualenv(venv: Path, tmp_path: Path) -> None:
    code = "import forum.locations as p; print(p.PACKAGE_DIR); print(p.TEMPLATES_DIR)"
    out = _run(
        [str(venv / "bin" / "python"), "-c", code],
        timeout=COMMAND_TIMEOUT,
        cwd=tmp_path,
        env=_clean_env(),
    )
    package, templates = (Path(line) for line in out.split())
    assert package.is_relative_to(venv.resolve())
    assert templates == package / "templates"
    assert (templates / "base.html").is_file()


#: Imports every module of the installed package (migrations run when imported: not those).
IMPORT_ALL = """
import importlib, pkgutil, forum
names = [m.name for m in pkgutil.walk_packages(forum.__path__, "forum.")]
for name in names:
    if not name.startswith("forum.migrations"):
        importlib.import_module(name)
print(len(names))
"""


def test_every_module_imports_with_the_declared_dependencies(venv: Path, tmp_path: Path) -> None:
    """A module importing a library pyproject.toml does not list fails here."""
    python = str(venv / "bin" / "python")
    out = _run([python, "-c", IMPORT_ALL], timeout=COMMAND_TIMEOUT, cwd=tmp_path, env=_clean_env())
    assert int(out.split()[-1]) > 50


def test_installed_wheel_migrates_and_serves_pages_styles_and_scripts(
    server: tuple[str, Path],
) -> None:
    base, work = server
    # The instance folder defaults to instance/ in the directory forum runs in.
    assert (work / "instance" / "secret_key").is_file()
    status, content_type, body = _get(f"{base}/")
    assert status == 200 and content_type.startswith("text/html")
    page = body.decode()
    stylesheet = re.search(r'<link rel="stylesheet" href="([^"]+)"', page)
    script = re.search(r'<script src="([^"]+)"', page)
    assert stylesheet is not None and script is not None, page
    for url, kind in ((stylesheet.group(1), "text/css"), (script.group(1), "javascript")):
        status, content_type, served = _get(urllib.parse.urljoin(f"{base}/", url))
        assert status == 200 and kind in content_type, url
        # The very file of the checkout's static/, served from the installed package.
        path = urllib.parse.urlsplit(url).path.removeprefix("/static/")
        assert served == (ROOT / "static" / path).read_bytes(), url
