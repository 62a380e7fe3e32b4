"""Moderation: members flag posts and comments; moderators work through the queue; all audited.

Moderators act as facilitators for everyone: what they do is recorded in the audit log under
their role, and warnings reach members as notes from "the moderators".
"""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, joinedload

from forum import events
from forum.db import utcnow
from forum.models import (
    Answer,
    Article,
    AuditLog,
    Comment,
    Flag,
    ModerationWarning,
    Post,
    Question,
    User,
)
from forum.services import accounts, article_life, posts, visibility, webhooks
from forum.services import comments as comment_service
from forum.services.errors import Conflict, Forbidden, NotFound, ValidationError

REASONS: dict[str, str] = {
    "spam": "Spam",
    "rude": "Rude or abusive",
    "needs-improvement": "Needs improvement",
    "other": "Other",
}
REASON_HINTS: dict[str, str] = {
    "spam": "Advertising or content unrelated to work here.",
    "rude": "Insults, harassment or discriminating remarks: against the code of conduct.",
    "needs-improvement": "Unclear, wrong or incomplete in a way the author should fix.",
    "other": "Something else a moderator should look at: say what below.",
}
#: Queue actions and the resolution each gives the flags it closes.
ACTIONS: dict[str, str] = {
    "dismiss": "dismissed",
    "edit": "edited",
    "hide": "hidden",
    "delete": "deleted",
    "warn": "warned",
}
ACTION_LABELS: dict[str, str] = {
    "moderation.dismiss": "Dismissed flags",
    "moderation.edit": "Edited flagged content",
    "moderation.hide": "Hid content",
    "moderation.delete": "Deleted content",
    "moderation.warn": "Warned a member",
    "moderation.unhide": "Unhid content",
    "question.close": "Closed a question",
    "question.reopen": "Reopened a question",
    "question.reveal_author": "Revealed an anonymous author",
    "question.vote_close": "Closed by members' votes",
    "question.vote_reopen": "Reopened by members' votes",
    "post.delete": "Deleted a post",
    "post.undelete": "Undeleted a post",
    "comment.delete": "Deleted a comment",
    "suggested_edit.approve": "Approved a suggested edit",
    "suggested_edit.reject": "Rejected a suggested edit",
    **article_life.ACTION_LABELS,
    **accounts.ACTION_LABELS,
    **webhooks.ACTION_LABELS,
}
#: Who the audit log names for what the `forum users` command did.
COMMAND_LINE_LABEL = "The command line"
#: Actions that remove content from members: the queue asks the moderator to confirm them.
DESTRUCTIVE = frozenset({"hide", "delete"})
#: What the flagger is told about each outcome.
OUTCOME_LABELS: dict[str, str] = {"helpful": "Helpful", "declined": "Declined"}
#: Audit log reasons longer than this are folded on the audit page.
FOLD_AFTER = 160
MAX_FLAG_TEXT = 500
MAX_NOTE = 500
MAX_WARNING = 2000
EXCERPT_LENGTH = 280
QUEUE_LIMIT = 200

WARNING_TEMPLATE = (
    "Hello {name},\n\n"
    "colleagues flagged your {label} “{title}” ({reasons}). The moderators looked at it and "
    "ask you to keep to the code of conduct: criticise ideas rather than people, and keep "
    "posts useful to the colleagues who read them.\n\n"
    "If you think this is a misunderstanding, reply to any moderator; we are glad to talk it "
    "through.\n\n"
    "The moderators"
)

_TARGET = re.compile(r"^(post|comment):([0-9]{1,9})$")


def _require_moderator(user: User) -> None:
    if not user.is_moderator:
        raise Forbidden("Only moderators can do this.")


def _aware(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)


def parse_target(raw: str | None) -> tuple[str, int]:
    """``post:<id>`` or ``comment:<id>`` as (kind, id); anything else is a form error."""
    match = _TARGET.match((raw or "").strip())
    if match is None:
        raise ValidationError({"target": ["Say which post or comment to flag."]})
    return match.group(1), int(match.group(2))


