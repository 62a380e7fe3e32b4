"""The admin page for roles."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from forum.models import Identity, Role
from forum.services import accounts, identity
from forum.services.errors import Forbidden
from forum.services.identity import ExternalAccount, SignInPolicy
from tests.conftest import Browser
from tests.factories import make_user


def test_only_admins_reach_the_admin_pages(browser: Browser, session: Session) -> None:
    make_user(session, "mod", role=Role.MODERATOR)
    member = make_user(session, "member")
    session.commit()
    assert browser.get("/admin/users").status_code == 302
    browser.login("mod")
    assert browser.get("/admin/users").status_code == 403
    response = browser.post(f"/admin/users/{member.id}/role", {f"m{member.id}-role": "admin"})
    assert response.status_code == 403
    session.refresh(member)
    assert member.role is Role.MEMBER


def test_admin_changes_roles(browser: Browser, session: Session) -> None:
    make_user(session, "boss", role=Role.ADMIN, display_name="The Boss")
    member = make_user(session, "member", display_name="Some Member")
    session.commit()
    browser.login("boss")
    page = browser.get("/admin/users").get_data(as_text=True)
    assert "Some Member" in page and "Role of Some Member" in page
    response = browser.post(f"/admin/users/{member.id}/role", {f"m{member.id}-role": "moderator"})
    assert response.status_code == 302
    session.refresh(member)
    assert member.role is Role.MODERATOR
    assert (
        browser.post(
            f"/admin/users/{member.id}/role", {f"m{member.id}-role": "emperor"}
        ).status_code
        == 400
    )
    assert browser.post("/admin/users/999999/role", {"m999999-role": "admin"}).status_code == 404


def test_the_last_admin_cannot_step_down(browser: Browser, session: Session) -> None:
    boss = make_user(session, "boss", role=Role.ADMIN)
    session.commit()
    browser.login("boss")
    response = browser.post(
        f"/admin/users/{boss.id}/role", {f"m{boss.id}-role": "member"}, follow_redirects=True
    )
    assert "forum needs at least one admin." in response.get_data(as_text=True)
    session.refresh(boss)
    assert boss.role is Role.ADMIN


def test_an_admin_keeps_out_a_member_the_company_sign_in_deactivated(
    browser: Browser, session: Session
) -> None:
    make_user(session, "boss", role=Role.ADMIN)
    leaver = make_user(session, "leaver")
    accounts.deactivate(session, None, leaver, by_sso="not in an allowed oidc group")
    session.commit()
    browser.login("boss")
    page = browser.get(f"/admin/users/{leaver.id}").get_data(as_text=True)
    assert "by the company sign-in" in page and "Keep deactivated" in page
    confirm = browser.get(f"/admin/users/{leaver.id}/deactivate").get_data(as_text=True)
    assert "only an admin can reactivate them" in confirm
    done = browser.post(f"/admin/users/{leaver.id}/deactivate", {})
    assert done.status_code == 302, done.get_data(as_text=True)
    session.rollback()
    session.refresh(leaver)
    assert not leaver.is_active and not leaver.deactivated_by_sso
    page = browser.get(f"/admin/users/{leaver.id}").get_data(as_text=True)
    assert "by the company sign-in" not in page and "Keep deactivated" not in page
    # The company sign-in no longer brings them back.
    policy = SignInPolicy.of(required_groups=["staff"])
    session.add(Identity(provider="oidc", subject="leaver-sub", user_id=leaver.id))
    session.commit()
    with pytest.raises(Forbidden):
        identity.sign_in(session, ExternalAccount("oidc", "leaver-sub", groups=("staff",)), policy)
