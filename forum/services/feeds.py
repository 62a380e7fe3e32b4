"""Atom feeds (RFC 4287): new questions (all or one tag's), articles, a member's activity.

Entries are what the matching public pages list: live posts only, authors named as pages name
them ("Anonymous colleague"), and a member's feed holds what their public profile shows, never
their anonymous posts. The XML is built with the standard library's ElementTree.
"""

from __future__ import annotations

import datetime as dt
import secrets
import xml.etree.ElementTree as ET
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import false, select
from sqlalchemy.orm import Session, aliased, selectinload

from forum.db import utcnow
from forum.models import (
    Answer,
    Article,
    FeedToken,
    Post,
    PostKind,
    Question,
    Tag,
    User,
    post_tags,
)
from forum.services import posts, visibility
from forum.services.notification_events import post_link
from forum.services.webhooks import excerpt

ATOM = "http://www.w3.org/2005/Atom"
#: Entries in a feed.
FEED_SIZE = 30
MIME_TYPE = "application/atom+xml"

Links = Callable[[str, dict[str, Any]], str]


@dataclass(frozen=True)
class Entry:
    """One feed entry."""

    id: str
    title: str
    url: str
    published: dt.datetime
    updated: dt.datetime
    author: str
    summary: str
    categories: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Feed:
    """A feed: its own address (its id too), the page it mirrors, and its entries."""

    title: str
    self_url: str
    page_url: str
    entries: list[Entry]
    subtitle: str = ""


def _aware(moment: dt.datetime) -> dt.datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.UTC)