@dataclass
class Target:
    """A flaggable post or comment with what the queue and the flag form show of it."""

    kind: str
    obj: Post | Comment
    post: Post
    question: Question | None
    label: str
    title: str
    excerpt: str
    author: User | None
    author_label: str
    author_username: str | None
    page_endpoint: str
    page_params: dict[str, Any]
    anchor: str
    edit_endpoint: str | None = None
    edit_params: dict[str, Any] = field(default_factory=dict)

    @property
    def id(self) -> int:
        """The post's or comment's id."""
        return self.obj.id

    @property
    def ref(self) -> str:
        """The ``kind:id`` form used in addresses."""
        return f"{self.kind}:{self.obj.id}"

    @property
    def author_id(self) -> int | None:
        """Who wrote it."""
        return self.obj.author_id

    @property
    def is_deleted(self) -> bool:
        """Whether it is already hidden or deleted."""
        return self.obj.deleted_at is not None


def _excerpt(body_md: str) -> str:
    text = " ".join((body_md or "").split())
    return text if len(text) <= EXCERPT_LENGTH else text[: EXCERPT_LENGTH - 1].rstrip() + "…"


def _question_of(session: Session, post: Post) -> Question | None:
    if isinstance(post, Question):
        return post
    if isinstance(post, Answer) and post.parent_id is not None:
        return session.get(Question, post.parent_id)
    return None


def _page_of(post: Post, question: Question | None) -> tuple[str, dict[str, Any], str]:
    if isinstance(post, Article):
        return "wiki.detail", {"slug": post.slug or ""}, ""
    if isinstance(post, Answer) and question is not None:
        return "questions.detail", {"question_id": question.id}, f"post-{post.id}"
    return "questions.detail", {"question_id": post.id}, ""


def _describe(session: Session, kind: str, obj: Post | Comment) -> Target:
    post = obj.post if isinstance(obj, Comment) else obj
    question = _question_of(session, post)
    endpoint, params, anchor = _page_of(post, question)
    title = (question.title if question is not None else post.title) or ""
    hidden_author = question.author_id if question is not None and question.is_anonymous else None
    if isinstance(obj, Comment):
        username = None
        if hidden_author is not None and obj.author_id == hidden_author:
            author_label = comment_service.ANONYMOUS_ASKER_LABEL
        elif obj.author is None:
            author_label = posts.FORMER_MEMBER_LABEL
        else:
            author_label, username = posts.member_label(obj.author), obj.author.username
        return Target(
            kind="comment",
            obj=obj,
            post=post,
            question=question,
            label="comment",
            title=title,
            excerpt=_excerpt(obj.body_md),
            author=obj.author,
            author_label=author_label,
            author_username=username,
            page_endpoint=endpoint,
            page_params=params,
            anchor=f"comment-{obj.id}",
        )
    if isinstance(obj, Answer) and hidden_author is not None and obj.author_id == hidden_author:
        author_label, username = posts.ANONYMOUS_LABEL + " (asker)", None
    else:
        author_label, username = posts.author_label(obj), posts.author_username(obj)
    if isinstance(obj, Article):
        label = obj.article_type.value if obj.article_type is not None else "article"
        edit: tuple[str | None, dict[str, Any]] = ("wiki.edit", {"slug": obj.slug or ""})
    elif isinstance(obj, Answer):
        label, edit = "answer", ("questions.edit_answer", {"answer_id": obj.id})
    else:
        label, edit = "question", ("questions.edit", {"question_id": obj.id})
    return Target(
        kind="post",
        obj=obj,
        post=post,
        question=question,
        label=label,
        title=title,
        excerpt=_excerpt(obj.body_md),
        author=obj.author,
        author_label=author_label,
        author_username=username,
        page_endpoint=endpoint,
        page_params=params,
        anchor=anchor,
        edit_endpoint=edit[0],
        edit_params=edit[1],
    )


def load_target(
    session: Session, kind: str, target_id: int, *, include_deleted: bool = False
) -> Target:
    """The post or comment to flag (or act on); deleted ones only with ``include_deleted``."""
    obj: Post | Comment | None
    obj = session.get(Post, target_id) if kind == "post" else session.get(Comment, target_id)
    if obj is None:
        raise NotFound(f"There is no such {kind}.")
    if not include_deleted:
        # A removed post, an answer of a removed question and comments on either are gone.
        post = obj.post if isinstance(obj, Comment) else obj
        if obj.deleted_at is not None or not visibility.is_live(session, post):
            raise NotFound(f"There is no such {kind}.")
    return _describe(session, kind, obj)


