"""Pages issue a bounded number of SQL statements, however many answers and comments they show."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import event
from sqlalchemy.orm import Session

from forum.db import get_engine
from forum.models import Role
from forum.services import tags, votes
from tests.conftest import Browser
from tests.factories import make_answer, make_article, make_comment, make_question, make_user

TRANSACTION_CONTROL = ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE")
#: What a browser sends when a person opens a page (views are counted only then).
PAGE_LOAD = {"Sec-Fetch-Dest": "document"}


@contextmanager
def counted(app: Flask) -> Iterator[list[str]]:
    """Record the SQL statements the app's engine runs (transaction control aside)."""
    statements: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if not statement.lstrip().upper().startswith(TRANSACTION_CONTROL):
            statements.append(statement)

    engine = get_engine(app)
    event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", record)


@pytest.fixture
def big_thread(session: Session) -> int:
    """A question with 30 answers and 100 comments (some replies), votes and an acceptance."""
    asker = make_user(session, "asker")
    people = [make_user(session, reputation=1000) for _ in range(10)]
    question = make_question(session, asker, tags=("python", "sql", "ops"))
    answers = [make_answer(session, question, people[n % 10]) for n in range(30)]
    posts = [question, *answers]
    comments = []
    for n in range(100):
        post = posts[n % len(posts)]
        parent = comments[n - len(posts)] if n >= len(posts) and n % 3 == 0 else None
        if parent is not None and parent.post_id != post.id:
            parent = None
        comments.append(make_comment(session, post, people[n % 10], parent=parent))
    session.commit()
    reader = make_user(session, "reader", reputation=1000)
    session.commit()
    for post in posts[:10]:
        votes.cast(session, voter=reader, post_id=post.id, value=1)
        session.commit()
    for comment in comments[:10]:
        votes.cast_on_comment(session, voter=reader, comment_id=comment.id)
        session.commit()
    question.accepted_answer_id = answers[5].id
    session.commit()
    return int(question.id)


def test_question_page_with_30_answers_and_100_comments_is_bounded(
    app: Flask, browser: Browser, big_thread: int
) -> None:
    browser.login("reader")
    browser.get("/")  # the login's own work is not the page's
    with counted(app) as statements:
        response = browser.get(f"/questions/{big_thread}", headers=PAGE_LOAD)
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert page.count('class="post post--answer') == 30
    assert len(re.findall(r'id="comment-\d+"', page)) == 100
    assert len(statements) <= 8, "\n\n".join(statements)
    print(f"\nquestion page (member, first view): {len(statements)} statements")
    # A second view within the hour is not counted again and costs one statement less.
    with counted(app) as again:
        assert browser.get(f"/questions/{big_thread}", headers=PAGE_LOAD).status_code == 200
    assert len(again) <= len(statements)
    print(f"question page (member, repeat view): {len(again)} statements")


def test_a_moderators_question_page_adds_only_the_flag_count(
    app: Flask, browser: Browser, session: Session, big_thread: int
) -> None:
    make_user(session, "moderator", role=Role.MODERATOR)
    session.commit()
    browser.login("moderator")
    browser.get(f"/questions/{big_thread}", headers=PAGE_LOAD)  # the first view's count aside
    with counted(app) as statements:
        response = browser.get(f"/questions/{big_thread}", headers=PAGE_LOAD)
    assert response.status_code == 200
    flag_counts = [s for s in statements if "FROM flags" in s]
    assert len(flag_counts) == 1, "\n\n".join(statements)
    assert len(statements) <= 8, "\n\n".join(statements)


def test_question_page_for_a_visitor_is_bounded(app: Flask, client: Any, big_thread: int) -> None:
    with counted(app) as statements:
        response = client.get(f"/questions/{big_thread}", headers=PAGE_LOAD)
    assert response.status_code == 200
    assert len(statements) <= 7, "\n\n".join(statements)
    print(f"\nquestion page (visitor): {len(statements)} statements")


def test_a_repeat_view_within_the_hour_writes_nothing(
    app: Flask, client: Any, big_thread: int
) -> None:
    client.get(f"/questions/{big_thread}", headers=PAGE_LOAD)  # counted
    # Not counted; the worker reads the time back.
    client.get(f"/questions/{big_thread}", headers=PAGE_LOAD)
    with counted(app) as statements:
        response = client.get(f"/questions/{big_thread}", headers=PAGE_LOAD)
    assert response.status_code == 200
    writes = [s for s in statements if "post_views" in s or s.lstrip().upper().startswith("UPDATE")]
    assert writes == []
    assert len(statements) <= 3, "\n\n".join(statements)


