"""Tags' stored counts of live questions and articles follow every change to posts and tags."""

from __future__ import annotations

import threading
import time
from typing import Any

from click.testing import Result
from flask import Flask
from sqlalchemy import select, text, update
from sqlalchemy.orm import Session

from forum.db import new_session
from forum.models import Role, Tag
from forum.services import article_life, articles, questions, tags
from tests.factories import make_answer, make_article, make_question, make_user


def counts(session: Session) -> dict[str, tuple[int, int]]:
    """Every tag's stored (questions, articles), read fresh from the database."""
    session.flush()
    session.expire_all()
    rows = session.execute(select(Tag.name, Tag.question_count, Tag.article_count))
    return {str(name): (int(q), int(a)) for name, q, a in rows}


def check(session: Session, expected: dict[str, tuple[int, int]]) -> None:
    """The stored counts are ``expected`` (tags not named: zero) and equal the derived ones."""
    stored = counts(session)
    assert {k: v for k, v in stored.items() if v != (0, 0)} == expected
    assert tags.count_drift(session) == []


def test_asking_answering_and_anonymous_questions_count(session: Session) -> None:
    asker = make_user(session, reputation=1000)
    make_question(session, asker, tags=("python", "sql"))
    make_question(session, asker, tags=("python",), anonymous=True)
    check(session, {"python": (2, 0), "sql": (1, 0)})
    question = make_question(session, asker, tags=("ops",))
    make_answer(session, question)  # answers are counted with their question, not the tag
    check(session, {"python": (2, 0), "sql": (1, 0), "ops": (1, 0)})


def test_retagging_moves_the_count(session: Session) -> None:
    asker = make_user(session, reputation=1000)
    question = make_question(session, asker, tags=("python", "sql"))
    session.commit()
    questions.edit(
        session,
        editor=asker,
        question_id=question.id,
        title=question.title,
        body_md="Still the same question, with other tags.",
        tags=["sql", "ops"],
    )
    check(session, {"sql": (1, 0), "ops": (1, 0)})


def test_delete_and_undelete_of_a_question(session: Session) -> None:
    asker = make_user(session, reputation=1000)
    moderator = make_user(session, role=Role.MODERATOR)
    kept = make_question(session, asker, tags=("python",))
    gone = make_question(session, asker, tags=("python", "sql"))
    session.commit()
    questions.delete(session, actor=asker, question_id=gone.id)
    check(session, {"python": (1, 0)})
    questions.undelete(session, actor=moderator, question_id=gone.id)
    check(session, {"python": (2, 0), "sql": (1, 0)})
    # Closing keeps a question listed on its tags: the count stays.
    questions.close(session, moderator=moderator, question_id=kept.id, reason="off-topic")
    check(session, {"python": (2, 0), "sql": (1, 0)})


def test_articles_published_unpublished_edited_and_deleted(session: Session) -> None:
    author = make_user(session, reputation=1000)
    moderator = make_user(session, role=Role.MODERATOR)
    article = make_article(session, author, tags="python docs")
    make_question(session, author, tags=("python",))
    check(session, {"python": (1, 1), "docs": (0, 1)})
    article_life.unpublish(session, article, actor=author)
    check(session, {"python": (1, 0)})
    article_life.publish(session, article, actor=author)
    check(session, {"python": (1, 1), "docs": (0, 1)})
    session.commit()
    articles.edit_article(
        session,
        article,
        editor=author,
        data=articles.ArticleData(
            title=article.title or "", body_md="Other words.", tags_text="ops", article_type="tip"
        ),
        base_revision=article.revision_count,
        allow_new_tags=True,
    )
    check(session, {"python": (1, 0), "ops": (0, 1)})
    article_life.delete(session, article, actor=moderator, reason="Out of date for good.")
    check(session, {"python": (1, 0)})