def _flag_column(kind: str) -> Any:
    return Flag.post_id if kind == "post" else Flag.comment_id


def open_flag_of(session: Session, reporter: User, target: Target) -> Flag | None:
    """The member's open flag on ``target``, if they have one."""
    return session.scalar(
        select(Flag).where(
            Flag.reporter_id == reporter.id,
            _flag_column(target.kind) == target.id,
            Flag.status == "open",
        )
    )


def already_flagged_message(target: Target) -> str:
    """The clear error for a second flag on the same thing."""
    return (
        f"You have already flagged this {target.label}. The moderators will look at it; "
        "you can flag it again once they have."
    )


def check_can_flag(session: Session, reporter: User, target: Target) -> None:
    """Raise unless ``reporter`` may flag ``target`` now (not their own, not flagged yet)."""
    if reporter.id == target.author_id:
        raise Forbidden(f"You can't flag your own {target.label}. Edit or delete it instead.")
    if open_flag_of(session, reporter, target) is not None:
        raise Conflict(already_flagged_message(target))


def flag(session: Session, *, reporter: User, target: str, reason: str, text: str = "") -> Flag:
    """Flag a post or comment for the moderators; one open flag per member per target."""
    kind, target_id = parse_target(target)
    found = load_target(session, kind, target_id)
    check_can_flag(session, reporter, found)
    errors: dict[str, list[str]] = {}
    if reason not in REASONS:
        errors["reason"] = ["Choose why this needs a moderator."]
    note = (text or "").strip()
    if reason == "other" and not note:
        errors["text"] = ["Say what is wrong: the moderators need it for “Other”."]
    if len(note) > MAX_FLAG_TEXT:
        errors["text"] = [f"Keep it to {MAX_FLAG_TEXT} characters."]
    if errors:
        raise ValidationError(errors)
    new = Flag(
        reporter_id=reporter.id,
        post_id=found.id if kind == "post" else None,
        comment_id=found.id if kind == "comment" else None,
        reason=reason,
        text=note,
        status="open",
    )
    try:
        # The partial unique index settles two simultaneous submissions.
        with session.begin_nested():
            session.add(new)
            session.flush()
    except IntegrityError:
        raise Conflict(already_flagged_message(found)) from None
    events.emit(
        session,
        events.ContentFlagged(
            flag_id=new.id,
            reporter_id=reporter.id,
            subject=found.label,
            title=found.title or found.excerpt[:60],
            reason=REASONS[reason].lower(),
        ),
    )
    return new


@dataclass
class QueueItem:
    """One flagged post or comment with all its open flags."""

    target: Target
    flags: list[Flag]
    hidden: bool = False

    @property
    def count(self) -> int:
        """How many open flags it has."""
        return len(self.flags)

    @property
    def first_flag_id(self) -> int:
        """The flag whose id the action forms carry (they act on all of the target's flags)."""
        return self.flags[0].id

    @property
    def oldest(self) -> dt.datetime:
        """When the first open flag was raised."""
        return self.flags[0].created_at

    @property
    def reasons(self) -> list[tuple[str, int]]:
        """Reason labels with their counts, most frequent first."""
        counts = Counter(f.reason for f in self.flags)
        return [(REASONS.get(r, r), n) for r, n in counts.most_common()]

    @property
    def notes(self) -> list[str]:
        """What flaggers wrote."""
        return [f.text for f in self.flags if f.text]

    @property
    def warning_template(self) -> str:
        """The warning text a moderator starts from (and may change)."""
        return warning_text(self.target, self.flags)


def warning_text(target: Target, flags: list[Flag]) -> str:
    """The editable warning for the author of ``target``."""
    name = target.author_label
    if target.author is None or name.startswith(posts.ANONYMOUS_LABEL):
        name = "colleague"
    counts = Counter(REASONS.get(f.reason, f.reason).lower() for f in flags)
    reasons = ", ".join(counts) or "flagged"
    return WARNING_TEMPLATE.format(
        name=name, label=target.label, title=target.title or target.excerpt[:60], reasons=reasons
    )


def open_flag_count(session: Session) -> int:
    """How many flags wait for a moderator."""
    return session.scalar(select(func.count()).select_from(Flag).where(Flag.status == "open")) or 0


