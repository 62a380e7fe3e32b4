"""The package list, which pyproject.toml cannot express: templates/, static/ and migrations/
stay at the top of the repository and ship inside the wheel as forum/templates, forum/static
and forum/migrations (forum.locations finds them in either place)."""

from setuptools import find_packages, setup

DATA_FOLDERS = {f"forum.{name}": name for name in ("templates", "static", "migrations")}

setup(
    packages=[*find_packages(include=["forum", "forum.*"]), *DATA_FOLDERS],
    package_dir=DATA_FOLDERS,
)