def test_merging_tags_moves_their_counts(session: Session) -> None:
    asker = make_user(session, reputation=1000)
    moderator = make_user(session, role=Role.MODERATOR)
    make_question(session, asker, tags=("postgres",))
    make_question(session, asker, tags=("postgres", "postgresql"))
    make_question(session, asker, tags=("postgresql",))
    make_article(session, asker, tags="postgres")
    session.commit()
    target = session.scalars(select(Tag).where(Tag.name == "postgresql")).one()
    assert (target.question_count, target.article_count) == (2, 0)
    tags.add_synonym(session, moderator=moderator, tag=target, name="postgres")
    # The question with both tags counts once; the merged tag is gone.
    check(session, {"postgresql": (3, 1)})
    # The object the caller holds reads the new counts too.
    assert tags.summary(target).total == 4


def test_recount_repairs_drift_and_count_drift_names_it(session: Session) -> None:
    asker = make_user(session, reputation=1000)
    make_question(session, asker, tags=("python",))
    session.commit()
    session.execute(update(Tag).values(question_count=7))
    [drift] = tags.count_drift(session)
    assert (drift.name, drift.stored, drift.derived) == ("python", (7, 0), (1, 0))
    tags.recount(session)
    check(session, {"python": (1, 0)})


def test_the_recount_command_checks_and_repairs(app: Flask, session: Session) -> None:
    make_question(session, make_user(session, reputation=1000), tags=("python",))
    session.commit()
    session.execute(update(Tag).values(question_count=7))
    session.commit()
    runner: Any = app.test_cli_runner()
    checked: Result = runner.invoke(args=["tags", "recount", "--check"])
    assert checked.exit_code == 1 and "python: stored 7 questions" in checked.output
    fixed: Result = runner.invoke(args=["tags", "recount"])
    assert fixed.exit_code == 0, fixed.output
    assert "Fixed 1 of" in fixed.output
    again: Result = runner.invoke(args=["tags", "recount", "--check"])
    assert again.exit_code == 0 and "no drift" in again.output
    check(session, {"python": (1, 0)})


def test_concurrent_questions_on_one_tag_both_count(app: Flask, session: Session) -> None:
    """A count made while another transaction's question on the tag is uncommitted still
    ends up counting both: the second count waits for the first transaction to commit."""
    asker = make_user(session, reputation=1000)
    tags.tags_named(session, ["python"])
    session.commit()
    make_question(session, asker, tags=("python",))  # flushed and counted, not committed
    started = threading.Event()
    failures: list[BaseException] = []

    def ask_meanwhile() -> None:
        try:
            with new_session(app, writes=True) as other:
                started.set()
                questions.ask(
                    other,
                    author=other.get(type(asker), asker.id),
                    title="Another question about python here",
                    body_md="Details.",
                    tags=["python"],
                )
                other.commit()
        except BaseException as exc:  # noqa: BLE001 - reported by the test below
            failures.append(exc)

    worker = threading.Thread(target=ask_meanwhile)
    worker.start()
    assert started.wait(30)
    if session.get_bind().dialect.name == "postgresql":
        # The other transaction waits for this one's lock on the tag before counting.
        deadline = time.monotonic() + 30
        while not _waiting_for_a_lock(app) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _waiting_for_a_lock(app)
    session.commit()
    worker.join(60)
    assert not worker.is_alive() and failures == []
    check(session, {"python": (2, 0)})


def _waiting_for_a_lock(app: Flask) -> bool:
    with new_session(app) as probe:
        waiting = probe.scalar(
            text(
                "SELECT count(*) FROM pg_stat_activity"
                " WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
        )
    return bool(waiting)


def test_a_question_rolled_back_then_asked_again_counts_once(session: Session) -> None:
    """The first ask's new tag is gone with the rollback but may linger in the session."""
    asker = make_user(session, "asker")
    session.commit()
    make_question(session, asker, tags=("fresh",))
    session.rollback()
    make_question(session, asker, tags=("fresh",))
    session.commit()
    check(session, {"fresh": (1, 0)})
