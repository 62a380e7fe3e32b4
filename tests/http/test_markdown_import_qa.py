"""`forum import markdown` with questions and answers: threads, comments, acceptance, dates."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from forum.interchange import markdown_io
from forum.models import Answer, Comment, Question, Role
from forum.services import reputation
from tests.factories import make_user

QUESTION = """---
kind: question
title: How do I rotate the staging database password?
author: tom
tags: [postgresql, access]
created: 2026-03-02T09:00:00Z
comments:
  - author: jonas
    body: Good one, this bit me too.
    created: 2026-03-02T10:00:00Z
---
The old one expired and the deploy fails.
"""
ACCEPTED = """---
kind: answer
author: amara
accepted: true
created: 2026-03-02T11:00:00Z
comments:
  - author: tom
    body: Worked, thanks!
    created: 2026-03-03T08:30:00Z
---
Run `nw-secrets rotate staging-db`; it updates the deploy secret too.
"""
OTHER = """---
kind: answer
question: How do I rotate the staging database password?
author: priya
created: 2026-03-02T12:00:00Z
---
And restart the workers afterwards.
"""


def _aware(moment: dt.datetime) -> dt.datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def _import(app: Flask, folder: Path, *, status: int = 0) -> str:
    result = app.test_cli_runner().invoke(args=["import", "markdown", str(folder)])
    assert result.exit_code == status, result.output
    return result.output


def test_a_thread_imports_with_its_dates_comments_and_accepted_answer(
    app: Flask, session: Session, tmp_path: Path
) -> None:
    make_user(session, "amara", role=Role.ADMIN)
    for name in ("tom", "jonas", "priya"):
        make_user(session, name)
    session.commit()
    thread = tmp_path / "source" / "rotate-password"
    thread.mkdir(parents=True)
    # The answer files sort before the question: answers are imported after every question.
    (thread / "answer-1.md").write_text(ACCEPTED, encoding="utf-8")
    (thread / "question.md").write_text(QUESTION, encoding="utf-8")
    (tmp_path / "source" / "elsewhere.md").write_text(OTHER, encoding="utf-8")

    output = _import(app, tmp_path / "source")

    assert "3 created, 0 updated, 0 unchanged, 0 failed" in output
    session.expire_all()
    question = session.scalars(select(Question)).one()
    assert question.author is not None and question.author.username == "tom"
    assert [t.name for t in question.tags] == ["access", "postgresql"]
    assert _aware(question.created_at) == dt.datetime(2026, 3, 2, 9, tzinfo=dt.UTC)
    answers = {a.author.username: a for a in session.scalars(select(Answer)) if a.author}
    assert set(answers) == {"amara", "priya"} and question.answer_count == 2
    assert question.accepted_answer_id == answers["amara"].id
    assert _aware(answers["priya"].created_at) == dt.datetime(2026, 3, 2, 12, tzinfo=dt.UTC)
    comments = {c.body_md: c for c in session.scalars(select(Comment))}
    assert comments["Good one, this bit me too."].post_id == question.id
    assert comments["Worked, thanks!"].post_id == answers["amara"].id
    # The thread was last active with its latest comment, not at import time.
    assert _aware(question.last_activity_at) == dt.datetime(2026, 3, 3, 8, 30, tzinfo=dt.UTC)
    assert reputation.recalc(session, fix=False).clean
    assert answers["amara"].author is not None and answers["amara"].author.reputation == 15

    again = _import(app, tmp_path / "source")
    assert "0 created, 0 updated, 3 unchanged, 0 failed" in again
    assert len(session.scalars(select(Comment)).all()) == 2


def test_an_answer_without_its_question_fails_alone(
    app: Flask, session: Session, tmp_path: Path
) -> None:
    make_user(session, "amara", role=Role.ADMIN)
    session.commit()
    source = tmp_path / "source"
    (source / "thread").mkdir(parents=True)
    answer = "---\nkind: answer\n---\nAn answer.\n"
    (source / "thread" / "answer.md").write_text(answer, encoding="utf-8")
    (source / "fine.md").write_text("# Fine\n\nText.\n", encoding="utf-8")

    output = _import(app, source, status=1)

    assert "1 created, 0 updated, 0 unchanged, 1 failed" in output
    # Named with its folder: many threads hold an "answer.md".
    assert f"{Path('thread') / 'answer.md'}: no question to answer" in output


@pytest.mark.parametrize(
    ("front_matter", "message"),
    [
        ("kind: poll", "'kind' must be one of article, question, answer"),
        ("kind: question\nanonymous: maybe", "'anonymous' must be true or false"),
        ("comments: [just text]", "'comments' must be a list"),
        ("comments:\n  - author: tom", "every comment in the front matter needs a body"),
    ],
)
def test_front_matter_for_questions_is_checked(front_matter: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        markdown_io.parse_markdown_file(f"---\ntitle: T\n{front_matter}\n---\nBody\n", "t.md")


def test_fields_the_importer_does_not_read_are_passed_on() -> None:
    parsed = markdown_io.parse_markdown_file(
        "---\nkind: question\ntitle: T\nanonymous: true\nvoters: [a, b]\n---\nBody\n", "t.md"
    )
    assert (parsed.kind, parsed.anonymous, parsed.extra) == (
        "question",
        True,
        {"voters": ["a", "b"]},
    )
