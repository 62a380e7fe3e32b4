"""Participation analytics for admins: activity, questions, answers, helpers by week and department.

Weeks are ISO weeks (Monday 00:00 UTC); the last one is the current, partial week. Counting
happens in grouped SQL (a portable CASE turns a timestamp into its week number); only the
median time to first answer is taken in Python, from one (asked, first answered) pair per
question of the period, because SQLite has no percentile function.

Anonymous questions count in the totals but are never attributed to a department.
"""

from __future__ import annotations

import datetime as dt
import statistics
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import (
    ColumnElement,
    and_,
    case,
    false,
    func,
    literal,
    or_,
    select,
    union_all,
)
from sqlalchemy.orm import Session, aliased

from forum.db import utcnow
from forum.models import Comment, Post, PostKind, User, Vote
from forum.services import charts
from forum.services.anonymity import unmasked

WEEKS = 12
#: The name departments without one are listed under.
NO_DEPARTMENT = "No department"
ANONYMOUS = "Anonymous questions"


# --- weeks ------------------------------------------------------------------------------------


def aware(moment: dt.datetime) -> dt.datetime:
    """SQLite hands back naive UTC timestamps; make them aware."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.UTC)


def week_starts(now: dt.datetime | None = None, count: int = WEEKS) -> list[dt.datetime]:
    """The Mondays (00:00 UTC) starting the last ``count`` weeks, oldest first."""
    now = aware(now or utcnow()).astimezone(dt.UTC)
    monday = dt.datetime.combine(
        now.date() - dt.timedelta(days=now.weekday()), dt.time(), tzinfo=dt.UTC
    )
    return [monday - dt.timedelta(weeks=count - 1 - i) for i in range(count)]


def week_label(start: dt.datetime) -> str:
    """How a week reads on an axis: its Monday, e.g. ``17 Nov``."""
    return f"{start.day} {start:%b}"


def week_index(column: Any, starts: Sequence[dt.datetime]) -> ColumnElement[Any]:
    """A portable SQL expression: the index in ``starts`` of the week ``column`` falls in."""
    whens = [(column >= start, i) for i, start in reversed(list(enumerate(starts)))]
    return case(*whens, else_=None)


def week_of(moment: dt.datetime, starts: Sequence[dt.datetime]) -> int | None:
    """The same in Python."""
    moment = aware(moment)
    found = None
    for i, start in enumerate(starts):
        if moment >= start:
            found = i
    return found


def median_hours(delays: Iterable[float]) -> float | None:
    """The median of delays in seconds, in hours with one decimal (None when there are none)."""
    values = list(delays)
    if not values:
        return None
    return round(statistics.median(values) / 3600, 1)


def format_duration(hours: float | None) -> str:
    """A median delay as people read it: ``45 min``, ``5.5 h``, ``3.2 days``."""
    if hours is None:
        return "–"
    if hours < 1:
        return f"{round(hours * 60)} min"
    if hours < 48:
        return f"{charts.format_number(hours)} h"
    return f"{charts.format_number(round(hours / 24, 1))} days"


def departments(session: Session) -> list[str]:
    """Every department a member belongs to, by name."""
    return [
        str(d)
        for d in session.scalars(
            select(User.department)
            .where(User.department.is_not(None), User.department != "")
            .distinct()
            .order_by(User.department)
        )
    ]


# --- the report -------------------------------------------------------------------------------


@dataclass
class WeekRow:
    """One week's figures."""

    start: dt.datetime
    active: int = 0
    asked: int = 0
    answered: int = 0
    median_hours: float | None = None
    top_helper: User | None = None
    top_helper_answers: int = 0

    @property
    def label(self) -> str:
        """The week's Monday."""
        return week_label(self.start)


@dataclass
class DepartmentRow:
    """One department's figures over the whole period."""

    name: str
    active: int = 0
    asked: int = 0
    answered: int = 0
    median_hours: float | None = None
    top_helper: User | None = None
    top_helper_answers: int = 0