@pytest.mark.parametrize(
    ("path", "limit"),
    [
        ("/questions", 4),
        ("/questions?tab=unanswered", 4),
        ("/questions?tab=active", 4),
        ("/questions?tab=top-week", 4),
        ("/questions?tab=my-tags", 2),
        ("/tags", 3),
        ("/tags/python", 7),
    ],
)
def test_lists_are_bounded(
    app: Flask, browser: Browser, session: Session, path: str, limit: int
) -> None:
    author = make_user(session)
    for n in range(40):
        question = make_question(
            session, author, tags=("python", f"topic{n % 7}"), anonymous=n % 5 == 0
        )
        make_answer(session, question)
    make_user(session, "reader")
    session.commit()
    browser.login("reader")
    browser.get("/")
    with counted(app) as statements:
        response = browser.get(path)
    assert response.status_code == 200
    assert len(statements) <= limit, "\n\n".join(statements)
    print(f"\n{path}: {len(statements)} statements")


@pytest.fixture
def busy_member(session: Session) -> str:
    """A member with 12 questions, 12 answers on others' questions, articles, votes, badges."""
    from forum.services import badges

    expert = make_user(session, "expert", reputation=500)
    others = [make_user(session, reputation=100) for _ in range(4)]
    make_user(session, "onlooker")
    session.commit()
    for n in range(12):
        make_question(session, expert, tags=("python", f"topic{n % 5}"), anonymous=n % 6 == 0)
        asked = make_question(session, others[n % 4], tags=("sql", f"area{n % 3}"))
        answer = make_answer(session, asked, expert)
        session.commit()
        votes.cast(session, voter=others[(n + 1) % 4], post_id=answer.id, value=1)
        session.commit()
    make_article(session, expert, tags="python")
    make_article(session, expert, tags="ops")
    session.commit()
    badges.award(session, [expert.id])
    session.commit()
    return "expert"


@pytest.mark.parametrize("who", ["visitor", "member"])
def test_profile_is_bounded(app: Flask, browser: Browser, busy_member: str, who: str) -> None:
    """A profile's recent answers name their questions without one query per answer."""
    if who == "member":
        browser.login("onlooker")
        browser.get("/")
    with counted(app) as statements:
        response = browser.get(f"/users/{busy_member}")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    # Five recent questions and five recent answers, each answer titled by its question.
    assert page.count("How do I do thing number") >= 10
    assert len(statements) <= 8, "\n\n".join(statements)
    print(f"\nprofile ({who}): {len(statements)} statements")


@pytest.mark.parametrize(("path", "limit"), [("/questions", 3), ("/tags/python", 5)])
def test_lists_count_a_bounded_number_of_rows(
    app: Flask,
    client: Any,
    session: Session,
    monkeypatch: pytest.MonkeyPatch,
    path: str,
    limit: int,
) -> None:
    """Past questions.COUNT_LIMIT a list says "N+" instead of counting every question."""
    from forum.services import questions

    monkeypatch.setattr(questions, "COUNT_LIMIT", 35)
    author = make_user(session)
    for n in range(45):
        make_question(session, author, tags=("python", f"topic{n % 3}"))
    session.commit()
    with counted(app) as statements:
        response = client.get(path)
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert len(statements) <= limit, "\n\n".join(statements)
    print(f"\n{path} (visitor): {len(statements)} statements")
    if path == "/questions":
        # Counted up to 35 (+1 to know there are more): two pages at least, and a next link.
        assert "35+ questions" in page
        assert "Page 1 of 2+" in page and 'rel="next"' in page
    else:
        # A tag page knows its count from the tag's summary: exact, and no count of its own.
        assert "Page 1 of 2<" in page and 'rel="next"' in page
        assert not any("count(" in s.lower() and "limit" in s.lower() for s in statements)
    # The second page counts further (up to its own end) and knows it is the last.
    second = client.get(path + "?page=2").get_data(as_text=True)
    assert "Page 2 of 2<" in second and 'rel="next"' not in second
    assert second.count('class="question-summary"') == 15


