"""The content model: single-table posts, revisions, tags, votes and threaded comments."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from forum.models import (
    Answer,
    Article,
    ArticleType,
    Comment,
    Post,
    PostKind,
    Question,
    Revision,
    Tag,
    Vote,
)
from tests.factories import make_user


def test_posts_load_as_their_kind(session: Session) -> None:
    author = make_user(session)
    question = Question(
        title="How do I get VPN access?",
        body_md="?",
        body_html="",
        author=author,
        tags=[Tag(name="vpn"), Tag(name="onboarding")],
    )
    session.add(question)
    session.flush()
    answer = Answer(body_md="Ask IT.", body_html="", author=author, question=question)
    article = Article(
        title="Onboarding checklist",
        slug="onboarding-checklist",
        body_md="# Hi",
        body_html="",
        author=author,
        owner=author,
        article_type=ArticleType.TUTORIAL,
    )
    session.add_all([answer, article])
    question.accepted_answer = answer
    session.commit()
    session.expunge_all()

    kinds = {type(p).__name__: p.kind for p in session.scalars(select(Post))}
    assert kinds == {
        "Question": PostKind.QUESTION,
        "Answer": PostKind.ANSWER,
        "Article": PostKind.ARTICLE,
    }
    loaded = session.scalars(select(Question)).one()
    assert [t.name for t in loaded.tags] == ["onboarding", "vpn"]
    assert [a.body_md for a in loaded.answers] == ["Ask IT."]
    assert loaded.accepted_answer is not None and loaded.accepted_answer.body_md == "Ask IT."
    assert session.scalars(select(Article)).one().owner is not None


def test_one_vote_per_member_per_post(session: Session) -> None:
    voter = make_user(session)
    post = Question(title="t" * 20, body_md="b", body_html="", author=make_user(session))
    session.add(post)
    session.flush()
    session.add(Vote(user_id=voter.id, post_id=post.id, value=1))
    session.flush()
    with pytest.raises(IntegrityError):
        with session.begin_nested():
            session.add(Vote(user_id=voter.id, post_id=post.id, value=-1))
    with pytest.raises(IntegrityError):
        with session.begin_nested():
            session.add(Vote(user_id=make_user(session).id, post_id=post.id, value=2))
    assert session.scalar(select(func.count()).select_from(Vote)) == 1


def test_revisions_are_numbered_uniquely_per_post(session: Session) -> None:
    post = Question(title="t" * 20, body_md="b", body_html="", author=make_user(session))
    post.revisions.append(Revision(number=1, title=post.title, body_md="b"))
    session.add(post)
    session.flush()
    with pytest.raises(IntegrityError):
        with session.begin_nested():
            session.add(Revision(post_id=post.id, number=1, body_md="again"))


def test_comments_reply_to_comments_and_cascade(session: Session) -> None:
    author = make_user(session)
    post = Question(title="t" * 20, body_md="b", body_html="", author=author)
    top = Comment(post=post, author=author, body_md="first", body_html="<p>first</p>")
    reply = Comment(post=post, author=author, body_md="reply", body_html="<p>reply</p>", parent=top)
    session.add_all([post, top, reply])
    session.commit()
    assert [r.body_md for r in top.replies] == ["reply"]
    session.delete(post)
    session.commit()
    assert session.scalar(select(func.count()).select_from(Comment)) == 0
