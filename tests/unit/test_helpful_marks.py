"""The one rule for counting helpful marks: a "yes" from someone other than the author."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from forum.models import ArticleFeedback, ArticleType, Post
from forum.models.articles import helpful_by_someone_else
from forum.services import badges, leaderboards
from tests.factories import make_article, make_user


def _marked_tutorial(session: Session) -> Post:
    """A tutorial with a self-mark, one colleague's "yes" and one colleague's "no"."""
    author = make_user(session, "author")
    article = make_article(session, author, tags="python", article_type="tutorial")
    # set_feedback refuses self-marks; an import or an old row may still hold one.
    session.add(ArticleFeedback(article_id=article.id, user_id=author.id, helpful=True))
    session.add(ArticleFeedback(article_id=article.id, user_id=make_user(session).id, helpful=True))
    session.add(
        ArticleFeedback(article_id=article.id, user_id=make_user(session).id, helpful=False)
    )
    session.commit()
    return article


def test_the_predicate_counts_colleagues_yes_only(session: Session) -> None:
    article = _marked_tutorial(session)
    counted = session.scalar(
        select(func.count())
        .select_from(ArticleFeedback)
        .join(Post, ArticleFeedback.article_id == Post.id)
        .where(Post.id == article.id, helpful_by_someone_else(Post.author_id))
    )
    assert counted == 1


def test_badges_and_leaderboards_leave_self_marks_out(session: Session) -> None:
    article = _marked_tutorial(session)
    metric = badges.helpful_marks(ArticleType.TUTORIAL)
    assert metric(session, [article.author_id]) == [(article.author_id, article.id, 1)]
    [entry] = leaderboards.most_helpful(session, period=leaderboards.Period.ALL)
    assert (entry.user.username, entry.points) == ("author", 1)
