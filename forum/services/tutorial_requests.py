"""Tutorial requests: ask for a tutorial, +1 others' requests, mark an article as fulfilling one.

An article's author proposes it; the requester or a moderator confirms (or declines), and only
a confirmed fulfilment closes the request, notifies everyone who +1'd and earns the author the
Gap Filler badge (declared here, computed from the fulfilled requests like every badge). The
requester or a moderator can reopen a fulfilled request.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from forum import events
from forum.db import utcnow
from forum.models import (
    Article,
    Post,
    RequestStatus,
    Tag,
    TutorialRequest,
    TutorialRequestVote,
    User,
    tutorial_request_tags,
)
from forum.services import badges, notifications, posts
from forum.services import tags as tag_service
from forum.services.badges import Badge, Tier
from forum.services.errors import Conflict, Forbidden, NotFound, ValidationError

TITLE_MIN = 10
TITLE_MAX = 150
DETAILS_MAX = 10_000


# --- the Gap Filler badge ---------------------------------------------------------------------


def fulfilled_requests(session: Session, user_ids: Collection[int] | None) -> dict[int, int]:
    """Per member: others' tutorial requests confirmed as fulfilled by a live article they wrote."""
    query = (
        select(Post.author_id, func.count(TutorialRequest.id))
        .join(Post, Post.id == TutorialRequest.article_id)
        .where(
            TutorialRequest.status == RequestStatus.FULFILLED,
            Post.deleted_at.is_(None),
            Post.author_id.is_not(None),
            # One's own request fills no colleague's gap.
            or_(
                TutorialRequest.requester_id.is_(None),
                TutorialRequest.requester_id != Post.author_id,
            ),
        )
        .group_by(Post.author_id)
    )
    if user_ids is not None:
        query = query.where(Post.author_id.in_(list(user_ids)))
    return {int(uid): int(n) for uid, n in session.execute(query) if uid is not None}


GAP_FILLER = badges.declare(
    Badge(
        "gap_filler",
        "Gap Filler",
        Tier.SILVER,
        "Wrote an article that fulfilled a colleague's tutorial request.",
        1,
        member_metric=fulfilled_requests,
        unit="fulfilled requests",
    )
)


# --- asking -----------------------------------------------------------------------------------


def validate(title: str, details_md: str, tag_names: list[str]) -> dict[str, list[str]]:
    """Per-field problems with a request's title, details and tags."""
    errors: dict[str, list[str]] = {}
    title = (title or "").strip()
    if len(title) < TITLE_MIN:
        errors["title"] = [f"Use at least {TITLE_MIN} characters: say what you want to learn."]
    elif len(title) > TITLE_MAX:
        errors["title"] = [f"Use at most {TITLE_MAX} characters."]
    if len(details_md or "") > DETAILS_MAX:
        errors["details"] = [f"Use at most {DETAILS_MAX:,} characters."]
    if problems := tag_service.tag_errors(tag_names):
        errors["tags"] = problems
    return errors


def create(
    session: Session, *, requester: User, title: str, details_md: str, tags: list[str]
) -> TutorialRequest:
    """Validate and stage a new open request."""
    errors = validate(title, details_md, tags)
    if errors:
        raise ValidationError(errors)
    details_md = (details_md or "").strip()
    request = TutorialRequest(
        title=title.strip(),
        details_md=details_md,
        details_html=posts.render(details_md, "details") if details_md else "",
        requester=requester,
        tags=tag_service.resolve_for_attach(session, requester, tags),
        status=RequestStatus.OPEN,
        plus_count=0,
    )
    session.add(request)
    session.flush()
    events.emit(session, events.TutorialRequested(request=request, requester=requester))
    return request


def get(session: Session, request_id: int) -> TutorialRequest:
    """A request by id; NotFound otherwise."""
    request = session.get(TutorialRequest, request_id)
    if request is None:
        raise NotFound("There is no such tutorial request.")
    return request


