"""Plain factory functions for arranging test data."""

from __future__ import annotations

import itertools
from typing import Any

from sqlalchemy.orm import Session

from forum.models import Role, User
from forum.services.passwords import hash_password
from tests.conftest import TEST_HASH_METHOD, TEST_PASSWORD

_counter = itertools.count(1)
_HASH = hash_password(TEST_PASSWORD, TEST_HASH_METHOD)


def make_user(
    session: Session, username: str | None = None, *, role: Role = Role.MEMBER, **fields: Any
) -> User:
    """A member whose password is TEST_PASSWORD, flushed so it has an id."""
    n = next(_counter)
    username = username or f"member{n}"
    if fields.get("department"):
        # Members pick departments from the list; a member's department is on it.
        from forum.services import departments

        fields["department"] = departments.ensure(session, fields["department"])
    user = User(
        username=username,
        email=fields.pop("email", f"{username}@example.com"),
        display_name=fields.pop("display_name", f"Member {n}"),
        password_hash=fields.pop("password_hash", _HASH),
        role=role,
        **fields,
    )
    session.add(user)
    session.flush()
    return user


def make_article(
    session: Session,
    author: User | None = None,
    *,
    title: str | None = None,
    body: str = "Some useful know-how.\n",
    tags: str = "howto",
    article_type: str = "tip",
    **kwargs: Any,
) -> Any:
    """A published article (through the knowledge-base service, its tags created first), flushed."""
    from forum.services import articles
    from forum.services.tags import parse_tags, tags_named

    n = next(_counter)
    tags_named(session, parse_tags(tags))
    session.flush()
    return articles.create_article(
        session,
        author=author or make_user(session),
        data=articles.ArticleData(
            title=title or f"Article number {n}",
            body_md=body,
            tags_text=tags,
            article_type=article_type,
        ),
        **kwargs,
    )


def make_question(
    session: Session,
    author: User | None = None,
    *,
    title: str | None = None,
    body: str = "What is the usual way to do this here?\n",
    tags: tuple[str, ...] = ("howto",),
    anonymous: bool = False,
) -> Any:
    """A question asked through the Q&A service (its tags created first), flushed."""
    from forum.services import questions
    from forum.services.tags import tags_named

    n = next(_counter)
    tags_named(session, list(tags))
    session.flush()
    return questions.ask(
        session,
        author=author or make_user(session),
        title=title or f"How do I do thing number {n} properly?",
        body_md=body,
        tags=list(tags),
        anonymous=anonymous,
    )


def make_answer(
    session: Session, question: Any, author: User | None = None, *, body: str = "Like this.\n"
) -> Any:
    """An answer through the Q&A service, flushed."""
    from forum.services import answers

    return answers.answer(
        session, author=author or make_user(session), question_id=question.id, body_md=body
    )


def make_comment(
    session: Session,
    post: Any,
    author: User | None = None,
    *,
    body: str = "Good point.",
    parent: Any = None,
) -> Any:
    """A comment (or a reply, with ``parent``) through the comments service, flushed."""
    from forum.services import comments

    return comments.add(
        session,
        author=author or make_user(session),
        post_id=post.id,
        body=body,
        parent_id=parent.id if parent is not None else None,
    )


# Search test content, built from the models directly (no service rules involved).


def search_tags(session: Session, names: tuple[str, ...] | list[str]) -> list[Any]:
    """Tags by name, created when missing."""
    from sqlalchemy import select

    from forum.models import Tag

    found = {t.name: t for t in session.scalars(select(Tag).where(Tag.name.in_(names))).all()}
    for name in names:
        if name not in found:
            found[name] = Tag(name=name)
            session.add(found[name])
    return [found[name] for name in names]


def search_question(
    session: Session,
    author: User,
    title: str,
    body: str = "",
    *,
    tags: tuple[str, ...] = (),
    anonymous: bool = False,
    score: int = 0,
    **fields: Any,
) -> Any:
    """A question made from the model, flushed."""
    from forum.markdown import render_markdown
    from forum.models import Question

    question = Question(
        title=title,
        body_md=body,
        body_html=render_markdown(body),
        author=author,
        tags=search_tags(session, tags),
        is_anonymous=anonymous,
        score=score,
        **fields,
    )
    session.add(question)
    session.flush()
    return question


def search_answer(
    session: Session, question: Any, author: User, body: str, *, score: int = 0, **fields: Any
) -> Any:
    """An answer made from the model (the question's answer count kept right), flushed."""
    from forum.markdown import render_markdown
    from forum.models import Answer

    answer = Answer(
        question=question,
        body_md=body,
        body_html=render_markdown(body),
        author=author,
        score=score,
        **fields,
    )
    question.answer_count += 1
    session.add(answer)
    session.flush()
    return answer


def search_article(
    session: Session,
    author: User,
    title: str,
    body: str = "",
    *,
    tags: tuple[str, ...] = (),
    article_type: str = "tip",
    score: int = 0,
) -> Any:
    """A published article made from the model, flushed."""
    from forum.markdown import render_markdown
    from forum.models import Article, ArticleType

    n = next(_counter)
    article = Article(
        title=title,
        slug=f"search-article-{n}",
        body_md=body,
        body_html=render_markdown(body),
        author=author,
        owner=author,
        tags=search_tags(session, tags),
        article_type=ArticleType(article_type),
        score=score,
    )
    session.add(article)
    session.flush()
    return article


def search_comment(session: Session, post: Any, author: User, body: str) -> Any:
    """A comment made from the model, flushed."""
    from forum.markdown import render_markdown
    from forum.models import Comment

    comment = Comment(post=post, author=author, body_md=body, body_html=render_markdown(body))
    session.add(comment)
    session.flush()
    return comment
