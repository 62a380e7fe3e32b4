"""Where forum looks for its files in a source checkout, and the instance folder default."""

from __future__ import annotations

from pathlib import Path

import pytest

from forum import create_app, locations

ROOT = Path(__file__).resolve().parents[2]


def test_a_checkout_serves_the_top_level_folders() -> None:
    assert locations.DATA_ROOT == ROOT
    assert (locations.TEMPLATES_DIR / "base.html").is_file()
    assert (locations.STATIC_DIR / "css" / "forum.css").is_file()
    assert (locations.MIGRATIONS_DIR / "env.py").is_file()


def test_instance_folder_is_instance_in_the_current_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("FORUM_INSTANCE_PATH", raising=False)
    monkeypatch.chdir(tmp_path)
    assert locations.instance_path() == tmp_path / "instance"
    app = create_app({"DATABASE_URL": "sqlite://", "SECRET_KEY": "x"})
    assert Path(app.instance_path) == tmp_path / "instance"
    assert (tmp_path / "instance").is_dir()


def test_forum_instance_path_wins_and_may_be_relative(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("FORUM_INSTANCE_PATH", "data/forum")
    assert locations.instance_path() == tmp_path / "data" / "forum"
