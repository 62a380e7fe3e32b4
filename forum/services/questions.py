"""Questions: asking (openly or anonymously), editing with revisions, lists, views, closing."""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import functools
import hashlib
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Integer,
    Select,
    and_,
    bindparam,
    exists,
    func,
    or_,
    select,
    true,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, joinedload
from sqlalchemy.orm.attributes import set_committed_value

from forum import events
from forum.db import utcnow, writer_options
from forum.models import (
    AuditLog,
    Bounty,
    CloseVote,
    Post,
    PostKind,
    Question,
    SuggestedEdit,
    Tag,
    TagFollow,
    User,
    post_tags,
)
from forum.models.imports import PostAttribution
from forum.models.qa import PostView
from forum.services import audit, posts, revisions, visibility
from forum.services import comments as comment_service
from forum.services import tags as tag_service
from forum.services import votes as vote_service
from forum.services.comments import CommentNode
from forum.services.errors import Conflict, Forbidden, NotFound, ValidationError
from forum.services.posts import AttributionRow, AuthorRef, PostRow, TagRef
from forum.services.text import single_line_errors

TITLE_MIN = 15
TITLE_MAX = 150
VIEW_WINDOW = dt.timedelta(hours=1)
#: How long counting a view waits for SQLite's write lock before the view goes uncounted.
VIEW_WRITE_TIMEOUT_MS = 1000


class CloseReason(enum.StrEnum):
    """Why a moderator closed a question."""

    DUPLICATE = "duplicate"
    OFF_TOPIC = "off-topic"
    NEEDS_DETAIL = "needs-detail"

    @property
    def label(self) -> str:
        """How the reason reads on the page."""
        return {
            "duplicate": "Duplicate",
            "off-topic": "Off-topic",
            "needs-detail": "Needs more detail",
        }[self.value]


class Tab(enum.StrEnum):
    """The question lists."""

    NEWEST = "newest"
    ACTIVE = "active"
    TOP_WEEK = "top-week"
    TOP_MONTH = "top-month"
    TOP_ALL = "top"
    UNANSWERED = "unanswered"
    FEATURED = "featured"
    MY_TAGS = "my-tags"


TAB_LABELS = {
    Tab.NEWEST: "Newest",
    Tab.ACTIVE: "Active",
    Tab.TOP_WEEK: "Top this week",
    Tab.TOP_MONTH: "Top this month",
    Tab.TOP_ALL: "Top of all time",
    Tab.UNANSWERED: "Unanswered",
    Tab.FEATURED: "Featured",
    Tab.MY_TAGS: "My tags",
}


def slugify(title: str | None) -> str:
    """A URL slug for a question title (decoration only: ids find questions)."""
    slug = re.sub(r"[^a-z0-9]+", "-", (title or "").lower()).strip("-")
    return slug[:80].rstrip("-") or "question"


def validate(title: str, body_md: str, tag_names: list[str]) -> dict[str, list[str]]:
    """Per-field problems with a question's title, body and tags."""
    errors: dict[str, list[str]] = {}
    title = (title or "").strip()
    if len(title) < TITLE_MIN:
        errors["title"] = [
            f"Use at least {TITLE_MIN} characters: a title colleagues can recognise."
        ]
    elif len(title) > TITLE_MAX:
        errors["title"] = [f"Use at most {TITLE_MAX} characters."]
    elif problems := single_line_errors(title):
        errors["title"] = problems
    if not (body_md or "").strip():
        errors["body"] = ["Describe what you are trying to do and what you have tried."]
    if problems := tag_service.tag_errors(tag_names):
        errors["tags"] = problems
    return errors


def ask(
    session: Session,
    *,
    author: User,
    title: str,
    body_md: str,
    tags: list[str],
    anonymous: bool = False,
) -> Question:
    """Validate and stage a new question (revision 1 included)."""
    errors = validate(title, body_md, tags)
    if errors:
        raise ValidationError(errors)
    body_html = posts.render(body_md, linked=session)
    question = Question(
        author=author,
        title=title.strip(),
        body_md=body_md,
        body_html=body_html,
        tags=tag_service.resolve_for_attach(session, author, tags),
        is_anonymous=anonymous,
    )
    session.add(question)
    revisions.record_revision(session, question, editor=author, summary="Asked")
    session.flush()
    events.emit(session, events.QuestionAsked(question=question, author=author))
    return question


