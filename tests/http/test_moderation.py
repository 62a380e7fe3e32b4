"""Moderation through the test client: the code of conduct, flags, the queue and its actions,
hidden content, warnings and the audit log."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from forum.models import AuditLog, Comment, ConductRevision, Flag, ModerationWarning, Post, Role
from forum.services import comments as comment_service
from forum.services import moderation
from tests.conftest import Browser
from tests.factories import make_answer, make_article, make_comment, make_question, make_user


@pytest.fixture
def world(session: Session) -> dict[str, Any]:
    """An author's question with an answer, a comment and an article; others to flag them."""
    author = make_user(session, "writer", display_name="Wendy Writer")
    make_user(session, "reader", display_name="Rita Reader")
    make_user(session, "second")
    make_user(session, "mod", display_name="Mo Derator", role=Role.MODERATOR)
    make_user(session, "boss", display_name="Bo Admin", role=Role.ADMIN)
    question = make_question(
        session,
        author,
        title="How do I rotate the staging password?",
        body="The question body text",
    )
    answer = make_answer(session, question, author, body="An answer body nobody likes")
    comment = make_comment(session, question, author, body="A comment body that is rude")
    article = make_article(session, author, title="Rotating passwords safely")
    session.commit()
    return {
        "q": question.id,
        "a": answer.id,
        "c": comment.id,
        "article": article.id,
        "slug": article.slug,
    }


def _as(app: Flask, username: str | None) -> Browser:
    browser = Browser(app.test_client())
    if username is not None:
        assert browser.login(username).status_code == 302
    return browser


def _flag(browser: Browser, target: str, reason: str = "spam", text: str = "") -> Any:
    return browser.post("/flags", {"target": target, "reason": reason, "text": text})


def _open_flags(session: Session) -> int:
    session.commit()
    return session.scalar(select(func.count()).select_from(Flag).where(Flag.status == "open")) or 0


def _first_open_flag(session: Session) -> int:
    session.commit()
    flag_id = session.scalar(select(Flag.id).where(Flag.status == "open").order_by(Flag.id))
    assert flag_id is not None
    return flag_id


# The code of conduct


def test_everyone_reads_the_code_of_conduct(app: Flask) -> None:
    page = _as(app, None).get("/conduct")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "Code of conduct" in text and "What we expect" in text
    assert "Edit the code of conduct" not in text


def test_the_ask_and_answer_forms_link_to_the_code_of_conduct(
    app: Flask, world: dict[str, Any]
) -> None:
    browser = _as(app, "reader")
    for path in ("/questions/ask", f"/questions/{world['q']}"):
        assert 'href="/conduct"' in browser.get(path).get_data(as_text=True), path


def test_admins_edit_the_code_of_conduct(
    app: Flask, session: Session, world: dict[str, Any]
) -> None:
    browser = _as(app, "boss")
    form = browser.get("/conduct/edit")
    assert form.status_code == 200 and "What we expect" in form.get_data(as_text=True)
    response = browser.post(
        "/conduct/edit", {"body": "# Be kind\n\nAlways.", "summary": "Much shorter"}
    )
    assert response.status_code == 302 and response.headers["Location"].endswith("/conduct")
    page = browser.get("/conduct").get_data(as_text=True)
    assert "Be kind</h1>" in page and "Bo Admin (admin)" in page
    revision = session.scalars(select(ConductRevision)).one()
    assert revision.summary == "Much shorter"


def test_an_empty_code_of_conduct_is_refused_with_the_form_again(
    app: Flask, session: Session, world: dict[str, Any]
) -> None:
    response = _as(app, "boss").post("/conduct/edit", {"body": "  ", "summary": "Oops kept"})
    assert response.status_code == 400
    assert "can&#39;t be empty" in response.get_data(as_text=True)
    assert "Oops kept" in response.get_data(as_text=True)
    assert session.scalars(select(ConductRevision)).all() == []


