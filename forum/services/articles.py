"""The knowledge base: tips and tutorials, edits, merges, rollbacks, feedback, freshness."""

from __future__ import annotations

import datetime as dt
import functools
import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any

import merge3
from sqlalchemy import (
    ColumnElement,
    Integer,
    ScalarSelect,
    Select,
    String,
    and_,
    bindparam,
    func,
    select,
    update,
)
from sqlalchemy.orm import Session, aliased, joinedload, selectinload

from forum import events
from forum.db import utcnow
from forum.markdown import MarkdownTooLarge, check_size, wiki_key
from forum.markdown import render_document as _render_document
from forum.models import Article, ArticleFeedback, ArticleLink, ArticleType, Post, Tag, User
from forum.models.posts import post_tags
from forum.services import mentions, revisions, visibility
from forum.services.errors import Forbidden, NotFound, ServiceError, ValidationError
from forum.services.tags import parse_tags, resolve_for_attach, tag_errors
from forum.services.text import single_line_errors
from forum.services.wikilinks import find_by_title, resolver

MAX_TITLE = 200
MIN_TITLE = 3
MAX_SUMMARY = 300
MAX_FEEDBACK_COMMENT = 2000
#: How long after its last edit or review an article should be checked again.
DEFAULT_REVIEW_AFTER = dt.timedelta(days=182)
SORTS = ("newest", "top", "updated")


@dataclass(frozen=True)
class ArticleData:
    """What the article form sends: the fields as typed."""

    title: str
    body_md: str
    tags_text: str
    article_type: str


@dataclass(frozen=True)
class _Clean:
    title: str
    body_md: str
    tags: list[str]
    article_type: ArticleType


class EditConflict(ServiceError):
    """Someone saved the article meanwhile and both edits changed the same lines."""

    def __init__(
        self, *, merged: str, mine: str, theirs: str, current_revision: int, fields: list[str]
    ) -> None:
        super().__init__("This article changed while you were editing it.")
        self.merged = merged
        self.mine = mine
        self.theirs = theirs
        self.current_revision = current_revision
        self.fields = fields


@dataclass(frozen=True)
class EditResult:
    """What an edit did: whether anything changed and whether a merge was needed."""

    article: Article
    changed: bool
    merged_with: int | None = None


@dataclass(frozen=True)
class HelpfulSummary:
    """Counts of "Was this helpful?" answers on an article."""

    yes: int
    no: int

    @property
    def total(self) -> int:
        """How many members answered."""
        return self.yes + self.no

    @property
    def share(self) -> int | None:
        """The percentage who found it helpful, rounded; None before anyone answered."""
        return round(100 * self.yes / self.total) if self.total else None


@dataclass
class ArticlePage:
    """Everything the article page shows besides the article itself."""

    backlinks: list[Article] = field(default_factory=list)
    helpful: HelpfulSummary = field(default_factory=lambda: HelpfulSummary(0, 0))
    my_feedback: ArticleFeedback | None = None
    private_feedback: list[ArticleFeedback] = field(default_factory=list)
    is_stale: bool = False


# ---------------------------------------------------------------- validation and rendering


def _clean(data: ArticleData) -> _Clean:
    """Validate the form's fields; raises ValidationError with messages per field."""
    errors: dict[str, list[str]] = {}
    title = " ".join((data.title or "").split())
    if not title:
        errors["title"] = ["Give the article a title."]
    elif len(title) < MIN_TITLE:
        errors["title"] = [f"Use at least {MIN_TITLE} characters for the title."]
    elif len(title) > MAX_TITLE:
        errors["title"] = [f"Keep the title to {MAX_TITLE} characters (it has {len(title)})."]
    elif problems := single_line_errors(title):
        errors["title"] = problems
    body = (data.body_md or "").replace("\r\n", "\n")
    if not body.strip():
        errors["body"] = ["Write the article's text."]
    else:
        try:
            check_size(body)
        except MarkdownTooLarge as exc:
            errors["body"] = [str(exc)]
    names = parse_tags(data.tags_text)
    problems = tag_errors(names)
    if problems:
        errors["tags"] = problems
    try:
        article_type = ArticleType(data.article_type)
    except ValueError:
        errors["article_type"] = ["Choose tip or tutorial."]
        article_type = ArticleType.TIP
    if errors:
        raise ValidationError(errors)
    return _Clean(title=title, body_md=body, tags=names, article_type=article_type)


