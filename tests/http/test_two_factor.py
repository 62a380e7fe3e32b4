"""TOTP two-factor authentication: enrolment, the login's second step, recovery codes,
throttling, and staff who must use it."""

from __future__ import annotations

import re
import time
from typing import Any

import pyotp
import pytest
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from forum.models import AuditLog, RecoveryCode, Role
from tests.conftest import Browser
from tests.factories import make_user

SECRET = re.compile(r'<code class="totp-secret">([A-Z2-7]+)</code>')
CODES = re.compile(r"<li><code>([a-z0-9]{5}-[a-z0-9]{5})</code></li>")


def _enrol(browser: Browser) -> tuple[pyotp.TOTP, list[str], str]:
    """Set up two-factor through the settings page: the app, the recovery codes, the code."""
    assert browser.post("/settings/two-factor/start").status_code == 302
    page = browser.get("/settings/two-factor").get_data(as_text=True)
    match = SECRET.search(page)
    assert match, page
    totp = pyotp.TOTP(match.group(1))
    assert "otpauth://totp/" in page
    code = totp.now()
    done = browser.post("/settings/two-factor/confirm", {"code": code})
    assert done.status_code == 200
    assert done.headers["Cache-Control"] == "no-store"
    codes = CODES.findall(done.get_data(as_text=True))
    return totp, codes, code


def _logged_in(browser: Browser) -> bool:
    return browser.get("/settings/two-factor").status_code == 200


def test_enrolment_and_login_with_a_code_or_a_recovery_code(app: Flask, session: Session) -> None:
    member = make_user(session, "careful")
    session.commit()
    browser = Browser(app.test_client())
    assert browser.login("careful").status_code == 302

    assert browser.post("/settings/two-factor/start").status_code == 302
    wrong = browser.post("/settings/two-factor/confirm", {"code": "000000x"})
    assert wrong.status_code == 400
    assert "That code is not right" in wrong.get_data(as_text=True)
    totp, codes, used_code = _enrol(browser)
    assert len(codes) == 10 and len(set(codes)) == 10
    stored = session.scalars(select(RecoveryCode.code_hash)).all()
    assert len(stored) == 10 and not any(c.replace("-", "") in stored for c in codes)
    browser.logout()

    # The password alone does not log in: the second step asks for a code.
    first = browser.login("careful")
    assert first.status_code == 302 and first.headers["Location"].endswith("/login/code")
    assert not _logged_in(browser)
    assert browser.get("/login/code").status_code == 200
    assert browser.post("/login/code", {"code": "123"}).status_code == 400
    # A code already used (at confirmation) is refused.
    assert browser.post("/login/code", {"code": used_code}).status_code == 400
    assert not _logged_in(browser)
    ok = browser.post("/login/code", {"code": totp.at(time.time() + 30)})
    assert ok.status_code == 302 and _logged_in(browser)
    browser.logout()

    # A recovery code logs in once.
    browser.login("careful")
    assert browser.post("/login/code", {"code": codes[0].upper()}).status_code == 302
    assert _logged_in(browser)
    browser.logout()
    browser.login("careful")
    assert browser.post("/login/code", {"code": codes[0]}).status_code == 400
    assert not _logged_in(browser)

    # Without the password step first, the code page sends to the login page.
    stranger = Browser(app.test_client())
    assert stranger.post("/login/code", {"code": codes[1]}).status_code == 302
    assert not _logged_in(stranger)

    # Turning it off needs a code; audited.
    assert browser.post("/login/code", {"code": codes[1]}).status_code == 302
    assert browser.post("/settings/two-factor/disable", {"code": "999999"}).status_code == 400
    assert browser.post("/settings/two-factor/disable", {"code": codes[2]}).status_code == 302
    browser.logout()
    assert browser.login("careful").headers["Location"].endswith("/")
    session.rollback()
    actions = session.scalars(
        select(AuditLog.action).where(AuditLog.target_id == member.id).order_by(AuditLog.id)
    ).all()
    assert actions == ["member.2fa_on", "member.2fa_off"]


def test_the_second_step_expires(app: Flask, session: Session) -> None:
    make_user(session, "slow")
    session.commit()
    browser = Browser(app.test_client())
    browser.login("slow")
    totp, _codes, _code = _enrol(browser)
    browser.logout()
    app.config["TWO_FACTOR_STEP_SECONDS"] = -1
    browser.login("slow")
    late = browser.post("/login/code", {"code": totp.at(time.time() + 30)})
    assert late.status_code == 302 and late.headers["Location"].startswith("/login")
    assert not _logged_in(browser)


@pytest.fixture
def app_config(app_config: dict[str, Any], request: pytest.FixtureRequest) -> dict[str, Any]:
    """Staff must use two-factor; rate limits on where a test asks for them."""
    extra: dict[str, Any] = {"REQUIRE_2FA_FOR_STAFF": True}
    if "throttled" in request.node.name:
        extra |= {"RATELIMIT_ENABLED": True, "RATELIMIT_STORAGE_URL": "memory://"}
    return {**app_config, **extra}


def test_wrong_codes_are_throttled(app: Flask, session: Session) -> None:
    make_user(session, "target")
    session.commit()
    browser = Browser(app.test_client())
    browser.login("target")
    totp, _codes, _code = _enrol(browser)
    browser.logout()
    browser.login("target")
    answers = [browser.post("/login/code", {"code": "000000"}).status_code for _ in range(6)]
    assert answers[:5] == [400] * 5 and answers[5] == 429
    assert browser.post("/login/code", {"code": totp.at(time.time() + 30)}).status_code == 429


def test_staff_are_sent_to_set_it_up(app: Flask, session: Session) -> None:
    make_user(session, "mod", role=Role.MODERATOR)
    make_user(session, "plain")
    session.commit()
    member = Browser(app.test_client())
    assert member.login("plain").headers["Location"].endswith("/")
    assert member.get("/").status_code == 200

    staff = Browser(app.test_client())
    landed = staff.login("mod")
    assert landed.headers["Location"].endswith("/settings/two-factor")
    held = staff.get("/")
    assert held.status_code == 302 and held.headers["Location"].endswith("/settings/two-factor")
    assert staff.post("/settings/profile", {"display_name": "x"}).status_code == 403
    _enrol(staff)
    assert staff.get("/").status_code == 200