@pytest.mark.parametrize("who", ["mod", "reader"])
def test_only_admins_edit_the_code_of_conduct(
    app: Flask, session: Session, world: dict[str, Any], who: str
) -> None:
    browser = _as(app, who)
    assert browser.get("/conduct/edit").status_code == 403
    assert browser.post("/conduct/edit", {"body": "Anything goes"}).status_code == 403
    assert session.scalars(select(ConductRevision)).all() == []


def test_visitors_are_sent_to_log_in_to_edit_the_code_of_conduct(app: Flask) -> None:
    response = _as(app, None).get("/conduct/edit")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


# Flagging


def test_posts_and_comments_offer_a_flag_link_to_other_members(
    app: Flask, world: dict[str, Any]
) -> None:
    page = _as(app, "reader").get(f"/questions/{world['q']}").get_data(as_text=True)
    for target in (f"post:{world['q']}", f"post:{world['a']}", f"comment:{world['c']}"):
        assert f"/flags/new?target={target}" in page, target
    article = _as(app, "reader").get(f"/articles/{world['slug']}").get_data(as_text=True)
    assert f"/flags/new?target=post:{world['article']}" in article
    own = _as(app, "writer").get(f"/questions/{world['q']}").get_data(as_text=True)
    assert "/flags/new" not in own
    visitor = _as(app, None).get(f"/questions/{world['q']}").get_data(as_text=True)
    assert "/flags/new" not in visitor


def test_a_member_flags_a_post(app: Flask, session: Session, world: dict[str, Any]) -> None:
    browser = _as(app, "reader")
    form = browser.get(f"/flags/new?target=post:{world['a']}")
    assert form.status_code == 200
    text = form.get_data(as_text=True)
    assert "Flag this answer" in text and "An answer body nobody likes" in text
    response = _flag(browser, f"post:{world['a']}", "needs-improvement", "Missing the steps")
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/questions/{world['q']}#post-{world['a']}")
    flag = session.scalars(select(Flag)).one()
    assert (flag.post_id, flag.reason, flag.text) == (
        world["a"],
        "needs-improvement",
        "Missing the steps",
    )


def test_the_flag_form_also_posts_to_itself(
    app: Flask, session: Session, world: dict[str, Any]
) -> None:
    browser = _as(app, "reader")
    response = browser.post(
        f"/flags/new?target=comment:{world['c']}", {"reason": "rude", "text": ""}
    )
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"#comment-{world['c']}")
    assert session.scalars(select(Flag)).one().comment_id == world["c"]


def test_flagging_twice_is_a_clear_error(
    app: Flask, session: Session, world: dict[str, Any]
) -> None:
    browser = _as(app, "reader")
    assert _flag(browser, f"post:{world['q']}").status_code == 302
    again = _flag(browser, f"post:{world['q']}", "other", "Still spam, my words kept")
    assert again.status_code == 409
    page = again.get_data(as_text=True)
    assert "You have already flagged this question" in page
    assert "Still spam, my words kept" in page
    form = browser.get(f"/flags/new?target=post:{world['q']}")
    assert form.status_code == 409
    assert "You have already flagged this question" in form.get_data(as_text=True)
    assert _open_flags(session) == 1


def test_nobody_flags_their_own_content(
    app: Flask, session: Session, world: dict[str, Any]
) -> None:
    browser = _as(app, "writer")
    assert browser.get(f"/flags/new?target=post:{world['q']}").status_code == 403
    response = _flag(browser, f"comment:{world['c']}")
    assert response.status_code == 403
    assert "your own comment" in response.get_data(as_text=True)
    assert _open_flags(session) == 0


def test_visitors_are_sent_to_log_in_to_flag(
    app: Flask, session: Session, world: dict[str, Any]
) -> None:
    browser = _as(app, None)
    for response in (
        browser.get(f"/flags/new?target=post:{world['q']}"),
        _flag(browser, f"post:{world['q']}"),
    ):
        assert response.status_code == 302 and "/login" in response.headers["Location"]
    assert _open_flags(session) == 0


