"""`forum import stackexchange`: progress, summary, re-runs, malformed files, the site option."""

from __future__ import annotations

from pathlib import Path
from xml.etree import ElementTree as ET

from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from forum.models import Answer, Comment, PostAttribution, Question, User

AI = (
    Path(__file__).resolve().parents[3]
    / "shared"
    / "data"
    / "stackexchange"
    / "ai.stackexchange.com"
)
QUESTIONS = 12


def _rows(path: Path) -> list[dict[str, str]]:
    rows = []
    for _event, element in ET.iterparse(path):
        if element.tag == "row":
            rows.append(dict(element.attrib))
            element.clear()
    return rows


def _write(path: Path, root: str, rows: list[dict[str, str]]) -> None:
    """One row a line, as the dumps are laid out."""
    lines = ['<?xml version="1.0" encoding="utf-8"?>', f"<{root}>"]
    lines += ["  " + ET.tostring(ET.Element("row", row), encoding="unicode") for row in rows]
    path.write_text("\n".join([*lines, f"</{root}>", ""]), encoding="utf-8")


def small_dump(folder: Path) -> dict[str, int]:
    """The first QUESTIONS questions of the real dump with everything they refer to."""
    folder.mkdir(parents=True)
    posts = _rows(AI / "Posts.xml")
    questions = [p for p in posts if p["PostTypeId"] == "1"][:QUESTIONS]
    ids = {q["Id"] for q in questions}
    answers = [p for p in posts if p["PostTypeId"] == "2" and p["ParentId"] in ids]
    ids |= {a["Id"] for a in answers}
    kept = [p for p in posts if p["Id"] in ids]
    comments = [c for c in _rows(AI / "Comments.xml") if c["PostId"] in ids]
    history = [h for h in _rows(AI / "PostHistory.xml") if h["PostId"] in ids]
    people = {p.get("OwnerUserId") for p in kept} | {p.get("LastEditorUserId") for p in kept}
    people |= {c.get("UserId") for c in comments} | {h.get("UserId") for h in history}
    users = [u for u in _rows(AI / "Users.xml") if u["Id"] in people]
    names = {n for q in questions for n in q["Tags"].strip("<>").split("><")}
    tags = [t for t in _rows(AI / "Tags.xml") if t["TagName"] in names]
    links = [
        link
        for link in _rows(AI / "PostLinks.xml")
        if link["PostId"] in ids or link["RelatedPostId"] in ids
    ]
    _write(folder / "Posts.xml", "posts", kept)
    _write(folder / "Users.xml", "users", users)
    _write(folder / "Tags.xml", "tags", tags)
    _write(folder / "Comments.xml", "comments", comments)
    _write(folder / "PostHistory.xml", "posthistory", history)
    _write(folder / "PostLinks.xml", "postlinks", links)
    return {"questions": len(questions), "answers": len(answers), "comments": len(comments)}


def _count(session: Session, model: type) -> int:
    return session.scalar(select(func.count()).select_from(model)) or 0


def _summary_row(output: str, kind: str) -> list[str]:
    line = next(line for line in output.splitlines() if line.strip().startswith(kind + " "))
    return line.split()[-4:]


def test_import_shows_progress_and_a_summary_and_reruns_as_a_no_op(
    app: Flask, session: Session, tmp_path: Path
) -> None:
    folder = tmp_path / "ai.stackexchange.com"
    expected = small_dump(folder)
    runner = app.test_cli_runner()

    result = runner.invoke(args=["import", "stackexchange", str(folder)])

    assert result.exit_code == 0, result.output
    for name in ("Users.xml", "Tags.xml", "Posts.xml (questions)", "Comments.xml"):
        assert f"Reading {name}" in result.output
    assert _summary_row(result.output, "questions") == [str(QUESTIONS), str(QUESTIONS), "0", "0"]
    n = str(expected["answers"])
    assert _summary_row(result.output, "answers") == [n, n, "0", "0"]
    assert "Search: index up to date" in result.output
    assert _count(session, Question) == QUESTIONS
    assert _count(session, Answer) == expected["answers"]
    assert _count(session, Comment) == expected["comments"]
    users = _count(session, User)
    session.rollback()

    again = runner.invoke(args=["import", "stackexchange", str(folder)])

    assert again.exit_code == 0, again.output
    assert _summary_row(again.output, "questions") == [str(QUESTIONS), "0", str(QUESTIONS), "0"]
    assert _count(session, Question) == QUESTIONS and _count(session, User) == users


def test_malformed_file_stops_with_file_line_and_reason(
    app: Flask, session: Session, tmp_path: Path
) -> None:
    folder = tmp_path / "ai.stackexchange.com"
    small_dump(folder)
    comments = (folder / "Comments.xml").read_bytes()
    cut = comments[: len(comments) // 2]
    (folder / "Comments.xml").write_bytes(cut)

    result = app.test_cli_runner().invoke(args=["import", "stackexchange", str(folder)])

    assert result.exit_code == 1
    line = cut.count(b"\n") + 1
    assert f"Error: Comments.xml, line {line}: malformed XML (unclosed token)" in result.output
    assert "Nothing was imported." in result.output
    # Users, questions and answers were flushed before Comments.xml: all rolled back.
    assert _count(session, User) == _count(session, Question) == _count(session, Answer) == 0


def test_site_url_names_the_source_when_the_folder_does_not(
    app: Flask, session: Session, tmp_path: Path
) -> None:
    folder = tmp_path / "dump"
    small_dump(folder)
    runner = app.test_cli_runner()

    refused = runner.invoke(args=["import", "stackexchange", str(folder)])
    assert refused.exit_code == 2 and "--site-url" in refused.output
    assert _count(session, Question) == 0
    session.rollback()  # end the read so the next one sees the import's commit

    result = runner.invoke(
        args=["import", "stackexchange", str(folder), "--site-url", "https://ai.stackexchange.com"]
    )
    assert result.exit_code == 0, result.output
    urls = session.scalars(select(PostAttribution.source_url)).all()
    assert urls and all(u.startswith("https://ai.stackexchange.com/") for u in urls)