def get(session: Session, question_id: int, *, viewer: User | None = None) -> Question:
    """A question by id; removed ones only for their author and moderators."""
    question = session.get(Question, question_id)
    if question is None or not visibility.can_view(session, viewer, question):
        raise NotFound("There is no such question.")
    return question


def edit(
    session: Session,
    *,
    editor: User,
    question_id: int,
    title: str,
    body_md: str,
    tags: list[str],
    summary: str = "",
    base_revision: int | None = None,
    approved_by: User | None = None,
) -> Question:
    """Save an edit as a new revision; a stale edit (someone saved meanwhile) is refused.

    With ``approved_by``, ``editor`` suggested the edit and ``approved_by`` (who must be
    allowed to edit) applies it: the revision names the editor and notes the approver.
    """
    authority = approved_by or editor
    question = get(session, question_id, viewer=authority)
    if not posts.can_edit(authority, question):
        raise Forbidden("You can't edit this question.")
    errors = validate(title, body_md, tags)
    if base_revision is not None and base_revision != question.revision_count:
        errors.setdefault("body", []).append(
            "Someone saved a newer version while you were editing. Your text is below; "
            "open the question again to see their change before saving."
        )
    if errors:
        raise ValidationError(errors)
    question.body_html = posts.render(body_md, linked=session)
    question.title = title.strip()
    question.body_md = body_md
    question.tags = tag_service.resolve_for_attach(session, authority, tags)
    question.last_activity_at = utcnow()
    approver = None if approved_by is None else posts.actor_label(session, question, approved_by)
    revisions.record_revision(
        session, question, editor=editor, summary=revisions.approved_summary(summary, approver)
    )
    session.flush()
    events.emit(session, events.PostEdited(post=question, editor=editor))
    return question


@dataclass
class AnswerView:
    """An answer as one viewer sees it on the question page."""

    answer: PostRow
    author_label: str
    author_username: str | None
    can_edit: bool
    can_delete: bool
    can_vote: bool


@dataclass
class QuestionPage:
    """Everything the question page shows, loaded in a fixed number of queries."""

    question: PostRow
    author_label: str
    author_username: str | None
    is_own: bool
    answers: list[AnswerView]
    threads: dict[int, list[CommentNode]]
    my_votes: dict[int, int]
    duplicate_of: PostRow | None
    #: Whether the viewer follows the question.
    following: bool = False
    duplicates: list[PostRow] = field(default_factory=list)
    can_edit: bool = False
    can_answer: bool = False
    can_accept: bool = False
    can_moderate: bool = False
    #: A member with the "vote to close" privilege (no query: reputation is on the member).
    can_vote_close: bool = False
    #: The comments the viewer voted up.
    my_comment_votes: frozenset[int] = frozenset()


#: The posts table under a second name, for subqueries on the table a statement selects from
#: (built once: an ORM alias costs milliseconds to build on every request).
_LINKED = Post.__table__.alias("linked")
_POSTS = Post.__table__.c
_EDITS = SuggestedEdit.__table__.c
#: The columns of a PostRow, in its field order (the author and attribution follow).
_PAGE_COLUMNS = (
    _POSTS.id,
    _POSTS.kind,
    _POSTS.title,
    _POSTS.body_html,
    _POSTS.author_id,
    _POSTS.score,
    _POSTS.revision_count,
    _POSTS.created_at,
    _POSTS.last_activity_at,
    _POSTS.deleted_at,
    _POSTS.accepted_answer_id,
    _POSTS.view_count,
    _POSTS.is_anonymous,
    _POSTS.closed_reason,
    _POSTS.closed_at,
    _POSTS.close_note,
    _POSTS.duplicate_of_id,
    _POSTS.parent_id,
)
_AUTHOR_AT = len(_PAGE_COLUMNS)
_ATTRIBUTION_AT = _AUTHOR_AT + 4


