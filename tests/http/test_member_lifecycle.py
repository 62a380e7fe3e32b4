"""Members who leave and come back: deactivation, reactivation and the admin member list."""

from __future__ import annotations

from typing import Any

from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from forum import events
from forum.models import AuditLog, LoginSession, Role, User
from forum.services import answers, skills
from tests.conftest import Browser
from tests.factories import make_answer, make_question, make_user


def _browser(app: Flask, username: str | None = None) -> Browser:
    browser = Browser(app.test_client())
    if username:
        assert browser.login(username).status_code == 302
    return browser


def fresh(session: Session) -> None:
    """Read what requests committed since: end the session's snapshot, forget loaded rows."""
    session.rollback()
    session.expire_all()


def _audit(session: Session, member: User) -> list[tuple[str, int | None]]:
    fresh(session)
    rows = session.execute(
        select(AuditLog.action, AuditLog.actor_id)
        .where(AuditLog.target_type == "user", AuditLog.target_id == member.id)
        .order_by(AuditLog.id)
    )
    return [(str(action), actor) for action, actor in rows]


def _visible_to_others(browser: Browser, question_path: str) -> dict[str, bool]:
    """Where the leaver shows up: mentor suggestions, @mention suggestions, leaderboards."""
    suggest = browser.get("/users/suggest?q=len").get_json()
    return {
        "mentors": "Lena Leaver" in browser.get("/mentoring").get_data(as_text=True),
        "mentions": any(m["username"] == "leaver" for m in suggest["members"]),
        "leaderboard": "Lena Leaver" in browser.get("/people").get_data(as_text=True),
        "former": "Lena Leaver (former member)"
        in browser.get(question_path).get_data(as_text=True),
    }


def test_deactivation_ends_live_sessions_and_hides_the_member_until_reactivated(
    app: Flask, session: Session
) -> None:
    boss = make_user(session, "boss", role=Role.ADMIN)
    leaver = make_user(session, "leaver", display_name="Lena Leaver")
    learner = make_user(session, "learner", reputation=500)
    skills.set_skills(session, learner, help_text="", learn_text="python")
    asker = make_user(session, "asker")
    question = make_question(session, asker, tags=("python",))
    answer = make_answer(session, question, leaver)
    answers.accept(session, acceptor=asker, answer_id=answer.id)
    session.commit()
    heard: list[tuple[str, int | None]] = []
    bus = events.bus_of(session)

    def on_change(_session: Session, event: Any) -> None:
        heard.append((type(event).__name__, event.actor.id if event.actor else None))

    bus.subscribe(events.MemberDeactivated, on_change, critical=False)
    bus.subscribe(events.MemberReactivated, on_change, critical=False)

    on_laptop = _browser(app, "leaver")
    assert on_laptop.get("/settings/profile").status_code == 200
    colleague = _browser(app, "learner")
    question_path = f"/questions/{question.id}"
    before = _visible_to_others(colleague, question_path)
    assert before == {"mentors": True, "mentions": True, "leaderboard": True, "former": False}

    admin = _browser(app, "boss")
    confirm = admin.get(f"/admin/users/{leaver.id}/deactivate")
    assert confirm.status_code == 200 and "Deactivate Lena Leaver?" in confirm.get_data(True)
    fresh(session)
    assert session.get(User, leaver.id).is_active  # type: ignore[union-attr]  # only asked
    done = admin.post(f"/admin/users/{leaver.id}/deactivate", follow_redirects=True)
    assert "Lena Leaver is deactivated" in done.get_data(as_text=True)

    # The live session stops working on its very next request; logging in is refused.
    gone = on_laptop.get("/settings/profile")
    assert gone.status_code == 302 and "/login" in gone.headers["Location"]
    refused = _browser(app).login("leaver")
    assert refused.status_code == 200 and "match an account" in refused.get_data(as_text=True)
    fresh(session)
    ended = session.scalars(
        select(LoginSession.revoked_at).where(LoginSession.user_id == leaver.id)
    ).all()
    assert ended and all(ended)  # every server-side session of the member was ended
    after = _visible_to_others(colleague, question_path)
    assert after == {"mentors": False, "mentions": False, "leaderboard": False, "former": True}
    profile = colleague.get("/users/leaver").get_data(as_text=True)
    assert "Former member" in profile
    # Already deactivated: a clear conflict, nothing written twice.
    assert admin.post(f"/admin/users/{leaver.id}/deactivate").status_code == 409

    assert admin.post(f"/admin/users/{leaver.id}/reactivate").status_code == 302
    assert _visible_to_others(colleague, question_path) == before
    # The old session stays ended; a new login works.
    assert on_laptop.get("/settings/profile").status_code == 302
    assert _browser(app, "leaver").get("/settings/profile").status_code == 200

    assert heard == [("MemberDeactivated", boss.id), ("MemberReactivated", boss.id)]
    assert _audit(session, leaver) == [
        ("member.deactivate", boss.id),
        ("member.reactivate", boss.id),
    ]
    log = admin.get("/moderation/audit").get_data(as_text=True)
    assert "Deactivated a member" in log and "member @leaver" in log