def test_other_needs_a_reason_text_and_the_form_comes_back(
    app: Flask, session: Session, world: dict[str, Any]
) -> None:
    response = _flag(_as(app, "reader"), f"post:{world['q']}", "other", "")
    assert response.status_code == 400
    assert "Say what is wrong" in response.get_data(as_text=True)
    response = _flag(_as(app, "reader"), f"post:{world['q']}", "", "My kept text")
    assert response.status_code == 400 and "My kept text" in response.get_data(as_text=True)
    assert _open_flags(session) == 0


@pytest.mark.parametrize(
    ("target", "status"),
    [
        ("", 400),
        ("question:1", 400),
        ("post:abc", 400),
        ("post:999999", 404),
        ("comment:999999", 404),
    ],
)
def test_unknown_targets(app: Flask, world: dict[str, Any], target: str, status: int) -> None:
    browser = _as(app, "reader")
    assert browser.get(f"/flags/new?target={target}").status_code == status
    assert _flag(browser, target).status_code == status


# The queue


@pytest.mark.parametrize(
    ("who", "status"), [("reader", 403), ("writer", 403), ("mod", 200), ("boss", 200)]
)
def test_the_queue_is_for_moderators_and_admins(
    app: Flask, world: dict[str, Any], who: str, status: int
) -> None:
    browser = _as(app, who)
    assert browser.get("/moderation").status_code == status
    assert browser.get("/moderation/audit").status_code == status


def test_visitors_are_sent_to_log_in_for_the_queue(app: Flask) -> None:
    for path in ("/moderation", "/moderation/audit"):
        response = _as(app, None).get(path)
        assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_the_queue_groups_flags_and_escapes_excerpts(
    app: Flask, session: Session, world: dict[str, Any]
) -> None:
    author = session.scalars(select(Post).where(Post.id == world["q"])).one().author
    nasty = make_question(
        session, author, title="A question with markup inside", body="<script>alert(1)</script>"
    )
    session.commit()
    _flag(_as(app, "reader"), f"post:{nasty.id}", "other", "<b>looks odd</b>")
    _flag(_as(app, "second"), f"post:{nasty.id}", "spam")
    _flag(_as(app, "reader"), f"comment:{world['c']}", "rude")
    page = _as(app, "mod").get("/moderation").get_data(as_text=True)
    assert "2 items waiting" in page
    assert "2 flags" in page and "1 flag" in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "<script>alert" not in page
    assert "&lt;b&gt;looks odd&lt;/b&gt;" in page
    assert "Spam" in page and "Other" in page and "Rude or abusive" in page
    assert 'href="/users/writer"' in page
    assert page.index("A question with markup inside") < page.index("A comment body that is rude")


def _act(
    session: Session, app: Flask, action: str, target: str, **data: str
) -> tuple[Any, AuditLog]:
    _flag(_as(app, "reader"), target, "rude")
    _flag(_as(app, "second"), target, "spam")
    flag_id = _first_open_flag(session)
    # Hiding and deleting are confirmed on a second step (test_moderation_loop.py).
    response = _as(app, "mod").post(
        f"/moderation/flags/{flag_id}/{action}", {"confirmed": "yes", **data}
    )
    session.commit()
    rows = list(session.scalars(select(AuditLog).where(AuditLog.action.like("moderation.%"))))
    assert len(rows) == 1, rows
    return response, rows[0]


@pytest.mark.parametrize("action", ["dismiss", "hide", "delete"])
def test_each_action_resolves_the_flags_and_writes_the_audit_log(
    app: Flask, session: Session, world: dict[str, Any], action: str
) -> None:
    response, row = _act(session, app, action, f"post:{world['a']}", note="Seen it")
    assert response.status_code == 302 and response.headers["Location"].endswith("/moderation")
    assert (row.action, row.target_type, row.target_id) == (
        f"moderation.{action}",
        "post",
        world["a"],
    )
    assert row.actor is not None and row.actor.username == "mod"
    assert "Seen it" in row.reason
    assert _open_flags(session) == 0
    answer = session.get(Post, world["a"])
    assert answer is not None
    session.refresh(answer)
    assert (answer.deleted_at is not None) == (action != "dismiss")