@functools.cache
def _page_statement(moderator: bool) -> Select[Any]:
    """The question page's main statement, built once per kind of viewer.

    Building it (and its cache key) on every request costs more than running it; the
    question and the viewer are bound parameters. It selects plain columns: the page only
    reads them, and ORM objects would cost more to load than the statement takes to run.
    """
    question_id = bindparam("question_id", type_=Integer)
    # One statement finds the question, its answers and the questions linked to it as
    # duplicates; each branch of the OR has its own index. Tags come in a second one (a
    # joined many-to-many load makes SQLite scan all of post_tags).
    duplicate_of_id = (
        select(_LINKED.c.duplicate_of_id).where(_LINKED.c.id == question_id).scalar_subquery()
    )
    # Only answers have a parent and only questions a duplicate_of: no condition on the kind,
    # which would let the database pick a kind index over the selective one.
    answer_visible: ColumnElement[bool] = true()
    if not moderator:
        answer_visible = or_(
            _POSTS.deleted_at.is_(None), _POSTS.author_id == bindparam("viewer_id", type_=Integer)
        )
    users, attributions = User.__table__, PostAttribution.__table__
    return (
        select(
            *_PAGE_COLUMNS,
            users.c.id,
            users.c.display_name,
            users.c.username,
            users.c.is_active,
            attributions.c.source,
            attributions.c.site,
            attributions.c.source_url,
            attributions.c.author_name,
            attributions.c.author_url,
            attributions.c.license,
            attributions.c.published_at,
            exists().where(Bounty.__table__.c.question_id == _POSTS.id).label("has_bounties"),
            exists()
            .where(_EDITS.post_id == _POSTS.id, _EDITS.status == "pending")
            .label("has_pending_edit"),
        )
        .select_from(
            Post.__table__.outerjoin(users, users.c.id == _POSTS.author_id).outerjoin(
                attributions, attributions.c.post_id == _POSTS.id
            )
        )
        .where(
            or_(
                _POSTS.id == question_id,
                and_(_POSTS.parent_id == question_id, answer_visible),
                and_(_POSTS.duplicate_of_id == question_id, _POSTS.deleted_at.is_(None)),
                and_(_POSTS.id == duplicate_of_id, _POSTS.deleted_at.is_(None)),
            )
        )
    )


def _post_row(row: Sequence[Any]) -> PostRow:
    """A PostRow from one row of the page statement."""
    user_id = row[_AUTHOR_AT]
    author = None
    if user_id is not None:
        author = AuthorRef(
            user_id, row[_AUTHOR_AT + 1], row[_AUTHOR_AT + 2], bool(row[_AUTHOR_AT + 3])
        )
    attribution = None
    if row[_ATTRIBUTION_AT] is not None:
        at = _ATTRIBUTION_AT
        attribution = AttributionRow(
            row[at], row[at + 1], row[at + 2], row[at + 3], row[at + 4], row[at + 5], row[at + 6]
        )
    return PostRow(
        row[0], row[1], row[2], row[3], row[4], row[5], row[6], row[7], row[8], row[9],
        row[10], row[11], row[12], row[13], row[14], row[15], row[16], row[17],
        author=author,
        attribution=attribution,
        has_bounties=bool(row[_ATTRIBUTION_AT + 7]),
        has_pending_edit=bool(row[_ATTRIBUTION_AT + 8]),
    )  # fmt: skip


@functools.cache
def _tag_names_statement() -> Select[str]:
    """One post's tag names in name order (built once; the post is a parameter)."""
    tags = Tag.__table__.c
    return (
        select(tags.name)
        .join_from(post_tags, Tag.__table__, tags.id == post_tags.c.tag_id)
        .where(post_tags.c.post_id == bindparam("post_id", type_=Integer))
        .order_by(tags.name)
    )