def queue(session: Session, *, viewer: User) -> list[QueueItem]:
    """Open flags grouped by target, the most flagged and then the oldest first."""
    _require_moderator(viewer)
    rows = session.scalars(
        select(Flag)
        .where(Flag.status == "open")
        .options(joinedload(Flag.reporter))
        .order_by(Flag.created_at, Flag.id)
    )
    grouped: dict[tuple[str, int], list[Flag]] = {}
    for row in rows:
        grouped.setdefault((row.target_type, row.target_id), []).append(row)
    items = []
    for (kind, target_id), flags in grouped.items():
        target = load_target(session, kind, target_id, include_deleted=True)
        items.append(QueueItem(target, flags, is_hidden(session, target.obj)))
    items.sort(key=lambda i: (-i.count, _aware(i.oldest)))
    return items[:QUEUE_LIMIT]


def flagged_target(session: Session, *, moderator: User, flag_id: int) -> Target:
    """The target of an open flag, for a moderator about to act on it (a confirmation step)."""
    _require_moderator(moderator)
    found = session.get(Flag, flag_id)
    if found is None:
        raise NotFound("There is no such flag.")
    if found.status != "open":
        raise Conflict("These flags were already handled by a moderator.")
    return load_target(session, found.target_type, found.target_id, include_deleted=True)


@dataclass
class Outcome:
    """What a queue action did."""

    action: str
    target: Target
    resolved: int
    audit: AuditLog
    warning: ModerationWarning | None = None


def act(
    session: Session,
    *,
    moderator: User,
    flag_id: int,
    action: str,
    note: str = "",
    warning: str = "",
    resolve: bool = False,
) -> Outcome:
    """Handle a flagged target and audit it. Every open flag on it is resolved, with one
    exception: a warning leaves the flags on content that stays visible open unless
    ``resolve`` says to resolve them too (warning the author and hiding are two decisions)."""
    _require_moderator(moderator)
    if action not in ACTIONS:
        raise NotFound("There is no such moderation action.")
    found_flag = session.get(Flag, flag_id)
    if found_flag is None:
        raise NotFound("There is no such flag.")
    if found_flag.status != "open":
        raise Conflict("These flags were already handled by a moderator.")
    target = load_target(
        session, found_flag.target_type, found_flag.target_id, include_deleted=True
    )
    note = (note or "").strip()
    errors: dict[str, list[str]] = {}
    if len(note) > MAX_NOTE:
        errors["note"] = [f"Keep the note to {MAX_NOTE} characters."]
    open_flags = list(
        session.scalars(
            select(Flag)
            .where(_flag_column(target.kind) == target.id, Flag.status == "open")
            .order_by(Flag.id)
            .with_for_update()
        )
    )
    warning_row: ModerationWarning | None = None
    if action == "warn":
        text = (warning or "").strip()
        if not text:
            errors["warning"] = ["Write the note the member will receive."]
        elif len(text) > MAX_WARNING:
            errors["warning"] = [f"Keep the warning to {MAX_WARNING:,} characters."]
        if target.author is None:
            errors["warning"] = ["The author is no longer a member: there is nobody to warn."]
    if action == "edit" and target.edit_endpoint is None:
        errors["action"] = ["Comments are edited only by their authors: hide or delete it."]
    if errors:
        raise ValidationError(errors)

    if action in ("hide", "delete"):
        if isinstance(target.obj, Comment):
            comment_service.delete(
                session, actor=moderator, comment_id=target.obj.id, audited=False
            )
        else:
            posts.soft_delete(session, actor=moderator, post=target.obj)
    elif action == "warn" and target.author is not None:
        warning_row = ModerationWarning(
            member_id=target.author.id,
            moderator_id=moderator.id,
            target_type=target.kind,
            target_id=target.id,
            text=(warning or "").strip(),
        )
        session.add(warning_row)
        events.emit(
            session,
            events.MemberWarned(
                recipient=target.author,
                text=warning_row.text,
                subject=target.label,
                endpoint=target.page_endpoint,
                params=dict(target.page_params),
            ),
        )

    closing = action != "warn" or resolve or target.is_deleted
    now = utcnow()
    if closing:
        for row in open_flags:
            row.status = "closed"
            row.resolution = ACTIONS[action]
            row.resolved_by_id = moderator.id
            row.resolved_at = now
        if open_flags:
            outcome = "declined" if action == "dismiss" else "helpful"
            events.emit(
                session,
                events.FlagsResolved(
                    reporter_ids=tuple(f.reporter_id for f in open_flags),
                    outcome=outcome,
                    subject=target.label,
                    # Removed content is not named again, even to those who flagged it.
                    title="" if _removed(session, target) else target.title or target.excerpt[:60],
                ),
            )
    counts = Counter(REASONS.get(f.reason, f.reason).lower() for f in open_flags)
    summary = ", ".join(f"{label} ×{n}" for label, n in counts.items())
    left_open = "" if closing else " (left open)"
    parts = [f"Flags{left_open}: {summary}" if summary else ""]
    if note:
        parts.append(note)
    if warning_row is not None:
        parts.append(f"Warning: {warning_row.text}")
    audit = AuditLog(
        actor_id=moderator.id,
        action=f"moderation.{action}",
        target_type=target.kind,
        target_id=target.id,
        reason="\n".join(p for p in parts if p)[:4000],
    )
    session.add(audit)
    session.flush()
    return Outcome(action, target, len(open_flags) if closing else 0, audit, warning_row)


