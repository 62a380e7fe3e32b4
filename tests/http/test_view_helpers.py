"""The helpers every blueprint writes its views with (forum.web and forum.limits)."""

from __future__ import annotations

import datetime as dt

import pytest
from flask import Flask, render_template_string
from flask_login import login_user
from sqlalchemy import select
from sqlalchemy.orm import Session
from wtforms import StringField

from forum.db import get_session
from forum.forms import BaseForm
from forum.limits import member_key
from forum.models import Role, User
from forum.search import Hit
from forum.services.errors import ValidationError
from forum.web import (
    admin_required,
    get_or_404,
    moderator_required,
    post_url,
    question_url,
    submit,
)
from tests.conftest import Browser
from tests.factories import make_answer, make_article, make_question, make_user


class TitleForm(BaseForm):
    title = StringField("Title")


PAGE = "{% for m in form.title.errors %}<p>{{ m }}</p>{% endfor %}" + (
    '{% for m in form.form_errors %}<p>{{ m }}</p>{% endfor %}<input value="{{ form.title.data }}">'
    "staged: {{ staged }}"
)


def _staged() -> bool:
    """Whether the request's session still holds the member the service staged."""
    return get_session().scalar(select(User).where(User.username == "staged")) is not None


def _create(title: str) -> User:
    """A service that stages a member, then refuses titles without a question mark."""
    user = make_user(get_session(), "staged")
    if not title.endswith("?"):
        raise ValidationError({"title": ["End the title with a question mark."], "x": ["Whole"]})
    return user


@pytest.fixture
def probes(app: Flask) -> Flask:
    """Routes that use the helpers the way the blueprints do."""

    def moderators() -> str:
        return "moderators only"

    def admins() -> str:
        return "admins only"

    def member(user_id: int) -> str:
        return get_or_404(User, user_id, "No such member.").username

    def create() -> tuple[str, int]:
        form = TitleForm()
        user = submit(
            form,
            lambda: render_template_string(PAGE, form=form, staged=_staged()),
            _create,
            form.title.data or "",
        )
        get_session().commit()
        return user.username, 201

    app.add_url_rule("/probe/moderators", view_func=moderator_required(moderators))
    app.add_url_rule("/probe/admins", view_func=admin_required(admins))
    app.add_url_rule("/probe/members/<int:user_id>", view_func=member)
    app.add_url_rule("/probe/create", view_func=create, methods=["POST"])
    return app


@pytest.fixture
def people(session: Session) -> None:
    make_user(session, "member")
    make_user(session, "mod", role=Role.MODERATOR)
    make_user(session, "admin", role=Role.ADMIN)
    session.commit()


@pytest.mark.usefixtures("people")
@pytest.mark.parametrize(
    ("who", "moderators", "admins"),
    [("member", 403, 403), ("mod", 200, 403), ("admin", 200, 200)],
)
def test_role_decorators(
    probes: Flask, browser: Browser, who: str, moderators: int, admins: int
) -> None:
    browser.login(who)
    assert browser.get("/probe/moderators").status_code == moderators
    assert browser.get("/probe/admins").status_code == admins


def test_role_decorators_send_visitors_to_log_in(probes: Flask, browser: Browser) -> None:
    for path in ("/probe/moderators", "/probe/admins"):
        response = browser.get(path)
        assert response.status_code == 302
        assert "/login" in response.headers["Location"]


@pytest.mark.usefixtures("people")
def test_moderator_required_guards_the_moderation_pages(browser: Browser) -> None:
    browser.login("member")
    assert browser.get("/moderation").status_code == 403
    assert browser.get("/moderation/audit").status_code == 403
    browser.logout()
    browser.login("mod")
    assert browser.get("/moderation").status_code == 200
    assert browser.get("/moderation/audit").status_code == 200


def test_get_or_404(probes: Flask, browser: Browser, session: Session) -> None:
    user = make_user(session, "found")
    session.commit()
    assert browser.get(f"/probe/members/{user.id}").get_data(as_text=True) == "found"
    missing = browser.get(f"/probe/members/{user.id + 1000}")
    assert missing.status_code == 404
    assert "No such member." in missing.get_data(as_text=True)


def test_submit_refused_keeps_the_text_and_answers_400(
    probes: Flask, browser: Browser, session: Session
) -> None:
    make_user(session, "poster")
    session.commit()
    browser.login("poster")  # writing needs a member, whatever the site's reading rule
    response = browser.post("/probe/create", {"title": "Where is the VPN guide"})
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "<p>End the title with a question mark.</p>" in page
    assert "<p>Whole</p>" in page  # a name the form lacks goes to the form as a whole
    assert 'value="Where is the VPN guide"' in page
    # The service's half-done work was rolled back before the page was built.
    assert "staged: False" in page
    assert session.scalar(select(User).where(User.username == "staged")) is None


def test_submit_accepted_returns_the_service_result(
    probes: Flask, browser: Browser, session: Session
) -> None:
    make_user(session, "poster")
    session.commit()
    browser.login("poster")
    response = browser.post("/probe/create", {"title": "Where is the VPN guide?"})
    assert (response.status_code, response.get_data(as_text=True)) == (201, "staged")


def test_member_key_names_the_member_or_the_address(app: Flask, session: Session) -> None:
    user = make_user(session)
    session.commit()
    with app.test_request_context(environ_base={"REMOTE_ADDR": "10.1.2.3"}):
        assert member_key() == "address:10.1.2.3"
        login_user(get_session().get(User, user.id))
        assert member_key() == f"member:{user.id}"


def test_post_and_question_urls(app: Flask, session: Session) -> None:
    question = make_question(session, title="Where do I find the VPN guide?")
    answer = make_answer(session, question)
    article = make_article(session, title="Setting up the VPN")
    session.commit()
    with app.test_request_context():
        assert question_url(question) == f"/questions/{question.id}/where-do-i-find-the-vpn-guide"
        assert post_url(question) == f"/questions/{question.id}"
        assert post_url(answer) == f"/questions/{question.id}#post-{answer.id}"
        assert post_url(article) == f"/articles/{article.slug}"
        assert post_url(None) is None
        answer.deleted_at = dt.datetime.now(dt.UTC)
        assert post_url(answer) is None
        hit = Hit(
            id=answer.id,
            kind="answer",
            subtype=None,
            slug=None,
            title="",
            snippet="",
            title_html="",
            tags=[],
            post_score=0,
            answer_count=0,
            accepted=False,
            question_id=question.id,
            created_at=None,
            username=None,
        )
        # A search hit and the post it stands for link to the same place.
        assert post_url(hit) == f"/questions/{question.id}#post-{answer.id}"
    session.rollback()


def test_validation_error_messages_run_field_after_field() -> None:
    exc = ValidationError({"title": ["Too short.", "Say more."], "tags": ["Unknown tag."]})
    assert exc.messages == ["Too short.", "Say more.", "Unknown tag."]
