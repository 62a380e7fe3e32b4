"""/admin/analytics through the test client: admins only, figures, escaping, filter."""

from __future__ import annotations

import re

from sqlalchemy.orm import Session

from forum.models import Role
from tests.conftest import Browser
from tests.factories import make_user, search_answer, search_question


def _text(html: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def test_only_admins_see_analytics(browser: Browser, session: Session) -> None:
    make_user(session, "member")
    make_user(session, "mod", role=Role.MODERATOR)
    session.commit()
    assert browser.get("/admin/analytics").status_code == 302
    browser.login("member")
    assert browser.get("/admin/analytics").status_code == 403
    browser.logout()
    browser.login("mod")
    assert browser.get("/admin/analytics").status_code == 403


def test_admin_sees_figures_charts_and_escaped_departments(
    browser: Browser, session: Session
) -> None:
    make_user(session, "boss", role=Role.ADMIN)
    evil = "<script>alert('x')</script>"
    asker = make_user(session, "asker", department=evil, display_name="Asker Person")
    helper = make_user(session, "helper", department="Support", display_name="Helpful Person")
    question = search_question(session, asker, "Where is the VPN guide?", tags=("vpn",))
    search_answer(session, question, helper, "On the wiki.")
    session.commit()
    browser.login("boss")
    response = browser.get("/admin/analytics")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert evil not in html
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in html
    assert html.count('role="img"') == 4
    text = _text(html)
    # This week: asker and helper active, one question asked and answered.
    assert "Active members Questions asked Answered Median first answer Top helper" in text
    assert "Helpful Person (1)" in text
    assert "Helpful Person 1 answer, 0 accepted" in text
    support = browser.get("/admin/analytics?department=Support")
    assert support.status_code == 200
    assert "By week in Support" in _text(support.get_data(as_text=True))
    assert browser.get("/admin/analytics?department=Nowhere").status_code == 400
