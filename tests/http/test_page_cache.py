"""Visitors' pages are kept until the next write, never for members, with each visitor's token."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from forum import pagecache
from forum.db import get_engine, new_session
from forum.models import User
from forum.services import votes
from tests.conftest import CSRF_META, TEST_PASSWORD, Browser
from tests.factories import make_question, make_user
from tests.http.test_query_counts import PAGE_LOAD, counted


def _fresh_visitor(app: Flask) -> Any:
    return app.test_client()


def test_a_visitor_page_is_served_again_without_touching_the_database(
    app: Flask, session: Session
) -> None:
    make_question(session, make_user(session, "asker"), title="Where is the staging runbook?")
    session.commit()
    first = _fresh_visitor(app).get("/questions")
    assert first.status_code == 200
    with counted(app) as statements:
        again = _fresh_visitor(app).get("/questions")
    assert again.status_code == 200
    assert statements == []
    assert "Where is the staging runbook?" in again.get_data(as_text=True)


@pytest.mark.parametrize("path", ["/", "/questions", "/tags", "/tags/howto", "/articles"])
def test_every_listed_page_is_kept(app: Flask, session: Session, path: str) -> None:
    make_question(session, make_user(session, "asker"))
    session.commit()
    assert _fresh_visitor(app).get(path).status_code == 200
    with counted(app) as statements:
        assert _fresh_visitor(app).get(path).status_code == 200
    assert statements == []


def test_a_write_shows_at_once(app: Flask, session: Session) -> None:
    asker = make_user(session, "asker")
    question = make_question(session, asker, title="How do I rotate the API keys?")
    voter = make_user(session, "voter", reputation=1000)
    session.commit()
    before = _fresh_visitor(app).get("/tags/howto").get_data(as_text=True)
    assert "How do I rotate the API keys?" in before
    assert 'aria-label="0 votes' in _fresh_visitor(app).get("/questions").get_data(as_text=True)
    make_question(session, asker, title="Who approves a production deploy?")
    session.commit()
    after = _fresh_visitor(app).get("/tags/howto").get_data(as_text=True)
    assert "Who approves a production deploy?" in after
    votes.cast(session, voter=voter, post_id=question.id, value=1)
    session.commit()
    page = _fresh_visitor(app).get("/questions").get_data(as_text=True)
    assert 'aria-label="1 votes' in page


def test_a_write_by_another_process_shows_at_once(
    app: Flask, session: Session, app_config: dict[str, Any]
) -> None:
    """Another worker: its own engine and kept pages, the same instance folder."""
    from forum import create_app

    other = create_app(app_config)
    try:
        asker = make_user(session, "asker")
        make_question(session, asker, title="Where are the onboarding slides?")
        session.commit()
        assert "onboarding slides" in other.test_client().get("/questions").get_data(as_text=True)
        # Written through this app's engine (a write the other process did not make).
        make_question(session, asker, title="Which VPN profile do contractors use?")
        session.commit()
        page = other.test_client().get("/questions").get_data(as_text=True)
        assert "Which VPN profile do contractors use?" in page
    finally:
        get_engine(other).dispose()


def test_a_write_outside_the_orm_moves_the_generation_too(app: Flask, session: Session) -> None:
    question = make_question(session, make_user(session, "asker"), title="Old title of a question")
    session.commit()
    assert "Old title of a question" in _fresh_visitor(app).get("/questions").get_data(as_text=True)
    with get_engine(app).begin() as conn:
        conn.execute(
            text("UPDATE posts SET title = 'New title of a question' WHERE id = :id"),
            {"id": question.id},
        )
    assert "New title of a question" in _fresh_visitor(app).get("/questions").get_data(as_text=True)


def _token(page: str) -> str:
    match = CSRF_META.search(page)
    assert match, "no CSRF token on the page"
    return match.group(1)


def test_each_visitor_gets_their_own_csrf_token(app: Flask, session: Session) -> None:
    make_question(session, make_user(session, "asker"))
    make_user(session, "reader")
    session.commit()
    first, second = _fresh_visitor(app), _fresh_visitor(app)
    first_page = first.get("/questions").get_data(as_text=True)
    with counted(app) as statements:
        second_page = second.get("/questions")
    assert statements == []
    token = _token(second_page.get_data(as_text=True))
    assert token != _token(first_page)
    login = {"username": "reader", "password": TEST_PASSWORD}
    # The first visitor's token is not the second's session's: refused.
    refused = second.post("/login", data={"csrf_token": _token(first_page), **login})
    assert refused.status_code == 400
    assert "The CSRF tokens do not match." in refused.get_data(as_text=True)
    # The one the kept page carried is the second visitor's own: the login goes through.
    response = second.post("/login", data={"csrf_token": token, **login})
    assert response.status_code == 302


def test_members_never_get_a_kept_page_nor_leave_one(
    app: Flask, session: Session, browser: Browser
) -> None:
    asker = make_user(session, "shy")
    make_question(session, asker, title="Is it fine to ask about my payslip?", anonymous=True)
    make_user(session, "reader")
    session.commit()
    visitor_page = _fresh_visitor(app).get("/questions").get_data(as_text=True)
    assert "Log in" in visitor_page
    browser.login("reader")
    with counted(app) as statements:
        member_page = browser.get("/questions").get_data(as_text=True)
    assert statements, "a member's page was served from the visitors' pages"
    assert "Log out" in member_page and "reader" in member_page
    # The member's render was not kept for visitors either.
    again = _fresh_visitor(app).get("/questions").get_data(as_text=True)
    assert "Log out" not in again
    # The anonymous asker's own page names nobody to the next visitor.
    shy = app.test_client()
    Browser(shy).login("shy")
    shy.get("/questions")
    assert "shy" not in _fresh_visitor(app).get("/questions").get_data(as_text=True)


def test_a_visitor_with_a_message_waiting_gets_a_fresh_page(app: Flask, session: Session) -> None:
    make_question(session, make_user(session, "asker"))
    session.commit()
    _fresh_visitor(app).get("/questions")
    visitor = _fresh_visitor(app)
    with visitor.session_transaction() as flask_session:
        flask_session["_flashes"] = [("info", "You have logged out.")]
    page = visitor.get("/questions").get_data(as_text=True)
    assert "You have logged out." in page


def test_etag_answers_304(app: Flask, session: Session) -> None:
    make_question(session, make_user(session, "asker"))
    session.commit()
    first = _fresh_visitor(app).get("/questions")
    etag = first.headers["ETag"]
    assert _fresh_visitor(app).get("/questions", headers={"If-None-Match": etag}).status_code == 304
    make_question(session, make_user(session, "other"))
    session.commit()
    changed = _fresh_visitor(app).get("/questions", headers={"If-None-Match": etag})
    assert changed.status_code == 200
    assert changed.headers["ETag"] != etag


def test_kept_pages_age_out(app: Flask, session: Session) -> None:
    make_question(session, make_user(session, "asker"))
    session.commit()
    cache = pagecache.page_cache(app)
    assert cache is not None
    cache.max_age = 0
    _fresh_visitor(app).get("/questions")
    with counted(app) as statements:
        _fresh_visitor(app).get("/questions")
    assert statements


def test_the_cache_can_be_turned_off(
    app_config: dict[str, Any], tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from forum import create_app

    monkeypatch.setenv("FORUM_INSTANCE_PATH", str(tmp_path / "instance"))
    app = create_app({**app_config, "PAGE_CACHE": False})
    try:
        assert pagecache.page_cache(app) is None
        db = new_session(app)
        make_question(db, make_user(db, "asker"))
        db.commit()
        db.close()
        app.test_client().get("/questions")
        with counted(app) as statements:
            app.test_client().get("/questions")
        assert statements
    finally:
        get_engine(app).dispose()


def test_only_writes_move_the_generation() -> None:
    assert pagecache._is_write("INSERT INTO posts (id) VALUES (1)")
    assert pagecache._is_write("  update posts set title = 'x'")
    assert pagecache._is_write("WITH gone AS (DELETE FROM votes RETURNING id) SELECT 1")
    assert not pagecache._is_write("SELECT * FROM posts")
    assert not pagecache._is_write("WITH top AS (SELECT 1) SELECT * FROM top")
    assert not pagecache._is_write("PRAGMA foreign_keys = ON")


def _visit(app: Flask, path: str, address: str) -> str:
    client = app.test_client()
    response = client.get(path, headers=PAGE_LOAD, environ_base={"REMOTE_ADDR": address})
    assert response.status_code == 200
    # The count's words, spacing aside: "Viewed 2 times".
    return " ".join(response.get_data(as_text=True).split())


def test_the_question_page_is_kept_and_every_view_still_counts(
    app: Flask, session: Session
) -> None:
    question = make_question(session, make_user(session, "asker"), title="How do we tag releases?")
    session.commit()
    path = f"/questions/{question.id}"
    assert "Viewed 1 time </p>" in _visit(app, path, "10.0.0.1")
    # The same person within the hour: not counted (the database says so once, which is a
    # write statement that changed nothing, then this worker remembers).
    assert "Viewed 1 time </p>" in _visit(app, path, "10.0.0.1")
    assert "Viewed 1 time </p>" in _visit(app, path, "10.0.0.1")
    with counted(app) as statements:
        again = _visit(app, path, "10.0.0.1")
    assert statements == [], "a repeat visit was not answered from the kept page"
    assert "How do we tag releases?" in again and "Viewed 1 time </p>" in again
    # Someone else: their view counts, and shows at once.
    assert "Viewed 2 times" in _visit(app, path, "10.0.0.2")
    assert "Viewed 2 times" in _visit(app, path, "10.0.0.1")
    session.expire_all()
    assert session.get(type(question), question.id).view_count == 2


def test_members_share_the_list_itself_and_see_writes_at_once(app: Flask, session: Session) -> None:
    asker = make_user(session, "asker")
    make_question(session, asker, title="Which laptop image do new hires get?")
    for name in ("ana", "ben"):
        make_user(session, name)
    session.commit()
    ana, ben = Browser(app.test_client()), Browser(app.test_client())
    ana.login("ana")
    ben.login("ben")
    with counted(app) as first:
        assert "Which laptop image" in ana.get("/questions").get_data(as_text=True)
    with counted(app) as second:
        page = ben.get("/questions").get_data(as_text=True)
    assert "Which laptop image" in page and "ben" in page and "ana" not in page
    assert not any("FROM posts" in statement for statement in second)
    assert len(second) < len(first)
    make_question(session, asker, title="Who signs off travel over 2,000 euros?")
    session.commit()
    assert "Who signs off travel" in ben.get("/questions").get_data(as_text=True)


def test_the_followed_tags_list_is_each_members_own(app: Flask, session: Session) -> None:
    from forum.services import tags as tag_service

    asker = make_user(session, "asker")
    make_question(session, asker, title="How do I request a staging database?", tags=("infra",))
    make_question(session, asker, title="Where is the brand font licence?", tags=("design",))
    ana, ben = make_user(session, "ana"), make_user(session, "ben")
    session.flush()
    infra, design = tag_service.tags_named(session, ["infra", "design"])
    tag_service.follow(session, user=ana, tag=infra)
    tag_service.follow(session, user=ben, tag=design)
    session.commit()
    ana_browser, ben_browser = Browser(app.test_client()), Browser(app.test_client())
    ana_browser.login("ana")
    ben_browser.login("ben")
    ana_page = ana_browser.get("/questions?tab=my-tags").get_data(as_text=True)
    ben_page = ben_browser.get("/questions?tab=my-tags").get_data(as_text=True)
    assert "staging database" in ana_page and "brand font" not in ana_page
    assert "brand font" in ben_page and "staging database" not in ben_page


def test_members_share_the_tag_lists_and_see_writes_at_once(app: Flask, session: Session) -> None:
    asker = make_user(session, "asker")
    make_question(session, asker, title="How do I book the big meeting room?", tags=("office",))
    make_user(session, "ana")
    session.commit()
    ana = Browser(app.test_client())
    ana.login("ana")
    for path in ("/tags", "/tags/office"):
        with counted(app) as first:
            ana.get(path)
        with counted(app) as again:
            ana.get(path)
        assert len(again) < len(first), path
    # The tag grid is kept whole: no count of questions per tag runs again.
    with counted(app) as statements:
        ana.get("/tags")
    assert not any("post_tags" in statement for statement in statements)
    make_question(session, asker, title="Where do parcels for the office go?", tags=("office",))
    session.commit()
    assert "2 questions" in ana.get("/tags").get_data(as_text=True)
    assert "Where do parcels" in ana.get("/tags/office").get_data(as_text=True)


def test_members_share_results_but_every_fruitless_search_is_recorded(
    app: Flask, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    from forum import search
    from forum.models import ZeroResultQuery

    make_question(session, make_user(session, "asker"), title="Where is the incident runbook?")
    for name in ("ana", "ben"):
        make_user(session, name)
    session.commit()
    searches: list[str] = []
    real = search.search

    def counting(*args: Any, **kwargs: Any) -> Any:
        searches.append(args[1])
        return real(*args, **kwargs)

    monkeypatch.setattr(search, "search", counting)
    ana, ben = Browser(app.test_client()), Browser(app.test_client())
    ana.login("ana")
    ben.login("ben")
    assert "Where is the incident" in ana.get("/search?q=runbook").get_data(as_text=True)
    page = ben.get("/search?q=runbook").get_data(as_text=True)
    assert "Where is the incident" in page and "ben" in page and "ana" not in page
    assert searches == ["runbook"]
    for browser in (ana, ben):
        browser.get("/search?q=wibblefrotz")
    assert searches == ["runbook", "wibblefrotz", "wibblefrotz"]
    session.expire_all()
    recorded = session.scalars(select(ZeroResultQuery.user_id)).all()
    assert sorted(recorded) == sorted(
        session.scalars(select(User.id).where(User.username.in_(["ana", "ben"]))).all()
    )


def _members(app: Flask, *names: str) -> list[Browser]:
    browsers = []
    for name in names:
        browser = Browser(app.test_client())
        browser.login(name)
        browsers.append(browser)
    return browsers


def test_members_following_the_same_tags_share_their_list(app: Flask, session: Session) -> None:
    from forum.services import tags as tag_service

    asker = make_user(session, "asker")
    make_question(session, asker, title="How do I request a staging database?", tags=("infra",))
    make_question(session, asker, title="Where is the brand font licence?", tags=("design",))
    for name in ("ana", "ben", "cai"):
        make_user(session, name)
    session.flush()
    infra, design = tag_service.tags_named(session, ["infra", "design"])
    ana_user, ben_user, cai_user = (
        session.scalars(select(User).where(User.username == n)).one() for n in ("ana", "ben", "cai")
    )
    tag_service.follow(session, user=ana_user, tag=infra)
    tag_service.follow(session, user=ben_user, tag=infra)
    tag_service.follow(session, user=cai_user, tag=design)
    # Asked anonymously by a member who follows the tag: nobody's list names her.
    anonymous = make_question(
        session,
        ana_user,
        title="Is it fine to ask for a raise now?",
        tags=("infra",),
        anonymous=True,
    )
    session.commit()
    ana, ben, cai = _members(app, "ana", "ben", "cai")
    with counted(app) as first:
        ana_page = ana.get("/questions?tab=my-tags").get_data(as_text=True)
    with counted(app) as second:
        ben_page = ben.get("/questions?tab=my-tags").get_data(as_text=True)
    # The list is HTML (not text), and the same for both: read once.
    assert '<ol class="question-list">' in ben_page
    assert f'<a href="/questions/{anonymous.id}/' in ben_page
    assert not any("FROM posts" in statement for statement in second)
    assert len(second) < len(first)
    for page, me in ((ana_page, "ana"), (ben_page, "ben")):
        assert "staging database" in page and "brand font" not in page
        assert page.count("Anonymous colleague") == 1
        assert "/users/ana" not in page.split('<ol class="question-list">')[1].split("</ol>")[0]
        assert f"/users/{me}" in page  # the header names the reader, from their own request
    cai_page = cai.get("/questions?tab=my-tags").get_data(as_text=True)
    assert "brand font" in cai_page and "staging database" not in cai_page
    # Following another tag changes the member's list at once.
    ben.post("/tags/design/follow")
    ben_page = ben.get("/questions?tab=my-tags").get_data(as_text=True)
    assert "brand font" in ben_page and "staging database" in ben_page
    assert "brand font" not in ana.get("/questions?tab=my-tags").get_data(as_text=True)


def test_members_share_the_article_list_and_see_new_articles_at_once(
    app: Flask, session: Session
) -> None:
    from tests.factories import make_article

    writer = make_user(session, "writer")
    make_article(session, writer, title="Reading the on-call rota")
    for name in ("ana", "ben"):
        make_user(session, name)
    session.commit()
    ana, ben = _members(app, "ana", "ben")
    with counted(app) as first:
        assert "Reading the on-call rota" in ana.get("/articles").get_data(as_text=True)
    with counted(app) as second:
        page = ben.get("/articles").get_data(as_text=True)
    assert "Reading the on-call rota" in page and "/users/ben" in page
    assert not any("FROM posts" in statement for statement in second)
    assert len(second) < len(first)
    make_article(session, writer, title="Booking a desk abroad")
    session.commit()
    assert "Booking a desk abroad" in ben.get("/articles").get_data(as_text=True)


def test_the_front_page_shares_the_latest_articles_and_nothing_personal(
    app: Flask, session: Session
) -> None:
    from tests.factories import make_article

    writer = make_user(session, "writer")
    make_article(session, writer, title="Reading the on-call rota")
    make_user(session, "ana", unread_notifications=3)
    make_user(session, "ben")
    session.commit()
    ana, ben = _members(app, "ana", "ben")
    with counted(app) as first:
        ana_page = ana.get("/").get_data(as_text=True)
    with counted(app) as second:
        ben_page = ben.get("/").get_data(as_text=True)
    assert "Reading the on-call rota" in ana_page and "Reading the on-call rota" in ben_page
    assert len(second) < len(first)
    assert "3 unread" in ana_page and "3 unread" not in ben_page
    assert "/users/ana" not in ben_page and "/users/ben" in ben_page
    assert ana.csrf_token("/") != ben.csrf_token("/")
    assert ana.csrf_token("/") not in ben.get("/").get_data(as_text=True)
    make_article(session, writer, title="Booking a desk abroad")
    session.commit()
    assert "Booking a desk abroad" in ben.get("/").get_data(as_text=True)


def test_members_share_an_articles_byline_and_links_but_keep_their_own_marks(
    app: Flask, session: Session
) -> None:
    from forum.services import articles
    from tests.factories import make_article

    writer = make_user(session, "writer")
    article = make_article(session, writer, title="Deploying on Fridays", tags="ops")
    make_article(session, writer, title="Release checklist", body="See [[Deploying on Fridays]].")
    make_user(session, "ana", reputation=1000)
    make_user(session, "ben", reputation=1000)
    session.commit()
    ana, ben = _members(app, "ana", "ben")
    path = f"/articles/{article.slug}"
    ana.post(f"/posts/{article.id}/follow", {"follow": "1"})
    ana.post(path + "/helpful", {"helpful": "yes"})
    ana.post(f"/posts/{article.id}/vote", {"value": "1"})
    ana_page = ana.get(path).get_data(as_text=True)
    assert "Unfollow" in ana_page and "You answered yes" in ana_page
    assert "vote-button--up is-active" in ana_page
    with counted(app) as first:
        ana.get(path)
    with counted(app) as second:
        ben_page = ben.get(path).get_data(as_text=True)
    assert len(second) == len(first)
    assert not any("article_links" in statement for statement in second)
    # Ben's own marks: he follows nothing, answered nothing, voted nothing.
    assert "Unfollow" not in ben_page and ">Follow<" in ben_page
    assert "You answered" not in ben_page and "is-active" not in ben_page
    assert "Release checklist" in ben_page and "/users/writer" in ben_page
    assert "100% of 1 colleague found this helpful" in ben_page
    assert ana.csrf_token(path) not in ben_page
    # An edit shows at once: title, tags and byline.
    articles.edit_article(
        session,
        article,
        editor=writer,
        data=articles.ArticleData(
            title="Deploying on Fridays, carefully",
            body_md=article.body_md,
            tags_text="ops release",
            article_type="tip",
        ),
        base_revision=article.revision_count,
        allow_new_tags=True,
    )
    session.commit()
    page = ben.get(path).get_data(as_text=True)
    assert "Deploying on Fridays, carefully" in page and "?tag=release" in page
    assert "2 revisions" in page


def test_parts_are_not_kept_when_the_cache_is_off(
    app_config: dict[str, Any], tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from forum import create_app
    from tests.factories import make_article

    monkeypatch.setenv("FORUM_INSTANCE_PATH", str(tmp_path / "instance"))
    app = create_app({**app_config, "PAGE_CACHE": False})
    try:
        db = new_session(app)
        article = make_article(db, make_user(db, "writer"), title="Deploying on Fridays")
        make_user(db, "ana")
        db.commit()
        slug = article.slug
        db.close()
        [ana] = _members(app, "ana")
        for path in ("/", f"/articles/{slug}", "/articles", "/questions?tab=my-tags"):
            ana.get(path)
            with counted(app) as first:
                ana.get(path)
            with counted(app) as again:
                ana.get(path)
            assert len(again) == len(first), path
        with counted(app) as statements:
            ana.get(f"/articles/{slug}")
        assert any("article_links" in statement for statement in statements)
    finally:
        get_engine(app).dispose()