@dataclass(frozen=True)
class Helper:
    """A member who answered colleagues' questions in the period."""

    user: User
    answers: int
    accepted: int


@dataclass
class Report:
    """Everything /admin/analytics shows."""

    weeks: list[WeekRow]
    departments: list[DepartmentRow]
    helpers: list[Helper]
    department: str | None
    choices: list[str]
    charts: list[charts.SvgChart] = field(default_factory=list)

    @property
    def since(self) -> dt.datetime:
        """When the period starts."""
        return self.weeks[0].start


def _activity(start: dt.datetime) -> Any:
    """(user_id, at) for every post, vote and comment since ``start``.

    What the anonymous asker does in their own thread makes nobody active: a department with
    one active member that week would name them.
    """
    return union_all(
        select(Post.author_id.label("user_id"), Post.created_at.label("at")).where(
            Post.created_at >= start, Post.author_id.is_not(None), Post.is_anonymous == false()
        ),
        select(Vote.user_id.label("user_id"), Vote.created_at.label("at")).where(
            Vote.created_at >= start, unmasked(Vote.post_id, Vote.user_id)
        ),
        select(Comment.author_id.label("user_id"), Comment.created_at.label("at")).where(
            Comment.created_at >= start,
            Comment.author_id.is_not(None),
            unmasked(Comment.post_id, Comment.author_id),
        ),
    ).subquery("activity")


def _department_of(user: Any) -> ColumnElement[Any]:
    return func.coalesce(func.nullif(user.department, ""), literal(NO_DEPARTMENT))


def _question_department(question: Any, asker: Any) -> ColumnElement[Any]:
    return case((question.is_anonymous == false(), _department_of(asker)), else_=literal(ANONYMOUS))