def page(session: Session, question_id: int, *, viewer: User | None) -> QuestionPage:
    """The question with answers, comments, the viewer's votes and related questions."""
    rows = session.execute(
        _page_statement(viewer is not None and viewer.is_moderator),
        {"question_id": question_id, "viewer_id": viewer.id if viewer else -1},
    ).all()
    loaded_posts = [_post_row(r) for r in rows]
    question = next((p for p in loaded_posts if p.id == question_id), None)
    if (
        question is None
        or question.kind is not PostKind.QUESTION
        or (question.is_deleted and not posts.can_see_deleted(viewer, question))
    ):
        raise NotFound("There is no such question.")
    others = [p for p in loaded_posts if p is not question]
    # Only the question shows its tags: one plain statement.
    names = session.scalars(_tag_names_statement(), {"post_id": question_id})
    question = dataclasses.replace(question, tags=tuple(TagRef(name) for name in names))
    accepted_id = question.accepted_answer_id
    answers = sorted(
        (p for p in others if p.kind is PostKind.ANSWER and p.parent_id == question.id),
        key=lambda a: (a.id != accepted_id, -a.score, a.created_at, a.id),
    )
    post_ids = [question.id, *(a.id for a in answers)]
    loaded = comment_service.load(session, post_ids)
    mine, voted, followed = vote_service.viewer_marks(
        session, viewer, post_ids, [c.id for c in loaded], [question.id]
    )
    hidden_author = question.author_id if question.is_anonymous else None
    threads = comment_service.build_threads(
        loaded, viewer=viewer, voted=voted, anonymous_author_id=hidden_author
    )
    related = sorted(
        (p for p in others if p.kind is PostKind.QUESTION and not p.is_deleted),
        key=lambda p: p.id,
    )
    duplicate_of = next((p for p in related if p.id == question.duplicate_of_id), None)
    is_own = viewer is not None and viewer.id == question.author_id
    views = []
    for a in answers:
        masked = hidden_author is not None and a.author_id == hidden_author
        views.append(
            AnswerView(
                answer=a,
                author_label=posts.ANONYMOUS_LABEL + " (asker)"
                if masked
                else posts.author_label(a),
                author_username=None if masked else posts.author_username(a),
                can_edit=posts.can_edit(viewer, a),
                can_delete=viewer is not None
                and not a.is_deleted
                and (viewer.id == a.author_id or viewer.is_moderator),
                can_vote=viewer is None or viewer.id != a.author_id,
            )
        )
    return QuestionPage(
        question=question,
        author_label=posts.author_label(question),
        author_username=posts.author_username(question),
        is_own=is_own,
        answers=views,
        threads=threads,
        my_votes=mine,
        duplicate_of=duplicate_of,
        following=question.id in followed,
        duplicates=[p for p in related if p.id != question.duplicate_of_id],
        can_edit=posts.can_edit(viewer, question),
        can_answer=viewer is not None and question.closed_at is None and not question.is_deleted,
        can_accept=is_own,
        can_moderate=viewer is not None and viewer.is_moderator,
        can_vote_close=posts.can(viewer, "vote_close"),
        my_comment_votes=frozenset(voted),
    )


def audience(page: QuestionPage, viewer: User | None, *, awards_bounty: bool) -> tuple[Any, ...]:
    """Whom the page's threads (its answers and comments) read alike for, their votes aside.

    Visitors see them alike; so do members who wrote nothing on the page, by role and by the
    one reputation privilege the threads branch on ("edit_others": Edit or Suggest edit). A
    member who wrote the question, an answer or a comment there, or who may award its bounty,
    sees the owner's actions (edit, delete, accept, award), their deleted answers and no flag
    on their own posts: an audience of their own, which also changes once one of their
    comments can no longer be edited.
    """
    if viewer is None:
        return ("visitor",)
    shared: tuple[Any, ...] = ("member", viewer.is_moderator, posts.can(viewer, "edit_others"))
    own_comments: list[CommentNode] = []
    pending = [node for nodes in page.threads.values() for node in nodes]
    while pending:
        node = pending.pop()
        pending.extend(node.replies)
        if node.comment.author_id == viewer.id:
            own_comments.append(node)
    if (
        awards_bounty
        or page.question.author_id == viewer.id
        or own_comments
        or any(view.answer.author_id == viewer.id for view in page.answers)
    ):
        editable = tuple(sorted(node.comment.id for node in own_comments if node.can_edit))
        return (*shared, "own", viewer.id, editable)
    return shared


def viewer_key(user: User | None, address: str | None, secret: str) -> str:
    """Who is viewing: a member id, or a keyed hash of the visitor's address (never stored raw)."""
    if user is not None:
        return f"u:{user.id}"
    digest = hashlib.sha256(f"{secret}:{address or 'unknown'}".encode()).hexdigest()
    return "a:" + digest[:40]