def test_edit_resolves_the_flags_and_opens_the_edit_page(
    app: Flask, session: Session, world: dict[str, Any]
) -> None:
    response, row = _act(session, app, "edit", f"post:{world['q']}")
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/questions/{world['q']}/edit")
    assert row.action == "moderation.edit" and _open_flags(session) == 0
    # Moderators can already edit: the page opens for them.
    assert _as(app, "mod").get(f"/questions/{world['q']}/edit").status_code == 200


def test_edit_of_an_article_leads_to_the_article_editor(
    app: Flask, session: Session, world: dict[str, Any]
) -> None:
    response, _row = _act(session, app, "edit", f"post:{world['article']}")
    assert response.headers["Location"].endswith(f"/articles/{world['slug']}/edit")


def test_warning_a_member_stores_and_notifies(
    app: Flask, session: Session, world: dict[str, Any]
) -> None:
    response, row = _act(
        session, app, "warn", f"comment:{world['c']}", warning="Please be kind, Wendy."
    )
    assert response.status_code == 302
    warning = session.scalars(select(ModerationWarning)).one()
    assert warning.text == "Please be kind, Wendy." and warning.member.username == "writer"
    assert "Please be kind, Wendy." in row.reason
    inbox = _as(app, "writer").get("/notifications")
    assert inbox.status_code == 200
    assert "Please be kind, Wendy." in inbox.get_data(as_text=True)


def test_the_queue_offers_an_editable_warning_template(app: Flask, world: dict[str, Any]) -> None:
    _flag(_as(app, "reader"), f"post:{world['q']}", "rude")
    page = _as(app, "mod").get("/moderation").get_data(as_text=True)
    assert "Hello Wendy Writer," in page and "The moderators" in page
    assert '<textarea id="warning-' in page


def test_a_warning_without_text_comes_back_with_a_message(
    app: Flask, session: Session, world: dict[str, Any]
) -> None:
    _flag(_as(app, "reader"), f"post:{world['q']}", "rude")
    flag_id = _first_open_flag(session)
    response = _as(app, "mod").post(
        f"/moderation/flags/{flag_id}/warn", {"warning": "  ", "note": "kept note"}
    )
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "Write the note the member will receive." in page and "kept note" in page
    assert _open_flags(session) == 1


def test_members_cannot_act_and_unknown_things_are_not_found(
    app: Flask, session: Session, world: dict[str, Any]
) -> None:
    _flag(_as(app, "reader"), f"post:{world['q']}", "rude")
    flag_id = _first_open_flag(session)
    assert _as(app, "second").post(f"/moderation/flags/{flag_id}/hide").status_code == 403
    visitor = _as(app, None).post(f"/moderation/flags/{flag_id}/hide")
    assert visitor.status_code in (302, 400)
    moderator = _as(app, "mod")
    assert moderator.post(f"/moderation/flags/{flag_id}/ban").status_code == 404
    assert moderator.post("/moderation/flags/999999/hide").status_code == 404
    assert _open_flags(session) == 1
    assert moderator.post(f"/moderation/flags/{flag_id}/dismiss").status_code == 302
    assert moderator.post(f"/moderation/flags/{flag_id}/hide").status_code == 409


# Hidden content


def test_a_hidden_answer_is_gone_for_members_and_bannered_for_moderators(
    app: Flask, session: Session, world: dict[str, Any]
) -> None:
    _act(session, app, "hide", f"post:{world['a']}")
    member = _as(app, "second").get(f"/questions/{world['q']}").get_data(as_text=True)
    assert "An answer body nobody likes" not in member
    moderator = _as(app, "mod").get(f"/questions/{world['q']}").get_data(as_text=True)
    assert "An answer body nobody likes" in moderator
    assert "Hidden by the moderators" in moderator


