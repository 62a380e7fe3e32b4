"""Badge pages, recognition on profiles, leaderboards on /people and privilege checks over HTTP."""

from __future__ import annotations

from flask import Flask
from sqlalchemy.orm import Session

from forum.models import Answer, Question, Tag, User
from forum.services import answers, badges, reputation, votes
from tests.conftest import Browser
from tests.factories import make_user


def thread(session: Session, asker: User, answerer: User, *, anonymous: bool = False) -> Answer:
    tag = Tag(name=f"deploys{asker.id}")
    question = Question(
        author=asker,
        title="How do we roll back a deploy?",
        body_md="x",
        body_html="<p>x</p>",
        is_anonymous=anonymous,
        tags=[tag],
    )
    session.add(question)
    session.flush()
    return answers.answer(session, author=answerer, question_id=question.id, body_md="Like so.")


def test_badges_page_lists_every_badge_by_tier_with_holders(
    browser: Browser, session: Session
) -> None:
    member = make_user(session)
    badges.award(session, [member.id])  # nothing yet
    session.add(Question(author=member, title="A first question", body_md="x", body_html="x"))
    session.flush()
    badges.award(session, [member.id])
    session.commit()
    page = browser.get("/badges").get_data(as_text=True)
    for badge in badges.BADGES.values():
        assert badge.name in page
    assert '<h2 id="tier-gold">Gold</h2>' in page
    assert "1 holder" in page  # Curious


def test_badge_detail_shows_who_earned_it_and_for_what(browser: Browser, session: Session) -> None:
    asker, answerer = make_user(session), make_user(session, display_name="Ada Teacher")
    answer = thread(session, asker, answerer)
    answer.score = 5
    session.flush()
    badges.award(session, [answerer.id])
    session.commit()
    page = browser.get("/badges/nice_answer").get_data(as_text=True)
    assert "Ada Teacher" in page
    assert "How do we roll back a deploy?" in page
    assert f"#post-{answer.id}" in page
    empty = browser.get("/badges/great_answer").get_data(as_text=True)
    assert "Nobody has earned Great Answer yet" in empty


def test_unknown_badges_and_members_are_404(browser: Browser) -> None:
    assert browser.get("/badges/no-such-badge").status_code == 404
    assert browser.get("/users/nobody-here").status_code == 404


def test_profile_shows_chart_badges_top_tags_and_recent_posts(
    app: Flask, browser: Browser, session: Session
) -> None:
    asker, answerer, voter = make_user(session), make_user(session), make_user(session)
    answer = thread(session, asker, answerer)
    session.commit()
    votes.cast(session, voter=voter, post_id=answer.id, value=1)
    session.commit()  # badges follow after the commit
    page = browser.get(f"/users/{answerer.username}").get_data(as_text=True)
    assert '<polyline class="rep-chart__line"' in page
    assert "Teacher" in page and "Helper" in page
    assert f"deploys{asker.id}" in page  # top tag with its score
    assert "How do we roll back a deploy?" in page
    # Progress and privileges are for the member alone.
    assert "Next badges" not in page
    assert "What your reputation lets you do" not in page


def test_own_profile_shows_progress_privileges_and_history(
    browser: Browser, session: Session
) -> None:
    asker, answerer, voter = make_user(session), make_user(session), make_user(session)
    answer = thread(session, asker, answerer)
    session.commit()
    votes.cast(session, voter=voter, post_id=answer.id, value=1)
    session.commit()
    browser.login(answerer.username)
    page = browser.get(f"/users/{answerer.username}").get_data(as_text=True)
    assert "Next badges" in page
    assert "<progress" in page
    assert "What your reputation lets you do" in page
    assert "you need 40 more reputation to vote down" in page
    assert "Answer voted up" in page


def test_anonymous_questions_never_show_on_the_profile_to_others(
    browser: Browser, session: Session
) -> None:
    asker, answerer = make_user(session), make_user(session)
    thread(session, asker, answerer, anonymous=True)
    session.commit()
    assert "How do we roll back" not in browser.get(f"/users/{asker.username}").get_data(
        as_text=True
    )
    browser.login(asker.username)
    own = browser.get(f"/users/{asker.username}").get_data(as_text=True)
    assert "How do we roll back" in own and "only you see this" in own


def test_people_shows_leaderboards_by_period_department_and_tag(
    browser: Browser, session: Session
) -> None:
    asker = make_user(session)
    star = make_user(session, display_name="Star Answerer", department="Platform")
    voter = make_user(session)
    answer = thread(session, asker, star)
    session.commit()
    votes.cast(session, voter=voter, post_id=answer.id, value=1)
    answers.accept(session, acceptor=asker, answer_id=answer.id)
    session.commit()
    page = browser.get("/people").get_data(as_text=True)
    assert "Top contributors" in page and "Most helpful" in page
    assert "Star Answerer" in page
    assert '25 <span class="muted">reputation</span>' in page  # vote 10 + acceptance 15
    for query in ("period=week", "period=all", "department=Platform", f"tag=deploys{asker.id}"):
        assert "Star Answerer" in browser.get(f"/people?{query}").get_data(as_text=True)
    assert "Star Answerer" not in browser.get("/people?department=Sales").get_data(as_text=True)
    assert browser.get("/people?period=decade").status_code == 400


def test_a_crafted_downvote_without_the_privilege_is_403(
    browser: Browser, session: Session
) -> None:
    asker, answerer, newcomer = make_user(session), make_user(session), make_user(session)
    answer = thread(session, asker, answerer)
    session.commit()
    browser.login(newcomer.username)
    response = browser.post(f"/posts/{answer.id}/vote", {"value": "-1"})
    assert response.status_code == 403
    session.expire_all()
    assert session.get(User, answerer.id).reputation == 0  # type: ignore[union-attr]
    assert not reputation.can(newcomer, "downvote")


def test_badge_pages_tell_the_day_of_an_award_never_its_time(
    browser: Browser, session: Session
) -> None:
    import datetime as dt

    from sqlalchemy import update

    from forum.models import BadgeAward

    zed = make_user(session, display_name="Zed Early")
    amy = make_user(session, display_name="Amy Late")
    for member in (zed, amy):
        session.add(Question(author=member, title="A first question", body_md="x", body_html="x"))
    session.flush()
    badges.award(session, [zed.id, amy.id], keys=["curious"])
    moments = {
        zed.id: dt.datetime(2026, 3, 4, 9, 17, 42, tzinfo=dt.UTC),
        amy.id: dt.datetime(2026, 3, 4, 16, 5, 9, tzinfo=dt.UTC),
    }
    for user_id, moment in moments.items():
        session.execute(
            update(BadgeAward).where(BadgeAward.user_id == user_id).values(awarded_at=moment)
        )
    session.commit()
    page = browser.get("/badges/curious").get_data(as_text=True)
    assert '<time datetime="2026-03-04">4 Mar 2026</time>' in page
    for leak in ("09:17", "16:05", "T09", "T16", ":42", "UTC", "hours ago", "minutes ago"):
        assert leak not in page, leak
    # Within a day the order is by name, not by who was awarded first.
    assert page.index("Amy Late") < page.index("Zed Early")