@functools.cache
def _record_view_statements(dialect: str) -> tuple[Any, Any]:
    """The upsert counting a view and the counter update, built once per database dialect."""
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    values = insert(PostView).values(
        post_id=bindparam("view_post_id", type_=Integer),
        viewer=bindparam("view_viewer", type_=PostView.viewer.type),
        viewed_at=bindparam("view_now", type_=PostView.viewed_at.type),
    )
    upsert = values.on_conflict_do_update(
        index_elements=[PostView.post_id, PostView.viewer],
        set_={"viewed_at": values.excluded.viewed_at},
        where=PostView.viewed_at < bindparam("view_since", type_=PostView.viewed_at.type),
    ).returning(PostView.post_id)
    count = (
        update(Post)
        .where(Post.id == bindparam("view_post_id", type_=Integer))
        .values(view_count=Post.view_count + 1, updated_at=Post.updated_at)
        .execution_options(synchronize_session=False)
    )
    return upsert, count


class SeenViews:
    """Per process: when each (question, viewer) last had a view counted, as read back.

    A view counts only when the last counted one is older than ``VIEW_WINDOW``, so the time
    stored for a pair only moves forward. A time read from the database is therefore a
    lower bound for ever after: while it is inside the window the database would refuse the
    view too, and ``record_view`` can skip the write (a repeat view, e.g. a reload) without
    losing a count. Only times read back are kept, never one this process is about to
    commit, so a rolled-back view is never remembered.
    """

    def __init__(self, size: int = 10_000) -> None:
        self.size = size
        self._at: dict[tuple[int, str], dt.datetime] = {}
        self._lock = threading.Lock()

    def blocks(self, question_id: int, viewer: str, since: dt.datetime) -> bool:
        """True when a view counted at or after ``since`` is known (so this one can't count)."""
        last = self._at.get((question_id, viewer))
        return last is not None and last >= since

    def remember(self, question_id: int, viewer: str, viewed_at: dt.datetime) -> None:
        """Keep the time of the last counted view, as read from the database."""
        if viewed_at.tzinfo is None:
            viewed_at = viewed_at.replace(tzinfo=dt.UTC)
        with self._lock:
            if len(self._at) >= self.size:
                # Forgetting only costs a database round trip later: start over.
                self._at.clear()
            self._at[(question_id, viewer)] = viewed_at


@functools.cache
def _last_view_statement() -> Select[dt.datetime]:
    """When one viewer's last view of a post was counted (built once)."""
    return select(PostView.viewed_at).where(
        PostView.post_id == bindparam("view_post_id", type_=Integer),
        PostView.viewer == bindparam("view_viewer", type_=PostView.viewer.type),
    )


def record_view(
    session: Session,
    question_id: int,
    viewer: str,
    *,
    now: dt.datetime | None = None,
    seen: SeenViews | None = None,
) -> bool:
    """Count a view once per viewer per hour; True when this one counted.

    With ``seen``, a repeat view inside the hour is answered from memory (no statement) once
    the counted view's time has been read back from the database, which happens when this
    is the transaction's first statement.
    """
    now = now or utcnow()
    since = now - VIEW_WINDOW
    if seen is not None and seen.blocks(question_id, viewer, since):
        return False
    upsert, count = _record_view_statements(session.get_bind().dialect.name)
    params = {
        "view_post_id": question_id,
        "view_viewer": viewer,
        "view_now": now,
        "view_since": since,
    }
    # In a transaction of its own, a view that did not count wrote nothing, so the time read
    # back below is committed; after the caller's own writes it might not be.
    fresh = not session.in_transaction()
    # Plain Core statements on the session's connection (same transaction): the ORM's bulk
    # insert path adds a millisecond for nothing, as no object is loaded or changed. A
    # transaction of its own is a writer from the start: on SQLite it takes its turn among
    # the writers, briefly, instead of losing the lock to them until its busy timeout.
    connection = session.connection(
        execution_options=writer_options(VIEW_WRITE_TIMEOUT_MS) if fresh else None
    )
    counted = connection.execute(upsert, params).scalar() is not None
    if counted:
        connection.execute(count, {"view_post_id": question_id})
    elif seen is not None and fresh:
        last = connection.execute(_last_view_statement(), params).scalar()
        if last is not None:
            seen.remember(question_id, viewer, last)
    return counted


