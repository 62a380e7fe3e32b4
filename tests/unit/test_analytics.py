"""Analytics: weekly and per-department figures on known data."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from forum.models import Comment, Vote
from forum.services import analytics
from tests.factories import make_user, search_answer, search_question

#: A Wednesday; the last week starts on Monday 23 November, the one before on 16 November.
NOW = dt.datetime(2026, 11, 25, 12, 0, tzinfo=dt.UTC)


def at(day: int, hour: int) -> dt.datetime:
    """A moment in November 2026."""
    return dt.datetime(2026, 11, day, hour, 0, tzinfo=dt.UTC)


def arrange(session: Session) -> dict[str, object]:
    """Two weeks of questions, answers, a vote and a comment by members of three departments."""
    alice = make_user(session, "alice", department="Sales")
    bob = make_user(session, "bob", department="Engineering")
    carol = make_user(session, "carol", department="Engineering")
    dave = make_user(session, "dave")
    erin = make_user(session, "erin", department="Sales")
    make_user(session, "idle", department="Support")
    # Week of 16 November: alice asks, bob answers after 2 h, carol the next day.
    qa = search_question(session, alice, "Quota?", tags=("sales",), created_at=at(17, 10))
    search_answer(session, qa, bob, "Ask finance.", created_at=at(17, 12))
    search_answer(session, qa, carol, "See the wiki.", created_at=at(18, 10))
    search_question(session, bob, "Secret?", tags=("hr",), anonymous=True, created_at=at(18, 9))
    # Week of 23 November: alice asks again, carol's answer after 4 h is accepted.
    qb = search_question(session, alice, "Pricing?", tags=("sales",), created_at=at(24, 9))
    accepted = search_answer(session, qb, carol, "The sheet.", created_at=at(24, 13))
    qb.accepted_answer_id = accepted.id
    search_question(session, dave, "Printer?", tags=("office",), created_at=at(24, 10))
    session.add(Vote(user_id=erin.id, post_id=qa.id, value=1, created_at=at(24, 11)))
    session.add(
        Comment(post_id=qb.id, author_id=dave.id, body_md="+", body_html="+", created_at=at(25, 8))
    )
    # Long before the period: never counted.
    old = search_question(
        session, alice, "Ancient?", tags=("sales",), created_at=NOW - dt.timedelta(weeks=20)
    )
    search_answer(session, old, bob, "Old news.", created_at=NOW - dt.timedelta(weeks=20))
    session.flush()
    return {"alice": alice, "bob": bob, "carol": carol}


def test_weeks_start_on_mondays() -> None:
    starts = analytics.week_starts(NOW)
    assert len(starts) == 12
    assert starts[-1] == at(23, 0) and starts[-2] == at(16, 0)
    assert starts[0] == dt.datetime(2026, 9, 7, tzinfo=dt.UTC)
    assert analytics.week_of(at(22, 23), starts) == 10
    assert analytics.week_of(dt.datetime(2026, 9, 6, tzinfo=dt.UTC), starts) is None


def test_weekly_figures(session: Session) -> None:
    people = arrange(session)
    report = analytics.report(session, now=NOW)
    last, previous = report.weeks[-1], report.weeks[-2]
    assert (previous.label, last.label) == ("16 Nov", "23 Nov")
    # alice, bob and carol (the anonymous question makes nobody active); then alice, carol,
    # dave and erin.
    assert (previous.active, last.active) == (3, 4)
    assert (previous.asked, previous.answered, previous.median_hours) == (2, 1, 2.0)
    assert (last.asked, last.answered, last.median_hours) == (2, 1, 4.0)
    # One answer each in the first week: the tie goes to the earlier member.
    assert previous.top_helper is people["bob"] and previous.top_helper_answers == 1
    assert last.top_helper is people["carol"] and last.top_helper_answers == 1
    assert all(w.active == 0 and w.asked == 0 for w in report.weeks[:-2])
    assert [(h.user.username, h.answers, h.accepted) for h in report.helpers] == [
        ("carol", 2, 1),
        ("bob", 1, 0),
    ]


def test_department_figures(session: Session) -> None:
    people = arrange(session)
    rows = {r.name: r for r in analytics.report(session, now=NOW).departments}
    assert list(rows) == ["Engineering", "Sales", "Anonymous questions", "No department"]
    sales, eng = rows["Sales"], rows["Engineering"]
    assert (sales.active, sales.asked, sales.answered, sales.median_hours) == (2, 2, 2, 3.0)
    assert sales.top_helper is None
    assert (eng.active, eng.asked, eng.answered, eng.median_hours) == (2, 0, 0, None)
    assert eng.top_helper is people["carol"] and eng.top_helper_answers == 2
    assert (rows["No department"].active, rows["No department"].asked) == (1, 1)
    assert (rows["Anonymous questions"].asked, rows["Anonymous questions"].answered) == (1, 0)


def test_department_filter_on_weeks(session: Session) -> None:
    arrange(session)
    report = analytics.report(session, department="Sales", now=NOW)
    previous, last = report.weeks[-2], report.weeks[-1]
    assert (previous.active, previous.asked, previous.answered, previous.median_hours) == (
        1,
        1,
        1,
        2.0,
    )
    assert (last.active, last.asked, last.answered, last.median_hours) == (2, 1, 1, 4.0)
    assert previous.top_helper is None and report.helpers == []
    engineering = analytics.report(session, department="Engineering", now=NOW)
    # bob's anonymous question is not attributed to Engineering.
    assert engineering.weeks[-2].asked == 0
    assert engineering.weeks[-2].active == 2


def test_charts_have_tables_and_escape_department_names(session: Session) -> None:
    make_user(session, "mallory", department="<b>Evil & Co</b>")
    alice = make_user(session, "alice2", department="<b>Evil & Co</b>")
    search_question(session, alice, "Anything?", tags=("misc",), created_at=at(24, 9))
    report = analytics.report(session, now=NOW)
    by_department = report.charts[3]
    assert "<b>" not in str(by_department.svg)
    assert "&lt;b&gt;Evil &amp; Co&lt;/b&gt;" in str(by_department.svg)
    assert ["<b>Evil & Co</b>", "1"] in by_department.rows
    asked = report.charts[1]
    assert asked.headers == ["Week", "Asked", "Answered"]
    assert asked.rows[-1] == ["23 Nov", "1", "0"]


def test_durations_read_naturally() -> None:
    assert analytics.format_duration(None) == "–"
    assert analytics.format_duration(0.5) == "30 min"
    assert analytics.format_duration(5.5) == "5.5 h"
    assert analytics.format_duration(72.0) == "3 days"
    assert analytics.median_hours([3600, 7200, 36000]) == 2.0


def test_what_the_anonymous_asker_does_in_their_thread_makes_nobody_active(
    session: Session,
) -> None:
    # The only member of Legal acts only under the mask: asking, answering, commenting, voting.
    lawyer = make_user(session, "lawyer", department="Legal")
    helper = make_user(session, "helper", department="Support")
    question = search_question(
        session, lawyer, "Secret?", tags=("hr",), anonymous=True, created_at=at(24, 9)
    )
    answer = search_answer(session, question, helper, "Talk to HR.", created_at=at(24, 10))
    search_answer(session, question, lawyer, "Update.", is_anonymous=True, created_at=at(24, 11))
    session.add(Vote(user_id=lawyer.id, post_id=answer.id, value=1, created_at=at(24, 12)))
    for post in (question, answer):
        session.add(
            Comment(
                post_id=post.id,
                author_id=lawyer.id,
                body_md="Thanks",
                body_html="Thanks",
                created_at=at(24, 13),
            )
        )
    session.flush()
    report = analytics.report(session, now=NOW)
    assert report.weeks[-1].active == 1  # the helper alone
    rows = {r.name: r.active for r in report.departments}
    assert rows.get("Legal", 0) == 0 and rows["Support"] == 1
    assert analytics.report(session, department="Legal", now=NOW).weeks[-1].active == 0