def _grow_front_page_data(session: Session, member: Any, n: int) -> None:
    """Posts, tags, circles with sessions and learning paths, ``n`` of each, around ``member``."""
    import datetime as dt

    from forum.db import utcnow
    from forum.models import Role, Tag
    from forum.services import circles, paths, tags
    from forum.services.circles import CircleData, SessionData

    host = make_user(session, reputation=1000, role=Role.ADMIN)
    for k in range(n):
        name = f"area{k}"
        mine = make_question(session, member, tags=(name,), anonymous=k % 3 == 0)
        make_answer(session, mine, host)
        make_comment(session, mine, host)
        others = make_question(session, host, tags=(name, "python"))
        make_answer(session, others, member)
        make_article(session, member if k % 2 else host, tags=name)
        tag = session.query(Tag).filter_by(name=name).one()
        tags.follow(session, user=member, tag=tag)
        circle = circles.create_circle(
            session,
            facilitator=host,
            data=CircleData(name=f"Circle {k}", description_md="", tags=[name], size_limit=9),
        )
        circles.join(session, user=member, circle=circle)
        start = (utcnow() + dt.timedelta(days=k + 1)).replace(tzinfo=None)
        circles.schedule(
            session,
            actor=host,
            circle=circle,
            data=SessionData(
                title=f"Session {k}",
                kind="meeting",
                date=start.date(),
                time=start.time().replace(second=0, microsecond=0),
                timezone="UTC",
                duration_minutes=60,
                location="Room",
                link="",
                agenda_md="",
                presenter="",
            ),
        )
        path = paths.create_path(session, owner=host, title=f"Path {k}", description_md="Go")
        paths.add_step(session, path, actor=host, reference=str(others.id))
        paths.enrol(session, path, user=member)
        session.commit()


def test_member_front_page_is_bounded(app: Flask, browser: Browser, session: Session) -> None:
    """Every block of a member's front page costs the same statements, however much there is."""
    app.config["REPUTATION_THRESHOLDS"] = {"create_tags": 0}
    member = make_user(session, "regular", job_title="Engineer", bio="Hello.")
    session.commit()
    browser.login("regular")
    browser.get("/")
    measured = []
    for n in (3, 9):
        _grow_front_page_data(session, member, n)
        with counted(app) as statements:
            response = browser.get("/")
        assert response.status_code == 200
        page = response.get_data(as_text=True)
        for block in ("waiting", "latest-articles", "changes", "next-session", "paths"):
            assert f'id="{block}"' in page
        assert "Session 0" in page and "Path 0" in page
        assert len(statements) <= 8, "\n\n".join(statements)
        measured.append(len(statements))
        # Until the next write, the latest articles (with their tags) come from the kept part.
        with counted(app) as again:
            assert 'id="latest-articles"' in browser.get("/").get_data(as_text=True)
        assert len(again) <= 7, "\n\n".join(again)
    assert measured[0] == measured[1]
    print(f"\nfront page (member): {measured[0]} statements")


def test_member_front_page_with_the_onboarding_suggestion_is_bounded(
    app: Flask, browser: Browser, session: Session
) -> None:
    """A member in no path is offered their department's onboarding path: no statement more."""
    from forum.services import paths

    admin = make_user(session, "admin", role=Role.ADMIN)
    member = make_user(session, "newcomer", department="Data")
    path = paths.create_path(session, owner=admin, title="Data onboarding", description_md="Go")
    paths.set_onboarding(session, path, actor=admin, department="Data")
    tags.follow(session, user=member, tag=tags.tags_named(session, ["python"])[0])
    for n in range(4):
        make_question(session, admin, tags=("python",))
        make_article(session, admin, tags=f"python topic{n}")
    session.commit()
    browser.login("newcomer")
    browser.get("/")
    make_article(session, admin, title="Fresh from the press")
    session.commit()
    with counted(app) as statements:
        page = browser.get("/").get_data(as_text=True)
    assert "Data onboarding" in page and "Fresh from the press" in page
    assert len(statements) <= 8, "\n\n".join(statements)
    with counted(app) as again:
        browser.get("/")
    assert len(again) <= 7, "\n\n".join(again)


def test_member_article_page_is_bounded(app: Flask, browser: Browser, session: Session) -> None:
    """A member's article page: the same statements however many comments, votes and links."""
    from forum.services import articles, follows

    writer = make_user(session, "writer", reputation=1000)
    reader = make_user(session, "reader", reputation=1000)
    article = make_article(session, writer, title="Deploying on Fridays", tags="ops python")
    session.commit()
    browser.login("reader")
    measured = []
    for n in (2, 6):
        made = []
        for k in range(n):
            make_article(session, writer, body=f"See [[Deploying on Fridays]] ({k}).")
            made.append(make_comment(session, article, writer))
            make_comment(session, article, reader, parent=made[-1])
        session.commit()
        for comment in made:
            votes.cast_on_comment(session, voter=reader, comment_id=comment.id)
            session.commit()
        if n == 2:
            votes.cast(session, voter=reader, post_id=article.id, value=1)
            follows.follow(session, reader, article.id)
            articles.set_feedback(session, article, member=reader, helpful=True, comment="Nice")
            session.commit()
        with counted(app) as statements:
            response = browser.get(f"/articles/{article.slug}")
        assert response.status_code == 200
        page = response.get_data(as_text=True)
        assert "Unfollow" in page and "You answered yes" in page and "Linked from" in page
        assert len(statements) <= 8, "\n\n".join(statements)
        measured.append(len(statements))
        # Until the next write, the byline, tags and links come from the kept parts.
        with counted(app) as again:
            browser.get(f"/articles/{article.slug}")
        assert len(again) <= 5, "\n\n".join(again)
    assert measured[0] == measured[1]
    print(f"\narticle page (member): {measured[0]} statements")