def test_only_admins_deactivate_and_not_themselves_nor_the_last_admin(
    app: Flask, session: Session
) -> None:
    boss = make_user(session, "boss", role=Role.ADMIN, display_name="Bo Boss")
    other = make_user(session, "other", role=Role.ADMIN, display_name="Otto Other")
    make_user(session, "mod", role=Role.MODERATOR)
    session.commit()
    moderator = _browser(app, "mod")
    assert moderator.get(f"/admin/users/{other.id}/deactivate").status_code == 403
    assert moderator.post(f"/admin/users/{other.id}/deactivate").status_code == 403
    assert _browser(app).get("/admin/users/1").status_code == 302

    admin = _browser(app, "boss")
    mine = admin.post(f"/admin/users/{boss.id}/deactivate", follow_redirects=True)
    assert "You cannot deactivate yourself." in mine.get_data(as_text=True)
    demoted = admin.post(
        f"/admin/users/{boss.id}/role", {f"m{boss.id}-role": "member"}, follow_redirects=True
    )
    assert "Ask another admin to change your own role." in demoted.get_data(as_text=True)
    # Without the confirmation form's token nothing happens.
    assert admin.client.post(f"/admin/users/{other.id}/deactivate").status_code == 400
    assert admin.get("/admin/users/999999/deactivate").status_code == 404

    # Otto deactivated, Bo is the last active admin: the command line cannot remove Bo.
    assert admin.post(f"/admin/users/{other.id}/deactivate").status_code == 302
    runner = app.test_cli_runner()
    result = runner.invoke(args=["users", "deactivate", "boss"])
    assert result.exit_code != 0 and "at least one active admin" in result.output
    fresh(session)
    assert session.get(User, boss.id).is_active  # type: ignore[union-attr]
    assert session.get(User, other.id).is_active is False  # type: ignore[union-attr]
    assert session.get(User, boss.id).role is Role.ADMIN  # type: ignore[union-attr]


def test_admin_list_searches_filters_pages_and_audits_role_changes(
    app: Flask, session: Session
) -> None:
    app.config["USERS_PER_PAGE"] = 2
    boss = make_user(session, "boss", role=Role.ADMIN, display_name="Bo Boss")
    ann = make_user(session, "ann", display_name="Ann Archer", email="ann@sales.example")
    make_user(session, "bea", display_name="Bea Baker", role=Role.MODERATOR)
    gone = make_user(session, "cid", display_name="Cid Cole", is_active=False)
    session.commit()
    admin = _browser(app, "boss")

    def names(query: str) -> set[str]:
        page = admin.get("/admin/users" + query).get_data(as_text=True)
        return {n for n in ("ann", "bea", "cid", "boss") if f"@{n}</span>" in page}

    assert names("?q=sales.example") == {"ann"}  # by email
    assert names("?q=BEA") == {"bea"}  # by username, any case
    assert names("?q=cole") == {"cid"}  # by name, deactivated ones too
    assert names("?role=moderator") == {"bea"}
    assert names("?state=deactivated") == {"cid"}
    assert names("?state=active&role=member") == {"ann"}
    # Ordered by name, two a page.
    assert names("") == {"ann", "bea"}
    assert names("?page=2") == {"boss", "cid"}
    page = admin.get("/admin/users?state=deactivated").get_data(as_text=True)
    assert "Deactivated" in page and f"/admin/users/{gone.id}/reactivate" in page
    assert "never" in page  # Cid was never seen; the last-seen column says so
    mine = admin.get("/admin/users?q=boss").get_data(as_text=True)
    assert "ago" in mine or "just now" in mine  # Bo logged in: seen a moment ago
    assert admin.get("/admin/users?role=emperor").status_code == 400
    assert admin.get("/admin/users?state=gone").status_code == 400

    assert (
        admin.post(f"/admin/users/{ann.id}/role", {f"m{ann.id}-role": "moderator"}).status_code
        == 302
    )
    fresh(session)
    assert session.get(User, ann.id).role is Role.MODERATOR  # type: ignore[union-attr]
    assert _audit(session, ann) == [("member.role", boss.id)]
    reason = session.scalar(select(AuditLog.reason).where(AuditLog.target_id == ann.id))
    assert reason == "member → moderator"
