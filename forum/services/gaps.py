"""Knowledge gaps: per tag, how much colleagues ask and search against how much help exists.

For each tag: live questions, the share still unanswered, the median time to a first answer,
articles, members who can help, zero-result searches naming the tag, and open tutorial
requests. Tags are sorted by a *need* score:

    demand = 2 × unanswered questions
           + zero-result searches naming the tag (last 90 days)
           + 3 × open tutorial requests + the +1s on them
           + 2 when the tag has no article
           + whole days of the median time to first answer (at most 7)
    need   = demand / (1 + members who can help), rounded to one decimal

Members who can help are those whose answers in the tag score 3 or more in total, and those
who list the tag as a skill they can help with. A department filter keeps only the questions
(and tutorial requests) asked by members of that department; anonymous questions are left out
of a department's figures so the filter can't reveal who asked them.
"""

from __future__ import annotations

import datetime as dt
import re
import statistics
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import and_, case, false, func, select
from sqlalchemy.orm import Session, aliased

from forum.db import utcnow
from forum.models import Post, PostKind, Tag, User, ZeroResultQuery, post_tags
from forum.models.mentoring import MemberSkill
from forum.services import analytics, charts, tutorial_requests
from forum.services.errors import ValidationError

#: Total answer score in a tag from which a member counts as able to help.
HELP_SCORE = 3
#: How far back zero-result searches count.
ZERO_RESULT_DAYS = 90
#: Rows the page shows (tags beyond are the ones with the least need).
LIMIT = 50
_WORD = re.compile(r"[a-z0-9+#.-]+")