def test_visitor_front_page_is_bounded(app: Flask, client: Any, session: Session) -> None:
    author = make_user(session)
    measured = []
    for n in (5, 20):
        for k in range(n):
            make_question(session, author, tags=(f"topic{k % 6}", "python"))
            make_article(session, author, tags=f"topic{k % 4}")
        session.commit()
        with counted(app) as statements:
            response = client.get("/")
        assert response.status_code == 200
        assert "Popular topics" in response.get_data(as_text=True)
        assert len(statements) <= 5, "\n\n".join(statements)
        measured.append(len(statements))
    assert measured[0] == measured[1]
    print(f"\nfront page (visitor): {measured[0]} statements")


LIST_PAGES = [
    "/questions",
    "/questions?tab=active",
    "/questions?tab=top",
    "/questions?tab=top-week",
    "/questions?tab=unanswered",
    "/questions?tab=featured",
    "/questions?tab=my-tags",
    "/tags",
    "/tags?sort=name",
    "/tags/python",
    "/tags/python?tab=unanswered",
    "/articles",
    "/articles?tag=python",
    "/articles?sort=updated",
    "/users/writer",
]


def test_list_pages_run_the_same_statements_however_much_there_is(
    app: Flask, browser: Browser, session: Session
) -> None:
    """Tripling the questions, answers, articles and tags adds no statement to any list page,
    and the tags' counts are read, never aggregated from post_tags, on the tag pages."""
    writer = make_user(session, "writer", reputation=1000)
    reader = make_user(session, "reader")
    tags.follow(session, user=reader, tag=tags.tags_named(session, ["python"])[0])
    session.commit()
    browser.login("reader")
    measured: dict[str, list[int]] = {path: [] for path in LIST_PAGES}
    made = 0
    for total in (6, 18):
        for n in range(made, total):
            question = make_question(
                session, writer, tags=("python", f"topic{n}"), anonymous=n % 4 == 0
            )
            make_answer(session, question)
            make_article(session, writer, tags=f"python area{n}")
        made = total
        session.commit()
        for path in LIST_PAGES:
            with counted(app) as statements:
                response = browser.get(path)
            assert response.status_code == 200, path
            if path in ("/tags", "/tags?sort=name", "/tags/python"):
                assert not any("post_tags" in s and "count(" in s.lower() for s in statements), (
                    path,
                    statements,
                )
            measured[path].append(len(statements))
    grown = {path: counts for path, counts in measured.items() if counts[0] != counts[1]}
    assert grown == {}
    print("\n" + "\n".join(f"{path}: {counts[0]} statements" for path, counts in measured.items()))


@pytest.mark.parametrize("who", ["writer", "moderator"])
def test_article_page_for_its_owner_or_a_moderator_is_bounded(
    app: Flask, browser: Browser, session: Session, who: str
) -> None:
    """Its owner and the moderators also read the readers' feedback notes: still the same
    statements however many notes, comments and links there are."""
    from forum.models import Role
    from forum.services import articles

    writer = make_user(session, "writer", reputation=1000)
    make_user(session, "moderator", role=Role.MODERATOR)
    article = make_article(session, writer, title="Deploying on Fridays", tags="ops python")
    session.commit()
    browser.login(who)
    measured = []
    for n in (2, 6):
        for k in range(n):
            reader = make_user(session, f"reader{n}x{k}")
            make_article(session, writer, body=f"See [[Deploying on Fridays]] ({n}, {k}).")
            make_comment(session, article, reader)
            articles.set_feedback(
                session, article, member=reader, helpful=k % 2 == 0, comment=f"Note {n}.{k}"
            )
        session.commit()
        with counted(app) as statements:
            response = browser.get(f"/articles/{article.slug}")
        assert response.status_code == 200
        page = response.get_data(as_text=True)
        assert f"Note {n}.{n - 1}" in page and "Linked from" in page
        # A member's 8, the notes with their writers, and a moderator's open flag count.
        assert len(statements) <= (9 if who == "writer" else 10), "\n\n".join(statements)
        measured.append(len(statements))
    assert measured[0] == measured[1]
    print(f"\narticle page ({who}): {measured[0]} statements")