def parse_status(raw: str | None) -> RequestStatus:
    """The ``status`` filter: open (the default, proposed ones included) or fulfilled."""
    if not raw:
        return RequestStatus.OPEN
    if raw not in LISTED_STATUSES:
        raise ValidationError({"status": ["Choose open or fulfilled."]})
    return RequestStatus(raw)


#: The lists of requests: open ones (proposed included, as they still await confirmation)
#: and fulfilled ones.
LISTED_STATUSES = (RequestStatus.OPEN, RequestStatus.FULFILLED)
_OPEN = (RequestStatus.OPEN, RequestStatus.PROPOSED)


def list_requests(
    session: Session,
    *,
    status: RequestStatus = RequestStatus.OPEN,
    tag: str | None = None,
    page: int = 1,
    per_page: int = 20,
) -> tuple[list[TutorialRequest], int]:
    """Requests with a status (optionally in a tag), most +1s first, and their total."""
    statuses = _OPEN if status is RequestStatus.OPEN else (status,)
    query = select(TutorialRequest).where(TutorialRequest.status.in_(statuses))
    if tag:
        in_tag = (
            select(tutorial_request_tags.c.request_id)
            .join(Tag, Tag.id == tutorial_request_tags.c.tag_id)
            .where(Tag.name == tag)
        )
        query = query.where(TutorialRequest.id.in_(in_tag))
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    order = (
        (TutorialRequest.plus_count.desc(), TutorialRequest.created_at.desc())
        if status is RequestStatus.OPEN
        else (TutorialRequest.fulfilled_at.desc(),)
    )
    rows = session.scalars(
        query.order_by(*order, TutorialRequest.id.desc())
        .offset((page - 1) * per_page)
        .limit(per_page)
    )
    return list(rows), int(total)


# --- +1s --------------------------------------------------------------------------------------


def supported_by(session: Session, user: User | None, request_ids: list[int]) -> set[int]:
    """The ids among ``request_ids`` that ``user`` has +1'd."""
    if user is None or not request_ids:
        return set()
    return {
        int(rid)
        for rid in session.scalars(
            select(TutorialRequestVote.request_id).where(
                TutorialRequestVote.user_id == user.id,
                TutorialRequestVote.request_id.in_(request_ids),
            )
        )
    }


def plus_one(session: Session, *, user: User, request_id: int) -> TutorialRequest:
    """+1 someone else's open request, once."""
    request = get(session, request_id)
    if request.requester_id == user.id:
        raise Forbidden("You asked for this tutorial yourself: others can +1 it.")
    if not request.is_open:
        raise Conflict("This request is already fulfilled.")
    try:
        with session.begin_nested():
            session.add(TutorialRequestVote(request_id=request.id, user_id=user.id))
    except IntegrityError:
        raise Conflict("You have already +1'd this request.") from None
    session.execute(
        update(TutorialRequest)
        .where(TutorialRequest.id == request.id)
        .values(plus_count=TutorialRequest.plus_count + 1)
    )
    session.refresh(request, ["plus_count"])
    return request


def undo_plus_one(session: Session, *, user: User, request_id: int) -> TutorialRequest:
    """Take back one's +1."""
    request = get(session, request_id)
    removed = session.execute(
        delete(TutorialRequestVote).where(
            TutorialRequestVote.request_id == request.id, TutorialRequestVote.user_id == user.id
        )
    )
    if not getattr(removed, "rowcount", 0):
        raise Conflict("You haven't +1'd this request.")
    session.execute(
        update(TutorialRequest)
        .where(TutorialRequest.id == request.id)
        .values(plus_count=TutorialRequest.plus_count - 1)
    )
    session.refresh(request, ["plus_count"])
    return request


