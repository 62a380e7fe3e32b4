"""/gaps and /requests through the test client: figures, filters, the request lifecycle."""

from __future__ import annotations

import datetime as dt
import re

from sqlalchemy import select
from sqlalchemy.orm import Session

from forum.models import BadgeAward, RequestStatus, TutorialRequest, ZeroResultQuery
from forum.models.notifications import Notification
from forum.services import tutorial_requests
from tests.conftest import Browser
from tests.factories import (
    make_user,
    search_answer,
    search_article,
    search_question,
    search_tags,
)


def _text(html: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def test_gaps_page_shows_figures_and_accessible_charts(browser: Browser, session: Session) -> None:
    asker = make_user(session, department="Support")
    helper = make_user(session, department="Sales")
    answered = search_question(session, asker, "How do refunds work?", tags=("billing",))
    search_answer(session, answered, helper, "Like this.", score=4)
    search_question(session, asker, "Who approves refunds?", tags=("billing",))
    session.commit()
    response = browser.get("/gaps")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    text = _text(html)
    # billing: 2 questions, 1 unanswered (50%), no article, one member can help.
    # need = (2×1 + 2) / (1 + 1) = 2.0
    assert "billing 2.0 2 1 (50.0%)" in text
    assert 'role="img"' in html and "<title id=" in html and "<desc id=" in html
    assert "The figures as a table" in html
    assert 'href="/static/css/gaps.css"' in html
    assert browser.get("/gaps?department=Support").status_code == 200
    assert "billing" not in _text(browser.get("/gaps?department=Sales").get_data(as_text=True))
    assert browser.get("/gaps?department=Nowhere").status_code == 400


def test_hostile_names_are_escaped(browser: Browser, session: Session) -> None:
    evil = "<script>alert(1)</script>"
    asker = make_user(session, department=evil)
    search_question(session, asker, "Anything at all?", tags=("<img src=x onerror=1>",))
    session.commit()
    html = browser.get("/gaps").get_data(as_text=True)
    assert evil not in html and "<img src=x" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&lt;img src=x onerror=1&gt;" in html


def test_request_lifecycle(browser: Browser, session: Session) -> None:
    search_tags(session, ["postgresql"])
    make_user(session, "asker")
    make_user(session, "fan")
    author = make_user(session, "author")
    asker_question = search_question(session, author, "A question, not an article")
    article = search_article(session, author, "EXPLAIN explained", article_type="tutorial")
    session.commit()

    assert browser.get("/requests/new").status_code == 302
    browser.login("asker")
    bad = browser.post("/requests/new", {"title": "short", "details": "*keep me*", "tags": ""})
    assert bad.status_code == 400
    assert "*keep me*" in bad.get_data(as_text=True)
    created = browser.post(
        "/requests/new",
        {"title": "Reading EXPLAIN output", "details": "With *examples*.", "tags": "postgresql"},
    )
    assert created.status_code == 302
    request = session.scalars(select(TutorialRequest)).one()
    assert created.headers["Location"].endswith(f"/requests/{request.id}")
    page = browser.get(f"/requests/{request.id}").get_data(as_text=True)
    assert "<em>examples</em>" in page
    assert browser.post(f"/requests/{request.id}/plus-one").status_code == 403
    browser.logout()

    browser.login("fan")
    assert browser.post(f"/requests/{request.id}/plus-one").status_code == 302
    assert browser.post(f"/requests/{request.id}/plus-one").status_code == 409
    listing = _text(browser.get("/requests").get_data(as_text=True))
    assert "1 +1s Reading EXPLAIN output" in listing and "Undo +1" in listing
    assert (
        browser.post(f"/requests/{request.id}/fulfil", {"article": article.slug}).status_code == 403
    )
    browser.logout()

    browser.login("author")
    wrong = browser.post(
        f"/requests/{request.id}/fulfil", {"article": f"/questions/{asker_question.id}"}
    )
    assert wrong.status_code == 400
    assert "That is a question, not a tip or tutorial." in wrong.get_data(as_text=True)
    done = browser.post(f"/requests/{request.id}/fulfil", {"article": f"/articles/{article.slug}"})
    assert done.status_code == 302
    session.rollback()
    assert request.status is RequestStatus.PROPOSED and request.article_id == article.id
    proposed = _text(browser.get(f"/requests/{request.id}").get_data(as_text=True))
    assert "Proposed EXPLAIN explained" in proposed and "Confirm" not in proposed
    assert browser.post(f"/requests/{request.id}/confirm").status_code == 403
    browser.logout()

    browser.login("asker")
    assert "Confirm" in browser.get(f"/requests/{request.id}").get_data(as_text=True)
    assert browser.post(f"/requests/{request.id}/confirm").status_code == 302
    session.rollback()
    assert request.status is RequestStatus.FULFILLED and request.article_id == article.id
    told = session.scalars(
        select(Notification.recipient_id).where(Notification.kind == "request_fulfilled")
    ).all()
    assert len(told) == 2  # the asker, about the proposal; the fan, about the tutorial
    article_page = _text(browser.get(f"/articles/{article.slug}").get_data(as_text=True))
    assert "Fulfils tutorial requests Reading EXPLAIN output (1 +1s)" in article_page
    fulfilled = _text(browser.get("/requests?status=fulfilled").get_data(as_text=True))
    assert "fulfilled by EXPLAIN explained" in fulfilled
    assert browser.get("/requests?status=closed").status_code == 400
    assert browser.get("/requests/999999").status_code == 404
    assert browser.post(f"/requests/{request.id}/plus-one/undo").status_code == 409


def _gap_fillers(session: Session) -> list[int]:
    session.rollback()  # see what the requests committed
    return list(
        session.scalars(select(BadgeAward.user_id).where(BadgeAward.badge_key == "gap_filler"))
    )


def test_confirm_and_reopen_routes_check_who_and_csrf(browser: Browser, session: Session) -> None:
    search_tags(session, ["postgresql"])
    asker = make_user(session, "asker")
    author = make_user(session, "author")
    make_user(session, "fan")
    article = search_article(session, author, "EXPLAIN explained", article_type="tutorial")
    request = tutorial_requests.create(
        session, requester=asker, title="Reading EXPLAIN output", details_md="", tags=["postgresql"]
    )
    session.commit()
    path = f"/requests/{request.id}"
    assert browser.post(f"{path}/confirm").status_code == 302  # a visitor logs in first
    browser.login("author")
    assert browser.post(f"{path}/fulfil", {"article": article.slug}).status_code == 302
    assert browser.post(f"{path}/confirm").status_code == 403  # not by the author alone
    assert _gap_fillers(session) == []  # a proposal earns nothing yet
    browser.logout()

    browser.login("fan")
    assert browser.post(f"{path}/confirm").status_code == 403
    assert browser.post(f"{path}/reopen").status_code == 403
    browser.logout()

    browser.login("asker")
    assert browser.client.post(f"{path}/confirm").status_code == 400  # no CSRF token
    assert browser.post(f"{path}/confirm").status_code == 302
    assert browser.post(f"{path}/confirm").status_code == 409
    assert _gap_fillers(session) == [author.id]
    page = _text(browser.get(path).get_data(as_text=True))
    assert "Reopen the request" in page
    assert browser.post(f"{path}/reopen").status_code == 302
    session.rollback()
    assert request.status is RequestStatus.OPEN and request.article_id is None
    assert browser.post(f"{path}/reopen").status_code == 409
    assert browser.post("/requests/999999/confirm").status_code == 404
    assert browser.post("/requests/999999/reopen").status_code == 404


def test_search_failures_grouped_with_the_question_asked_after(
    browser: Browser, session: Session
) -> None:
    search_tags(session, ["docker"])
    alice, bob = make_user(session, "alice"), make_user(session, "bob")
    session.commit()
    browser.get("/search?q=deploying+docker+wibblefrotz")  # a visitor: not recorded
    browser.login("alice")
    browser.get("/search?q=Deploying+Docker+wibblefrotz")
    browser.logout()
    browser.login("bob")
    browser.get("/search?q=wibblefrotz+docker+deployment")
    session.rollback()
    rows = {r.user_id: r for r in session.scalars(select(ZeroResultQuery))}
    assert rows.keys() == {alice.id, bob.id}
    assert rows[alice.id].stems == rows[bob.id].stems == "deploy docker wibblefrotz"
    searched = rows[alice.id].created_at
    soon = search_question(session, alice, "Deploying the wibblefrotz image", tags=("docker",))
    soon.created_at = searched + dt.timedelta(minutes=20)
    masked = search_question(session, alice, "Masked wibblefrotz question", anonymous=True)
    masked.created_at = searched + dt.timedelta(minutes=5)
    late = search_question(session, bob, "Much later wibblefrotz question")
    late.created_at = rows[bob.id].created_at + dt.timedelta(hours=2)
    session.commit()

    page = browser.get("/gaps?period=7").get_data(as_text=True)
    section = _text(page.split('id="search-failures"')[1].split("How need is computed")[0])
    assert "wibblefrotz docker deployment docker 2 2 Deploying the wibblefrotz image" in section
    assert f'href="/questions/{soon.id}"' in page
    assert "Masked" not in page and "Much later" not in page
    assert "Deploying the wibblefrotz" in browser.get("/gaps?tag=docker").get_data(as_text=True)
    assert "No search came back empty" in browser.get("/gaps?tag=python").get_data(as_text=True)
    assert browser.get("/gaps?period=5").status_code == 400
