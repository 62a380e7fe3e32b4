"""Q&A through the test client: asking, answering, editing, accepting, voting, commenting,
lists, closing, and anonymous questions that never show their author."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from forum.models import Answer, AuditLog, Comment, Question, Role, Tag, Vote
from forum.models.qa import TagFollow
from tests.conftest import Browser
from tests.factories import make_answer, make_comment, make_question, make_user

GOOD = {
    "title": "How do I rotate the staging database password?",
    "body": "I tried `ALTER USER` but the app **lost** its connection.",
    "tags": "postgres ops",
}


@pytest.fixture
def member(session: Session) -> Any:
    """A member with enough reputation to create tags."""
    user = make_user(session, "grace", display_name="Grace Hopper", reputation=500)
    session.commit()
    return user


def _reload(session: Session, obj: Any) -> None:
    """Read ``obj`` again in a new transaction (a long one would keep an old snapshot)."""
    session.commit()
    session.refresh(obj)


def _ask(browser: Browser, **overrides: str) -> Any:
    return browser.post("/questions/ask", {**GOOD, **overrides})


def _question_id(response: Any) -> int:
    match = re.search(r"/questions/(\d+)", response.headers["Location"])
    assert match
    return int(match.group(1))


def test_asking_creates_a_question_with_tags_and_a_first_revision(
    browser: Browser, session: Session, member: Any
) -> None:
    browser.login("grace")
    response = _ask(browser)
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/how-do-i-rotate-the-staging-database-password")
    question = session.get(Question, _question_id(response))
    assert question is not None
    assert [t.name for t in question.tags] == ["ops", "postgres"]
    assert question.revision_count == 1
    assert "<strong>lost</strong>" in question.body_html
    page = browser.get(response.headers["Location"]).get_data(as_text=True)
    assert GOOD["title"] in page and "Grace Hopper" in page
    # Without the slug the page is the same question.
    assert browser.get(f"/questions/{question.id}").status_code == 200


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("title", "Too short", "at least 15 characters"),
        ("title", "x" * 151, "at most 150 characters"),
        ("body", "   ", "Describe what you are trying to do"),
        ("tags", "", "at least one tag"),
        ("tags", "a b c d e f", "at most 5 tags"),
        ("tags", "Bad_Tag", "lower-case letters"),
        ("tags", "x" * 36, "lower-case letters"),
    ],
)
def test_bad_questions_are_refused_with_the_text_kept(
    browser: Browser, session: Session, member: Any, field: str, value: str, message: str
) -> None:
    browser.login("grace")
    response = _ask(browser, **{field: value})
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert message in page
    # What was typed is still there.
    assert ("ALTER USER" if field != "body" else GOOD["title"]) in page
    assert session.scalar(select(func.count()).select_from(Question)) == 0


def test_markdown_over_the_size_cap_is_a_form_error(browser: Browser, member: Any) -> None:
    browser.login("grace")
    response = _ask(browser, body="a" * (201 * 1024))
    assert response.status_code == 400
    assert "limited to 200 KB" in response.get_data(as_text=True)


def test_new_tags_need_reputation_but_existing_ones_do_not(
    browser: Browser, session: Session
) -> None:
    make_user(session, "newbie", reputation=1)
    session.add(Tag(name="python"))
    session.commit()
    browser.login("newbie")
    refused = _ask(browser, tags="python brand-new-tag")
    assert refused.status_code == 400
    assert "brand-new-tag" in refused.get_data(as_text=True)
    assert _ask(browser, tags="python").status_code == 302


def test_editing_records_revisions_and_history_shows_a_diff(
    browser: Browser, session: Session, member: Any
) -> None:
    browser.login("grace")
    qid = _question_id(_ask(browser))
    edit_page = browser.get(f"/questions/{qid}/edit").get_data(as_text=True)
    assert 'name="base_revision" type="hidden" value="1"' in edit_page
    response = browser.post(
        f"/questions/{qid}/edit",
        {
            **GOOD,
            "body": "Now with the error message.",
            "summary": "add error",
            "base_revision": "1",
        },
    )
    assert response.status_code == 302
    history = browser.get(f"/questions/{qid}/history").get_data(as_text=True)
    assert "Revision 2" in history and "add error" in history
    diff = browser.get(f"/questions/{qid}/history?from=1&to=2").get_data(as_text=True)
    assert "Now with the error message." in diff and "<del>" in diff
    # An edit based on revision 1 now is stale: refused, with the text kept.
    stale = browser.post(
        f"/questions/{qid}/edit", {**GOOD, "body": "My stale text", "base_revision": "1"}
    )
    assert stale.status_code == 400
    assert "newer version" in stale.get_data(as_text=True)
    assert "My stale text" in stale.get_data(as_text=True)


def test_answers_accept_and_order(browser: Browser, session: Session, member: Any) -> None:
    question = make_question(session, member)
    first = make_answer(session, question, body="First answer.")
    second = make_answer(session, question, body="Second answer.")
    session.commit()
    browser.login("grace")
    assert browser.post(f"/answers/{second.id}/accept").status_code == 302
    _reload(session, question)
    assert question.accepted_answer_id == second.id
    page = browser.get(f"/questions/{question.id}").get_data(as_text=True)
    assert page.index("Second answer.") < page.index("First answer.")
    # Changing the accepted answer, then undoing it.
    browser.post(f"/answers/{first.id}/accept")
    _reload(session, question)
    assert question.accepted_answer_id == first.id
    browser.post(f"/answers/{first.id}/accept")
    _reload(session, question)
    assert question.accepted_answer_id is None


def test_posting_an_answer_and_refusals(browser: Browser, session: Session, member: Any) -> None:
    question = make_question(session)
    session.commit()
    browser.login("grace")
    response = browser.post(f"/questions/{question.id}/answer", {"body": "Use the vault CLI."})
    assert response.status_code == 302
    _reload(session, question)
    assert question.answer_count == 1
    empty = browser.post(f"/questions/{question.id}/answer", {"body": "  "})
    assert empty.status_code == 400
    question.closed_at = question.created_at
    question.closed_reason = "off-topic"
    session.commit()
    closed = browser.post(f"/questions/{question.id}/answer", {"body": "Late but useful text"})
    assert closed.status_code == 400
    page = closed.get_data(as_text=True)
    assert "closed" in page and "Late but useful text" in page
    assert browser.post("/questions/999999/answer", {"body": "x"}).status_code == 404


def test_accepting_on_someone_elses_question_is_forbidden(
    browser: Browser, session: Session, member: Any
) -> None:
    answer = make_answer(session, make_question(session))
    session.commit()
    browser.login("grace")
    assert browser.post(f"/answers/{answer.id}/accept").status_code == 403


def test_answers_are_soft_deleted_and_restored_by_moderators(
    browser: Browser, session: Session, member: Any
) -> None:
    question = make_question(session)
    answer = make_answer(session, question, member, body="Soon gone.")
    make_user(session, "mod", role=Role.MODERATOR)
    session.commit()
    browser.login("grace")
    assert browser.post(f"/answers/{answer.id}/delete").status_code == 302
    _reload(session, question)
    assert question.answer_count == 0
    browser.logout()
    assert "Soon gone." not in browser.get(f"/questions/{question.id}").get_data(as_text=True)
    browser.login("mod")
    assert browser.post(f"/answers/{answer.id}/undelete").status_code == 302
    _reload(session, question)
    assert question.answer_count == 1


def test_voting_with_and_without_javascript(
    browser: Browser, session: Session, member: Any
) -> None:
    question = make_question(session)
    session.commit()
    browser.login("grace")
    json = browser.post(
        f"/posts/{question.id}/vote", {"value": "1"}, headers={"Accept": "application/json"}
    )
    assert json.status_code == 200
    assert json.get_json() == {"post_id": question.id, "score": 1, "my_vote": 1}
    # The plain form: same value again undoes, and the browser goes back where it was.
    plain = browser.post(
        f"/posts/{question.id}/vote", {"value": "1", "next": f"/questions/{question.id}"}
    )
    assert plain.status_code == 303
    assert plain.headers["Location"] == f"/questions/{question.id}"
    _reload(session, question)
    assert question.score == 0
    bad = browser.post(
        f"/posts/{question.id}/vote", {"value": "5"}, headers={"Accept": "application/json"}
    )
    assert bad.status_code == 400
    # Off-site "next" targets are ignored.
    away = browser.post(f"/posts/{question.id}/vote", {"value": "1", "next": "//evil.example"})
    assert "evil" not in away.headers["Location"]


def test_own_post_vote_is_403_in_json(browser: Browser, session: Session, member: Any) -> None:
    question = make_question(session, member)
    session.commit()
    browser.login("grace")
    response = browser.post(
        f"/posts/{question.id}/vote", {"value": "1"}, headers={"Accept": "application/json"}
    )
    assert response.status_code == 403
    assert session.scalar(select(func.count()).select_from(Vote)) == 0


def test_comments_replies_edit_window_and_delete(
    browser: Browser, session: Session, member: Any
) -> None:
    question = make_question(session)
    answer = make_answer(session, question)
    session.commit()
    browser.login("grace")
    first = browser.post(f"/posts/{answer.id}/comments", {"body": "Which version?"})
    assert first.status_code == 302
    comment = session.scalars(select(Comment)).one()
    reply = browser.post(
        f"/posts/{answer.id}/comments", {"body": "Replying to myself", "parent_id": str(comment.id)}
    )
    assert reply.status_code == 302
    page = browser.get(f"/questions/{question.id}").get_data(as_text=True)
    assert "comment-list--replies" in page and "Replying to myself" in page
    assert browser.post(f"/posts/{answer.id}/comments", {"body": ""}).status_code == 400
    edited = browser.post(f"/comments/{comment.id}/edit", {"body": "Which Postgres version?"})
    assert edited.status_code == 302
    _reload(session, comment)
    assert comment.body_md == "Which Postgres version?"
    # After ten minutes the author can no longer edit.
    comment.created_at = comment.created_at - dt.timedelta(minutes=11)
    session.commit()
    assert browser.post(f"/comments/{comment.id}/edit", {"body": "late"}).status_code == 403
    # Deleting asks first: the thread links to a confirmation page, which deletes nothing.
    page = browser.get(f"/questions/{question.id}").get_data(as_text=True)
    assert f'href="/comments/{comment.id}/delete?next=' in page
    confirm = browser.get(f"/comments/{comment.id}/delete")
    assert confirm.status_code == 200
    confirm_page = confirm.get_data(as_text=True)
    assert "Delete this comment?" in confirm_page and "Which Postgres version?" in confirm_page
    assert f'action="/comments/{comment.id}/delete"' in confirm_page
    _reload(session, comment)
    assert comment.deleted_at is None
    assert browser.post(f"/comments/{comment.id}/delete").status_code == 302
    _reload(session, comment)
    assert comment.deleted_at is not None


def test_editing_someone_elses_comment_is_forbidden(
    browser: Browser, session: Session, member: Any
) -> None:
    comment = make_comment(session, make_question(session), body="Not yours.")
    session.commit()
    browser.login("grace")
    assert browser.post(f"/comments/{comment.id}/edit", {"body": "mine now"}).status_code == 403
    _reload(session, comment)
    assert comment.body_md == "Not yours."
    assert browser.get(f"/comments/{comment.id}/delete").status_code == 403


def test_views_count_once_per_person_per_hour(
    app: Flask, browser: Browser, session: Session, member: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    question = make_question(session)
    session.commit()
    browser.login("grace")
    page = {"headers": {"Sec-Fetch-Dest": "document"}}  # a person opening the page
    for _ in range(3):
        browser.get(f"/questions/{question.id}", **page)
    _reload(session, question)
    assert question.view_count == 1
    other = Browser(app.test_client())
    other.get(f"/questions/{question.id}", **page)
    _reload(session, question)
    assert question.view_count == 2
    # An hour later (the clock moves, as it would; the worker remembers the views it saw).
    later = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=61)
    monkeypatch.setattr("forum.services.questions.utcnow", lambda: later)
    browser.get(f"/questions/{question.id}", **page)
    _reload(session, question)
    assert question.view_count == 3
    browser.get(f"/questions/{question.id}", **page)
    other.get(f"/questions/{question.id}", **page)
    _reload(session, question)
    assert question.view_count == 4


def test_lists_newest_unanswered_top_and_my_tags(
    browser: Browser, session: Session, member: Any
) -> None:
    asker = make_user(session)
    old = make_question(session, asker, title="An old question about sql joins", tags=("sql",))
    old.created_at = old.created_at - dt.timedelta(days=40)
    old.score = 10
    good = make_question(session, asker, title="A question with a good answer", tags=("ops",))
    make_answer(session, good).score = 2
    weak = make_question(session, asker, title="A question with a weak answer", tags=("ops",))
    make_answer(session, weak).score = 0
    session.commit()
    newest = browser.get("/questions").get_data(as_text=True)
    assert newest.index("weak answer") < newest.index("good answer") < newest.index("old question")
    unanswered = browser.get("/questions?tab=unanswered").get_data(as_text=True)
    assert "weak answer" in unanswered and "old question" in unanswered
    assert "good answer" not in unanswered
    assert "old question" not in browser.get("/questions?tab=top-week").get_data(as_text=True)
    top = browser.get("/questions?tab=top").get_data(as_text=True)
    assert top.index("old question") < top.index("weak answer")
    browser.login("grace")
    assert "any tags" in browser.get("/questions?tab=my-tags").get_data(as_text=True)
    browser.post("/tags/sql/follow")
    assert session.scalar(select(func.count()).select_from(TagFollow)) == 1
    mine = browser.get("/questions?tab=my-tags").get_data(as_text=True)
    assert "old question" in mine and "weak answer" not in mine
    assert browser.get("/questions?tab=nonsense").status_code == 400
    assert browser.get("/questions?page=0").status_code == 400


def test_pagination(browser: Browser, session: Session, app: Flask) -> None:
    asker = make_user(session)
    for n in range(35):
        make_question(session, asker, title=f"Paginated question number {n:02d}")
    session.commit()
    first = browser.get("/questions").get_data(as_text=True)
    assert "Page 1 of 2" in first and "number 34" in first and "number 00" not in first
    second = browser.get("/questions?page=2").get_data(as_text=True)
    assert "number 00" in second


def test_close_as_duplicate_links_both_pages_and_reopen(browser: Browser, session: Session) -> None:
    original = make_question(session, title="How do I get VPN access at home?")
    copy = make_question(session, title="VPN from home does not connect, help")
    make_user(session, "mod", role=Role.MODERATOR)
    session.commit()
    browser.login("mod")
    bad = browser.post(f"/questions/{copy.id}/close", {"reason": "duplicate"})
    assert bad.status_code == 400 and "original question" in bad.get_data(as_text=True)
    response = browser.post(
        f"/questions/{copy.id}/close",
        {"reason": "duplicate", "duplicate_of": str(original.id), "note": "Same VPN issue."},
    )
    assert response.status_code == 302
    copy_page = browser.get(f"/questions/{copy.id}").get_data(as_text=True)
    assert "Closed: Duplicate" in copy_page and "How do I get VPN access at home?" in copy_page
    assert "Same VPN issue." in copy_page
    original_page = browser.get(f"/questions/{original.id}").get_data(as_text=True)
    assert "VPN from home does not connect, help" in original_page
    assert browser.post(f"/questions/{copy.id}/reopen").status_code == 302
    _reload(session, copy)
    assert copy.closed_at is None and copy.duplicate_of_id is None
    actions = session.scalars(select(AuditLog.action).order_by(AuditLog.id)).all()
    assert actions == ["question.close", "question.reopen"]


# --- Anonymous questions -----------------------------------------------------------------


@pytest.fixture
def anonymous_thread(session: Session) -> dict[str, Any]:
    """An anonymous question whose asker also comments and answers in the thread."""
    asker = make_user(session, "zquasar", display_name="Zelda Quasar", reputation=500)
    helper = make_user(session, "helper", display_name="Helpful Hal", reputation=500)
    make_user(session, "mod", role=Role.MODERATOR)
    question = make_question(
        session,
        asker,
        title="Is it normal to feel lost in the first month?",
        tags=("onboarding",),
        anonymous=True,
    )
    answer = make_answer(session, question, helper, body="Completely normal.")
    make_comment(session, question, asker, body="Thanks, asking as the asker.")
    make_comment(session, answer, asker, body="That helps a lot.")
    make_answer(session, question, asker, body="Update from the asker.")
    session.commit()
    return {"question": question, "answer": answer, "asker": asker}


def _leaks(text: str) -> bool:
    return "Zelda" in text or "zquasar" in text or "Quasar" in text


def test_an_anonymous_askers_name_appears_nowhere(
    app: Flask, browser: Browser, session: Session, anonymous_thread: dict[str, Any]
) -> None:
    question = anonymous_thread["question"]
    answer = anonymous_thread["answer"]
    paths = [
        f"/questions/{question.id}",
        f"/questions/{question.id}/history",
        f"/answers/{answer.id}/history",
        "/questions",
        "/questions?tab=unanswered",
        "/questions?tab=active",
        "/questions?tab=top",
        "/tags",
        "/tags/onboarding",
        "/search?q=lost+first+month",
        "/search?q=normal",
        "/search/similar?title=feel+lost+in+the+first+month",
    ]
    for who in (None, "helper", "mod"):
        viewer = Browser(app.test_client())
        if who:
            viewer.login(who)
        for path in paths:
            response = viewer.get(path)
            assert response.status_code == 200, (who, path)
            assert not _leaks(response.get_data(as_text=True)), (who, path)
        # Searching for the asker's own posts does not find the anonymous question.
        by_user = viewer.get("/search?q=user:zquasar").get_data(as_text=True)
        assert "feel lost in the first month" not in by_user
        voted = viewer.post(
            f"/posts/{question.id}/vote", {"value": "1"}, headers={"Accept": "application/json"}
        )
        assert not _leaks(voted.get_data(as_text=True))
    page = browser.get(f"/questions/{question.id}").get_data(as_text=True)
    assert "Anonymous colleague" in page and "Anonymous colleague (asker)" in page
    # The asker's profile does not list the anonymous question.
    profile = browser.get("/users/zquasar").get_data(as_text=True)
    assert "feel lost in the first month" not in profile


def test_the_asker_can_still_edit_their_anonymous_question(
    app: Flask, session: Session, anonymous_thread: dict[str, Any]
) -> None:
    question = anonymous_thread["question"]
    asker = Browser(app.test_client())
    asker.login("zquasar")
    page = asker.get(f"/questions/{question.id}").get_data(as_text=True)
    assert "you asked anonymously" in page
    response = asker.post(
        f"/questions/{question.id}/edit",
        {"title": question.title, "body": "More detail now.", "tags": "onboarding"},
    )
    assert response.status_code == 302
    visitor = Browser(app.test_client())
    history = visitor.get(f"/questions/{question.id}/history").get_data(as_text=True)
    assert "Revision 2" in history and not _leaks(history)


def test_moderators_reveal_only_with_a_reason_that_is_audited(
    app: Flask, session: Session, anonymous_thread: dict[str, Any]
) -> None:
    question = anonymous_thread["question"]
    mod = Browser(app.test_client())
    mod.login("mod")
    form = mod.get(f"/questions/{question.id}/reveal").get_data(as_text=True)
    assert not _leaks(form)
    short = mod.post(f"/questions/{question.id}/reveal", {"reason": "curious"})
    assert short.status_code == 400 and not _leaks(short.get_data(as_text=True))
    assert session.scalar(select(func.count()).select_from(AuditLog)) == 0
    revealed = mod.post(
        f"/questions/{question.id}/reveal",
        {"reason": "Code of conduct report #12 needs follow-up."},
    )
    assert revealed.status_code == 200
    assert "Zelda Quasar" in revealed.get_data(as_text=True)
    session.commit()
    entry = session.scalars(select(AuditLog)).one()
    assert (entry.action, entry.target_type, entry.target_id) == (
        "question.reveal_author",
        "post",
        question.id,
    )
    assert entry.reason.startswith("Code of conduct")
    # Members cannot reveal at all.
    helper = Browser(app.test_client())
    helper.login("helper")
    assert (
        helper.post(
            f"/questions/{question.id}/reveal", {"reason": "I would like to know who."}
        ).status_code
        == 403
    )


def test_deleting_an_accepted_answer_clears_acceptance(session: Session) -> None:
    from forum.services import answers

    question = make_question(session)
    answer = make_answer(session, question)
    session.commit()
    answers.accept(session, acceptor=question.author, answer_id=answer.id)
    session.commit()
    answers.delete(session, actor=answer.author, answer_id=answer.id)
    session.commit()
    _reload(session, question)
    assert question.accepted_answer_id is None
    assert session.get(Answer, answer.id).deleted_at is not None  # type: ignore[union-attr]


# --- Rate limits ---------------------------------------------------------------------------


def test_posting_voting_and_commenting_are_limited_per_member(
    database_url: str, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from forum import create_app
    from forum.db import get_engine, new_session
    from forum.extensions import limiter
    from tests.conftest import base_config

    monkeypatch.setenv("FORUM_INSTANCE_PATH", str(tmp_path / "instance"))
    limited = create_app(
        base_config(
            tmp_path,
            database_url,
            RATELIMIT_ENABLED=True,
            POST_RATE_LIMIT="2 per minute",
            VOTE_RATE_LIMIT="3 per minute",
            COMMENT_RATE_LIMIT="2 per minute",
        )
    )
    limiter.reset()
    db = new_session(limited)
    try:
        make_user(db, "grace", reputation=500)
        make_user(db, "tom", reputation=500)
        targets = [make_question(db) for _ in range(4)]
        db.commit()
        ids = [q.id for q in targets]
    finally:
        db.close()
    grace = Browser(limited.test_client())
    grace.login("grace")
    answers = [grace.post(f"/questions/{ids[0]}/answer", {"body": f"a{n}"}) for n in range(3)]
    assert [r.status_code for r in answers] == [302, 302, 429]
    votes = [grace.post(f"/posts/{qid}/vote", {"value": "1"}).status_code for qid in ids]
    assert votes == [303, 303, 303, 429]
    comments = [
        grace.post(f"/posts/{ids[1]}/comments", {"body": f"c{n}"}).status_code for n in range(3)
    ]
    assert comments == [302, 302, 429]
    # Limits are per member: a colleague is not blocked by grace's.
    tom = Browser(limited.test_client())
    tom.login("tom")
    assert tom.post(f"/questions/{ids[0]}/answer", {"body": "tom's"}).status_code == 302
    limiter.reset()
    get_engine(limited).dispose()


def test_the_question_page_marks_its_area_and_shows_the_answer_form_to_members_only(
    browser: Browser, session: Session, member: Any
) -> None:
    question = make_question(session)
    closed = make_question(session)
    closed.closed_at, closed.closed_reason = closed.created_at, "off-topic"
    session.commit()
    visitor = browser.get(f"/questions/{question.id}").get_data(as_text=True)
    # The header and the folded menu both mark "Questions" as the current area.
    assert visitor.count('<a href="/questions" aria-current="page">Questions</a>') == 2
    assert visitor.count('aria-current="page"') == 2
    assert "to answer." in visitor and "Post your answer" not in visitor
    browser.login("grace")
    open_page = browser.get(f"/questions/{question.id}").get_data(as_text=True)
    assert "Post your answer" in open_page and 'name="body"' in open_page
    closed_page = browser.get(f"/questions/{closed.id}").get_data(as_text=True)
    assert "it takes no new answers" in closed_page and "Post your answer" not in closed_page


def test_imported_posts_show_their_source_on_the_question_page(
    browser: Browser, session: Session
) -> None:
    from forum.models.imports import PostAttribution

    question = make_question(session)
    answer = make_answer(session, question)
    session.flush()
    session.add(
        PostAttribution(
            post_id=answer.id,
            source="Stack Exchange",
            site="ai.stackexchange.com",
            source_url="https://ai.stackexchange.com/a/42",
            author_name="Original Author",
            author_url="https://ai.stackexchange.com/users/7",
            license="CC BY-SA 4.0",
            published_at=dt.datetime(2020, 5, 1, 12, 0, tzinfo=dt.UTC),
        )
    )
    session.commit()
    page = browser.get(f"/questions/{question.id}").get_data(as_text=True)
    assert page.count('class="attribution"') == 1
    assert 'aria-label="Source of this answer"' in page
    assert '<a href="https://ai.stackexchange.com/a/42" rel="nofollow noopener">' in page
    assert "Original Author" in page and "01 May 2020, 12:00 UTC" in page
    assert 'rel="license nofollow noopener">CC BY-SA 4.0</a>' in page