def _slug_base(title: str) -> str:
    ascii_title = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode("ascii")
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_title.lower()).strip("-")[:80].strip("-")
    return slug or "article"


def _unique_slug(session: Session, title: str) -> str:
    base = _slug_base(title)
    taken = set(
        session.scalars(select(Post.slug).where(Post.slug.is_not(None), Post.slug.like(f"{base}%")))
    )
    # "new" and "stale" are routes of their own.
    if base not in taken and base not in {"new", "stale", "preview"}:
        return base
    for n in range(2, 10_000):
        candidate = f"{base}-{n}"
        if candidate not in taken:
            return candidate
    raise ValidationError({"title": ["Too many articles share this title."]})


def render_article(
    session: Session, body_md: str, article_type: ArticleType
) -> tuple[str, list[str]]:
    """Sanitised HTML of an article body and the wiki link titles it contains."""
    rendered = _render_document(
        body_md,
        wiki_resolver=resolver(session),
        toc=article_type is ArticleType.TUTORIAL,
        mention_resolver=mentions.resolver(session),
    )
    return rendered.html, rendered.wiki_links


def preview(session: Session, body_md: str, article_type: str) -> str:
    """The HTML an article body would get on save; ValidationError when it is too large."""
    try:
        kind = ArticleType(article_type)
    except ValueError:
        kind = ArticleType.TIP
    try:
        return render_article(session, body_md or "", kind)[0]
    except MarkdownTooLarge as exc:
        raise ValidationError({"body": [str(exc)]}) from None


def _sync_links(session: Session, article: Article, titles: list[str]) -> None:
    """Store the article's outgoing wiki links (for "Linked from" on their targets)."""
    wanted: dict[str, int | None] = {}
    for title in titles:
        key = wiki_key(title)
        if key and key not in wanted:
            target = find_by_title(session, title)
            wanted[key] = target.id if target is not None and target.id != article.id else None
    existing = {
        link.target_key: link
        for link in session.scalars(select(ArticleLink).where(ArticleLink.source_id == article.id))
    }
    for key, link in existing.items():
        if key not in wanted:
            session.delete(link)
        else:
            link.target_id = wanted[key]
    for key, target_id in wanted.items():
        if key not in existing:
            session.add(ArticleLink(source_id=article.id, target_key=key, target_id=target_id))


def _relink_sources(session: Session, article: Article) -> None:
    """Links to this title that were "create it" links now point here: re-render their sources."""
    session.flush()
    key = wiki_key(article.title or "")
    pending = list(
        session.scalars(
            select(ArticleLink).where(
                ArticleLink.target_key == key,
                ArticleLink.target_id.is_(None),
                ArticleLink.source_id != article.id,
            )
        )
    )
    for link in pending:
        link.target_id = article.id
        source = session.get(Article, link.source_id)
        if source is not None and source.article_type is not None:
            try:
                html = render_article(session, source.body_md, source.article_type)[0]
            except MarkdownTooLarge:
                continue  # saved before the structure limits: its page stays as it was
            # Not an edit of the source: its updated_at (and so its freshness) stays.
            session.execute(
                update(Post)
                .where(Post.id == source.id)
                .values(body_html=html, updated_at=Post.updated_at)
                .execution_options(synchronize_session=False)
            )
            session.expire(source, ["body_html", "updated_at"])


def _apply(
    session: Session, article: Article, clean: _Clean, member: User, *, allow_new_tags: bool
) -> list[str]:
    """Set the fields and the rendered HTML; returns the wiki links to store after a flush."""
    with session.no_autoflush:
        # First, so refused tags leave the article unchanged.
        tags = resolve_for_attach(session, member, clean.tags, allow_new=allow_new_tags)
        article.title = clean.title
        article.body_md = clean.body_md
        article.article_type = clean.article_type
        article.tags = tags
        try:
            html, links = render_article(session, clean.body_md, clean.article_type)
        except MarkdownTooLarge as exc:  # past a structure limit (the size was checked)
            raise ValidationError({"body": [str(exc)]}) from None
    article.body_html = html
    return links


# ---------------------------------------------------------------- reading