def report(
    session: Session, *, department: str | None = None, now: dt.datetime | None = None
) -> Report:
    """The weekly figures (of one department, or all) and the per-department summary."""
    starts = week_starts(now)
    start = starts[0]
    weeks = [WeekRow(s) for s in starts]
    rows: dict[str, DepartmentRow] = {}

    def dept_row(name: str) -> DepartmentRow:
        if name not in rows:
            rows[name] = DepartmentRow(name)
        return rows[name]

    # Active members per week and per department. Every grouped expression is computed in a
    # subquery first: PostgreSQL only groups by an expression identical to the selected one,
    # and two renderings of a CASE with bound parameters are not.
    activity = _activity(start)
    inner = select(
        week_index(activity.c.at, starts).label("w"), activity.c.user_id.label("uid")
    ).select_from(activity)
    if department:
        inner = inner.join(User, User.id == activity.c.user_id).where(User.department == department)
    for w, n in _grouped(session, inner, "w", "uid", distinct=True):
        if w is not None:
            weeks[int(w)].active = int(n)
    inner = (
        select(_department_of(User).label("d"), activity.c.user_id.label("uid"))
        .select_from(activity)
        .join(User, User.id == activity.c.user_id)
    )
    for name, n in _grouped(session, inner, "d", "uid", distinct=True):
        dept_row(str(name)).active = int(n)

    # Questions asked, answered, and the delay to their first answer.
    question = aliased(Post)
    answer = aliased(Post)
    asker = aliased(User)
    first = (
        select(answer.parent_id.label("question_id"), func.min(answer.created_at).label("at"))
        .where(answer.kind == PostKind.ANSWER, answer.deleted_at.is_(None))
        .group_by(answer.parent_id)
        .subquery("first_answer")
    )
    asked_in = and_(
        question.kind == PostKind.QUESTION,
        question.deleted_at.is_(None),
        question.created_at >= start,
    )
    qdept = _question_department(question, asker)
    inner = (
        select(
            week_index(question.created_at, starts).label("w"),
            question.id.label("qid"),
            first.c.question_id.label("fid"),
        )
        .select_from(question)
        .outerjoin(first, first.c.question_id == question.id)
        .where(asked_in)
    )
    if department:
        inner = inner.join(asker, asker.id == question.author_id).where(
            asker.department == department, question.is_anonymous == false()
        )
    for w, asked, answered in _grouped(session, inner, "w", "qid", "fid"):
        if w is not None:
            weeks[int(w)].asked = int(asked)
            weeks[int(w)].answered = int(answered)
    inner = (
        select(qdept.label("d"), question.id.label("qid"), first.c.question_id.label("fid"))
        .select_from(question)
        .outerjoin(asker, asker.id == question.author_id)
        .outerjoin(first, first.c.question_id == question.id)
        .where(asked_in)
    )
    for name, asked, answered in _grouped(session, inner, "d", "qid", "fid"):
        row = dept_row(str(name))
        row.asked, row.answered = int(asked), int(answered)

    week_delays: dict[int, list[float]] = defaultdict(list)
    dept_delays: dict[str, list[float]] = defaultdict(list)
    for asked_at, answered_at, name, anonymous, dept_name in session.execute(
        select(
            question.created_at,
            first.c.at,
            qdept,
            question.is_anonymous,
            asker.department,
        )
        .select_from(question)
        .join(first, first.c.question_id == question.id)
        .outerjoin(asker, asker.id == question.author_id)
        .where(asked_in)
    ):
        delay = (aware(answered_at) - aware(asked_at)).total_seconds()
        dept_delays[str(name)].append(delay)
        if department and (anonymous or dept_name != department):
            continue
        w = week_of(asked_at, starts)
        if w is not None:
            week_delays[w].append(delay)
    for w, delays in week_delays.items():
        weeks[w].median_hours = median_hours(delays)
    for name, delays in dept_delays.items():
        dept_row(name).median_hours = median_hours(delays)

    helpers = _helpers(session, start, department)
    _top_helpers(session, starts, weeks, rows, department)

    report_ = Report(
        weeks=weeks,
        departments=sorted(
            rows.values(), key=lambda r: (r.name in (NO_DEPARTMENT, ANONYMOUS), r.name)
        ),
        helpers=helpers,
        department=department,
        choices=departments(session),
    )
    report_.charts = _charts(report_)
    return report_


def _helping_answers(start: dt.datetime) -> tuple[Any, Any, Any]:
    """Counting answers to someone else's question since ``start``: (answer, question, where)."""
    answer = aliased(Post)
    question = aliased(Post)
    where = and_(
        answer.kind == PostKind.ANSWER,
        answer.deleted_at.is_(None),
        answer.is_anonymous == false(),
        answer.author_id.is_not(None),
        answer.created_at >= start,
        question.deleted_at.is_(None),
        or_(question.author_id.is_(None), question.author_id != answer.author_id),
    )
    return answer, question, where


def _helpers(
    session: Session, start: dt.datetime, department: str | None, limit: int = 10
) -> list[Helper]:
    """Members by answers to colleagues' questions in the period, then by accepted ones."""
    answer, question, where = _helping_answers(start)
    accepted = func.sum(case((question.accepted_answer_id == answer.id, 1), else_=0))
    query = (
        select(User, func.count(answer.id), accepted)
        .select_from(answer)
        .join(question, question.id == answer.parent_id)
        .join(User, User.id == answer.author_id)
        .where(where)
        .group_by(User.id)
        .order_by(func.count(answer.id).desc(), accepted.desc(), User.username)
        .limit(limit)
    )
    if department:
        query = query.where(User.department == department)
    return [Helper(u, int(n), int(a or 0)) for u, n, a in session.execute(query)]


