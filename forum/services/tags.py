"""Tags: parsing what members type, validating names, finding or creating them."""

from __future__ import annotations

import difflib
import functools
import re
from dataclasses import dataclass

from sqlalchemy import Integer, Select, and_, bindparam, delete, func, select, update
from sqlalchemy.orm import Session

from forum.models import Post, PostKind, Tag, TagFollow, TagSynonym, User, post_tags
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
        session.scalars(
            select(Tag.name)
            .join(post_tags, post_tags.c.tag_id == Tag.id, isouter=True)
            .group_by(Tag.id, Tag.name)
            .order_by(func.count(post_tags.c.post_id).desc(), Tag.name)
            .limit(CLOSEST_POOL)
        )
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


def _counts_query() -> Select[int, int, int]:
    live = and_(Post.deleted_at.is_(None), Post.id == post_tags.c.post_id)
    questions = func.count(Post.id).filter(Post.kind == PostKind.QUESTION)
    articles = func.count(Post.id).filter(Post.kind == PostKind.ARTICLE)
    return (
        select(post_tags.c.tag_id, questions, articles)
        .join(Post, live)
        .group_by(post_tags.c.tag_id)
    )


def list_tags(
    session: Session,
    *,
    query: str | None = None,
    sort: str = "popular",
    page: int = 1,
    per_page: int = 60,
) -> tuple[list[TagSummary], int]:
    """Tags with their counts, most used (or by name) first, optionally filtered by a prefix."""
    counts = _counts_query().subquery()
    stmt = select(
        Tag,
        func.coalesce(counts.c[1], 0).label("questions"),
        func.coalesce(counts.c[2], 0).label("articles"),
    ).outerjoin(counts, counts.c.tag_id == Tag.id)
    if query:
        stmt = stmt.where(Tag.name.like(query.strip().lower().replace("%", "") + "%"))
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    if sort == "name":
        stmt = stmt.order_by(Tag.name)
    else:
        used = func.coalesce(counts.c[1], 0) + func.coalesce(counts.c[2], 0)
        stmt = stmt.order_by(used.desc(), Tag.name)
    rows = session.execute(stmt.limit(per_page).offset((max(page, 1) - 1) * per_page)).all()
    return [TagSummary(tag, int(q), int(a)) for tag, q, a in rows], total


@functools.cache
def _summary_statement() -> Select[int, int, int]:
    """One tag's counts (built once; the tag is a parameter)."""
    return _counts_query().where(post_tags.c.tag_id == bindparam("tag_id", type_=Integer))


def summary(session: Session, tag: Tag) -> TagSummary:
    """One tag's counts."""
    row = session.execute(_summary_statement(), {"tag_id": tag.id}).first()
    return TagSummary(tag, int(row[1]) if row else 0, int(row[2]) if row else 0)


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
    session.expire_all()