@functools.cache
def _by_slug_statement(for_page: bool) -> Select[Article]:
    query = select(Article).where(Article.slug == bindparam("slug", type_=String))
    if for_page:
        # Not for an article about to be locked for an edit: FOR UPDATE refuses outer joins.
        return query.options(joinedload(Article.author), joinedload(Article.owner))
    return query.options(selectinload(Article.tags))


def get_by_slug(
    session: Session, slug: str, *, viewer: User | None = None, for_page: bool = False
) -> Article:
    """The live article with this slug; NotFound otherwise.

    ``for_page=True`` (the article's page) loads its author and owner along and leaves its
    tags to load when read (the page keeps them rendered); otherwise its tags come loaded.

    Moderators (and the author) also get a deleted or hidden article, so flagged content they
    hid stays reviewable; everyone else gets NotFound for it.
    """
    article = session.scalar(_by_slug_statement(for_page), {"slug": slug})
    if article is None:
        raise NotFound("There is no article at this address.")
    if not visibility.can_view(session, viewer, article):
        raise NotFound("There is no article at this address.")
    return article


def list_articles(
    session: Session,
    *,
    tag: str | None = None,
    article_type: str | None = None,
    sort: str = "newest",
    page: int = 1,
    per_page: int = 20,
) -> tuple[list[Article], int]:
    """One page of live articles, filtered by tag and type, and the total count.

    A tag's articles are counted already (the tag's stored count): only a type needs a count.
    """
    query: Select[Article] = select(Article).where(Article.deleted_at.is_(None))
    known: int | None = None
    if tag:
        found = session.scalar(select(Tag).where(Tag.name == tag.lower()))
        if found is None:
            return [], 0
        known = found.article_count
        query = query.where(
            Article.id.in_(select(post_tags.c.post_id).where(post_tags.c.tag_id == found.id))
        )
    if article_type in {t.value for t in ArticleType}:
        query = query.where(Article.article_type == ArticleType(str(article_type)))
        known = None
    if known is None:
        known = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    total = known
    order: tuple[ColumnElement[Any], ...]
    if sort == "top":
        order = (Article.score.desc(), Article.created_at.desc())
    elif sort == "updated":
        order = (Article.updated_at.desc(), Article.id.desc())
    else:
        order = (Article.created_at.desc(), Article.id.desc())
    items = session.scalars(
        query.order_by(*order)
        .options(selectinload(Article.tags), selectinload(Article.author))
        .limit(per_page)
        .offset((page - 1) * per_page)
    )
    return list(items), total


def backlinks(session: Session, article: Article) -> list[Article]:
    """Live articles whose wiki links point at this one, by title."""
    return list(
        session.scalars(
            select(Article)
            .join(ArticleLink, ArticleLink.source_id == Article.id)
            .where(ArticleLink.target_id == article.id, Article.deleted_at.is_(None))
            .order_by(Article.title)
        )
    )


def is_stale(article: Post, now: dt.datetime | None = None) -> bool:
    """True when the article's review-by date has passed."""
    if article.review_by is None:
        return False
    review_by = article.review_by
    if review_by.tzinfo is None:
        review_by = review_by.replace(tzinfo=dt.UTC)
    return review_by <= (now or utcnow())


def stale_articles(session: Session, now: dt.datetime | None = None) -> list[Article]:
    """Live articles past their review-by date, the most overdue first."""
    return list(
        session.scalars(
            select(Article)
            .where(Article.deleted_at.is_(None), Article.review_by <= (now or utcnow()))
            .order_by(Article.review_by, Article.id)
            .options(selectinload(Article.owner))
        )
    )


def helpful_summary(session: Session, article: Post) -> HelpfulSummary:
    """How many members found the article helpful, and how many did not."""
    return feedback_of(session, article, None)[0]


@functools.cache
def _feedback_statement() -> Select[int, int, ArticleFeedback]:
    """The article's yes and no counts and the viewer's own answer (or None), in one row."""
    article_id = bindparam("article_id", type_=Integer)
    mine = aliased(ArticleFeedback, name="mine")

    def answered(helpful: bool) -> ScalarSelect[int]:
        return (
            select(func.count())
            .where(ArticleFeedback.article_id == article_id, ArticleFeedback.helpful.is_(helpful))
            .scalar_subquery()
        )

    posts = Post.__table__
    return (
        select(answered(True), answered(False), mine)
        .select_from(posts)
        .outerjoin(
            mine,
            and_(
                mine.article_id == posts.c.id, mine.user_id == bindparam("viewer_id", type_=Integer)
            ),
        )
        .where(posts.c.id == article_id)
    )


