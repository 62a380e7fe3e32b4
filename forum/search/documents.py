"""Search documents built from the database: one per question thread, answer and article."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field, fields

from sqlalchemy import select
from sqlalchemy.orm import Session

from forum.models import Comment, Post, PostKind, Tag, User, post_tags

BATCH = 500

#: Characters of indexed text kept per field (a post's size cap; a thread's answers and
#: comments are cut there too, so one document's work is bounded).
MAX_FIELD_CHARS = 200_000
# Every pattern is linear: each repetition is bounded by a character it cannot cross (a bracket,
# a parenthesis, a newline), so no match attempt rescans text another attempt already read.
_LINK = re.compile(r"!?\[([^\[\]\n]*)\]\([^()\n]*\)")
# Markdown punctuation only: HTML-looking text stays as written (pages escape it).
_MARKUP = re.compile(r"[*_`#~|]+|^[^\S\n]*(?:>[^\S\n]*)+|^[^\S\n]*[-+][^\S\n]+", re.MULTILINE)
_MARKUP_HINT = re.compile(r"[*_`#~|>+-]")
#: Characters the highlighters use as private markers; never part of indexed text.
MARK_START = "\x02"
MARK_END = "\x03"
#: Stand-ins for < and > while PostgreSQL builds a headline (it drops tag-like text).
LT = "\x04"
GT = "\x05"


def plain_text(markdown: str) -> str:
    """Markdown reduced to words and punctuation, for indexing and snippets."""
    text = markdown[: 2 * MAX_FIELD_CHARS]
    for private in (MARK_START, MARK_END, LT, GT):
        if private in text:
            text = text.replace(private, " ")
    if "](" in text:
        text = _LINK.sub(r"\1", text)
    if _MARKUP_HINT.search(text):
        text = _MARKUP.sub(" ", text)
    return " ".join(text.split())[:MAX_FIELD_CHARS]


def joined_text(markdowns: Iterable[str]) -> str:
    """The plain text of several bodies, one a line, cut at MAX_FIELD_CHARS."""
    parts: list[str] = []
    size = 0
    for markdown in markdowns:
        if size >= MAX_FIELD_CHARS:
            break  # the rest would be cut anyway: don't spend time reducing it
        part = plain_text(markdown)
        parts.append(part)
        size += len(part) + 1
    return "\n".join(parts)[:MAX_FIELD_CHARS]


@dataclass
class SearchDoc:
    """What a backend stores about one post; ``version`` changes whenever the content does."""

    id: int
    kind: str
    subtype: str | None
    slug: str | None
    title: str
    tags: list[str]
    body: str
    answers: str
    comments: str
    username: str | None
    author_id: int | None
    question_id: int | None
    score: int
    answer_count: int
    accepted: bool
    created_at: dt.datetime
    version: str = field(default="")

    def __post_init__(self) -> None:
        if not self.version:
            parts = [
                str(getattr(self, f.name))
                for f in fields(self)
                if f.name not in ("version", "created_at")
            ]
            parts.append(self.created_at.astimezone(dt.UTC).isoformat())
            self.version = hashlib.sha1("\x1f".join(parts).encode("utf-8")).hexdigest()


def _aware(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)


def affected_ids(session: Session, post_ids: Iterable[int]) -> set[int]:
    """Post ids whose documents depend on the given posts (answers share their question)."""
    ids = set(post_ids)
    if not ids:
        return ids
    rows = session.execute(select(Post.id, Post.kind, Post.parent_id).where(Post.id.in_(ids))).all()
    questions = {r.id for r in rows if r.kind == PostKind.QUESTION}
    ids |= {r.parent_id for r in rows if r.kind == PostKind.ANSWER and r.parent_id}
    questions |= {r.parent_id for r in rows if r.kind == PostKind.ANSWER and r.parent_id}
    if questions:
        # Answer documents carry their question's title and tags.
        ids |= set(session.scalars(select(Post.id).where(Post.parent_id.in_(questions))).all())
    return ids


def build_documents(session: Session, post_ids: Sequence[int]) -> dict[int, SearchDoc]:
    """The current documents of ``post_ids``; deleted or missing posts are absent."""
    docs: dict[int, SearchDoc] = {}
    ids = sorted(set(post_ids))
    for start in range(0, len(ids), BATCH):
        docs.update(_build_batch(session, ids[start : start + BATCH]))
    return docs


def iter_all_documents(
    session: Session, batch: int = BATCH, *, after: int = 0, upto: int | None = None
) -> Iterator[SearchDoc]:
    """Every live document, in id order, a batch at a time (for rebuild and verify).

    ``after`` and ``upto`` limit it to posts with ``after < id <= upto`` (one worker's part).
    """
    last = after
    while True:
        where = [Post.id > last, Post.deleted_at.is_(None)]
        if upto is not None:
            where.append(Post.id <= upto)
        ids = session.scalars(select(Post.id).where(*where).order_by(Post.id).limit(batch)).all()
        if not ids:
            return
        last = ids[-1]
        built = _build_batch(session, list(ids))
        yield from (built[i] for i in ids if i in built)


def count_documents(session: Session) -> int:
    """How many posts should have a document (for progress bars)."""
    from sqlalchemy import func

    return session.scalar(select(func.count()).where(Post.deleted_at.is_(None))) or 0


def _build_batch(session: Session, ids: list[int]) -> dict[int, SearchDoc]:
    posts = session.execute(
        select(
            Post.id,
            Post.kind,
            Post.article_type,
            Post.slug,
            Post.title,
            Post.body_md,
            Post.author_id,
            Post.is_anonymous,
            Post.parent_id,
            Post.score,
            Post.answer_count,
            Post.accepted_answer_id,
            Post.created_at,
        ).where(Post.id.in_(ids), Post.deleted_at.is_(None))
    ).all()
    if not posts:
        return {}
    by_id = {p.id: p for p in posts}
    # Answers borrow their question's title and tags; threads gather their answers.
    parent_ids = {p.parent_id for p in posts if p.kind == PostKind.ANSWER and p.parent_id}
    missing_parents = parent_ids - by_id.keys()
    parents = {
        p.id: p
        for p in session.execute(
            select(
                Post.id, Post.title, Post.deleted_at, Post.accepted_answer_id, Post.is_anonymous
            ).where(Post.id.in_(missing_parents))
        ).all()
    }
    question_ids = [p.id for p in posts if p.kind == PostKind.QUESTION]
    thread_answers: dict[int, list[tuple[int, str]]] = defaultdict(list)
    if question_ids:
        for row in session.execute(
            select(Post.id, Post.parent_id, Post.body_md)
            .where(
                Post.parent_id.in_(question_ids),
                Post.kind == PostKind.ANSWER,
                Post.deleted_at.is_(None),
            )
            .order_by(Post.id)
        ):
            thread_answers[row.parent_id].append((row.id, row.body_md))
    tag_owner = {p.id: (p.parent_id if p.kind == PostKind.ANSWER else p.id) for p in posts}
    tag_ids = set(tag_owner.values()) - {None}
    tags: dict[int, list[str]] = defaultdict(list)
    for row in session.execute(
        select(post_tags.c.post_id, Tag.name)
        .join(Tag, Tag.id == post_tags.c.tag_id)
        .where(post_tags.c.post_id.in_(tag_ids))
        .order_by(Tag.name)
    ):
        tags[row.post_id].append(row.name)
    comment_posts = set(by_id) | {a for v in thread_answers.values() for a, _ in v}
    comments: dict[int, list[str]] = defaultdict(list)
    for comment_post, comment_body in session.execute(
        select(Comment.post_id, Comment.body_md)
        .where(Comment.post_id.in_(comment_posts), Comment.deleted_at.is_(None))
        .order_by(Comment.id)
    ):
        comments[comment_post].append(comment_body)
    authors = {p.author_id for p in posts if p.author_id}
    usernames: dict[int, str] = {
        int(uid): str(name)
        for uid, name in session.execute(
            select(User.id, User.username).where(User.id.in_(authors))
        ).all()
    }

    docs: dict[int, SearchDoc] = {}
    for p in posts:
        kind = PostKind(p.kind)
        title = p.title or ""
        question_id: int | None = None
        accepted = bool(p.accepted_answer_id)
        answers_text = ""
        comment_text = list(comments.get(p.id, []))
        if kind == PostKind.ANSWER:
            if not p.parent_id:
                continue
            parent = by_id.get(p.parent_id) or parents.get(p.parent_id)
            if parent is None or getattr(parent, "deleted_at", None) is not None:
                continue
            title = parent.title or ""
            question_id = p.parent_id
            accepted = parent.accepted_answer_id == p.id
        elif kind == PostKind.QUESTION:
            answers = thread_answers.get(p.id, [])
            answers_text = joined_text(body for _, body in answers)
            for answer_id, _ in answers:
                comment_text.extend(comments.get(answer_id, []))
        anonymous = bool(p.is_anonymous)
        author_id = None if anonymous else p.author_id
        docs[p.id] = SearchDoc(
            id=p.id,
            kind=kind.value,
            subtype=p.article_type.value if p.article_type else None,
            slug=p.slug,
            title=plain_text(title),
            tags=tags.get(tag_owner[p.id] or 0, []),
            body=plain_text(p.body_md or ""),
            answers=answers_text,
            comments=joined_text(comment_text),
            username=usernames.get(author_id) if author_id else None,
            author_id=author_id,
            question_id=question_id,
            score=int(p.score or 0),
            answer_count=len(thread_answers.get(p.id, [])) if kind == PostKind.QUESTION else 0,
            accepted=accepted,
            created_at=_aware(p.created_at),
        )
    return docs
