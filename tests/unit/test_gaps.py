"""Knowledge gaps: per-tag figures, the need score and the department filter on known data."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import event, func, select
from sqlalchemy.orm import Session

from forum.models import Tag, ZeroResultQuery
from forum.models.mentoring import MemberSkill
from forum.services import charts, gaps, tutorial_requests
from forum.services.errors import ValidationError
from tests.factories import make_user, search_answer, search_article, search_question

NOW = dt.datetime(2026, 11, 25, 12, 0, tzinfo=dt.UTC)
T0 = NOW - dt.timedelta(days=10)


def _hours(h: float) -> dt.datetime:
    return T0 + dt.timedelta(hours=h)


def arrange(session: Session) -> dict[str, object]:
    """Three tags with known questions, answers, articles, searches, requests and skills."""
    sales = make_user(session, "sally", department="Sales")
    eng = make_user(session, "erik", department="Engineering")
    helper = make_user(session, "helga", department="Engineering")
    other = make_user(session, "otto")
    wisher = make_user(session, "wanda", department="Sales")

    # sql: answered after 2 h and 10 h, one unanswered, one deleted (ignored).
    q1 = search_question(session, sales, "Window functions?", tags=("sql",), created_at=_hours(0))
    search_answer(session, q1, helper, "Use OVER.", score=3, created_at=_hours(2))
    search_answer(session, q1, other, "Or a subquery.", score=1, created_at=_hours(5))
    q2 = search_question(session, eng, "Lateral joins?", tags=("sql",), created_at=_hours(0))
    search_answer(session, q2, helper, "Like this.", created_at=_hours(10))
    search_question(session, sales, "Recursive CTEs?", tags=("sql",), created_at=_hours(1))
    search_question(
        session, sales, "Gone", tags=("sql",), created_at=_hours(1), deleted_at=_hours(2)
    )
    # An anonymous question from Sales counts in the totals, never for the department.
    anon = search_question(
        session, sales, "Secret", tags=("sql",), anonymous=True, created_at=_hours(1)
    )
    search_answer(session, anon, helper, "Sure.", created_at=_hours(4))
    search_article(session, helper, "SQL basics", tags=("sql",))
    # kubernetes: one unanswered question, nothing else.
    search_question(session, eng, "Pods pending?", tags=("kubernetes",), created_at=_hours(0))
    # docker: the only answer came after 3 days and 1 hour.
    q6 = search_question(session, eng, "Image size?", tags=("docker",), created_at=_hours(0))
    search_answer(session, q6, other, "Multi-stage.", created_at=_hours(73))
    # Zero-result searches: two name sql (recent), one is too old, one names mysql only.
    for text, days in [
        ("sql window functions", 1),
        ("tag:sql lateral", 5),
        ("mysql tuning", 2),
        ("sql from long ago", 100),
    ]:
        session.add(ZeroResultQuery(query=text, created_at=NOW - dt.timedelta(days=days)))
    request = tutorial_requests.create(
        session, requester=wisher, title="Window functions in depth", details_md="", tags=["sql"]
    )
    tutorial_requests.plus_one(session, user=eng, request_id=request.id)
    tutorial_requests.plus_one(session, user=other, request_id=request.id)
    sql = session.scalars(select(Tag).where(Tag.name == "sql")).one()
    session.add(MemberSkill(user_id=other.id, tag_id=sql.id, kind="help"))
    session.flush()
    return {"helper": helper, "other": other}


def test_figures_and_need_per_tag(session: Session) -> None:
    people = arrange(session)
    report = gaps.gap_report(session, now=NOW)
    by_name = {g.name: g for g in report.gaps}
    assert [g.name for g in report.gaps] == ["docker", "kubernetes", "sql"]
    sql = by_name["sql"]
    assert (sql.questions, sql.unanswered, sql.unanswered_share) == (4, 1, 25.0)
    # First answers after 2 h, 10 h and 3 h (the anonymous one): the median is 3 h.
    assert sql.median_hours == 3.0
    assert sql.articles == 1
    assert sql.helper_ids == {people["helper"].id, people["other"].id}  # type: ignore[attr-defined]
    assert sql.zero_results == 2
    assert (sql.open_requests, sql.request_plus_ones) == (1, 2)
    # demand = 2×1 + 2 + 3×1 + 2 + 0 + 0 = 9; need = 9 / (1 + 2)
    assert (sql.demand, sql.need) == (9, 3.0)
    kubernetes = by_name["kubernetes"]
    assert (kubernetes.questions, kubernetes.unanswered, kubernetes.median_hours) == (1, 1, None)
    assert (kubernetes.demand, kubernetes.need) == (4, 4.0)
    docker = by_name["docker"]
    assert docker.median_hours == 73.0
    # No article (+2) and a median of 3 whole days (+3); nobody scored 3 there.
    assert (docker.demand, docker.need, docker.helper_count) == (5, 5.0, 0)
    assert report.total_tags == 3


def test_department_filter_counts_only_its_named_questions(session: Session) -> None:
    arrange(session)
    sales = {g.name: g for g in gaps.gap_report(session, department="Sales", now=NOW).gaps}
    assert set(sales) == {"sql"}
    assert (sales["sql"].questions, sales["sql"].unanswered) == (2, 1)
    assert sales["sql"].median_hours == 2.0
    # The request was asked by a Sales member; searches belong to nobody and still count.
    assert (sales["sql"].open_requests, sales["sql"].zero_results) == (1, 2)
    engineering = {
        g.name: g for g in gaps.gap_report(session, department="Engineering", now=NOW).gaps
    }
    assert (engineering["sql"].questions, engineering["sql"].median_hours) == (1, 10.0)
    assert engineering["sql"].open_requests == 0
    assert engineering["docker"].questions == 1


def test_department_must_exist(session: Session) -> None:
    make_user(session, department="Sales")
    assert gaps.parse_department(session, "Sales") == "Sales"
    assert gaps.parse_department(session, "") is None
    with pytest.raises(ValidationError):
        gaps.parse_department(session, "Nowhere")


def test_search_words_match_tag_names() -> None:
    assert {"sql", "node.js", "c++"} <= gaps.words("tag:SQL node.js. c++")
    assert "sql" not in gaps.words("mysql")


def test_charts_escape_hostile_tag_names(session: Session) -> None:
    author = make_user(session)
    search_question(session, author, "Hostile", tags=("<script>x</script>",), created_at=T0)
    report = gaps.gap_report(session, now=NOW)
    svg = str(report.charts[0].svg)
    assert "<script>" not in svg
    assert "&lt;script&gt;" in svg
    assert 'role="img"' in svg and "<title" in svg and "<desc" in svg
    assert report.charts[0].rows == [["<script>x</script>", "100%"]]


def test_zero_result_chart_counts_per_week(session: Session) -> None:
    session.add(Tag(name="sql"))
    for text, days in [("sql joins", 1), ("holiday rota", 2), ("sql", 8), ("sql", 200)]:
        session.add(ZeroResultQuery(query=text, created_at=NOW - dt.timedelta(days=days)))
    session.flush()
    chart = gaps.gap_report(session, now=NOW).charts[1]
    # Weeks start on Mondays: the week of 23 Nov holds two (one naming sql), of 16 Nov one.
    assert chart.rows[-1] == ["23 Nov", "2", "1"]
    assert chart.rows[-2] == ["16 Nov", "1", "1"]
    assert sum(int(r[1]) for r in chart.rows) == 3


def test_bar_chart_scales_and_formats() -> None:
    chart = charts.bar_chart("T & co", "D", [("a", 50.0), ("b", 12.5)], unit="%", maximum=100)
    assert chart.rows == [["a", "50%"], ["b", "12.5%"]]
    assert "<title id=" in str(chart.svg) and "T &amp; co" in str(chart.svg)
    assert str(chart.svg).count("<rect") == 2


def test_zero_result_searches_count_once_per_member_and_day_and_are_summed_in_sql(
    session: Session,
) -> None:
    from forum import search

    session.add(Tag(name="sql"))
    amara, jonas = make_user(session), make_user(session)
    for _ in range(20):
        search.record_zero_result(session, amara.id, "SQL  lateral")
    search.record_zero_result(session, jonas.id, "sql lateral")
    session.flush()
    assert session.scalar(select(func.count()).select_from(ZeroResultQuery)) == 2
    statements: list[str] = []
    engine = session.get_bind()
    event.listen(engine, "before_cursor_execute", _capture(statements))
    try:
        report = gaps.gap_report(session)
    finally:
        event.remove(engine, "before_cursor_execute", _capture_listener[0])
    assert [(g.name, g.zero_results) for g in report.gaps] == [("sql", 2)]
    zero = [s for s in statements if "zero_result_queries" in s]
    assert zero and all("GROUP BY" in s for s in zero)


_capture_listener: list[Any] = []


def _capture(statements: list[str]) -> Any:
    def listener(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    _capture_listener[:] = [listener]
    return listener
