"""Drafts: keep what a member is writing until they send it, private to them."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from forum.db import utcnow
from forum.models import Article, Draft, Post, PostKind, Question, User
from forum.services.errors import NotFound, ValidationError

#: Longest draft text kept, in characters (a long tutorial is well under this).
MAX_BODY = 100_000
MAX_TITLE = 300
MAX_TAGS = 300
#: Drafts a member keeps; saving one more drops the least recently saved.
MAX_DRAFTS = 50

KINDS = (PostKind.QUESTION, PostKind.ANSWER, PostKind.ARTICLE)


@dataclass(frozen=True)
class DraftText:
    """What a form holds: the fields a draft keeps (an answer has only a body)."""

    title: str = ""
    body: str = ""
    tags: str = ""
    article_type: str = ""
    base_revision: int | None = None

    @property
    def is_empty(self) -> bool:
        """Nothing written yet (an empty form is no draft)."""
        return not (self.title.strip() or self.body.strip())


def parse_kind(raw: str) -> PostKind:
    """The kind of draft named ``raw``; ValidationError for any other name."""
    try:
        kind = PostKind(raw)
    except ValueError:
        raise ValidationError(
            {"kind": ["A draft is for a question, an answer or an article."]}
        ) from None
    return kind


def _check_target(session: Session, kind: PostKind, target_id: int) -> None:
    """An answer's draft needs its question, an edit's draft its article; new posts have 0."""
    if kind == PostKind.QUESTION:
        if target_id != 0:
            raise ValidationError({"target": ["A question's draft is for a new question."]})
        return
    if kind == PostKind.ANSWER and target_id == 0:
        raise ValidationError({"target": ["An answer's draft needs its question."]})
    if target_id == 0:
        return
    wanted = Question if kind == PostKind.ANSWER else Article
    post = session.get(Post, target_id)
    if not isinstance(post, wanted) or post.deleted_at is not None:
        raise ValidationError({"target": ["The post this draft is for does not exist."]})


def _check_text(text: DraftText) -> None:
    errors: dict[str, list[str]] = {}
    if len(text.body) > MAX_BODY:
        errors["body"] = [f"A draft keeps at most {MAX_BODY:,} characters."]
    if len(text.title) > MAX_TITLE:
        errors["title"] = [f"A draft's title keeps at most {MAX_TITLE} characters."]
    if len(text.tags) > MAX_TAGS:
        errors["tags"] = [f"A draft's tags keep at most {MAX_TAGS} characters."]
    if text.article_type not in ("", "tip", "tutorial"):
        errors["article_type"] = ["An article is a tip or a tutorial."]
    if errors:
        raise ValidationError(errors)


def find(session: Session, owner: User, kind: PostKind, target_id: int = 0) -> Draft | None:
    """The member's draft for one form, if any (no query for a member without drafts)."""
    if not owner.draft_count:
        return None
    return session.scalar(
        select(Draft).where(
            Draft.user_id == owner.id, Draft.kind == kind.value, Draft.target_id == target_id
        )
    )


def save(
    session: Session, *, owner: User, kind: PostKind, target_id: int, text: DraftText
) -> Draft | None:
    """Keep ``text`` as the member's draft for the form; an empty text discards the draft.

    Returns the draft, or None when there was nothing to keep.
    """
    _check_text(text)
    _check_target(session, kind, target_id)
    draft = find(session, owner, kind, target_id)
    if text.is_empty:
        if draft is not None:
            session.delete(draft)
            _recount(session, owner)
        return None
    if draft is None:
        _drop_oldest(session, owner)
        draft = Draft(user_id=owner.id, kind=kind.value, target_id=target_id)
        session.add(draft)
    draft.title = text.title
    draft.body = text.body
    draft.tags = text.tags
    draft.article_type = text.article_type
    draft.base_revision = text.base_revision
    draft.updated_at = utcnow()
    _recount(session, owner)
    return draft


def _recount(session: Session, owner: User) -> None:
    """Flush the member's draft changes and keep their count of drafts."""
    session.flush()
    owner.draft_count = (
        session.scalar(select(func.count()).select_from(Draft).where(Draft.user_id == owner.id))
        or 0
    )
    session.flush()


def _drop_oldest(session: Session, owner: User) -> None:
    """Make room for one more draft: keep the member's MAX_DRAFTS - 1 most recent."""
    kept = select(Draft.id).where(Draft.user_id == owner.id).order_by(Draft.updated_at.desc())
    ids = list(session.scalars(kept.offset(MAX_DRAFTS - 1)))
    if ids:
        session.execute(delete(Draft).where(Draft.id.in_(ids)))


def list_for(session: Session, owner: User) -> list[Draft]:
    """The member's drafts, most recently saved first."""
    return list(
        session.scalars(
            select(Draft).where(Draft.user_id == owner.id).order_by(Draft.updated_at.desc())
        )
    )


def get(session: Session, draft_id: int, owner: User) -> Draft:
    """One of the member's own drafts; NotFound for a draft of anyone else (or none)."""
    draft = session.get(Draft, draft_id)
    if draft is None or draft.user_id != owner.id:
        raise NotFound("There is no such draft.")
    return draft


def delete_draft(session: Session, draft_id: int, owner: User) -> Draft:
    """Delete one of the member's drafts (NotFound for anyone else's)."""
    draft = get(session, draft_id, owner)
    session.delete(draft)
    _recount(session, owner)
    return draft


def discard(session: Session, owner: User, kind: PostKind, target_id: int = 0) -> None:
    """Forget the draft of a form that was just sent successfully."""
    if not owner.draft_count:
        return
    result = session.execute(
        delete(Draft).where(
            Draft.user_id == owner.id, Draft.kind == kind.value, Draft.target_id == target_id
        )
    )
    if getattr(result, "rowcount", 0):
        _recount(session, owner)


def target_title(session: Session, draft: Draft) -> str | None:
    """The title of the question answered or the article edited, for the drafts list."""
    if draft.target_id == 0:
        return None
    post = session.get(Post, draft.target_id)
    return post.title if post is not None and post.deleted_at is None else None
