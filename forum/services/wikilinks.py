"""``[[Wiki links]]``: how a title in member Markdown finds its article.

Articles, questions, answers, comments and tag descriptions all render with :func:`resolver`,
so a wiki link means the same wherever it is written.
"""

from __future__ import annotations

from urllib.parse import quote

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from forum.markdown import WikiResolver, WikiTarget, wiki_key
from forum.models import Article

ARTICLES_PATH = "/articles/"


def find_by_title(session: Session, title: str) -> Article | None:
    """The live article whose title (or slug) matches a wiki link target."""
    key = wiki_key(title)
    article = session.scalar(
        select(Article)
        .where(func.lower(Article.title) == key, Article.deleted_at.is_(None))
        .order_by(Article.id)
        .limit(1)
    )
    if article is None:
        article = session.scalar(
            select(Article).where(Article.slug == key, Article.deleted_at.is_(None))
        )
    return article


def resolver(session: Session) -> WikiResolver:
    """A wiki link resolver backed by the database (each title looked up once)."""
    cache: dict[str, WikiTarget] = {}

    def resolve(title: str) -> WikiTarget:
        key = wiki_key(title)
        if key not in cache:
            article = find_by_title(session, title)
            if article is not None and article.slug:
                cache[key] = WikiTarget(ARTICLES_PATH + article.slug, True)
            else:
                cache[key] = WikiTarget(ARTICLES_PATH + "new?title=" + quote(title), False)
        return cache[key]

    return resolve