def unanswered() -> ColumnElement[bool]:
    """Questions still waiting: no accepted answer and no answer voted up."""
    # Questions and answers share the posts table: the inner one needs its own alias. Only
    # answers have a parent: a condition on the kind would let the database pick the
    # (kind, score) index over the parent one.
    answer = _LINKED.c
    good_answer = exists().where(
        answer.parent_id == Question.id,
        answer.deleted_at.is_(None),
        answer.score > 0,
    )
    return and_(Question.accepted_answer_id.is_(None), ~good_answer)


#: Lists count their questions up to here ("1000+ questions"): an exact count would read
#: every question on every page view.
COUNT_LIMIT = 1000


#: How far back the "top" lists look.
_TOP_PERIODS = {Tab.TOP_WEEK: dt.timedelta(days=7), Tab.TOP_MONTH: dt.timedelta(days=30)}


@functools.cache
def _list_statements(
    tab: Tab, tagged: bool, capped: bool, known_total: bool, followed_ids: bool = False
) -> tuple[Select[Question, int, int | None], Select[int]]:
    """A question list's page statement and its count, built once per shape of list.

    Everything that varies between requests (tag, viewer, period start, cap, page) is a bound
    parameter: building these statements costs more than running them.
    """
    tag_id = bindparam("tag_id", type_=Integer)
    where: list[ColumnElement[bool]] = [Question.deleted_at.is_(None)]
    # A page of a tag's newest questions probes each question's tags (it stops after a
    # page); a count reads the tag's list of posts once (it goes through many questions).
    page_tagged: list[ColumnElement[bool]] = []
    counted_tagged: list[ColumnElement[bool]] = []
    if tagged:
        page_tagged.append(
            exists().where(post_tags.c.post_id == Question.id, post_tags.c.tag_id == tag_id)
        )
        counted_tagged.append(
            Question.id.in_(select(post_tags.c.post_id).where(post_tags.c.tag_id == tag_id))
        )
    if tab is Tab.MY_TAGS:
        # The followed tags' ids when the caller has them (the list is then theirs alone).
        followed: Any = (
            bindparam("followed_ids", expanding=True)
            if followed_ids
            else select(TagFollow.tag_id).where(
                TagFollow.user_id == bindparam("viewer_id", type_=Integer)
            )
        )
        where.append(
            exists().where(post_tags.c.post_id == Question.id, post_tags.c.tag_id.in_(followed))
        )
    if tab is Tab.UNANSWERED:
        where.append(unanswered())
    if tab is Tab.FEATURED:
        # Questions with an open bounty, found from the bounties (few) rather than by probing
        # every question for one.
        where.append(
            Question.id.in_(
                select(Bounty.open_question_id).where(Bounty.open_question_id.is_not(None))
            )
        )
    if tab in _TOP_PERIODS:
        where.append(Question.created_at >= bindparam("since", type_=Question.created_at.type))
    counted = select(Question.id).where(*where, *counted_tagged)
    if capped:
        counted = counted.limit(bindparam("count_cap", type_=Integer))
    total_of = select(func.count()).select_from(counted.subquery())
    order: list[ColumnElement[Any]]
    if tab is Tab.ACTIVE:
        order = [Question.last_activity_at.desc(), Question.id.desc()]
    elif tab in (Tab.TOP_WEEK, Tab.TOP_MONTH, Tab.TOP_ALL):
        order = [Question.score.desc(), Question.created_at.desc(), Question.id.desc()]
    else:
        order = [Question.created_at.desc(), Question.id.desc()]
    # The total rides along as an uncorrelated subquery (computed once per statement); tags
    # come in a second statement, as a joined many-to-many load makes SQLite scan post_tags.
    counted_total = (
        bindparam("known_total", type_=Integer) if known_total else total_of.scalar_subquery()
    )
    # The open bounty's amount of each question rides along too (a unique index finds it).
    bounty = select(Bounty.amount).where(Bounty.open_question_id == Question.id).scalar_subquery()
    listed = (
        select(Question, counted_total.label("total"), bounty.label("bounty"))
        .where(*where, *page_tagged)
        .options(joinedload(Question.author))
        .order_by(*order)
        .limit(bindparam("per_page", type_=Integer))
        .offset(bindparam("skip", type_=Integer))
    )
    return listed, total_of


