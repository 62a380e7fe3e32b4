"""Tags: parsing what members type, validating names, finding or creating them."""

from __future__ import annotations

import difflib
import functools
import re
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Integer,
    Select,
    Update,
    bindparam,
    delete,
    event,
    func,
    inspect,
    or_,
    select,
    update,
)
from sqlalchemy.orm import Session, sessionmaker

from forum.db import first_listen
from forum.models import Answer, Post, PostKind, Tag, TagFollow, TagSynonym, User, post_tags
from forum.services import mentions, posts, reputation
from forum.services.errors import Forbidden, NotFound, ValidationError

TAG_NAME_RE = re.compile(r"^[a-z0-9+#.-]{1,35}$")
MAX_TAGS = 5
NO_TAGS = "Add at least one tag so colleagues can find this."


def parse_tags(text: str) -> list[str]:
    """Split comma- or space-separated tags, lower-cased, in order, without repeats."""
    names: list[str] = []
    for raw in re.split(r"[,\s]+", text or ""):
        name = raw.strip().lower()
        if name and name not in names:
            names.append(name)
    return names


def tag_errors(names: list[str], *, required: bool = True) -> list[str]:
    """What is wrong with a list of tag names (empty when it is acceptable)."""
    errors: list[str] = []
    if required and not names:
        errors.append(NO_TAGS)
    if len(names) > MAX_TAGS:
        errors.append(f"Use at most {MAX_TAGS} tags.")
    bad = [n for n in names if not TAG_NAME_RE.match(n)]
    if bad:
        errors.append(
            "Tags use lower-case letters, digits and + # . - (at most 35 characters): "
            + ", ".join(bad[:5])
        )
    return errors


def tags_named(session: Session, names: list[str]) -> list[Tag]:
    """The tags with these names, creating the missing ones, in the given order."""
    existing = {t.name: t for t in session.scalars(select(Tag).where(Tag.name.in_(names)))}
    tags: list[Tag] = []
    for name in names:
        tag = existing.get(name)
        if tag is None:
            tag = Tag(name=name)
            session.add(tag)
            existing[name] = tag
        tags.append(tag)
    return tags


def attachable_names(
    session: Session,
    member: User | None,
    names: list[str],
    *,
    field: str = "tags",
    allow_new: bool = False,
) -> list[str]:
    """The tag names to attach for ``names``: synonyms resolved, new names only if allowed.

    The one tag policy for questions, articles, circles, requests, skills and imports: a
    synonym becomes its tag, and a name no tag has yet needs the ``create_tags`` privilege.
    ``allow_new`` is for tools an admin runs (importers, the CLI), which create tags freely.
    Raises ValidationError naming the refused tags under ``field``; nothing is written.
    """
    names = resolve_names(session, names)
    new = missing_names(session, names)
    if new and not allow_new and not reputation.can(member, "create_tags"):
        raise ValidationError({field: [new_tags_refused(session, member, new)]})
    return names


def new_tags_refused(session: Session, member: User | None, new: list[str]) -> str:
    """Why ``new`` tags can't be created: the reputation it takes, and the closest tags."""
    limit = reputation.threshold("create_tags", reputation.rules(session))
    have = member.reputation if member is not None else 0
    message = f"Creating a new tag takes {limit} reputation (you have {have}): {', '.join(new)}."
    close = closest_tags(session, new)
    if close:
        return f"{message} Closest existing tags: {', '.join(close)}."
    return f"{message} Choose existing tags from the tags page."


#: How many existing names a refusal compares, and how many it offers.
CLOSEST_POOL = 5000
CLOSEST_OFFERED = 5


def closest_tags(session: Session, names: list[str]) -> list[str]:
    """Existing tag names closest to ``names``: shared beginnings first, then similar spelling."""
    pool = list(
        session.scalars(select(Tag.name).order_by(_uses().desc(), Tag.name).limit(CLOSEST_POOL))
    )
    found: list[str] = []
    for name in names:
        stem = name[:3]
        prefixed = [t for t in pool if t.startswith(name) or (name.startswith(t) and len(t) > 1)]
        prefixed += [t for t in pool if len(stem) == 3 and t.startswith(stem)]
        similar = difflib.get_close_matches(name, pool, n=CLOSEST_OFFERED, cutoff=0.6)
        for candidate in [*prefixed, *similar]:
            if candidate not in found:
                found.append(candidate)
    return found[:CLOSEST_OFFERED]


def resolve_for_attach(
    session: Session,
    member: User | None,
    names: list[str],
    *,
    field: str = "tags",
    allow_new: bool = False,
) -> list[Tag]:
    """The tags to attach for ``names`` under the one tag policy (see ``attachable_names``)."""
    return tags_named(
        session, attachable_names(session, member, names, field=field, allow_new=allow_new)
    )


