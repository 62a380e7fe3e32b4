"""Bounty pages: starting one, the question and lists showing it, awarding, settling on view."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from forum.db import utcnow
from forum.models import Bounty, BountyStatus, Notification, Question, User
from forum.services import bounties, votes
from tests.conftest import Browser
from tests.factories import make_answer, make_question, make_user


@pytest.fixture
def app_config(app_config: dict[str, Any]) -> dict[str, Any]:
    """An up vote on an answer earns 100 with no daily cap: members get rich legitimately."""
    app_config["REPUTATION_RULES"] = {"answer_upvoted": 100, "daily_cap": 0}
    return app_config


def rich(session: Session, username: str, points: int = 300) -> User:
    member = make_user(session, username)
    reply = make_answer(session, make_question(session), member)
    for _ in range(points // 100):
        votes.cast(session, voter=make_user(session), post_id=reply.id, value=1)
    return member


def old_question(session: Session, author: User | None = None, **kw: Any) -> Question:
    question: Question = make_question(
        session, author or make_user(session), title="Why does the nightly build fail?", **kw
    )
    question.created_at = utcnow() - dt.timedelta(days=3)
    session.flush()
    return question


def start_url(question: Question) -> str:
    return f"/questions/{question.id}/bounty"


def test_starting_a_bounty_shows_it_on_the_question_and_in_lists(
    browser: Browser, session: Session
) -> None:
    rich(session, "offerer")
    question = old_question(session)
    session.commit()
    browser.login("offerer")
    page = browser.get(f"/questions/{question.id}").get_data(as_text=True)
    assert "Start a bounty" in page
    form = browser.get(start_url(question)).get_data(as_text=True)
    assert 'name="amount"' in form and "Draw attention" in form
    response = browser.post(start_url(question), {"amount": "100", "reason": "attention"})
    assert response.status_code == 302
    page = browser.get(f"/questions/{question.id}").get_data(as_text=True)
    assert re.search(r"\+100</strong> bounty, ends in 6 days", page)
    assert "Start a bounty" not in page
    listed = browser.get("/questions").get_data(as_text=True)
    assert 'class="bounty-marker"' in listed and "+100" in listed
    featured = browser.get("/questions?tab=featured").get_data(as_text=True)
    assert featured.count('class="question-summary"') == 1
    assert question.title in featured
    profile = session.scalar(select(User.reputation).where(User.username == "offerer"))
    assert profile == 200


def test_an_empty_featured_tab_explains_bounties(browser: Browser) -> None:
    page = browser.get("/questions?tab=featured").get_data(as_text=True)
    assert "No question has an open bounty" in page


@pytest.mark.parametrize(
    ("amount", "message"),
    [("25", "in steps of 50"), ("550", "in steps of 50"), ("300", "offer at most 250")],
)
def test_a_wrong_amount_answers_400_and_keeps_the_choices(
    browser: Browser, session: Session, amount: str, message: str
) -> None:
    rich(session, "offerer")
    question = old_question(session)
    session.commit()
    browser.login("offerer")
    response = browser.post(start_url(question), {"amount": amount, "reason": "outdated"})
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert message in page
    assert re.search(r'value="outdated"[^>]*checked|checked[^>]*value="outdated"', page)
    assert session.scalar(select(Bounty.id)) is None


def test_a_missing_reason_answers_400_and_keeps_the_amount(
    browser: Browser, session: Session
) -> None:
    rich(session, "offerer")
    question = old_question(session)
    session.commit()
    browser.login("offerer")
    response = browser.post(start_url(question), {"amount": "150"})
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "Choose why you start the bounty." in page
    assert re.search(r'selected[^>]*value="150"|value="150"[^>]*selected', page)


def test_starting_needs_a_csrf_token(browser: Browser, session: Session) -> None:
    rich(session, "offerer")
    question = old_question(session)
    session.commit()
    browser.login("offerer")
    response = browser.client.post(
        start_url(question), data={"amount": "100", "reason": "attention"}
    )
    assert response.status_code == 400
    assert session.scalar(select(Bounty.id)) is None


def test_refusals(browser: Browser, session: Session) -> None:
    rich(session, "offerer")
    make_user(session, "poor")
    question = old_question(session)
    young = make_question(session)
    session.commit()
    # Visitors log in first.
    assert browser.get(start_url(question)).status_code == 302
    browser.login("poor")
    refused = browser.post(start_url(question), {"amount": "50", "reason": "attention"})
    assert refused.status_code == 403 and "You need 75 reputation" in refused.get_data(as_text=True)
    assert "You need 75 reputation" in browser.get(start_url(question)).get_data(as_text=True)
    browser.logout()
    browser.login("offerer")
    too_young = browser.post(start_url(young), {"amount": "50", "reason": "attention"})
    assert too_young.status_code == 409
    assert browser.get("/questions/999999/bounty").status_code == 404
    assert browser.post("/answers/999999/bounty").status_code == 404


def test_the_offerer_awards_an_answer_after_confirming(browser: Browser, session: Session) -> None:
    offerer = rich(session, "offerer")
    question = old_question(session)
    answerer = make_user(session, "answerer")
    reply = make_answer(session, question, answerer)
    make_user(session, "other")
    bounties.start(session, offerer=offerer, question_id=question.id, amount=100, reason="reward")
    session.commit()
    browser.login("other")
    page = browser.get(f"/questions/{question.id}").get_data(as_text=True)
    assert "Award bounty" not in page
    assert browser.post(f"/answers/{reply.id}/bounty").status_code == 403
    browser.logout()
    browser.login("offerer")
    page = browser.get(f"/questions/{question.id}").get_data(as_text=True)
    assert f'href="/answers/{reply.id}/bounty"' in page
    confirm = browser.get(f"/answers/{reply.id}/bounty").get_data(as_text=True)
    assert "Award your +100 bounty?" in confirm
    done = browser.post(f"/answers/{reply.id}/bounty")
    assert done.status_code == 302
    page = browser.get(f"/questions/{question.id}").get_data(as_text=True)
    assert 'class="bounty-mark"' in page and "+100 bounty" in page
    assert "Award bounty" not in page
    session.expire_all()
    assert session.get(User, answerer.id).reputation == 100  # type: ignore[union-attr]
    told = session.scalars(
        select(Notification.text).where(Notification.recipient_id == answerer.id)
    ).all()
    assert any("awarded a +100 bounty" in text for text in told)
    # Awarding again finds no open bounty.
    assert browser.post(f"/answers/{reply.id}/bounty").status_code == 409


def test_the_anonymous_asker_is_refused_a_bounty_on_their_own_question(
    browser: Browser, session: Session
) -> None:
    asker = rich(session, "asker")
    question = old_question(session, asker, anonymous=True)
    session.commit()
    before = asker.reputation
    browser.login("asker")
    page = browser.get(f"/questions/{question.id}").get_data(as_text=True)
    assert "Start a bounty" not in page
    refused = browser.post(start_url(question), {"amount": "50", "reason": "attention"})
    assert refused.status_code == 403
    assert "You asked this question anonymously" in refused.get_data(as_text=True)
    session.expire_all()
    assert session.get(User, asker.id).reputation == before  # type: ignore[union-attr]
    assert bounties.open_bounty(session, question.id) is None


def test_viewing_a_question_settles_its_bounty_when_due(browser: Browser, session: Session) -> None:
    offerer = rich(session, "offerer")
    question = old_question(session)
    bounty = bounties.start(
        session, offerer=offerer, question_id=question.id, amount=50, reason="attention"
    )
    bounty.ends_at = utcnow() - dt.timedelta(days=2)
    session.commit()
    page = browser.get(f"/questions/{question.id}").get_data(as_text=True)
    assert "bounty, ends" not in page
    session.expire_all()
    assert session.get(Bounty, bounty.id).status is BountyStatus.EXPIRED  # type: ignore[union-attr]


def test_the_notification_settings_offer_the_bounty_kind(
    browser: Browser, session: Session
) -> None:
    make_user(session, "member")
    session.commit()
    browser.login("member")
    page = browser.get("/settings/notifications").get_data(as_text=True)
    assert "Bounties on my questions and awarded to my answers" in page