def list_questions(
    session: Session,
    *,
    tab: Tab = Tab.NEWEST,
    viewer: User | None = None,
    tag: Tag | None = None,
    page: int = 1,
    per_page: int = 30,
    now: dt.datetime | None = None,
    count_limit: int | None = None,
    total: int | None = None,
    open_bounties: dict[int, int] | None = None,
    followed_tags: Sequence[Tag] | None = None,
) -> tuple[list[Question], int]:
    """One page of a question list (with authors and tags loaded) and the total.

    "My tags" is empty, with no statement, for a visitor and for a member whose
    ``followed_tags`` (when the caller has them) are none: there is nothing to look through.
    With ``followed_tags`` the list reads those tags alone (not the viewer's follows again),
    so it is the same for every member following the same tags.

    ``open_bounties``, when given, receives the open bounty's amount of each listed question
    that has one.

    With ``count_limit`` the count stops after ``count_limit + 1`` questions: a total above
    the limit means "more than the limit". A caller that knows the total (a tag page knows
    its tag's questions) passes it as ``total`` and nothing is counted.
    """
    if tab is Tab.MY_TAGS and (viewer is None or (followed_tags is not None and not followed_tags)):
        return [], 0
    now = now or utcnow()
    by_ids = tab is Tab.MY_TAGS and followed_tags is not None
    listed, total_of = _list_statements(
        tab, tag is not None, count_limit is not None, total is not None, by_ids
    )
    params: dict[str, Any] = {
        "tag_id": tag.id if tag is not None else None,
        "viewer_id": viewer.id if viewer else -1,
        "followed_ids": sorted(t.id for t in followed_tags or ()),
        "since": now - _TOP_PERIODS.get(tab, dt.timedelta()),
        "count_cap": (count_limit or 0) + 1,
        "known_total": total,
        "per_page": per_page,
        "skip": (max(page, 1) - 1) * per_page,
    }
    result = session.execute(listed, params)
    pairs = []
    for question, n, amount in result:
        pairs.append((question, n))
        if open_bounties is not None and amount is not None:
            open_bounties[question.id] = int(amount)
    rows = [question for question, _total in pairs]
    load_tags(session, rows)
    if total is None:
        # An empty page counts on its own.
        total = pairs[0][1] if pairs else session.scalar(total_of, params)
    return rows, int(total or 0)


@functools.cache
def _tags_statement() -> Select[int, Tag]:
    """Tags of some posts by post id, in name order (built once; the ids are a parameter)."""
    return (
        select(post_tags.c.post_id, Tag)
        .join(Tag, Tag.id == post_tags.c.tag_id)
        .where(post_tags.c.post_id.in_(bindparam("post_ids", expanding=True)))
        .order_by(Tag.name)
    )


def load_tags(session: Session, shown: Sequence[Post]) -> None:
    """Fill ``tags`` of these posts with one plain statement (no query when none)."""
    if not shown:
        return
    by_post: dict[int, list[Tag]] = {q.id: [] for q in shown}
    for post_id, tag in session.execute(_tags_statement(), {"post_ids": list(by_post)}):
        by_post[post_id].append(tag)
    for question in shown:
        set_committed_value(question, "tags", by_post[question.id])


def _require_moderator(user: User) -> None:
    if not user.is_moderator:
        raise Forbidden("Only moderators can do this.")


def check_close(
    session: Session,
    question: Question,
    *,
    reason: str,
    note: str = "",
    duplicate_of_id: int | None = None,
) -> tuple[CloseReason, str | None, Question | None]:
    """The reason, note and original of a close (a moderator's or a member's vote), checked."""
    if question.closed_at is not None:
        raise Conflict("This question is already closed.")
    try:
        why = CloseReason(reason)
    except ValueError:
        raise ValidationError({"reason": ["Choose why the question is closed."]}) from None
    if len((note or "").strip()) > 500:
        raise ValidationError({"note": ["Keep the note to 500 characters."]})
    original: Question | None = None
    if why is CloseReason.DUPLICATE:
        original = session.get(Question, duplicate_of_id) if duplicate_of_id else None
        if original is None or original.is_deleted or original.id == question.id:
            raise ValidationError(
                {"duplicate_of": ["Choose the original question (another one) from the search."]}
            )
    return why, (note or "").strip() or None, original