# --- Tag pages, following, synonyms and merging ------------------------------------------

MAX_EXCERPT = 300
MAX_DESCRIPTION_BYTES = 50_000


@dataclass(frozen=True)
class TagSummary:
    """A tag with how many live questions and articles carry it."""

    tag: Tag
    questions: int
    articles: int

    @property
    def total(self) -> int:
        """Questions and articles together."""
        return self.questions + self.articles


def resolve_names(session: Session, names: list[str]) -> list[str]:
    """Names with synonyms replaced by their tag's name, in order, without repeats."""
    if not names:
        return []
    rows = session.execute(
        select(TagSynonym.name, Tag.name)
        .join(Tag, Tag.id == TagSynonym.tag_id)
        .where(TagSynonym.name.in_(names))
    )
    synonyms = {str(alias): str(target) for alias, target in rows}
    resolved: list[str] = []
    for name in names:
        target = synonyms.get(name, name)
        if target not in resolved:
            resolved.append(target)
    return resolved


def synonym_targets(session: Session) -> dict[str, str]:
    """Every synonym and the name of its tag (for bulk work such as imports)."""
    rows = session.execute(select(TagSynonym.name, Tag.name).join(Tag, Tag.id == TagSynonym.tag_id))
    return {str(alias): str(target) for alias, target in rows}


def missing_names(session: Session, names: list[str]) -> list[str]:
    """The names among ``names`` that no tag has yet."""
    existing = set(session.scalars(select(Tag.name).where(Tag.name.in_(names))))
    return [n for n in names if n not in existing]


@functools.cache
def _tag_by_name() -> Select[Tag]:
    """A tag by its name (built once: every tag page starts with it)."""
    return select(Tag).where(Tag.name == bindparam("tag_name", type_=Tag.name.type))


def get_tag(session: Session, name: str) -> Tag:
    """The tag called ``name`` (or a synonym of it); NotFound otherwise."""
    name = (name or "").strip().lower()
    tag = session.scalar(_tag_by_name(), {"tag_name": name})
    if tag is None:
        synonym = session.scalar(select(TagSynonym).where(TagSynonym.name == name))
        if synonym is not None:
            return synonym.tag
        raise NotFound(f"There is no tag called {name!r}.")
    return tag


def _uses() -> ColumnElement[int]:
    """How many live questions and articles carry a tag (from its stored counts)."""
    return Tag.question_count + Tag.article_count


def list_tags(
    session: Session,
    *,
    query: str | None = None,
    sort: str = "popular",
    page: int = 1,
    per_page: int = 60,
) -> tuple[list[TagSummary], int]:
    """Tags with their counts, most used (or by name) first, optionally filtered by a prefix.

    The counts are the tags' stored ones: the page reads the tags table only.
    """
    stmt = select(Tag)
    if query:
        stmt = stmt.where(Tag.name.like(query.strip().lower().replace("%", "") + "%"))
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    if sort == "name":
        stmt = stmt.order_by(Tag.name)
    else:
        stmt = stmt.order_by(_uses().desc(), Tag.name)
    rows = session.scalars(stmt.limit(per_page).offset((max(page, 1) - 1) * per_page)).all()
    return [summary(tag) for tag in rows], total


def summary(tag: Tag) -> TagSummary:
    """One tag's counts (stored on the tag: no statement)."""
    return TagSummary(tag, tag.question_count, tag.article_count)


def _live_count(kind: PostKind) -> Any:
    """The number of live posts of ``kind`` carrying the tag of the row being updated."""
    return (
        select(func.count())
        .select_from(post_tags)
        .join(Post, Post.id == post_tags.c.post_id)
        .where(post_tags.c.tag_id == Tag.id, Post.kind == kind, Post.deleted_at.is_(None))
        .scalar_subquery()
    )


def recount(session: Session, tag_ids: Collection[int] | None = None) -> None:
    """Store the live question and article counts of these tags (every tag when None).

    Counted from post_tags, so the stored counts equal the derived ones whatever came before;
    each tag costs one pass over its own posts.
    """
    _store_counts(session, tag_ids)
    _expire_counts(session, tag_ids)


def tag_counts_statement(tag_ids: Collection[int] | None = None) -> Update:
    """The UPDATE storing these tags' live question and article counts (every tag when None)."""
    statement = update(Tag).values(
        question_count=_live_count(PostKind.QUESTION),
        article_count=_live_count(PostKind.ARTICLE),
    )
    if tag_ids is not None:
        statement = statement.where(Tag.id.in_(sorted(tag_ids)))
    return statement