def feedback_of(
    session: Session, article: Post, viewer: User | None
) -> tuple[HelpfulSummary, ArticleFeedback | None]:
    """The article's "Was this helpful?" counts and the viewer's own answer, in one statement."""
    row = session.execute(
        _feedback_statement(), {"article_id": article.id, "viewer_id": viewer.id if viewer else -1}
    ).one()
    yes, no, mine = row
    return HelpfulSummary(yes=int(yes or 0), no=int(no or 0)), mine


def can_see_private_feedback(article: Post, viewer: User | None) -> bool:
    """Private notes are for the owner and moderators."""
    return viewer is not None and (viewer.id == article.owner_id or viewer.is_moderator)


def page_context(
    session: Session, article: Article, viewer: User | None, *, with_backlinks: bool = True
) -> ArticlePage:
    """Backlinks, helpful counts, the viewer's own feedback and, for the owner, the notes.

    ``with_backlinks=False`` leaves the backlinks out (a caller that keeps them rendered).
    """
    helpful, mine = feedback_of(session, article, viewer)
    context = ArticlePage(
        backlinks=backlinks(session, article) if with_backlinks else [],
        helpful=helpful,
        my_feedback=mine,
        is_stale=is_stale(article),
    )
    if can_see_private_feedback(article, viewer):
        context.private_feedback = list(
            session.scalars(
                select(ArticleFeedback)
                .where(
                    ArticleFeedback.article_id == article.id,
                    ArticleFeedback.comment.is_not(None),
                    ArticleFeedback.comment != "",
                )
                .order_by(ArticleFeedback.updated_at.desc())
                .options(joinedload(ArticleFeedback.user))
            )
        )
    return context


# ---------------------------------------------------------------- writing


def create_article(
    session: Session,
    *,
    author: User,
    data: ArticleData,
    summary: str = "",
    review_after: dt.timedelta = DEFAULT_REVIEW_AFTER,
    now: dt.datetime | None = None,
    allow_new_tags: bool = False,
) -> Article:
    """Validate and stage a new article with its first revision; the author owns it.

    New tags need the author's ``create_tags`` privilege unless ``allow_new_tags`` (tools an
    admin runs, such as the Markdown import).
    """
    clean = _clean(data)
    moment = now or utcnow()
    article = Article(
        title=clean.title,
        slug=_unique_slug(session, clean.title),
        author=author,
        owner=author,
        created_at=moment,
        updated_at=moment,
        last_activity_at=moment,
        review_by=moment + review_after,
    )
    links = _apply(session, article, clean, author, allow_new_tags=allow_new_tags)
    session.add(article)
    revisions.record_revision(session, article, editor=author, summary=summary or "Created")
    # One flush for the article and its first revision, so updated_at stays ``moment``.
    session.flush()
    _sync_links(session, article, links)
    _relink_sources(session, article)
    session.flush()
    events.emit(session, events.ArticleSaved(article=article, editor=author, created=True))
    return article


def _check_can_edit(article: Post, editor: User) -> None:
    # An unpublished draft stays editable by those who see it; a deleted article does not.
    if article.is_deleted and article.unpublished_at is None:
        raise NotFound("There is no article at this address.")
    if article.is_locked and not editor.is_moderator:
        raise Forbidden("A moderator has locked this article; it cannot be edited.")


def _merge_field(base: str, mine: str, theirs: str) -> tuple[str, bool]:
    """A three-way merge of a one-line field: (value, conflicted)."""
    if mine == theirs or mine == base:
        return theirs, False
    if theirs == base:
        return mine, False
    return mine, True


#: The marker lines ``merge_texts`` writes around the two sides of a conflict.
START_MARKER = "<<<<<<< your version"
MID_MARKER = "======="
END_MARKER = ">>>>>>> the saved version"