def _removed(session: Session, target: Target) -> bool:
    return target.obj.deleted_at is not None or not visibility.is_live(session, target.post)


@dataclass
class MyFlag:
    """One of a member's flags as their "my flags" page shows it."""

    flag: Flag
    label: str
    #: Empty once the content is removed: it is no longer named.
    title: str
    endpoint: str | None = None
    params: dict[str, Any] = field(default_factory=dict)
    anchor: str = ""

    @property
    def outcome_label(self) -> str:
        """Helpful, Declined, or Waiting for a moderator."""
        outcome = self.flag.outcome
        return OUTCOME_LABELS[outcome] if outcome else "Waiting for a moderator"


def my_flags(session: Session, member: User, *, limit: int = 100) -> list[MyFlag]:
    """The member's flags, newest first, with what the moderators decided."""
    rows = session.scalars(
        select(Flag)
        .where(Flag.reporter_id == member.id)
        .order_by(Flag.created_at.desc(), Flag.id.desc())
        .limit(limit)
    )
    found = []
    for row in rows:
        target = load_target(session, row.target_type, row.target_id, include_deleted=True)
        if _removed(session, target):
            found.append(MyFlag(row, target.label, ""))
            continue
        found.append(
            MyFlag(
                row,
                target.label,
                target.title or target.excerpt[:60],
                target.page_endpoint,
                dict(target.page_params),
                target.anchor,
            )
        )
    return found


def is_hidden(
    session: Session, obj: Post | Comment | posts.PostRow | comment_service.CommentRow
) -> bool:
    """Whether moderators hid this (rather than it being deleted by its author or deleted)."""
    if obj.deleted_at is None:
        return False
    is_comment = isinstance(obj, Comment | comment_service.CommentRow)
    column = Flag.comment_id if is_comment else Flag.post_id
    last = session.scalar(
        select(func.max(Flag.resolved_at)).where(column == obj.id, Flag.resolution == "hidden")
    )
    return last is not None and _aware(last) >= _aware(obj.deleted_at)


def unhide(
    session: Session, *, moderator: User, kind: str, target_id: int, note: str = ""
) -> Target:
    """Show members a post or comment the moderators hid again, and audit it."""
    _require_moderator(moderator)
    target = load_target(session, kind, target_id, include_deleted=True)
    if not is_hidden(session, target.obj):
        # Only the moderators' own hiding is undone here: an author's deletion stays theirs.
        raise Conflict(f"This {target.label} isn't hidden by the moderators.")
    note = (note or "").strip()
    if len(note) > MAX_NOTE:
        raise ValidationError({"note": [f"Keep the note to {MAX_NOTE} characters."]})
    if isinstance(target.obj, Comment):
        target.obj.deleted_at = None
        session.execute(
            update(Post)
            .where(Post.id == target.obj.post_id)
            .values(comment_count=Post.comment_count + 1, updated_at=Post.updated_at)
            .execution_options(synchronize_session=False)
        )
    else:
        posts.undelete(session, actor=moderator, post=target.obj)
    audit = AuditLog(
        actor_id=moderator.id,
        action="moderation.unhide",
        target_type=target.kind,
        target_id=target.id,
        reason=note,
    )
    session.add(audit)
    session.flush()
    return target


