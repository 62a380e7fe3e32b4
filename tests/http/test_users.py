"""The member directory, profiles and one's own settings."""

from __future__ import annotations

from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from forum.models import User
from tests.conftest import TEST_PASSWORD, Browser
from tests.factories import make_user


def test_profile_shows_the_member(browser: Browser, session: Session) -> None:
    make_user(
        session,
        "priya",
        display_name="Priya Raman",
        department="Engineering",
        job_title="Backend Engineer",
        bio="Ask me about <SQL>.",
    )
    session.commit()
    page = browser.get("/users/PRIYA").get_data(as_text=True)
    assert "Priya Raman" in page and "Backend Engineer" in page and "Engineering" in page
    assert "Ask me about &lt;SQL&gt;." in page
    assert 'aria-hidden="true">PR<' in page


def test_unknown_profile_is_404_in_the_layout(browser: Browser) -> None:
    response = browser.get("/users/ghost")
    assert response.status_code == 404
    assert "Page not found" in response.get_data(as_text=True)


def test_people_directory_filters_by_department_and_name(
    browser: Browser, session: Session
) -> None:
    make_user(session, "sofia", display_name="Sofia Rossi", department="Sales")
    make_user(session, "grace", display_name="Grace Kim", department="HR")
    session.commit()
    page = browser.get("/users?department=Sales").get_data(as_text=True)
    assert "Sofia Rossi" in page and "Grace Kim" not in page
    page = browser.get("/users?q=grace").get_data(as_text=True)
    assert "Grace Kim" in page and "Sofia Rossi" not in page
    assert browser.get("/users?page=0").status_code == 400
    assert browser.get("/users?page=abc").status_code == 400


def test_edit_profile(browser: Browser, session: Session) -> None:
    user = make_user(session, "tom")
    make_user(session, "other", email="other@example.com", department="Eng")
    session.commit()
    browser.login("tom")
    response = browser.post(
        "/settings/profile",
        {
            "display_name": "Tom Becker",
            "email": "other@example.com",
            "department": "Eng",
            "job_title": "",
            "bio": "Learning k8s",
        },
    )
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "This email is already taken." in page and "Learning k8s" in page
    response = browser.post(
        "/settings/profile",
        {
            "display_name": "Tom Becker",
            "email": "tom@example.com",
            "department": "Eng",
            "job_title": "Developer",
            "bio": "Learning k8s",
        },
    )
    assert response.status_code == 302
    session.refresh(user)
    assert (user.display_name, user.department, user.job_title, user.bio) == (
        "Tom Becker",
        "Eng",
        "Developer",
        "Learning k8s",
    )


def test_password_change_logs_out_other_devices(
    browser: Browser, client: FlaskClient, session: Session
) -> None:
    make_user(session, "tom")
    session.commit()
    other_device = Browser(client.application.test_client())
    other_device.login("tom")
    browser.login("tom")
    bad = browser.post(
        "/settings/password", {"current_password": "wrong", "new_password": "new passphrase here"}
    )
    assert bad.status_code == 400
    assert "This is not your current password." in bad.get_data(as_text=True)
    ok = browser.post(
        "/settings/password",
        {"current_password": TEST_PASSWORD, "new_password": "new passphrase here"},
    )
    assert ok.status_code == 302
    assert "Log out" in browser.get("/").get_data(as_text=True)
    assert "Log out" not in other_device.get("/").get_data(as_text=True)
    browser.logout()
    assert browser.login("tom", TEST_PASSWORD).status_code == 200
    assert browser.login("tom", "new passphrase here").status_code == 302


def test_only_the_owner_sees_edit_links(browser: Browser, session: Session) -> None:
    make_user(session, "tom")
    make_user(session, "mei")
    session.commit()
    browser.login("tom")
    assert "Edit profile" in browser.get("/users/tom").get_data(as_text=True)
    assert "Edit profile" not in browser.get("/users/mei").get_data(as_text=True)


def test_settings_always_edit_the_logged_in_member(browser: Browser, session: Session) -> None:
    make_user(session, "tom")
    mei = make_user(session, "mei", display_name="Mei Chen")
    session.commit()
    browser.login("tom")
    browser.post(
        "/settings/profile?user=mei", {"display_name": "Hijacked", "email": "tom@example.com"}
    )
    session.expire_all()
    assert session.get(User, mei.id).display_name == "Mei Chen"  # type: ignore[union-attr]


def test_a_display_name_imitating_a_label_is_refused_with_the_text_kept(
    browser: Browser, session: Session
) -> None:
    user = make_user(session, "tom", display_name="Tom Becker")
    session.commit()
    browser.login("tom")
    response = browser.post(
        "/settings/profile",
        {"display_name": "Anonymous c\u043ellеague", "email": "tom@example.com", "bio": "Kept bio"},
    )
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "looks like a label the forum uses" in page
    assert 'value="Anonymous c\u043ellеague"' in page and "Kept bio" in page
    session.refresh(user)
    assert user.display_name == "Tom Becker"
    registered = Browser(browser.client.application.test_client()).register(
        "newbie", display_name="Former member"
    )
    assert registered.status_code == 400
    assert "looks like a label the forum uses" in registered.get_data(as_text=True)