def test_a_hidden_question_is_not_found_for_members(
    app: Flask, session: Session, world: dict[str, Any]
) -> None:
    _act(session, app, "hide", f"post:{world['q']}")
    assert _as(app, "second").get(f"/questions/{world['q']}").status_code == 404
    page = _as(app, "mod").get(f"/questions/{world['q']}")
    assert page.status_code == 200
    assert "Hidden by the moderators" in page.get_data(as_text=True)
    listing = _as(app, "second").get("/questions").get_data(as_text=True)
    assert "How do I rotate the staging password?" not in listing


def test_a_hidden_article_stays_reviewable_by_moderators_only(
    app: Flask, session: Session, world: dict[str, Any]
) -> None:
    _act(session, app, "hide", f"post:{world['article']}")
    assert _as(app, "second").get(f"/articles/{world['slug']}").status_code == 404
    assert _as(app, None).get(f"/articles/{world['slug']}").status_code == 404
    page = _as(app, "mod").get(f"/articles/{world['slug']}")
    assert page.status_code == 200
    assert "Hidden by the moderators" in page.get_data(as_text=True)
    own = _as(app, "writer").get(f"/articles/{world['slug']}")
    assert own.status_code == 200


def test_a_hidden_comment_shows_only_to_moderators(
    app: Flask, session: Session, world: dict[str, Any]
) -> None:
    _act(session, app, "hide", f"comment:{world['c']}")
    member = _as(app, "second").get(f"/questions/{world['q']}").get_data(as_text=True)
    assert "A comment body that is rude" not in member
    moderator = _as(app, "mod").get(f"/questions/{world['q']}").get_data(as_text=True)
    assert "A comment body that is rude" in moderator
    assert "Hidden by the moderators: members don" in moderator
    stored = session.get(Comment, world["c"])
    assert stored is not None and stored.body_md == "A comment body that is rude"


def test_a_deleted_comment_is_not_shown_with_its_text(
    app: Flask, session: Session, world: dict[str, Any]
) -> None:
    _act(session, app, "delete", f"comment:{world['c']}")
    for who in ("second", "mod"):
        page = _as(app, who).get(f"/questions/{world['q']}").get_data(as_text=True)
        assert "A comment body that is rude" not in page, who


# The audit log


def test_the_audit_log_shows_reveals_and_moderation_with_roles(
    app: Flask, session: Session, world: dict[str, Any]
) -> None:
    author = session.scalars(select(Post).where(Post.id == world["q"])).one().author
    anonymous = make_question(session, author, anonymous=True)
    session.commit()
    moderator = _as(app, "mod")
    reveal = moderator.post(
        f"/questions/{anonymous.id}/reveal", {"reason": "A complaint reached HR today"}
    )
    assert reveal.status_code == 200
    _act(session, app, "hide", f"post:{world['a']}", note="Off-topic advert")
    page = moderator.get("/moderation/audit").get_data(as_text=True)
    assert "Revealed an anonymous author" in page and "A complaint reached HR today" in page
    assert "Hid content" in page and "Off-topic advert" in page
    assert '<span class="role">moderator</span> Mo Derator' in page
    assert page.index("Hid content") < page.index("Revealed an anonymous author")
    only = moderator.get("/moderation/audit?action=question.reveal_author").get_data(as_text=True)
    assert "A complaint reached HR today" in only and "Off-topic advert" not in only
    assert moderator.get("/moderation/audit?page=0").status_code == 400


def test_the_audit_log_is_paginated(app: Flask, session: Session, world: dict[str, Any]) -> None:
    for n in range(55):
        session.add(
            AuditLog(actor_id=None, action="question.close", target_type="post", target_id=n)
        )
    session.commit()
    browser = _as(app, "mod")
    first = browser.get("/moderation/audit").get_data(as_text=True)
    assert "55 entries" in first and "Page 1 of 2" in first
    assert browser.get("/moderation/audit?page=2").status_code == 200


# CSRF