def _store_counts(session: Session, tag_ids: Collection[int] | None) -> None:
    if tag_ids is not None and not tag_ids:
        return
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        # The count reads its statement's snapshot: lock the tags first (in id order), so a
        # concurrent change to the same tags commits before this count starts, and is in
        # it. The lock lets posts still reference the tags (foreign keys take KEY SHARE).
        locked = select(Tag.id).order_by(Tag.id).with_for_update(key_share=True)
        if tag_ids is not None:
            locked = locked.where(Tag.id.in_(sorted(tag_ids)))
        connection.execute(locked)
    # SQLite runs one writer at a time: the count sees every committed change.
    connection.execute(tag_counts_statement(tag_ids))


def _expire_counts(session: Session, tag_ids: Collection[int] | None) -> None:
    """Loaded tags read their stored counts again on next access.

    Tags are matched by their identity key, never by loading ``id``: a tag whose row a
    rollback removed may still be in the identity map, expired.
    """
    for obj in list(session.identity_map.values()):
        if not isinstance(obj, Tag):
            continue
        identity = inspect(obj).identity
        if identity is not None and (tag_ids is None or identity[0] in tag_ids):
            session.expire(obj, ["question_count", "article_count"])


@dataclass(frozen=True)
class CountDrift:
    """A tag whose stored counts differ from what its posts say."""

    name: str
    stored: tuple[int, int]
    derived: tuple[int, int]


def count_drift(session: Session) -> list[CountDrift]:
    """Tags whose stored (questions, articles) counts differ from their live posts, by name."""
    questions = _live_count(PostKind.QUESTION)
    articles = _live_count(PostKind.ARTICLE)
    rows = session.execute(
        select(Tag.name, Tag.question_count, Tag.article_count, questions, articles)
        .where(or_(Tag.question_count != questions, Tag.article_count != articles))
        .order_by(Tag.name)
    )
    return [CountDrift(str(n), (int(q), int(a)), (int(dq), int(da))) for n, q, a, dq, da in rows]


def _counted_tag_ids(session: Session) -> set[int]:
    """Tags whose counts this flush may change: posts added, removed, retagged or (un)deleted.

    Runs after the flush (ids are known) while the objects still carry their history.
    """
    tag_ids: set[int] = set()
    post_ids: set[int] = set()
    for obj in (*session.new, *session.dirty, *session.deleted):
        if not isinstance(obj, Post) or isinstance(obj, Answer):
            continue
        state = inspect(obj)
        tags = state.attrs.tags.history
        tag_ids.update(t.id for t in (*tags.added, *tags.deleted) if t.id is not None)
        if obj in session.deleted:
            tag_ids.update(t.id for t in tags.unchanged if t.id is not None)
        elif obj not in session.new and state.attrs.deleted_at.history.has_changes():
            post_ids.add(obj.id)
    if post_ids:
        tag_ids.update(
            session.connection().scalars(
                select(post_tags.c.tag_id).where(post_tags.c.post_id.in_(sorted(post_ids)))
            )
        )
    return tag_ids


_RECOUNTED = "tags.recounted"


def _after_flush(session: Session, _context: Any) -> None:
    tag_ids = _counted_tag_ids(session)
    if tag_ids:
        _store_counts(session, tag_ids)
        session.info.setdefault(_RECOUNTED, set()).update(tag_ids)


def _after_flush_postexec(session: Session, _context: Any) -> None:
    # Expired only now: the flush has finished with the objects it wrote (new tags included).
    tag_ids = session.info.pop(_RECOUNTED, None)
    if tag_ids:
        _expire_counts(session, tag_ids)


def keep_counts(sessions: sessionmaker[Session]) -> None:
    """Keep tags' stored counts in step with the flushes of this factory's sessions."""
    if first_listen(sessions, __name__):
        event.listen(sessions, "after_flush", _after_flush)
        event.listen(sessions, "after_flush_postexec", _after_flush_postexec)


@functools.cache
def _synonyms_statement() -> Select[str]:
    """A tag's synonyms by name (built once; the tag is a parameter)."""
    return (
        select(TagSynonym.name)
        .where(TagSynonym.tag_id == bindparam("tag_id", type_=Integer))
        .order_by(TagSynonym.name)
    )


def synonyms_of(session: Session, tag: Tag) -> list[str]:
    """Other names that lead to ``tag``."""
    return list(session.scalars(_synonyms_statement(), {"tag_id": tag.id}))