@dataclass
class TagGap:
    """One tag's figures and its need score."""

    tag_id: int
    name: str
    questions: int = 0
    unanswered: int = 0
    median_hours: float | None = None
    articles: int = 0
    helper_ids: set[int] = field(default_factory=set)
    helpers: list[User] = field(default_factory=list)
    zero_results: int = 0
    open_requests: int = 0
    request_plus_ones: int = 0
    need: float = 0.0

    @property
    def unanswered_share(self) -> float | None:
        """Unanswered questions as a percentage (None without questions)."""
        if not self.questions:
            return None
        return round(100 * self.unanswered / self.questions, 1)

    @property
    def helper_count(self) -> int:
        """How many members can help."""
        return len(self.helper_ids)

    @property
    def median_text(self) -> str:
        """The median time to first answer as people read it."""
        return analytics.format_duration(self.median_hours)

    @property
    def demand(self) -> int:
        """The numerator of the need score (see the module docstring)."""
        slow = min(7, int((self.median_hours or 0) // 24))
        return (
            2 * self.unanswered
            + self.zero_results
            + 3 * self.open_requests
            + self.request_plus_ones
            + (2 if self.articles == 0 else 0)
            + slow
        )


@dataclass
class GapReport:
    """What /gaps shows."""

    gaps: list[TagGap]
    department: str | None
    departments: list[str]
    total_tags: int
    charts: list[charts.SvgChart] = field(default_factory=list)


def parse_department(session: Session, raw: str | None) -> str | None:
    """The ``department`` filter: empty for everyone, else a department members belong to."""
    raw = (raw or "").strip()
    if not raw:
        return None
    if raw not in analytics.departments(session):
        raise ValidationError({"department": ["Choose a department from the list."]})
    return raw


def _question_filter(question: Any, department: str | None) -> list[Any]:
    conditions: list[object] = [
        question.kind == PostKind.QUESTION,
        question.deleted_at.is_(None),
    ]
    if department:
        asker = select(User.id).where(User.department == department).scalar_subquery()
        conditions += [question.author_id.in_(asker), question.is_anonymous == false()]
    return conditions


def _questions(session: Session, gaps: dict[int, TagGap], department: str | None) -> None:
    unanswered = func.sum(case((Post.answer_count == 0, 1), else_=0))
    rows = session.execute(
        select(post_tags.c.tag_id, func.count(Post.id), unanswered)
        .join(Post, Post.id == post_tags.c.post_id)
        .where(*_question_filter(Post, department))
        .group_by(post_tags.c.tag_id)
    )
    for tag_id, n, open_ in rows:
        gap = gaps[int(tag_id)]
        gap.questions, gap.unanswered = int(n), int(open_ or 0)


def _first_answers(session: Session, gaps: dict[int, TagGap], department: str | None) -> None:
    """Median delay between a question and its first live answer, per tag."""
    question = aliased(Post)
    answer = aliased(Post)
    first = (
        select(answer.parent_id.label("question_id"), func.min(answer.created_at).label("at"))
        .where(answer.kind == PostKind.ANSWER, answer.deleted_at.is_(None))
        .group_by(answer.parent_id)
        .subquery("first_answer")
    )
    delays: dict[int, list[float]] = defaultdict(list)
    for tag_id, asked, answered in session.execute(
        select(post_tags.c.tag_id, question.created_at, first.c.at)
        .join(question, question.id == post_tags.c.post_id)
        .join(first, first.c.question_id == question.id)
        .where(*_question_filter(question, department))
    ):
        delay = (analytics.aware(answered) - analytics.aware(asked)).total_seconds()
        delays[int(tag_id)].append(max(0.0, delay))
    for tag_id, values in delays.items():
        gaps[tag_id].median_hours = round(statistics.median(values) / 3600, 1)


def _articles(session: Session, gaps: dict[int, TagGap]) -> None:
    for tag_id, n in session.execute(
        select(post_tags.c.tag_id, func.count(Post.id))
        .join(Post, Post.id == post_tags.c.post_id)
        .where(Post.kind == PostKind.ARTICLE, Post.deleted_at.is_(None))
        .group_by(post_tags.c.tag_id)
    ):
        gaps[int(tag_id)].articles = int(n)


def _helpers(session: Session, gaps: dict[int, TagGap]) -> None:
    """Members who can help, per tag: good answers in it, or the skill on their profile."""
    question = aliased(Post)
    answer = aliased(Post)
    score = func.sum(answer.score)
    for tag_id, user_id in session.execute(
        select(post_tags.c.tag_id, answer.author_id)
        .join(question, question.id == post_tags.c.post_id)
        .join(answer, answer.parent_id == question.id)
        .join(User, User.id == answer.author_id)
        .where(
            answer.kind == PostKind.ANSWER,
            answer.deleted_at.is_(None),
            answer.is_anonymous == false(),
            question.deleted_at.is_(None),
            User.is_active.is_(True),
        )
        .group_by(post_tags.c.tag_id, answer.author_id)
        .having(score >= HELP_SCORE)
    ):
        gaps[int(tag_id)].helper_ids.add(int(user_id))
    for tag_id, user_id in session.execute(
        select(MemberSkill.tag_id, MemberSkill.user_id)
        .join(User, User.id == MemberSkill.user_id)
        .where(MemberSkill.kind == "help", User.is_active.is_(True))
    ):
        gaps[int(tag_id)].helper_ids.add(int(user_id))


def words(text: str) -> set[str]:
    """The tag-like words of a search (``tag:sql`` and ``sql.`` both give ``sql``)."""
    found = set()
    for word in _WORD.findall(text.lower()):
        found.add(word)
        found.add(word.rstrip("."))
    return found


def _zero_results(
    session: Session, gaps: dict[int, TagGap], names: dict[str, int], now: dt.datetime
) -> None:
    since = now - dt.timedelta(days=ZERO_RESULT_DAYS)
    # Counted in SQL per normalised query: Python sees each distinct query once.
    for text, count in session.execute(
        select(ZeroResultQuery.normalized, func.count())
        .where(ZeroResultQuery.created_at >= since)
        .group_by(ZeroResultQuery.normalized)
    ):
        for word in words(str(text)):
            tag_id = names.get(word)
            if tag_id is not None:
                gaps[tag_id].zero_results += int(count)


# --- the search-failure signal ----------------------------------------------------------------

#: The periods the search-failure table covers, in days (the first is the default).
PERIODS = (30, 7, 90)
#: How soon after a search that found nothing a question by the same member counts as
#: "searched, found nothing, then asked".
ASKED_WITHIN = dt.timedelta(hours=1)
#: Groups the table shows, most searched first.
FAILURE_LIMIT = 30


def parse_period(raw: str | None) -> int:
    """The ``period`` filter in days: 7, 30 (the default) or 90."""
    raw = (raw or "").strip()
    if not raw:
        return PERIODS[0]
    if not raw.isdigit() or int(raw) not in PERIODS:
        raise ValidationError({"period": ["Choose 7, 30 or 90 days."]})
    return int(raw)


@dataclass
class SearchFailure:
    """Searches that found nothing, grouped by their stemmed words: how often, by how many
    members, the tags they name, and the questions asked within an hour after them."""

    key: str
    query: str
    searches: int
    members: int
    tags: list[str] = field(default_factory=list)
    questions: list[tuple[int, str]] = field(default_factory=list)


def search_failures(
    session: Session,
    *,
    days: int = PERIODS[0],
    tag: str | None = None,
    now: dt.datetime | None = None,
    limit: int = FAILURE_LIMIT,
) -> list[SearchFailure]:
    """Zero-result searches of the last ``days`` grouped by normalised query (stemmed words,
    sorted), optionally only those naming ``tag``.

    A question the same member asked within an hour after such a search is linked to its
    group; anonymous questions never are (that would tie them to the member who searched).
    """
    now = now or utcnow()
    since = now - dt.timedelta(days=days)
    names = set(session.scalars(select(Tag.name)))
    key = case(
        (ZeroResultQuery.stems == "", ZeroResultQuery.normalized), else_=ZeroResultQuery.stems
    )
    groups: list[SearchFailure] = []
    for group_key, sample, searches, members in session.execute(
        select(
            key,
            func.max(ZeroResultQuery.normalized),
            func.count(),
            func.count(ZeroResultQuery.user_id.distinct()),
        )
        .where(ZeroResultQuery.created_at >= since)
        .group_by(key)
    ):
        named = sorted(words(str(sample)) & names)
        if tag is not None and tag not in named:
            continue
        groups.append(
            SearchFailure(str(group_key), str(sample), int(searches), int(members), named)
        )
    groups.sort(key=lambda g: (-g.searches, -g.members, g.query))
    shown = {g.key: g for g in groups[:limit]}
    if not shown:
        return []
    follow = (
        select(key, ZeroResultQuery.created_at, Post.id, Post.title, Post.created_at)
        .join(Post, Post.author_id == ZeroResultQuery.user_id)
        .where(
            ZeroResultQuery.created_at >= since,
            ZeroResultQuery.user_id.is_not(None),
            key.in_(list(shown)),
            Post.kind == PostKind.QUESTION,
            Post.deleted_at.is_(None),
            Post.is_anonymous.is_(False),
            Post.created_at >= ZeroResultQuery.created_at,
        )
        .order_by(Post.created_at, Post.id)
    )
    for group_key, searched_at, post_id, title, asked_at in session.execute(follow):
        if _aware(asked_at) - _aware(searched_at) > ASKED_WITHIN:
            continue
        group = shown[str(group_key)]
        if all(pid != post_id for pid, _ in group.questions):
            group.questions.append((int(post_id), str(title)))
    return list(shown.values())


def _aware(moment: dt.datetime) -> dt.datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.UTC)


def gap_report(
    session: Session,
    *,
    department: str | None = None,
    limit: int = LIMIT,
    now: dt.datetime | None = None,
) -> GapReport:
    """Every tag someone needs help with, most need first (at most ``limit`` of them)."""
    now = now or utcnow()
    names = {str(n): int(i) for i, n in session.execute(select(Tag.id, Tag.name))}
    by_id = {i: n for n, i in names.items()}
    gaps: dict[int, TagGap] = defaultdict(lambda: TagGap(0, ""))
    _questions(session, gaps, department)
    _first_answers(session, gaps, department)
    _articles(session, gaps)
    _helpers(session, gaps)
    _zero_results(session, gaps, names, now)
    for tag_id, (n, plus) in tutorial_requests.open_counts_by_tag(
        session, department=department
    ).items():
        gaps[tag_id].open_requests, gaps[tag_id].request_plus_ones = n, plus
    needed: list[TagGap] = []
    for tag_id, gap in gaps.items():
        if not (gap.questions or gap.zero_results or gap.open_requests):
            continue
        gap.tag_id, gap.name = tag_id, by_id.get(tag_id, "")
        gap.need = round(gap.demand / (1 + gap.helper_count), 1)
        needed.append(gap)
    needed.sort(key=lambda g: (-g.need, -g.unanswered, g.name))
    shown = needed[:limit]
    helper_ids = {uid for g in shown for uid in g.helper_ids}
    if helper_ids:
        people = {u.id: u for u in session.scalars(select(User).where(User.id.in_(helper_ids)))}
        for gap in shown:
            gap.helpers = sorted(
                (people[uid] for uid in gap.helper_ids if uid in people),
                key=lambda u: (-u.reputation, u.username),
            )[:3]
    report = GapReport(
        gaps=shown,
        department=department,
        departments=analytics.departments(session),
        total_tags=len(needed),
    )
    report.charts = [
        _unanswered_chart(report),
        _zero_result_chart(session, names, now),
    ]
    return report


def _unanswered_chart(report: GapReport) -> charts.SvgChart:
    top = [g for g in report.gaps if g.questions][:12]
    scope = f" (questions asked in {report.department})" if report.department else ""
    return charts.bar_chart(
        f"Unanswered share per tag{scope}",
        "The percentage of each tag's questions without an answer, for the tags with the "
        "most need.",
        [(g.name, g.unanswered_share or 0.0) for g in top],
        unit="%",
        maximum=100,
        label_header="Tag",
        value_header="Unanswered",
    )


def _zero_result_chart(
    session: Session, names: dict[str, int], now: dt.datetime
) -> charts.SvgChart:
    starts = analytics.week_starts(now)
    all_searches = [0] * len(starts)
    tagged = [0] * len(starts)
    day = ZeroResultQuery.day
    for text, on, count in session.execute(
        select(ZeroResultQuery.normalized, day, func.count())
        .where(and_(ZeroResultQuery.created_at >= starts[0]))
        .group_by(ZeroResultQuery.normalized, day)
    ):
        if on is None:
            continue
        at = dt.datetime.combine(on, dt.time(), tzinfo=dt.UTC)
        week = analytics.week_of(at, starts)
        if week is None:
            continue
        all_searches[week] += int(count)
        if words(str(text)) & names.keys():
            tagged[week] += int(count)
    return charts.line_chart(
        "Searches that found nothing, per week",
        f"Searches with no result in each of the {len(starts)} weeks since "
        f"{starts[0]:%d %B %Y}, and how many of them named a tag.",
        [analytics.week_label(s) for s in starts],
        [
            charts.Series("All searches", all_searches),
            charts.Series("Naming a tag", tagged),
        ],
    )