def supporters(session: Session, request: TutorialRequest) -> list[User]:
    """The requester and everyone who +1'd, requester first, then by +1 time."""
    people: list[User] = []
    if request.requester is not None:
        people.append(request.requester)
    people.extend(
        session.scalars(
            select(User)
            .join(TutorialRequestVote, TutorialRequestVote.user_id == User.id)
            .where(TutorialRequestVote.request_id == request.id)
            .order_by(TutorialRequestVote.created_at, TutorialRequestVote.id)
        )
    )
    return people


# --- fulfilment -------------------------------------------------------------------------------

_ARTICLE_PATH = re.compile(r"/articles/([^/?#\s]+)")
_QUESTION_PATH = re.compile(r"/questions/(\d+)")


def resolve_reference(session: Session, reference: str) -> Post:
    """The post an address, a slug or ``#id`` points at; NotFound when there is none."""
    text = (reference or "").strip()
    if not text:
        raise ValidationError({"article": ["Paste the address of the article."]})
    post: Post | None = None
    if match := _QUESTION_PATH.search(text):
        post = session.get(Post, int(match.group(1)))
    elif match := _ARTICLE_PATH.search(text):
        post = session.scalar(select(Post).where(Post.slug == match.group(1)))
    elif text.lstrip("#").isdigit() and len(text) < 12:
        post = session.get(Post, int(text.lstrip("#")))
    else:
        post = session.scalar(select(Post).where(Post.slug == text.strip("/")))
    if post is None:
        raise ValidationError({"article": ["No article has that address."]})
    return post


def can_fulfil(user: User | None, request: TutorialRequest, article: Post | None = None) -> bool:
    """The article's author (to propose it), the requester and moderators may mark an article."""
    if user is None:
        return False
    if user.is_moderator or request.requester_id == user.id:
        return True
    return article is None or article.author_id == user.id


def can_confirm(user: User | None, request: TutorialRequest, article: Post | None) -> bool:
    """The requester confirms; so may a moderator, for an article they did not write."""
    if user is None:
        return False
    if request.requester_id == user.id:
        return True
    return user.is_moderator and (article is None or article.author_id != user.id)


def can_reopen(user: User | None, request: TutorialRequest) -> bool:
    """The requester or a moderator reopens; whoever proposed an article may withdraw it."""
    if user is None:
        return False
    if user.is_moderator or request.requester_id == user.id:
        return True
    return request.is_proposed and request.fulfilled_by_id == user.id


@dataclass(frozen=True)
class Fulfilment:
    """What marking a request did: ``confirmed`` (fulfilled) or only proposed."""

    request: TutorialRequest
    article: Article
    notified: int
    confirmed: bool = True


def fulfil(session: Session, *, actor: User, request_id: int, post_id: int) -> Fulfilment:
    """Mark a live tip or tutorial as fulfilling an open request.

    From the requester or a moderator (not for their own article) that confirms it at once;
    from the article's author it is a proposal the requester or a moderator confirms later.
    """
    request = get(session, request_id)
    post = session.get(Post, post_id)
    if post is None:
        raise ValidationError({"article": ["No article has that address."]})
    if not isinstance(post, Article):
        raise ValidationError({"article": [f"That is a {post.kind.value}, not a tip or tutorial."]})
    if post.is_deleted:
        raise ValidationError({"article": ["That article was deleted."]})
    if not can_fulfil(actor, request, post):
        raise Forbidden("Only the article's author, the requester or a moderator can do this.")
    if not request.is_open:
        raise Conflict("This request is already fulfilled.")
    if can_confirm(actor, request, post):
        request.article_id = post.id
        return _confirm(session, request, post, actor)
    if request.is_proposed:
        raise Conflict("An article is already proposed; the requester or a moderator decides.")
    request.status = RequestStatus.PROPOSED
    request.article_id = post.id
    request.fulfilled_by_id = actor.id
    request.fulfilled_at = None
    session.flush()
    return Fulfilment(request, post, _notify_requester(session, request, post, actor), False)