def conflict_marker_lines(text: str) -> list[int]:
    """The numbers (from 1) of the lines of ``text`` that are conflict markers of a merge.

    The start and end markers count wherever they stand; a ``=======`` line only between a
    start and an end marker, since on its own it underlines a Markdown heading.
    """
    found: list[int] = []
    open_block: list[int] | None = None
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.rstrip()
        if stripped == START_MARKER:
            if open_block is not None:
                found.extend(open_block)
            open_block = [number]
        elif stripped == END_MARKER:
            found.extend([*(open_block or []), number])
            open_block = None
        elif stripped == MID_MARKER and open_block is not None:
            open_block.append(number)
    if open_block is not None:
        found.append(open_block[0])
    return sorted(found)


def _refuse_conflict_markers(body_md: str) -> None:
    lines = conflict_marker_lines(body_md)
    if lines:
        where = ", ".join(str(n) for n in lines[:-1])
        where = f"lines {where} and {lines[-1]}" if where else f"line {lines[-1]}"
        raise ValidationError(
            {
                "body": [
                    f"The text still has merge conflict markers on {where}: keep the right "
                    "version of each part, delete the marker lines "
                    f"({START_MARKER}, {MID_MARKER}, {END_MARKER}) and save again."
                ]
            }
        )


def merge_texts(base: str, mine: str, theirs: str) -> tuple[str, bool]:
    """Three-way merge of line-based texts: (merged text with conflict markers, conflicted)."""
    merger = merge3.Merge3(
        base.splitlines(keepends=True),
        mine.splitlines(keepends=True),
        theirs.splitlines(keepends=True),
    )
    conflicted = any(group[0] == "conflict" for group in merger.merge_groups())
    lines = merger.merge_lines(
        name_a=START_MARKER.split(" ", 1)[1],
        name_b=END_MARKER.split(" ", 1)[1],
        start_marker=START_MARKER.split(" ", 1)[0],
        mid_marker=MID_MARKER,
        end_marker=END_MARKER.split(" ", 1)[0],
    )
    merged = "".join(
        line
        if line.endswith("\n") or not line.startswith(("<<<<<<<", "=======", ">>>>>>>"))
        else line + "\n"
        for line in lines
    )
    return merged, conflicted


def edit_article(
    session: Session,
    article: Article,
    *,
    editor: User,
    data: ArticleData,
    base_revision: int,
    summary: str = "",
    review_after: dt.timedelta = DEFAULT_REVIEW_AFTER,
    now: dt.datetime | None = None,
    allow_new_tags: bool = False,
) -> EditResult:
    """Save an edit started from ``base_revision``; merges three-way if someone saved meanwhile.

    New tags follow the same rule as in ``create_article``.

    Raises EditConflict (nothing saved) when both edits changed the same lines or fields.
    """
    _check_can_edit(article, editor)
    # Lock the row (PostgreSQL) so two saves cannot both build on the same revision.
    session.refresh(article, with_for_update=True)
    _check_can_edit(article, editor)
    clean = _clean(data)
    # A merge result saved with its markers still in would publish them.
    _refuse_conflict_markers(clean.body_md)
    current = article.revision_count
    merged_with: int | None = None
    if base_revision != current:
        if not 1 <= base_revision < current:
            # Not a field the member can fix: shown above the form, with the text kept.
            raise ValidationError({"form": ["The edit form is out of date; reload it."]})
        base = revisions.get_revision(session, article, base_revision)
        body, body_conflict = merge_texts(base.body_md, clean.body_md, article.body_md)
        title, title_conflict = _merge_field(base.title or "", clean.title, article.title or "")
        # Tags compare as sets: their order is not an edit.
        tags, tags_conflict = _merge_field(
            " ".join(sorted(base.tags_text.split())),
            " ".join(sorted(clean.tags)),
            " ".join(sorted(t.name for t in article.tags)),
        )
        base_kind = article.article_type.value if article.article_type else ""
        kind, kind_conflict = _merge_field(base_kind, clean.article_type.value, base_kind)
        conflicts = [
            name
            for name, hit in (
                ("body", body_conflict),
                ("title", title_conflict),
                ("tags", tags_conflict),
                ("article_type", kind_conflict),
            )
            if hit
        ]
        if conflicts:
            raise EditConflict(
                merged=body,
                mine=clean.body_md,
                theirs=article.body_md,
                current_revision=current,
                fields=conflicts,
            )
        clean = _Clean(
            title=title, body_md=body, tags=parse_tags(tags), article_type=ArticleType(kind)
        )
        merged_with = current
    unchanged = (
        clean.title == article.title
        and clean.body_md == article.body_md
        and sorted(clean.tags) == sorted(t.name for t in article.tags)
        and clean.article_type == article.article_type
    )
    if unchanged:
        return EditResult(article=article, changed=False, merged_with=merged_with)
    old_key = wiki_key(article.title or "")
    links = _apply(session, article, clean, editor, allow_new_tags=allow_new_tags)
    moment = now or utcnow()
    article.updated_at = moment
    article.last_activity_at = moment
    article.review_by = moment + review_after
    note = summary.strip()
    if merged_with is not None:
        note = (note + " " if note else "") + f"(merged with revision {merged_with})"
    revisions.record_revision(session, article, editor=editor, summary=note or "Edited")
    session.flush()
    _sync_links(session, article, links)
    if wiki_key(clean.title) != old_key:
        _relink_sources(session, article)
    session.flush()
    events.emit(session, events.ArticleSaved(article=article, editor=editor, created=False))
    return EditResult(article=article, changed=True, merged_with=merged_with)


