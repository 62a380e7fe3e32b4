"""Where forum's files are: templates, static files, migrations and the instance folder.

A source checkout keeps ``templates/``, ``static/`` and ``migrations/`` beside the ``forum``
package; a wheel carries them inside it, as ``forum/templates`` and so on (setup.py).
"""

from __future__ import annotations

import os
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
#: The folder holding templates/, static/ and migrations/: the package itself when installed
#: from a wheel, the checkout's top folder otherwise (an editable install included).
DATA_ROOT = PACKAGE_DIR if (PACKAGE_DIR / "templates").is_dir() else PACKAGE_DIR.parent
TEMPLATES_DIR = DATA_ROOT / "templates"
STATIC_DIR = DATA_ROOT / "static"
MIGRATIONS_DIR = DATA_ROOT / "migrations"


def instance_path() -> Path:
    """The instance folder: ``FORUM_INSTANCE_PATH``, or ``instance/`` in the directory forum
    is started from (the checkout, for ``make run``)."""
    configured = os.environ.get("FORUM_INSTANCE_PATH")
    return Path(os.path.abspath(configured)) if configured else Path.cwd() / "instance"
