"""The article life cycle through the test client: manage page, confirmations, the CLI."""

from __future__ import annotations

import datetime as dt

from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from forum.db import utcnow
from forum.models import Article, AuditLog, Notification
from tests.conftest import Browser
from tests.factories import make_article, make_user


def test_unpublish_needs_a_confirmation_and_leaves_a_draft(
    browser: Browser, session: Session
) -> None:
    author = make_user(session, "ann")
    make_user(session, "rex")
    article = make_article(session, author, title="Team rituals")
    session.commit()
    browser.login("ann")
    page = browser.get("/articles/team-rituals").get_data(as_text=True)
    assert 'href="/articles/team-rituals/manage"' in page
    manage = browser.get("/articles/team-rituals/manage").get_data(as_text=True)
    assert 'href="/articles/team-rituals/unpublish"' in manage
    assert browser.get("/articles/team-rituals/unpublish").status_code == 200
    refused = browser.post("/articles/team-rituals/unpublish", {"reason": "Stale"})
    assert refused.status_code == 400
    assert "Tick the box to confirm." in refused.get_data(as_text=True)
    assert 'value="Stale"' in refused.get_data(as_text=True)
    done = browser.post("/articles/team-rituals/unpublish", {"reason": "Stale", "confirm": "y"})
    assert done.status_code == 302
    draft = browser.get("/articles/team-rituals").get_data(as_text=True)
    assert "This article is unpublished" in draft
    assert browser.get("/articles/team-rituals/edit").status_code == 200
    browser.logout()
    browser.login("rex")
    assert browser.get("/articles/team-rituals").status_code == 404
    assert browser.get("/articles/team-rituals/manage").status_code == 404
    browser.logout()
    browser.login("ann")
    assert browser.post("/articles/team-rituals/publish").status_code == 302
    session.expire_all()
    assert session.get(Article, article.id).deleted_at is None  # type: ignore[union-attr]
    actions = session.scalars(select(AuditLog.action).order_by(AuditLog.id)).all()
    assert actions == ["article.unpublish", "article.publish"]


def test_delete_after_confirmation_and_only_by_managers(browser: Browser, session: Session) -> None:
    author = make_user(session, "ann")
    make_user(session, "rex")
    article = make_article(session, author, title="Old wiki page")
    session.commit()
    browser.login("rex")
    assert browser.get("/articles/old-wiki-page/manage").status_code == 403
    assert browser.post("/articles/old-wiki-page/delete", {"confirm": "y"}).status_code == 403
    browser.logout()
    browser.login("ann")
    response = browser.post("/articles/old-wiki-page/delete", {"confirm": "y"})
    assert response.status_code == 302 and response.headers["Location"].endswith("/articles")
    session.expire_all()
    assert session.get(Article, article.id).is_deleted  # type: ignore[union-attr]
    assert browser.get("/articles/old-wiki-page/manage").status_code == 404
    assert session.scalar(select(AuditLog.action)) == "article.delete"


def test_hand_over_and_review_date_from_the_manage_page(browser: Browser, session: Session) -> None:
    author = make_user(session, "ann")
    heir = make_user(session, "bo", display_name="Bo Heir")
    article = make_article(session, author, title="On call")
    session.commit()
    browser.login("ann")
    wrong = browser.post("/articles/on-call/owner", {"username": "nobody"})
    assert wrong.status_code == 400
    assert "Choose an active member by their username." in wrong.get_data(as_text=True)
    assert browser.post("/articles/on-call/owner", {"username": "bo"}).status_code == 302
    past = browser.post("/articles/on-call/review-by", {"review_by": "2001-01-01"})
    assert past.status_code == 400 and "Choose a date after today." in past.get_data(as_text=True)
    day = (utcnow() + dt.timedelta(days=30)).date()
    assert (
        browser.post("/articles/on-call/review-by", {"review_by": day.isoformat()}).status_code
        == 302
    )
    session.expire_all()
    saved = session.get(Article, article.id)
    assert saved is not None and saved.owner_id == heir.id
    assert saved.review_by is not None and saved.review_by.date() == day
    assert "owned by" in browser.get("/articles/on-call").get_data(as_text=True)


def test_notify_stale_command_tells_owners_once(app: Flask, session: Session) -> None:
    owner = make_user(session)
    article = make_article(session, owner, title="Legacy deploys")
    article.review_by = utcnow() - dt.timedelta(days=1)
    session.commit()
    runner = app.test_cli_runner()
    first = runner.invoke(args=["articles", "notify-stale"])
    assert first.exit_code == 0, first.output
    assert "Told the owners of 1 stale article." in first.output
    again = runner.invoke(args=["articles", "notify-stale"])
    assert "Told the owners of 0 stale articles." in again.output
    session.expire_all()
    told = session.scalars(
        select(Notification.params).where(
            Notification.recipient_id == owner.id, Notification.kind == "article"
        )
    ).all()
    assert told == [{"slug": article.slug}]