def rollback(
    session: Session,
    article: Article,
    *,
    editor: User,
    number: int,
    review_after: dt.timedelta = DEFAULT_REVIEW_AFTER,
) -> Article:
    """Restore revision ``number``: a new revision with its title, tags and text."""
    _check_can_edit(article, editor)
    old = revisions.get_revision(session, article, number)
    if number == article.revision_count:
        raise ValidationError({"revision": ["That is already the current version."]})
    clean = _Clean(
        title=old.title or article.title or "",
        body_md=old.body_md,
        tags=parse_tags(old.tags_text),
        article_type=article.article_type or ArticleType.TIP,
    )
    links = _apply(session, article, clean, editor, allow_new_tags=False)
    moment = utcnow()
    article.updated_at = moment
    article.last_activity_at = moment
    article.review_by = moment + review_after
    revisions.record_revision(
        session, article, editor=editor, summary=f"Restored revision {number}"
    )
    session.flush()
    _sync_links(session, article, links)
    session.flush()
    return article


def set_locked(session: Session, article: Article, *, actor: User, locked: bool) -> Article:
    """Lock or unlock an article; moderators only."""
    if not actor.is_moderator:
        raise Forbidden("Only moderators can lock articles.")
    article.is_locked = locked
    session.flush()
    return article


def mark_reviewed(
    session: Session,
    article: Article,
    *,
    actor: User,
    review_after: dt.timedelta = DEFAULT_REVIEW_AFTER,
    now: dt.datetime | None = None,
) -> Article:
    """ "Still accurate": the owner or a moderator resets the review date, noted in history."""
    if article.is_deleted:
        raise NotFound("There is no article at this address.")
    if actor.id != article.owner_id and not actor.is_moderator:
        raise Forbidden("Only the article's owner or a moderator can confirm it is accurate.")
    moment = now or utcnow()
    article.review_by = moment + review_after
    revisions.record_revision(
        session,
        article,
        editor=actor,
        summary=f"Reviewed: still accurate (next review by {article.review_by:%d %b %Y})",
    )
    session.flush()
    return article


def set_feedback(
    session: Session, article: Article, *, member: User, helpful: bool, comment: str = ""
) -> ArticleFeedback:
    """Record or change a member's "Was this helpful?" answer and optional private note."""
    if article.is_deleted:
        raise NotFound("There is no article at this address.")
    if member.id == article.author_id:
        raise Forbidden("You cannot rate your own article.")
    note = (comment or "").strip()
    if len(note) > MAX_FEEDBACK_COMMENT:
        raise ValidationError({"comment": [f"Keep the note to {MAX_FEEDBACK_COMMENT} characters."]})
    feedback = session.scalar(
        select(ArticleFeedback).where(
            and_(ArticleFeedback.article_id == article.id, ArticleFeedback.user_id == member.id)
        )
    )
    old: bool | None = None if feedback is None else feedback.helpful
    if feedback is None:
        feedback = ArticleFeedback(article_id=article.id, user_id=member.id, helpful=helpful)
        session.add(feedback)
    feedback.helpful = helpful
    if note or feedback.comment:
        feedback.comment = note or None
    session.flush()
    if old != helpful:
        events.emit(
            session,
            events.ArticleMarkedHelpful(article=article, member=member, old=old, new=helpful),
        )
    return feedback