@dataclass
class AuditEntry:
    """One audit row as the audit page shows it."""

    row: AuditLog
    action_label: str
    actor_label: str
    role: str
    target_label: str
    endpoint: str | None = None
    params: dict[str, Any] = field(default_factory=dict)
    anchor: str = ""
    #: A hiding whose post or comment is still hidden: the page offers to unhide it.
    can_unhide: bool = False
    #: The member the action was about (the author; masked for anonymous askers).
    subject_label: str = ""
    subject_username: str | None = None

    @property
    def folded(self) -> bool:
        """Whether the reason is long enough to be folded on the page."""
        return len(self.row.reason or "") > FOLD_AFTER or "\n" in (self.row.reason or "")

    @property
    def reason_summary(self) -> str:
        """The first line of the reason, cut short, for a folded reason's summary."""
        first = (self.row.reason or "").split("\n", 1)[0]
        return first if len(first) <= 80 else first[:79].rstrip() + "…"


def audit_actions(session: Session) -> list[str]:
    """Every action name the log holds, for the filter."""
    return sorted(set(session.scalars(select(AuditLog.action).distinct())))


def audit_log(
    session: Session,
    *,
    viewer: User,
    action: str | None = None,
    page: int = 1,
    per_page: int = 50,
) -> tuple[list[AuditEntry], int]:
    """One page of the audit log, newest first, optionally one action only; and the total."""
    _require_moderator(viewer)
    stmt = select(AuditLog)
    if action:
        stmt = stmt.where(AuditLog.action == action)
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = list(
        session.scalars(
            stmt.options(joinedload(AuditLog.actor))
            .order_by(AuditLog.created_at.desc(), AuditLog.id.desc())
            .limit(per_page)
            .offset((max(page, 1) - 1) * per_page)
        )
    )
    post_ids = {r.target_id for r in rows if r.target_type == "post"}
    comment_ids = {r.target_id for r in rows if r.target_type == "comment"}
    found_posts = (
        {p.id: p for p in session.scalars(select(Post).where(Post.id.in_(post_ids)))}
        if post_ids
        else {}
    )
    found_comments = (
        {
            c.id: c
            for c in session.scalars(
                select(Comment).where(Comment.id.in_(comment_ids)).options(joinedload(Comment.post))
            )
        }
        if comment_ids
        else {}
    )
    member_ids = {r.target_id for r in rows if r.target_type == "user"}
    found_members = (
        {
            int(user_id): str(username)
            for user_id, username in session.execute(
                select(User.id, User.username).where(User.id.in_(member_ids))
            )
        }
        if member_ids
        else {}
    )
    entries = []
    for row in rows:
        actor = row.actor
        if actor is not None:
            actor_label = actor.display_name
        elif row.action.startswith(("member.", "webhook.")) and row.actor_id is None:
            # Members' accounts are also managed with the `forum users` command.
            actor_label = COMMAND_LINE_LABEL
        elif row.action.startswith("question.vote_"):
            actor_label = "Members' votes"
        else:
            actor_label = posts.FORMER_MEMBER_LABEL
        entry = AuditEntry(
            row=row,
            action_label=ACTION_LABELS.get(row.action, row.action),
            actor_label=actor_label,
            role=actor.role.value if actor is not None else "",
            target_label=f"{row.target_type} #{row.target_id}",
        )
        if row.target_id in found_members and row.target_type == "user":
            entry.target_label = f"member @{found_members[row.target_id]}"
            entry.endpoint = "users.profile"
            entry.params = {"username": found_members[row.target_id]}
        obj: Post | Comment | None = (
            found_posts.get(row.target_id)
            if row.target_type == "post"
            else found_comments.get(row.target_id)
            if row.target_type == "comment"
            else None
        )
        if obj is not None:
            described = _describe(session, row.target_type, obj)
            entry.target_label = f"{described.label} “{described.title or described.excerpt[:60]}”"
            entry.endpoint = described.page_endpoint
            entry.params = described.page_params
            entry.anchor = described.anchor
            entry.can_unhide = row.action == "moderation.hide" and is_hidden(session, obj)
            if row.action != "question.reveal_author":
                # The reveal's subject stays unnamed here: the log is read by every moderator.
                entry.subject_label = described.author_label
                entry.subject_username = described.author_username
        entries.append(entry)
    return entries, total
