"""Tags: the directory, a tag's page, descriptions, following, synonyms and merging."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from forum.models import Question, Role, Tag, TagSynonym
from forum.models.qa import TagFollow
from tests.conftest import Browser
from tests.factories import make_question, make_user


def test_the_directory_shows_counts_and_excerpts(browser: Browser, session: Session) -> None:
    asker = make_user(session)
    for n in range(3):
        make_question(session, asker, tags=("python",), title=f"A python question number {n}")
    make_question(session, asker, tags=("sql",))
    session.commit()
    session.scalars(select(Tag).where(Tag.name == "python")).one().excerpt = "The language."
    session.commit()
    page = browser.get("/tags").get_data(as_text=True)
    assert "3 questions" in page and "The language." in page
    assert page.index(">python<") < page.index(">sql<")
    by_name = browser.get("/tags?sort=name&q=s").get_data(as_text=True)
    assert ">sql<" in by_name and ">python<" not in by_name


def test_an_empty_directory_says_how_tags_appear(browser: Browser) -> None:
    assert "No tags yet" in browser.get("/tags").get_data(as_text=True)


def test_a_tag_page_lists_its_questions(browser: Browser, session: Session) -> None:
    make_question(session, tags=("kubernetes",), title="How do I restart a stuck pod safely?")
    make_question(session, tags=("other",), title="Something unrelated to the tag here")
    session.commit()
    page = browser.get("/tags/kubernetes").get_data(as_text=True)
    assert "restart a stuck pod" in page and "unrelated" not in page
    assert browser.get("/tags/nope").status_code == 404


def test_descriptions_need_the_privilege(browser: Browser, session: Session) -> None:
    make_question(session, tags=("python",))
    make_user(session, "newbie", reputation=1)
    make_user(session, "mod", role=Role.MODERATOR)
    session.commit()
    browser.login("newbie")
    assert browser.get("/tags/python/edit").status_code == 403
    assert (
        browser.post("/tags/python/edit", {"excerpt": "x", "description": "y"}).status_code == 403
    )
    browser.logout()
    browser.login("mod")
    too_long = browser.post(
        "/tags/python/edit", {"excerpt": "e" * 301, "description": "Kept **text**"}
    )
    assert too_long.status_code == 400 and "Kept **text**" in too_long.get_data(as_text=True)
    ok = browser.post(
        "/tags/python/edit", {"excerpt": "Python at Northwind.", "description": "Use **it**."}
    )
    assert ok.status_code == 302
    page = browser.get("/tags/python").get_data(as_text=True)
    assert "Python at Northwind." in page and "<strong>it</strong>" in page


def test_follow_and_unfollow(browser: Browser, session: Session) -> None:
    make_question(session, tags=("python",))
    make_user(session, "grace")
    session.commit()
    browser.login("grace")
    browser.post("/tags/python/follow")
    browser.post("/tags/python/follow")  # twice is harmless
    session.commit()
    assert session.scalar(select(func.count()).select_from(TagFollow)) == 1
    assert "Unfollow" in browser.get("/tags/python").get_data(as_text=True)
    browser.post("/tags/python/unfollow")
    session.commit()
    assert session.scalar(select(func.count()).select_from(TagFollow)) == 0


def test_synonyms_lead_to_the_main_tag(browser: Browser, session: Session) -> None:
    make_question(session, tags=("python",))
    make_user(session, "mod", role=Role.MODERATOR, reputation=500)
    session.commit()
    browser.login("mod")
    assert browser.post("/tags/python/synonyms", {"synonym": "py"}).status_code == 302
    response = browser.get("/tags/py")
    assert response.status_code == 301 and response.headers["Location"].endswith("/tags/python")
    asked = browser.post(
        "/questions/ask",
        {"title": "Which py version do we standardise on?", "body": "3.11 or 3.12?", "tags": "py"},
    )
    assert asked.status_code == 302
    session.commit()
    newest = session.scalars(select(Question).order_by(Question.id.desc())).first()
    assert newest is not None and [t.name for t in newest.tags] == ["python"]


def test_merging_a_tag_moves_posts_and_followers(browser: Browser, session: Session) -> None:
    asker = make_user(session)
    make_question(session, asker, tags=("postgres",), title="Postgres vacuum is slow at night")
    both = make_question(session, asker, tags=("postgresql", "postgres"))
    make_question(session, asker, tags=("postgresql",), title="Postgresql replica lags behind")
    follower = make_user(session, "fan")
    session.flush()
    tag = session.scalars(select(Tag).where(Tag.name == "postgresql")).one()
    session.add(TagFollow(user_id=follower.id, tag_id=tag.id))
    make_user(session, "mod", role=Role.MODERATOR)
    session.commit()
    browser.login("mod")
    assert browser.post("/tags/postgres/synonyms", {"synonym": "postgresql"}).status_code == 302
    session.commit()
    assert session.scalar(select(Tag).where(Tag.name == "postgresql")) is None
    assert session.scalar(select(TagSynonym.name)) == "postgresql"
    page = browser.get("/tags/postgres").get_data(as_text=True)
    assert "3 questions" in page and "replica lags" in page
    session.refresh(both)
    assert [t.name for t in both.tags] == ["postgres"]
    followed = session.scalars(select(TagFollow)).one()
    assert followed.user_id == follower.id


def test_members_cannot_add_synonyms(browser: Browser, session: Session) -> None:
    make_question(session, tags=("python",))
    make_user(session, "grace", reputation=100_000)
    session.commit()
    browser.login("grace")
    assert browser.post("/tags/python/synonyms", {"synonym": "py"}).status_code == 403
    session.commit()
    assert session.scalar(select(func.count()).select_from(TagSynonym)) == 0