def _settle_votes(session: Session, question_id: int, kind: str) -> None:
    """End the round of pending ``kind`` votes on a question (it just closed or reopened)."""
    session.execute(
        update(CloseVote)
        .where(
            CloseVote.question_id == question_id,
            CloseVote.kind == kind,
            CloseVote.settled_at.is_(None),
        )
        .values(settled_at=utcnow())
        .execution_options(synchronize_session=False)
    )


def apply_close(
    session: Session,
    question: Question,
    why: CloseReason,
    note: str | None,
    original: Question | None,
) -> None:
    """Close ``question``: pending close votes are settled, reopen votes start from none."""
    question.closed_reason = why.value
    question.close_note = note
    question.closed_at = utcnow()
    question.duplicate_of_id = original.id if original is not None else None
    _settle_votes(session, question.id, "close")
    _settle_votes(session, question.id, "reopen")


def apply_reopen(session: Session, question: Question) -> None:
    """Reopen ``question``: pending reopen votes are settled."""
    question.closed_reason = None
    question.close_note = None
    question.closed_at = None
    question.duplicate_of_id = None
    _settle_votes(session, question.id, "reopen")
    _settle_votes(session, question.id, "close")


def close(
    session: Session,
    *,
    moderator: User,
    question_id: int,
    reason: str,
    note: str = "",
    duplicate_of_id: int | None = None,
) -> Question:
    """Close a question as a duplicate (of another question), off-topic or needing detail."""
    _require_moderator(moderator)
    question = get(session, question_id, viewer=moderator)
    why, kept_note, original = check_close(
        session, question, reason=reason, note=note, duplicate_of_id=duplicate_of_id
    )
    apply_close(session, question, why, kept_note, original)
    session.add(
        AuditLog(
            actor_id=moderator.id,
            action="question.close",
            target_type="post",
            target_id=question.id,
            reason=f"{why.value}: {question.close_note or ''}".strip(": "),
        )
    )
    return question


def reopen(session: Session, *, moderator: User, question_id: int) -> Question:
    """Reopen a closed question."""
    _require_moderator(moderator)
    question = get(session, question_id, viewer=moderator)
    if question.closed_at is None:
        raise Conflict("This question is open.")
    apply_reopen(session, question)
    session.add(
        AuditLog(
            actor_id=moderator.id,
            action="question.reopen",
            target_type="post",
            target_id=question.id,
            reason="",
        )
    )
    return question


def reveal_author(
    session: Session, *, moderator: User, question_id: int, reason: str
) -> User | None:
    """The real author of an anonymous question, for a moderator who gives a reason (audited)."""
    _require_moderator(moderator)
    question = get(session, question_id, viewer=moderator)
    if not question.is_anonymous:
        raise Conflict("This question was not asked anonymously.")
    reason = (reason or "").strip()
    if len(reason) < 10:
        raise ValidationError(
            {"reason": ["Explain why the author must be revealed (at least 10 characters)."]}
        )
    session.add(
        AuditLog(
            actor_id=moderator.id,
            action="question.reveal_author",
            target_type="post",
            target_id=question.id,
            reason=reason[:2000],
        )
    )
    session.flush()
    # The author is told that they were looked up, never by whom or why.
    events.emit(session, events.AuthorRevealed(question=question))
    return question.author


def delete(session: Session, *, actor: User, question_id: int) -> Question:
    """Soft-delete a question (its author or a moderator)."""
    question = get(session, question_id, viewer=actor)
    if not question.is_deleted:
        posts.soft_delete(session, actor=actor, post=question)
        audit.record_moderation(
            session,
            actor=actor,
            author_id=question.author_id,
            action="post.delete",
            target_type="post",
            target_id=question.id,
        )
    return question


def undelete(session: Session, *, actor: User, question_id: int) -> Question:
    """Restore a deleted question (moderators)."""
    question = get(session, question_id, viewer=actor)
    was_deleted = question.is_deleted
    posts.undelete(session, actor=actor, post=question)  # moderators only
    if was_deleted:
        audit.record(
            session, actor=actor, action="post.undelete", target_type="post", target_id=question.id
        )
    return question