def _top_helpers(
    session: Session,
    starts: list[dt.datetime],
    weeks: list[WeekRow],
    rows: dict[str, DepartmentRow],
    department: str | None,
) -> None:
    """The member with most helping answers in each week and each department."""
    answer, question, where = _helping_answers(starts[0])
    inner = (
        select(
            week_index(answer.created_at, starts).label("w"),
            answer.author_id.label("uid"),
            answer.id.label("aid"),
        )
        .select_from(answer)
        .join(question, question.id == answer.parent_id)
        .where(where)
    )
    if department:
        inner = inner.join(User, User.id == answer.author_id).where(User.department == department)
    by_week = _grouped(session, inner, ("w", "uid"), "aid")
    inner = (
        select(
            _department_of(User).label("d"),
            answer.author_id.label("uid"),
            answer.id.label("aid"),
        )
        .select_from(answer)
        .join(question, question.id == answer.parent_id)
        .join(User, User.id == answer.author_id)
        .where(where)
    )
    by_dept = _grouped(session, inner, ("d", "uid"), "aid")
    best_week: dict[int, tuple[int, int]] = {}
    best_dept: dict[str, tuple[int, int]] = {}
    for w, uid, n in by_week:
        if w is not None and _better(int(n), int(uid), best_week.get(int(w))):
            best_week[int(w)] = (int(n), int(uid))
    for name, uid, n in by_dept:
        if _better(int(n), int(uid), best_dept.get(str(name))):
            best_dept[str(name)] = (int(n), int(uid))
    ids = {uid for _n, uid in [*best_week.values(), *best_dept.values()]}
    users = {u.id: u for u in session.scalars(select(User).where(User.id.in_(ids)))} if ids else {}
    for w, (n, uid) in best_week.items():
        weeks[w].top_helper, weeks[w].top_helper_answers = users.get(uid), n
    for name, (n, uid) in best_dept.items():
        row = rows.setdefault(name, DepartmentRow(name))
        row.top_helper, row.top_helper_answers = users.get(uid), n


def _grouped(
    session: Session,
    inner: Any,
    keys: str | tuple[str, ...],
    *counted: str,
    distinct: bool = False,
) -> list[Any]:
    """Group the rows of ``inner`` by its ``keys`` columns; count ``counted`` ones per group."""
    sub = inner.subquery("grouped")
    names = (keys,) if isinstance(keys, str) else keys
    columns = [sub.c[name] for name in names]
    counts = [
        func.count(func.distinct(sub.c[name]) if distinct else sub.c[name]) for name in counted
    ]
    return list(session.execute(select(*columns, *counts).group_by(*columns)))


def _better(count: int, user_id: int, current: tuple[int, int] | None) -> bool:
    """More answers wins; a tie goes to the member who joined first (the lower id)."""
    return current is None or count > current[0] or (count == current[0] and user_id < current[1])


def _charts(report_: Report) -> list[charts.SvgChart]:
    labels = [w.label for w in report_.weeks]
    scope = f" in {report_.department}" if report_.department else ""
    since = f"the {len(labels)} weeks since {report_.since:%d %B %Y}"
    return [
        charts.line_chart(
            f"Active members per week{scope}",
            f"Members who posted, voted or commented, per week over {since}.",
            labels,
            [charts.Series("Active members", [w.active for w in report_.weeks])],
        ),
        charts.line_chart(
            f"Questions asked and answered per week{scope}",
            f"Questions asked each week and how many of them have an answer, over {since}.",
            labels,
            [
                charts.Series("Asked", [w.asked for w in report_.weeks]),
                charts.Series("Answered", [w.answered for w in report_.weeks]),
            ],
        ),
        charts.line_chart(
            f"Median time to first answer{scope}",
            f"Median hours from asking to the first answer, by the week asked, over {since}.",
            labels,
            [charts.Series("Median hours", [w.median_hours for w in report_.weeks])],
            unit=" h",
        ),
        charts.bar_chart(
            "Active members by department",
            f"Members who posted, voted or commented in {since}, per department.",
            [(r.name, r.active) for r in report_.departments if r.name != ANONYMOUS],
            label_header="Department",
            value_header="Active members",
        ),
    ]