def edit_description(
    session: Session, *, editor: User, tag: Tag, excerpt: str, description_md: str
) -> None:
    """Change a tag's excerpt and Markdown description (members with enough reputation)."""
    if not reputation.can(editor, "edit_tag_wiki"):
        raise Forbidden("You need more reputation to edit tag descriptions.")
    errors: dict[str, list[str]] = {}
    excerpt = (excerpt or "").strip()
    if len(excerpt) > MAX_EXCERPT:
        errors["excerpt"] = [f"Keep the excerpt to {MAX_EXCERPT} characters."]
    if len((description_md or "").encode("utf-8")) > MAX_DESCRIPTION_BYTES:
        errors["description"] = ["The description is limited to 50 KB."]
    if errors:
        raise ValidationError(errors)
    tag.excerpt = excerpt or None
    tag.description_md = description_md.strip() or None
    tag.description_html = (
        posts.render(description_md, "description", linked=session) if tag.description_md else None
    )
    session.flush()
    if tag.description_html:
        # Services call notifications directly for an action without an event of its own.
        mentions.notify_mentioned(
            session,
            body_html=tag.description_html,
            subject=mentions.subject_of_tag(tag.id),
            author=editor,
            anonymous=False,
            text=f"{editor.display_name} mentioned you in the description of the tag {tag.name}",
            endpoint="tags.detail",
            params={"name": tag.name},
        )


def is_following(session: Session, user: User | None, tag: Tag) -> bool:
    """Whether ``user`` follows ``tag``."""
    if user is None:
        return False
    return session.get(TagFollow, (user.id, tag.id)) is not None


def followed_tags(session: Session, user: User) -> list[Tag]:
    """The tags a member follows, by name."""
    return list(
        session.scalars(
            select(Tag)
            .join(TagFollow, TagFollow.tag_id == Tag.id)
            .where(TagFollow.user_id == user.id)
            .order_by(Tag.name)
        )
    )


def follow(session: Session, *, user: User, tag: Tag) -> None:
    """Follow a tag (again is harmless)."""
    if session.get(TagFollow, (user.id, tag.id)) is None:
        session.add(TagFollow(user_id=user.id, tag_id=tag.id))
        session.flush()


def unfollow(session: Session, *, user: User, tag: Tag) -> None:
    """Stop following a tag."""
    follow_row = session.get(TagFollow, (user.id, tag.id))
    if follow_row is not None:
        session.delete(follow_row)
        session.flush()


def add_synonym(session: Session, *, moderator: User, tag: Tag, name: str) -> TagSynonym:
    """Make ``name`` lead to ``tag`` (moderators); an existing tag of that name is merged."""
    if not moderator.is_moderator:
        raise Forbidden("Only moderators manage tag synonyms.")
    name = (name or "").strip().lower()
    if errors := tag_errors([name]):
        raise ValidationError({"synonym": errors})
    if name == tag.name:
        raise ValidationError({"synonym": ["A tag can't be a synonym of itself."]})
    if session.scalar(select(TagSynonym).where(TagSynonym.name == name)) is not None:
        raise ValidationError({"synonym": [f"{name!r} is already a synonym."]})
    other = session.scalar(select(Tag).where(Tag.name == name))
    if other is not None:
        merge(session, moderator=moderator, source=other, target=tag)
        synonym = session.scalar(select(TagSynonym).where(TagSynonym.name == name))
        assert synonym is not None
        return synonym
    synonym = TagSynonym(name=name, tag_id=tag.id)
    session.add(synonym)
    session.flush()
    return synonym


def merge(session: Session, *, moderator: User, source: Tag, target: Tag) -> None:
    """Move every post, follower and synonym of ``source`` to ``target``; ``source``
    becomes a synonym of ``target``."""
    if not moderator.is_moderator:
        raise Forbidden("Only moderators merge tags.")
    if source.id == target.id:
        raise ValidationError({"target": ["Choose a different tag to merge into."]})
    already = select(post_tags.c.post_id).where(post_tags.c.tag_id == target.id)
    session.execute(
        update(post_tags)
        .where(post_tags.c.tag_id == source.id, post_tags.c.post_id.not_in(already))
        .values(tag_id=target.id)
    )
    session.execute(delete(post_tags).where(post_tags.c.tag_id == source.id))
    followed = select(TagFollow.user_id).where(TagFollow.tag_id == target.id)
    session.execute(
        update(TagFollow)
        .where(TagFollow.tag_id == source.id, TagFollow.user_id.not_in(followed))
        .values(tag_id=target.id)
        .execution_options(synchronize_session=False)
    )
    session.execute(
        update(TagSynonym)
        .where(TagSynonym.tag_id == source.id)
        .values(tag_id=target.id)
        .execution_options(synchronize_session=False)
    )
    name = source.name
    session.delete(source)
    session.flush()
    session.add(TagSynonym(name=name, tag_id=target.id))
    session.flush()
    # The posts moved with Core statements, which no flush sees.
    recount(session, [target.id])
    session.expire_all()
