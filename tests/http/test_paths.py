"""Learning path pages: creating, curating without JavaScript, enrolling, authorisation."""

from __future__ import annotations

import re

from sqlalchemy import select
from sqlalchemy.orm import Session

from forum.models import BadgeAward, LearningPath, PathStep, Role
from forum.services import paths
from tests.conftest import Browser
from tests.factories import make_article, make_question, make_user


def step_titles(page: str) -> list[str]:
    return re.findall(r'<li id="step-\d+"[^>]*>.*?<a href="[^"]+">([^<]+)</a>', page, re.S)


def test_an_owner_builds_and_reorders_a_path(browser: Browser, session: Session) -> None:
    owner = make_user(session, "owner")
    article = make_article(session, owner, title="Laptop setup for engineers")
    question = make_question(session, owner, title="How do I get access to staging?")
    session.commit()
    browser.login("owner")
    assert browser.post("/paths/new", {"title": "", "description": "Hi"}).status_code == 400
    created = browser.post(
        "/paths/new", {"title": "Engineering onboarding", "description": "Start **here**"}
    )
    assert created.status_code == 302
    url = created.headers["Location"]
    browser.post(f"{url}/steps", {"reference": f"http://localhost/articles/{article.slug}"})
    browser.post(f"{url}/steps", {"reference": f"/questions/{question.id}"})
    page = browser.get(url).get_data(as_text=True)
    assert "<strong>here</strong>" in page
    assert step_titles(page) == ["Laptop setup for engineers", "How do I get access to staging?"]

    bad = browser.post(f"{url}/steps", {"reference": "https://elsewhere.example/page"})
    assert bad.status_code == 400
    assert "https://elsewhere.example/page" in bad.get_data(as_text=True)

    second = session.scalars(select(PathStep).where(PathStep.post_id == question.id)).one()
    assert browser.post(f"{url}/steps/{second.id}/move", {"direction": "up"}).status_code == 302
    assert step_titles(browser.get(url).get_data(as_text=True))[0].startswith("How do I")
    assert browser.post(f"{url}/steps/{second.id}/move", {"direction": "left"}).status_code == 400
    assert browser.post(f"{url}/steps/{second.id}/remove").status_code == 302
    assert step_titles(browser.get(url).get_data(as_text=True)) == ["Laptop setup for engineers"]


def test_members_cannot_edit_another_members_path(browser: Browser, session: Session) -> None:
    owner = make_user(session, "owner")
    make_user(session, "other")
    make_user(session, "mod", role=Role.MODERATOR)
    question = make_question(session, owner)
    path = paths.create_path(session, owner=owner, title="Owned", description_md="")
    step = paths.add_step(session, path, actor=owner, reference=str(question.id))
    session.commit()
    url = f"/paths/{path.id}"
    browser.login("other")
    assert "Add a step" not in browser.get(url).get_data(as_text=True)
    assert browser.get(f"{url}/edit").status_code == 403
    assert browser.post(f"{url}/edit", {"title": "Mine"}).status_code == 403
    assert browser.post(f"{url}/steps", {"reference": str(question.id)}).status_code == 403
    assert browser.post(f"{url}/steps/{step.id}/move", {"direction": "up"}).status_code == 403
    assert browser.post(f"{url}/steps/{step.id}/remove").status_code == 403
    assert browser.post(f"{url}/delete").status_code == 403
    assert browser.post(f"{url}/onboarding", {"department": "Sales"}).status_code == 403
    browser.logout()
    browser.login("mod")
    saved = browser.post(f"{url}/edit", {"title": "Tidied", "description": ""})
    assert saved.status_code == 302, saved.get_data(as_text=True)
    assert saved.headers["Location"].endswith(url), saved.headers["Location"]
    assert session.scalar(select(LearningPath.title)) == "Tidied"
    assert browser.get("/paths/999999").status_code == 404


def test_enrol_tick_steps_and_finish(browser: Browser, session: Session) -> None:
    owner = make_user(session)
    learner = make_user(session, "learner")
    path = paths.create_path(session, owner=owner, title="SQL basics", description_md="")
    steps = [
        paths.add_step(session, path, actor=owner, reference=str(make_question(session).id))
        for _ in range(2)
    ]
    session.commit()
    url = f"/paths/{path.id}"
    browser.login("learner")
    refused = browser.post(f"{url}/steps/{steps[0].id}/done", {"done": "1"})
    assert refused.status_code == 409
    assert "Enrol in this path before ticking its steps." in refused.get_data(as_text=True)
    assert browser.post(f"{url}/enrol").status_code == 302
    assert browser.post(f"{url}/steps/{steps[0].id}/done", {"done": "1"}).status_code == 302
    page = browser.get(url).get_data(as_text=True)
    assert "1 of 2 done · 50%" in page
    assert "1 of 2 done" in browser.get("/paths").get_data(as_text=True)
    done = browser.post(
        f"{url}/steps/{steps[1].id}/done", {"done": "1"}, follow_redirects=True
    ).get_data(as_text=True)
    assert "2 of 2 done · 100%" in done and "You finished" in done
    session.rollback()
    finishers = session.scalars(
        select(BadgeAward.user_id).where(BadgeAward.badge_key == "path_finisher")
    ).all()
    assert finishers == [learner.id]
    assert browser.post(f"{url}/steps/{steps[1].id}/done", {"done": "x"}).status_code == 400
    assert browser.post(f"{url}/leave").status_code == 302
    assert browser.post(f"{url}/leave").status_code == 409


def test_admins_choose_a_departments_onboarding_path(browser: Browser, session: Session) -> None:
    make_user(session, "admin", role=Role.ADMIN)
    make_user(session, "newbie", department="Sales")
    path = paths.create_path(
        session, owner=make_user(session), title="Sales 101", description_md=""
    )
    session.commit()
    browser.login("admin")
    assert browser.post(f"/paths/{path.id}/onboarding", {"department": "Sales"}).status_code == 302
    browser.logout()
    browser.login("newbie")
    listing = browser.get("/paths").get_data(as_text=True)
    assert "Suggested for new members of Sales" in listing and "Sales 101" in listing


def test_visitors_can_read_but_not_enrol(browser: Browser, session: Session) -> None:
    path = paths.create_path(
        session, owner=make_user(session), title="Public path", description_md=""
    )
    session.commit()
    assert "Public path" in browser.get("/paths").get_data(as_text=True)
    assert "Log in" in browser.get(f"/paths/{path.id}").get_data(as_text=True)
    response = browser.post(f"/paths/{path.id}/enrol")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