@pytest.mark.parametrize(
    "path",
    [
        "/flags",
        "/flags/new?target=post:{q}",
        "/moderation/flags/{flag}/dismiss",
        "/moderation/flags/{flag}/warn",
        "/conduct/edit",
    ],
)
def test_every_post_needs_a_csrf_token(
    app: Flask, session: Session, world: dict[str, Any], path: str
) -> None:
    flag = moderation.flag(
        session,
        reporter=_user(session, "second"),
        target=f"post:{world['q']}",
        reason="spam",
    )
    session.commit()
    for who in ("reader", "boss"):
        browser = _as(app, who)
        data = {"target": f"post:{world['q']}", "reason": "rude", "body": "x", "warning": "x"}
        response = browser.client.post(path.format(q=world["q"], flag=flag.id), data=data)
        assert response.status_code == 400, (who, path)
    assert _open_flags(session) == 1
    assert session.scalars(select(AuditLog)).all() == []
    assert session.scalars(select(ConductRevision)).all() == []


def _user(session: Session, username: str) -> Any:
    from forum.models import User

    return session.scalars(select(User).where(User.username == username)).one()


# Unhiding what the moderators hid (moderators and admins only, audited)


def _hide(session: Session, app: Flask, target: str) -> None:
    """Flag ``target`` and have a moderator hide it through the queue."""
    assert (
        _as(app, "reader").post("/flags", {"target": target, "reason": "rude"}).status_code == 302
    )
    session.commit()
    flag_id = session.scalar(select(Flag.id).where(Flag.status == "open").order_by(Flag.id))
    assert flag_id is not None
    response = _as(app, "mod").post(f"/moderation/flags/{flag_id}/hide", {"confirmed": "yes"})
    assert response.status_code == 302
    session.commit()


def _audit(session: Session, action: str) -> list[AuditLog]:
    session.commit()
    return list(session.scalars(select(AuditLog).where(AuditLog.action == action)))


def _comment_count(session: Session, post_id: int) -> int:
    session.commit()
    count = session.scalar(select(Post.comment_count).where(Post.id == post_id))
    assert count is not None
    return count


@pytest.mark.parametrize("who", ["mod", "boss"])
def test_a_hidden_comment_is_unhidden_and_members_see_it_again(
    app: Flask, session: Session, world: dict[str, Any], who: str
) -> None:
    before = _comment_count(session, world["q"])
    _hide(session, app, f"comment:{world['c']}")
    assert _comment_count(session, world["q"]) == before - 1
    member_page = _as(app, "second").get(f"/questions/{world['q']}").get_data(as_text=True)
    assert "A comment body that is rude" not in member_page

    response = _as(app, who).post(
        f"/moderation/comments/{world['c']}/unhide", {"note": "Reworded by the author"}
    )

    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/questions/{world['q']}#comment-{world['c']}")
    session.commit()
    stored = session.get(Comment, world["c"])
    assert stored is not None and stored.deleted_at is None
    assert _comment_count(session, world["q"]) == before
    member_page = _as(app, "second").get(f"/questions/{world['q']}").get_data(as_text=True)
    assert "A comment body that is rude" in member_page
    [row] = _audit(session, "moderation.unhide")
    assert (row.target_type, row.target_id) == ("comment", world["c"])
    assert row.reason == "Reworded by the author"
    assert row.actor is not None and row.actor.username == who


@pytest.mark.parametrize("target", ["q", "a", "article"])
def test_hidden_posts_are_unhidden_too(
    app: Flask, session: Session, world: dict[str, Any], target: str
) -> None:
    post_id = world[target]
    _hide(session, app, f"post:{post_id}")
    page = f"/articles/{world['slug']}" if target == "article" else f"/questions/{world['q']}"
    if target != "a":
        assert _as(app, "second").get(page).status_code == 404

    response = _as(app, "mod").post(f"/moderation/posts/{post_id}/unhide", {})

    assert response.status_code == 302
    member = _as(app, "second").get(page)
    assert member.status_code == 200
    if target == "a":
        assert "An answer body nobody likes" in member.get_data(as_text=True)
    [row] = _audit(session, "moderation.unhide")
    assert (row.target_type, row.target_id) == ("post", post_id)


