"""The department list: admins add, rename, merge and remove; members pick from it."""

from __future__ import annotations

from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from forum.models import Department, Role, User
from tests.conftest import Browser
from tests.factories import make_user


def _ids(session: Session) -> dict[str, int]:
    session.rollback()  # see what the requests committed
    return {d.name: d.id for d in session.scalars(select(Department))}


def test_admins_manage_the_list(browser: Browser, session: Session) -> None:
    make_user(session, "admin", role=Role.ADMIN)
    make_user(session, "ann", department="Engineering")
    make_user(session, "bob", department="Dev")
    session.commit()
    browser.login("admin")
    page = browser.get("/admin/departments").get_data(as_text=True)
    assert "Engineering" in page and "1 member" in page

    # A clash keeps the typed text and says why.
    response = browser.post("/admin/departments", {"name": "engineering "})
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "Engineering is already a department" in page and 'value="engineering "' in page
    assert browser.post("/admin/departments", {"name": ""}).status_code == 400
    assert browser.post("/admin/departments", {"name": "Sales"}).status_code == 302

    ids = _ids(session)
    assert set(ids) == {"Engineering", "Dev", "Sales"}
    dev = ids["Dev"]
    response = browser.post(f"/admin/departments/{dev}/rename", {f"rename{dev}-name": "Developers"})
    assert response.status_code == 302
    response = browser.post(
        f"/admin/departments/{dev}/merge", {f"merge{dev}-into": str(ids["Engineering"])}
    )
    assert response.status_code == 302
    assert browser.post(f"/admin/departments/{ids['Sales']}/remove").status_code == 302
    assert set(_ids(session)) == {"Engineering"}
    bob = session.scalars(select(User).where(User.username == "bob")).one()
    assert bob.department == "Engineering"
    assert browser.post("/admin/departments/9999/remove").status_code == 404


def test_members_and_visitors_cannot_manage_it(browser: Browser, session: Session) -> None:
    make_user(session, "ann", department="Engineering")
    session.commit()
    assert browser.get("/admin/departments").status_code == 302  # to the login page
    browser.login("ann")
    assert browser.get("/admin/departments").status_code == 403
    assert browser.post("/admin/departments", {"name": "Mine"}).status_code == 403
    assert set(_ids(session)) == {"Engineering"}


def test_the_profile_offers_the_list(browser: Browser, session: Session) -> None:
    make_user(session, "ann")
    make_user(session, "bob", department="Engineering")
    make_user(session, "cy", department="Sales")
    session.commit()
    browser.login("ann")
    page = browser.get("/settings/profile").get_data(as_text=True)
    assert '<select id="department" name="department">' in page
    assert '<option value="Engineering">Engineering</option>' in page
    form = {"display_name": "Ann", "email": "ann@example.com", "bio": "Kept bio"}
    response = browser.post("/settings/profile", {**form, "department": "Marketing"})
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "Choose a department from the list." in page and "Kept bio" in page
    assert browser.post("/settings/profile", {**form, "department": "Sales"}).status_code == 302
    session.rollback()
    ann = session.scalars(select(User).where(User.username == "ann")).one()
    assert ann.department == "Sales"


def test_users_create_adds_or_reuses_the_department(app: Flask, session: Session) -> None:
    make_user(session, "ann", department="Engineering")
    session.commit()
    runner = app.test_cli_runner()
    for username, department in (("bob", "engineering"), ("cyd", "Legal")):
        args = ["users", "create", "--username", username, "--email", f"{username}@example.com"]
        args += ["--display-name", username.title(), "--password", "a long test password"]
        result = runner.invoke(args=[*args, "--department", department])
        assert result.exit_code == 0, result.output
    assert set(_ids(session)) == {"Engineering", "Legal"}
    bob = session.scalars(select(User).where(User.username == "bob")).one()
    assert bob.department == "Engineering"


def test_the_header_groups_programme_and_staff_pages(browser: Browser, session: Session) -> None:
    make_user(session, "admin", role=Role.ADMIN)
    session.commit()
    page = browser.get("/").get_data(as_text=True)
    # The brand link's name is its visible text ("forum"), then " home" for screen readers.
    assert 'aria-label="forum home"' not in page
    assert '<summary class="nav-group__toggle">Programmes</summary>' in page
    assert "Departments" not in page
    browser.login("admin")
    page = browser.get("/mentoring").get_data(as_text=True)
    assert "nav-group__toggle--current" in page
    assert 'href="/admin/departments">Departments</a>' in page
