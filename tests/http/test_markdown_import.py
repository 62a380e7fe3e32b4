"""`forum import markdown` reads only regular files inside the folder and plain front matter."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from forum.interchange import markdown_io
from forum.models import Article, Role
from tests.factories import make_user

SECRET = "s3cr3t-key-material-0123456789"


def _secret_outside(tmp_path: Path) -> Path:
    """A file outside the import folder that must never be published."""
    instance = tmp_path / "elsewhere"
    instance.mkdir()
    secret = instance / "secret_key.md"
    secret.write_text(f"# Secret\n\n{SECRET}\n", encoding="utf-8")
    (instance / "keys").mkdir()
    (instance / "keys" / "key.md").write_text(f"# Key\n\n{SECRET}\n", encoding="utf-8")
    return instance


def _import(app: Flask, folder: Path, *, status: int = 0) -> str:
    result = app.test_cli_runner().invoke(args=["import", "markdown", str(folder)])
    assert result.exit_code == status, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output
    return result.output


def _bodies(session: Session) -> list[str]:
    session.expire_all()
    return [a.body_md for a in session.scalars(select(Article))]


def test_links_to_files_and_folders_are_skipped_and_reported(
    app: Flask, session: Session, tmp_path: Path
) -> None:
    make_user(session, "amara", role=Role.ADMIN)
    session.commit()
    instance = _secret_outside(tmp_path)
    source = tmp_path / "source"
    (source / "guides").mkdir(parents=True)
    (source / "guides" / "real.md").write_text("# Real\n\nKept.\n", encoding="utf-8")
    (source / "leak.md").symlink_to(instance / "secret_key.md")
    (source / "inner-link.md").symlink_to(source / "guides" / "real.md")
    (source / "linked-folder").symlink_to(instance / "keys", target_is_directory=True)
    (source / "guides" / "up.md").symlink_to(Path("..") / ".." / "elsewhere" / "secret_key.md")

    output = _import(app, source)

    assert all(SECRET not in body for body in _bodies(session))
    assert [a.title for a in session.scalars(select(Article))] == ["Real"]
    assert "1 created" in output and "4 skipped" in output
    for name in ("leak.md", "inner-link.md", "linked-folder", os.path.join("guides", "up.md")):
        assert f"skipped {name}:" in output


def test_a_hard_link_to_a_file_elsewhere_is_not_read(
    app: Flask, session: Session, tmp_path: Path
) -> None:
    make_user(session, "amara", role=Role.ADMIN)
    session.commit()
    instance = _secret_outside(tmp_path)
    source = tmp_path / "source"
    source.mkdir()
    os.link(instance / "secret_key.md", source / "hard.md")

    output = _import(app, source)

    assert _bodies(session) == []
    assert "skipped hard.md: a file with other hard links" in output


def test_a_file_swapped_for_a_link_after_the_scan_is_refused(tmp_path: Path) -> None:
    instance = _secret_outside(tmp_path)
    source = tmp_path / "source"
    source.mkdir()
    path = source / "late.md"
    path.write_text("# Late\n", encoding="utf-8")
    assert markdown_io.markdown_files(source) == [path.resolve()]
    path.unlink()
    path.symlink_to(instance / "secret_key.md")
    with pytest.raises(OSError):
        markdown_io.read_markdown_file(path)


def test_the_folder_itself_may_be_given_through_a_link(
    app: Flask, session: Session, tmp_path: Path
) -> None:
    make_user(session, "amara", role=Role.ADMIN)
    session.commit()
    real = tmp_path / "real"
    real.mkdir()
    (real / "a.md").write_text("# Alpha\n\nBody.\n", encoding="utf-8")
    (tmp_path / "alias").symlink_to(real, target_is_directory=True)

    output = _import(app, tmp_path / "alias")

    assert "1 created" in output and "skipped" not in output


LAUGHS = "---\ntitle: Laughs\na: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}]\n"
    for i in range(20)
)


@pytest.mark.parametrize(
    "text",
    [
        pytest.param(LAUGHS + "---\nBody\n", id="alias-expansion"),
        pytest.param("---\ntitle: &t Anchored\n---\nBody\n", id="anchor"),
        pytest.param("---\ntitle: T\nx: '" + "y" * 20_000 + "'\n---\nBody\n", id="oversized"),
        pytest.param("---\ntitle: T\nx: !!python/object:os.system ls\n---\nB\n", id="tag"),
    ],
)
def test_front_matter_without_aliases_and_within_the_cap(text: str) -> None:
    with pytest.raises(ValueError, match="front matter"):
        markdown_io.parse_markdown_file(text, "x.md")


def test_plain_front_matter_still_reads(tmp_path: Path) -> None:
    parsed = markdown_io.parse_markdown_file(
        "---\ntitle: Plain\ntags: [sql, ops]\ntype: tutorial\n---\nBody with --- inside.\n", "p.md"
    )
    assert (parsed.title, parsed.tags, parsed.article_type) == ("Plain", ["sql", "ops"], "tutorial")
    unfenced = markdown_io.parse_markdown_file('{"title": "json"}\n\nText\n', "j.md")
    assert unfenced.title == "J" and unfenced.body_md.startswith('{"title"')


def test_bad_front_matter_fails_one_file_not_the_import(
    app: Flask, session: Session, tmp_path: Path
) -> None:
    make_user(session, "amara", role=Role.ADMIN)
    session.commit()
    source = tmp_path / "source"
    source.mkdir()
    (source / "bomb.md").write_text(LAUGHS + "---\nBody\n", encoding="utf-8")
    (source / "fine.md").write_text("# Fine\n\nText.\n", encoding="utf-8")

    output = _import(app, source, status=1)

    assert "1 created, 0 updated, 0 unchanged, 1 failed" in output
    assert "bomb.md: front matter may not use YAML anchors or aliases" in output


def test_a_file_with_a_nul_character_fails_alone(
    app: Flask, session: Session, tmp_path: Path
) -> None:
    make_user(session, "amara", role=Role.ADMIN)
    session.commit()
    source = tmp_path / "source"
    source.mkdir()
    (source / "binary.md").write_bytes(b"# Binary\n\nA\x00B\n")
    (source / "fine.md").write_text("# Fine\n\nText.\n", encoding="utf-8")

    output = _import(app, source, status=1)

    assert "1 created, 0 updated, 0 unchanged, 1 failed" in output
    assert "binary.md: the file holds a NUL character" in output


def test_export_never_writes_through_a_link_in_the_folder(
    app: Flask, session: Session, tmp_path: Path
) -> None:
    make_user(session, "amara", role=Role.ADMIN)
    session.commit()
    source = tmp_path / "source"
    source.mkdir()
    (source / "guide.md").write_text("# Guide\n\nText.\n", encoding="utf-8")
    _import(app, source)
    victim = tmp_path / "victim.txt"
    victim.write_text("keep", encoding="utf-8")
    out = tmp_path / "out"
    out.mkdir()
    (out / "guide.md").symlink_to(victim)

    result = app.test_cli_runner().invoke(args=["export", "markdown", str(out)])

    assert result.exit_code == 0, result.output
    assert victim.read_text(encoding="utf-8") == "keep"
    assert not (out / "guide.md").is_symlink()
    assert "Text." in (out / "guide.md").read_text(encoding="utf-8")


BROKEN = {
    "latin1.md": "# Caf\xe9\n".encode("latin-1"),
    "unclosed.md": b"---\ntitle: [unclosed\n---\nBody\n",
    "kind.md": b"---\nkind: poem\n---\nBody\n",
    "empty.md": b"",
    "orphan.md": b"---\nkind: answer\nquestion: Nobody asked this\n---\nAn answer.\n",
}


def test_broken_files_fail_alone_named_with_a_reason_and_exit_1(
    app: Flask, session: Session, tmp_path: Path
) -> None:
    make_user(session, "amara", role=Role.ADMIN)
    session.commit()
    source = tmp_path / "source"
    source.mkdir()
    for name, data in BROKEN.items():
        (source / name).write_bytes(data)
    (source / "a-fine.md").write_text("# First fine\n\nText.\n", encoding="utf-8")
    (source / "z-fine.md").write_text("# Last fine\n\nText.\n", encoding="utf-8")

    result = app.test_cli_runner().invoke(args=["import", "markdown", str(source)])

    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output + result.stderr
    session.expire_all()
    assert sorted(a.title for a in session.scalars(select(Article))) == ["First fine", "Last fine"]
    failed = {
        line.strip().split(": ", 1)[0]: line.strip().split(": ", 1)[1]
        for line in result.stderr.splitlines()
        if line.startswith("  ") and ": " in line
    }
    assert set(failed) == set(BROKEN), result.stderr
    assert all(reason.strip() for reason in failed.values())
    assert f"2 created, 0 updated, 0 unchanged, {len(failed)} failed" in result.output