def test_the_audit_log_offers_unhide_while_it_is_still_hidden(
    app: Flask, session: Session, world: dict[str, Any]
) -> None:
    _hide(session, app, f"comment:{world['c']}")
    moderator = _as(app, "mod")
    page = moderator.get("/moderation/audit").get_data(as_text=True)
    assert f'action="/moderation/comments/{world["c"]}/unhide"' in page
    assert moderator.post(f"/moderation/comments/{world['c']}/unhide", {}).status_code == 302
    page = moderator.get("/moderation/audit").get_data(as_text=True)
    assert "Unhid content" in page and "Hid content" in page
    assert f'action="/moderation/comments/{world["c"]}/unhide"' not in page


@pytest.mark.parametrize("who", [None, "reader", "writer"])
@pytest.mark.parametrize("kind", ["comments", "posts"])
def test_only_moderators_and_admins_unhide(
    app: Flask, session: Session, world: dict[str, Any], who: str | None, kind: str
) -> None:
    target_id = world["c"] if kind == "comments" else world["a"]
    _hide(session, app, f"{kind[:-1]}:{target_id}")
    response = _as(app, who).post(f"/moderation/{kind}/{target_id}/unhide", {})
    if who is None:
        assert response.status_code == 302 and "/login" in response.headers["Location"]
    else:
        assert response.status_code == 403
    session.commit()
    model = Comment if kind == "comments" else Post
    stored = session.get(model, target_id)
    assert stored is not None and stored.deleted_at is not None
    assert _audit(session, "moderation.unhide") == []


@pytest.mark.parametrize("kind", ["comments", "posts"])
def test_unhide_needs_a_csrf_token(
    app: Flask, session: Session, world: dict[str, Any], kind: str
) -> None:
    target_id = world["c"] if kind == "comments" else world["a"]
    _hide(session, app, f"{kind[:-1]}:{target_id}")
    moderator = _as(app, "boss")
    for data in ({}, {"csrf_token": "forged"}):
        response = moderator.client.post(f"/moderation/{kind}/{target_id}/unhide", data=data)
        assert response.status_code == 400
    assert _audit(session, "moderation.unhide") == []


def test_what_is_not_hidden_by_moderators_is_a_clear_409(
    app: Flask, session: Session, world: dict[str, Any]
) -> None:
    moderator = _as(app, "mod")
    # Visible: nothing to unhide.
    visible = moderator.post(f"/moderation/comments/{world['c']}/unhide", {})
    assert visible.status_code == 409
    assert "isn&#39;t hidden by the moderators" in visible.get_data(as_text=True)
    # Deleted by its author: that stays the author's choice.
    writer = session.scalars(select(Post).where(Post.id == world["q"])).one().author
    assert writer is not None
    comment_service.delete(session, actor=writer, comment_id=world["c"])
    session.commit()
    assert moderator.post(f"/moderation/comments/{world['c']}/unhide", {}).status_code == 409
    session.commit()
    stored = session.get(Comment, world["c"])
    assert stored is not None and stored.deleted_at is not None
    # Unknown ids.
    assert moderator.post("/moderation/comments/999999/unhide", {}).status_code == 404
    assert moderator.post("/moderation/posts/999999/unhide", {}).status_code == 404
    assert _audit(session, "moderation.unhide") == []


def test_unhiding_twice_is_a_409_and_audited_once(
    app: Flask, session: Session, world: dict[str, Any]
) -> None:
    _hide(session, app, f"comment:{world['c']}")
    moderator = _as(app, "mod")
    assert moderator.post(f"/moderation/comments/{world['c']}/unhide", {}).status_code == 302
    assert moderator.post(f"/moderation/comments/{world['c']}/unhide", {}).status_code == 409
    assert len(_audit(session, "moderation.unhide")) == 1
    assert moderation.ACTION_LABELS["moderation.unhide"] == "Unhid content"
