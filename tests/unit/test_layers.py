"""The layering docs/architecture.md describes, checked on the source."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "forum"


def _modules(folder: Path) -> list[Path]:
    return sorted(folder.rglob("*.py"))


def _imports(path: Path) -> list[str]:
    """Every module ``path`` imports (``from x import y`` gives x and x.y)."""
    found: list[str] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.append(node.module)
            found += [f"{node.module}.{alias.name}" for alias in node.names]
    return found


def _name(path: Path) -> str:
    return str(path.relative_to(PACKAGE.parent))


def test_no_blueprint_imports_another_blueprint() -> None:
    offenders = [
        f"{_name(path)} imports {name}"
        for path in _modules(PACKAGE / "blueprints")
        for name in _imports(path)
        if name.startswith("forum.blueprints.") and name != f"forum.blueprints.{path.stem}"
    ]
    assert offenders == []


@pytest.mark.parametrize("layer", ["services", "models"])
def test_services_and_models_know_nothing_of_the_web(layer: str) -> None:
    offenders = [
        f"{_name(path)} imports {name}"
        for path in _modules(PACKAGE / layer)
        for name in _imports(path)
        # Werkzeug's password hashing is a library function, not the web.
        if (name.split(".")[0] in {"flask", "flask_login", "flask_wtf", "werkzeug"})
        and not name.startswith("werkzeug.security")
        or name.startswith(("forum.blueprints", "forum.web", "forum.forms"))
    ]
    assert offenders == []


def test_models_depend_only_on_the_database_layer() -> None:
    offenders = [
        f"{_name(path)} imports {name}"
        for path in _modules(PACKAGE / "models")
        for name in _imports(path)
        if name.startswith("forum.")
        and not name.startswith(("forum.models", "forum.db", "forum.files"))
    ]
    assert offenders == []


def test_no_project_module_is_imported_by_name_at_run_time() -> None:
    offenders = []
    for path in _modules(PACKAGE):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "import_module"
            ):
                offenders.append(_name(path))
    assert offenders == []


def test_the_database_layer_loads_without_search() -> None:
    code = "import forum.db, sys; print('forum.search' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout.strip() == "False"


def test_no_global_session_listeners() -> None:
    """Subsystems listen on the app's session factory, never on the Session class."""
    offenders = []
    for path in _modules(PACKAGE):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in {"listen", "listens_for"}
                and node.args
                and isinstance(node.args[0], ast.Name)
                and node.args[0].id == "Session"
            ):
                offenders.append(f"{_name(path)}:{node.lineno}")
    assert offenders == []