def confirm(session: Session, *, actor: User, request_id: int) -> Fulfilment:
    """Confirm the proposed article (requester or moderator): the request is fulfilled."""
    request = get(session, request_id)
    article = session.get(Article, request.article_id) if request.article_id else None
    if not can_confirm(actor, request, article):
        raise Forbidden("Only the requester or a moderator can confirm a fulfilment.")
    if not request.is_proposed or article is None:
        raise Conflict("No article is waiting for confirmation.")
    if article.is_deleted:
        raise Conflict("The proposed article was deleted; decline it instead.")
    return _confirm(session, request, article, actor)


def _confirm(
    session: Session, request: TutorialRequest, article: Article, actor: User
) -> Fulfilment:
    request.status = RequestStatus.FULFILLED
    request.fulfilled_by_id = actor.id
    request.fulfilled_at = utcnow()
    session.flush()
    notified = _notify_supporters(session, request, article, actor)
    if article.author_id is not None:
        # Awarded in this transaction, so the badge arrives with the fulfilment.
        badges.award(session, [article.author_id], keys=[GAP_FILLER.key])
    return Fulfilment(request, article, notified)


def reopen(session: Session, *, actor: User, request_id: int) -> TutorialRequest:
    """Open a fulfilled request again, or decline (or withdraw) a proposed article."""
    request = get(session, request_id)
    if not can_reopen(actor, request):
        raise Forbidden("Only the requester or a moderator can reopen a request.")
    if request.status is RequestStatus.OPEN:
        raise Conflict("This request is already open.")
    request.status = RequestStatus.OPEN
    request.article_id = None
    request.fulfilled_by_id = None
    request.fulfilled_at = None
    session.flush()
    return request


def _notify_requester(
    session: Session, request: TutorialRequest, article: Post, actor: User
) -> int:
    """Ask the requester to confirm a proposed article."""
    if request.requester is None:
        return 0
    sent = notifications.notify(
        session,
        recipient=request.requester,
        kind="request_fulfilled",
        text=f"“{article.title}” is proposed for your tutorial request “{request.title}”: "
        "confirm it if it fills the gap.",
        endpoint="gaps.request_detail",
        params={"request_id": request.id},
        actor=actor,
    )
    return int(sent is not None)


def _notify_supporters(
    session: Session, request: TutorialRequest, article: Post, actor: User
) -> int:
    """Tell the requester and every +1er that the tutorial exists."""
    count = 0
    for member in supporters(session, request):
        sent = notifications.notify(
            session,
            recipient=member,
            kind="request_fulfilled",
            text=f"“{article.title}” fulfils the tutorial request “{request.title}”.",
            endpoint="gaps.request_detail",
            params={"request_id": request.id},
            actor=actor,
        )
        count += sent is not None
    return count


def requests_for_article(session: Session, article: Post) -> list[TutorialRequest]:
    """The requests an article fulfilled."""
    return list(
        session.scalars(
            select(TutorialRequest)
            .where(
                TutorialRequest.article_id == article.id,
                TutorialRequest.status == RequestStatus.FULFILLED,
            )
            .order_by(TutorialRequest.fulfilled_at)
        )
    )


def open_counts_by_tag(
    session: Session, *, department: str | None = None
) -> dict[int, tuple[int, int]]:
    """Per tag id: (open requests, +1s on them), optionally only those asked by a department."""
    query = (
        select(
            tutorial_request_tags.c.tag_id,
            func.count(TutorialRequest.id),
            func.coalesce(func.sum(TutorialRequest.plus_count), 0),
        )
        .join(TutorialRequest, TutorialRequest.id == tutorial_request_tags.c.request_id)
        .where(TutorialRequest.status.in_(_OPEN))
        .group_by(tutorial_request_tags.c.tag_id)
    )
    if department:
        query = query.join(User, User.id == TutorialRequest.requester_id).where(
            User.department == department
        )
    return {int(t): (int(n), int(p)) for t, n, p in session.execute(query)}
