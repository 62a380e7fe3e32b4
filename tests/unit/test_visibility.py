"""The one visibility rule: a removed post, and everything that hangs from a removed question,
is seen by its authors and moderators only; the SQL form agrees with the Python form."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from forum.models import Notification, Post, Role, User
from forum.services import digests, notifications, questions, visibility, votes
from forum.services.errors import NotFound
from tests.factories import make_answer, make_article, make_comment, make_question, make_user


@pytest.fixture
def forum(session: Session) -> dict[str, Any]:
    """A live thread, a removed thread, a removed answer on a live thread, a removed article."""
    people = {
        "asker": make_user(session, "asker"),
        "answerer": make_user(session, "answerer"),
        "other": make_user(session, "other"),
        "moderator": make_user(session, "moddy", role=Role.MODERATOR),
    }
    live = make_question(session, people["asker"])
    live_answer = make_answer(session, live, people["answerer"])
    removed_answer = make_answer(session, live, people["answerer"])
    gone = make_question(session, people["asker"])
    gone_answer = make_answer(session, gone, people["answerer"])
    gone_comment = make_comment(session, gone_answer, people["other"])
    article = make_article(session, people["answerer"])
    session.flush()
    removed_answer.deleted_at = removed_answer.created_at
    gone.deleted_at = gone.created_at
    article.deleted_at = article.created_at
    session.commit()
    posts = {
        "live": live,
        "live_answer": live_answer,
        "removed_answer": removed_answer,
        "gone": gone,
        "gone_answer": gone_answer,
        "article": article,
    }
    return {"people": people, "posts": posts, "gone_comment": gone_comment}


#: Who sees what: (post, viewer) pairs that are visible; every other pair is not.
VISIBLE = {
    **{(p, v): True for p in ("live", "live_answer") for v in (None, "asker", "answerer", "other")},
    ("removed_answer", "answerer"): True,
    ("gone", "asker"): True,
    ("gone_answer", "asker"): True,
    ("article", "answerer"): True,
}


@pytest.mark.parametrize("viewer_name", [None, "asker", "answerer", "other", "moderator"])
def test_can_view_and_the_sql_clause_agree_on_every_post(
    session: Session, forum: dict[str, Any], viewer_name: str | None
) -> None:
    viewer: User | None = forum["people"][viewer_name] if viewer_name else None
    expected = {
        name
        for name in forum["posts"]
        if viewer_name == "moderator" or VISIBLE.get((name, viewer_name), False)
    }
    by_python = {
        name for name, post in forum["posts"].items() if visibility.can_view(session, viewer, post)
    }
    ids = {post.id: name for name, post in forum["posts"].items()}
    by_sql = {
        ids[i]
        for i in session.scalars(
            select(Post.id).where(Post.id.in_(ids), visibility.visible_posts_clause(viewer))
        )
    }
    assert by_python == expected
    assert by_sql == expected
    assert {ids[i] for i in visibility.visible_post_ids(session, viewer, set(ids))} == expected


def test_only_live_posts_take_part(session: Session, forum: dict[str, Any]) -> None:
    live = {n for n, p in forum["posts"].items() if visibility.is_live(session, p)}
    assert live == {"live", "live_answer"}
    with pytest.raises(NotFound):
        visibility.get_live_post(session, forum["posts"]["gone_answer"].id)
    with pytest.raises(NotFound):
        visibility.get_live_comment(session, forum["gone_comment"].id)


def test_nobody_votes_under_a_removed_question_not_even_a_moderator(
    session: Session, forum: dict[str, Any]
) -> None:
    answer = forum["posts"]["gone_answer"]
    with pytest.raises(NotFound):
        votes.cast(session, voter=forum["people"]["moderator"], post_id=answer.id, value=1)
    session.rollback()
    with pytest.raises(NotFound):
        votes.cast_on_comment(
            session, voter=forum["people"]["moderator"], comment_id=forum["gone_comment"].id
        )
    session.rollback()
    assert session.get(Post, answer.id).score == 0  # type: ignore[union-attr]


def test_the_inbox_and_digests_drop_notifications_about_removed_posts(
    session: Session,
) -> None:
    asker, mira = make_user(session, "asker"), make_user(session, "mira")
    notifications.set_preferences(session, mira, {"mention": "daily"})
    kept = make_question(session, asker, title="Which build cache do we use?", body="@mira?\n")
    gone = make_question(session, asker, title="Where is the wallabysecret kept?", body="@mira?\n")
    answer = make_answer(session, gone, asker, body="Ask @mira about it.\n")
    session.commit()
    mine = session.scalars(select(Notification).where(Notification.recipient_id == mira.id)).all()
    assert len(mine) == 3
    questions.delete(session, actor=asker, question_id=gone.id)
    session.commit()

    page = notifications.inbox(session, mira)
    shown = {n.id for n in page.items} - page.removed
    assert [n.params["question_id"] for n in page.items if n.id in shown] == [kept.id]
    assert {n.id for n in mine if n.params.get("_anchor") == f"post-{answer.id}"} <= page.removed
    [digest] = digests.pending(session, "daily")
    assert [n.params["question_id"] for n in digest.items] == [kept.id]
    assert all("wallabysecret" not in n.text for n in digest.items)


def test_editing_removed_content_mentions_nobody(session: Session) -> None:
    """A moderator may still edit a hidden question; its title must not reach anyone."""
    author, mira = make_user(session, "author"), make_user(session, "mira")
    moderator = make_user(session, "moddy", role=Role.MODERATOR)
    question = make_question(session, author, title="Where is the hidden runbook kept?")
    question.deleted_at = question.created_at
    session.commit()
    questions.edit(
        session,
        editor=moderator,
        question_id=question.id,
        title="Where is the hidden runbook kept?",
        body_md="Now naming @mira.\n",
        tags=["howto"],
    )
    session.commit()
    found = session.scalars(select(Notification).where(Notification.recipient_id == mira.id))
    assert found.all() == []
    # The same edit of a live question does mention her.
    question.deleted_at = None
    session.commit()
    questions.edit(
        session,
        editor=moderator,
        question_id=question.id,
        title="Where is the hidden runbook kept?",
        body_md="Still naming @mira, now for real.\n",
        tags=["howto"],
    )
    session.commit()
    found = session.scalars(select(Notification).where(Notification.recipient_id == mira.id))
    assert len(found.all()) == 1


def test_the_index_drain_drops_the_answers_of_a_removed_question(session: Session) -> None:
    """Removing a question takes its answers' documents out of the index itself (the
    query-time filter is only a second line)."""
    from forum.search import parse, session_backend

    asker = make_user(session, "asker")
    question = make_question(session, asker, title="Where do the lemurdrain jobs run?")
    make_answer(session, question, make_user(session), body="The lemurdrain answer.\n")
    session.commit()
    backend = session_backend(session)

    def indexed() -> list[str]:
        found = backend.search(session, parse("lemurdrain"), sort="relevance", offset=0, limit=10)
        return sorted(hit.kind for hit in found.hits)

    assert indexed() == ["answer", "question"]
    questions.delete(session, actor=asker, question_id=question.id)
    session.commit()
    assert indexed() == []