def _stamp(moment: dt.datetime) -> str:
    return _aware(moment).astimezone(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def render(feed: Feed) -> bytes:
    """The feed as an Atom document (UTF-8, with an XML declaration)."""
    ET.register_namespace("", ATOM)

    def sub(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
        element = ET.SubElement(parent, f"{{{ATOM}}}{tag}", attrs)
        if text is not None:
            element.text = text
        return element

    root = ET.Element(f"{{{ATOM}}}feed")
    sub(root, "id", feed.self_url)
    sub(root, "title", feed.title)
    if feed.subtitle:
        sub(root, "subtitle", feed.subtitle)
    newest = max((e.updated for e in feed.entries), default=None)
    sub(root, "updated", _stamp(newest or utcnow()))
    sub(root, "link", rel="self", href=feed.self_url, type=MIME_TYPE)
    sub(root, "link", rel="alternate", href=feed.page_url, type="text/html")
    author = sub(root, "author")
    sub(author, "name", "forum")
    sub(root, "generator", "forum")
    for item in feed.entries:
        entry = sub(root, "entry")
        sub(entry, "id", item.id)
        sub(entry, "title", item.title, type="text")
        sub(entry, "link", rel="alternate", href=item.url, type="text/html")
        sub(entry, "published", _stamp(item.published))
        sub(entry, "updated", _stamp(item.updated))
        entry_author = sub(entry, "author")
        sub(entry_author, "name", item.author)
        for term in item.categories:
            sub(entry, "category", term=term)
        sub(entry, "summary", item.summary, type="text")
    body: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return body


def _entry(session: Session, links: Links, post: Post, title: str, tags: Sequence[Tag]) -> Entry:
    endpoint, params = post_link(session, post)
    url = links(endpoint, params)
    return Entry(
        id=url,
        title=title,
        url=url,
        published=post.created_at,
        updated=max(_aware(post.created_at), _aware(post.updated_at)),
        author=posts.author_label(post),
        summary=excerpt(post.body_html),
        categories=sorted(tag.name for tag in tags),
    )


def _questions(session: Session, tag: Tag | None) -> list[Question]:
    query = select(Question).where(Question.deleted_at.is_(None))
    if tag is not None:
        query = query.where(
            Question.id.in_(select(post_tags.c.post_id).where(post_tags.c.tag_id == tag.id))
        )
    return list(
        session.scalars(
            query.order_by(Question.created_at.desc(), Question.id.desc())
            .limit(FEED_SIZE)
            .options(selectinload(Question.tags), selectinload(Question.author))
        )
    )


def questions_feed(session: Session, links: Links, tag: Tag | None = None) -> Feed:
    """The newest questions, or the newest of one tag."""
    entries = [_entry(session, links, q, q.title or "", q.tags) for q in _questions(session, tag)]
    if tag is None:
        return Feed(
            title="forum: new questions",
            self_url=links("feeds.questions", {}),
            page_url=links("questions.index", {}),
            entries=entries,
        )
    return Feed(
        title=f"forum: new questions tagged {tag.name}",
        self_url=links("feeds.tag_questions", {"name": tag.name}),
        page_url=links("tags.detail", {"name": tag.name}),
        entries=entries,
    )


def articles_feed(session: Session, links: Links) -> Feed:
    """The newest published tips and tutorials."""
    found = session.scalars(
        select(Article)
        .where(Article.deleted_at.is_(None))
        .order_by(Article.created_at.desc(), Article.id.desc())
        .limit(FEED_SIZE)
        .options(selectinload(Article.tags), selectinload(Article.author))
    )
    return Feed(
        title="forum: new articles",
        self_url=links("feeds.articles", {}),
        page_url=links("wiki.index", {}),
        entries=[_entry(session, links, a, a.title or "", a.tags) for a in found],
    )


def member_feed(session: Session, links: Links, member: User) -> Feed:
    """A member's latest questions, answers and articles, as their public profile lists them:
    never a removed post nor an anonymous one."""
    question = aliased(Question, name="feed_question")
    rows = session.execute(
        select(Post, question)
        .outerjoin(question, question.id == Post.parent_id)
        .where(
            Post.author_id == member.id,
            Post.is_anonymous == false(),
            visibility.visible_posts_clause(),
        )
        .order_by(Post.created_at.desc(), Post.id.desc())
        .limit(FEED_SIZE)
        .options(selectinload(Post.tags), selectinload(Post.author))
    ).all()
    entries = []
    for post, parent in rows:
        if isinstance(post, Answer) and parent is not None:
            title = f"Answer to: {parent.title or ''}"
            tags: Sequence[Tag] = parent.tags
        else:
            kind = "Article" if post.kind is PostKind.ARTICLE else "Question"
            title = f"{kind}: {post.title or ''}"
            tags = post.tags
        entries.append(_entry(session, links, post, title, tags))
    return Feed(
        title=f"forum: {member.display_name}'s activity",
        self_url=links("feeds.member", {"username": member.username}),
        page_url=links("users.profile", {"username": member.username}),
        entries=entries,
    )


# ---------------------------------------------------------------- feed secrets


def feed_token(session: Session, user: User) -> str:
    """The member's feed secret, created on first use."""
    row = session.get(FeedToken, user.id)
    if row is None:
        row = FeedToken(user_id=user.id, token=secrets.token_urlsafe(24))
        session.add(row)
        session.flush()
    return row.token


def regenerate_feed_token(session: Session, user: User) -> str:
    """Replace the member's feed secret: feed addresses made with the old one stop working."""
    row = session.get(FeedToken, user.id)
    token = secrets.token_urlsafe(24)
    if row is None:
        session.add(FeedToken(user_id=user.id, token=token))
    else:
        row.token = token
    session.flush()
    return token


def existing_feed_token(session: Session, user_id: int) -> str | None:
    """The member's feed secret if they have one (no write)."""
    row = session.get(FeedToken, user_id)
    return row.token if row is not None else None


def member_by_feed_token(session: Session, token: str | None) -> User | None:
    """The active member whose feed secret ``token`` is, or None."""
    if not token or len(token) > 64:
        return None
    row = session.scalar(select(FeedToken).where(FeedToken.token == token))
    if row is None or not row.user.is_active:
        return None
    return row.user
