"""Mentoring pages: skills on the profile, suggestions, the request lifecycle, buddies."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from forum.models import Mentorship, Role, User
from forum.services import answers, mentoring, paths, skills
from tests.conftest import TEST_HASH_METHOD, Browser
from tests.factories import make_answer, make_question, make_user


def test_skills_are_edited_in_settings_and_shown_on_the_profile(
    browser: Browser, session: Session
) -> None:
    make_user(session, "learner", reputation=500, display_name="Lee Learner")
    session.commit()
    browser.login("learner")
    form = {
        "display_name": "Lee Learner",
        "email": "learner@example.com",
        "skills_help": "python, sql",
        "skills_learn": "kubernetes",
        "mentoring_availability": "limited",
    }
    assert browser.post("/settings/profile", form).status_code == 302
    settings = browser.get("/settings/profile").get_data(as_text=True)
    assert 'value="python sql"' in settings and 'value="kubernetes"' in settings
    page = browser.get("/users/learner").get_data(as_text=True)
    assert "Can help with" in page and ">sql<" in page and ">kubernetes<" in page
    assert "Limited time for mentees" in page

    bad = browser.post("/settings/profile", {**form, "skills_help": "Not Valid!"})
    assert bad.status_code == 400
    assert "Tags use lower-case letters" in bad.get_data(as_text=True)
    assert 'value="Not Valid!"' in bad.get_data(as_text=True)


def test_the_page_suggests_mentors_with_reasons(browser: Browser, session: Session) -> None:
    learner = make_user(session, "learner", reputation=500)
    skills.set_skills(session, learner, help_text="", learn_text="python")
    expert = make_user(session, "expert", display_name="Eve Expert")
    closed = make_user(session, "closed", display_name="Cal Closed", reputation=500)
    skills.set_skills(session, closed, help_text="python", learn_text="", availability="closed")
    asker = make_user(session)
    question = make_question(session, asker, tags=("python",))
    answer = make_answer(session, question, expert)
    answers.accept(session, acceptor=asker, answer_id=answer.id)
    session.commit()
    browser.login("learner")
    page = browser.get("/mentoring").get_data(as_text=True)
    assert "Eve Expert" in page and "1 accepted answer in python" in page
    assert "Cal Closed" not in page
    assert f"/mentoring/request/{expert.id}?tag=python" in page


def test_anonymous_visitors_are_sent_to_log_in(browser: Browser) -> None:
    response = browser.get("/mentoring")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_requesting_yourself_is_a_clear_error(browser: Browser, session: Session) -> None:
    me = make_user(session, "me")
    session.commit()
    browser.login("me")
    response = browser.post(f"/mentoring/request/{me.id}", {"goal": "Learn from myself"})
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "You can&#39;t be your own mentor" in page and "Learn from myself" in page
    assert browser.post("/mentoring/request/999999", {"goal": "x"}).status_code == 404


def test_request_accept_check_in_and_end(browser: Browser, session: Session) -> None:
    make_user(session, "mentee", display_name="Mo Mentee")
    mentor = make_user(session, "mentor", display_name="Mia Mentor")
    make_user(session, "outsider")
    session.commit()
    browser.login("mentee")
    response = browser.post(
        f"/mentoring/request/{mentor.id}", {"goal": "Get better at SQL", "tag": ""}
    )
    assert response.status_code == 302
    mentorship = session.scalars(select(Mentorship)).one()
    url = f"/mentoring/{mentorship.id}"
    # The mentee cannot accept their own request.
    assert browser.post(f"{url}/respond", {"decision": "accept"}).status_code == 403
    browser.logout()

    browser.login("outsider")
    assert browser.get(url).status_code == 403
    assert browser.post(f"{url}/checkins", {"body": "Hi"}).status_code == 403
    browser.logout()

    browser.login("mentor")
    assert "Requests waiting for your answer" in browser.get("/mentoring").get_data(as_text=True)
    assert browser.post(f"{url}/respond", {"decision": "maybe"}).status_code == 400
    assert browser.post(f"{url}/respond", {"decision": "accept"}).status_code == 302
    assert browser.post(f"{url}/respond", {"decision": "accept"}).status_code == 409
    empty = browser.post(f"{url}/checkins", {"body": ""})
    assert empty.status_code == 400
    assert browser.post(f"{url}/checkins", {"body": "We covered **joins**."}).status_code == 302
    assert browser.post(f"{url}/goals", {"text": "Window functions"}).status_code == 302
    page = browser.get(url).get_data(as_text=True)
    assert "<strong>joins</strong>" in page and "Window functions" in page
    session.rollback()
    session.expire_all()
    goal = session.scalars(select(Mentorship)).one().goals[-1]
    assert browser.post(f"{url}/goals/{goal.id}", {"done": "1"}).status_code == 302
    ended = browser.post(f"{url}/end", {"rating": "4", "feedback": "Great questions"})
    assert ended.status_code == 302
    browser.logout()

    browser.login("mentee")
    page = browser.get(url).get_data(as_text=True)
    assert "Great questions" in page and "Save feedback" in page
    assert browser.post(f"{url}/end", {"rating": "9"}).status_code == 400
    assert browser.post(f"{url}/end", {"rating": "5", "feedback": "Thanks"}).status_code == 302
    session.rollback()
    session.expire_all()
    done = session.get(Mentorship, mentorship.id)
    assert done is not None and done.status == "ended"
    assert (done.mentor_rating, done.mentee_rating) == (4, 5)
    assert done.goals[-1].done


def test_buddies_are_paired_by_admins_and_people_partners(
    browser: Browser, session: Session
) -> None:
    make_user(session, "amara", role=Role.ADMIN)
    partner = make_user(session, "grace")
    newcomer = make_user(session, "newbie", department="Engineering")
    make_user(session, "buddy", display_name="Bo Buddy")
    owner = make_user(session)
    path = paths.create_path(
        session, owner=owner, title="Engineering onboarding", description_md=""
    )
    path.onboarding_department = "Engineering"
    session.commit()

    browser.login("grace")
    assert browser.get("/mentoring/buddies").status_code == 403
    assert (
        browser.post(f"/mentoring/people-partners/{partner.id}", {"value": "1"}).status_code == 403
    )
    browser.logout()

    browser.login("amara")
    assert "People partner" in browser.get("/admin/users").get_data(as_text=True)
    assert (
        browser.post(f"/mentoring/people-partners/{partner.id}", {"value": "1"}).status_code == 302
    )
    browser.logout()

    browser.login("grace")
    same = browser.post("/mentoring/buddies", {"newcomer": "newbie", "buddy": "newbie"})
    assert same.status_code == 400 and "their own buddy" in same.get_data(as_text=True)
    assert (
        browser.post("/mentoring/buddies", {"newcomer": "newbie", "buddy": "buddy"}).status_code
        == 302
    )
    assert "Bo Buddy" in browser.get("/mentoring/buddies").get_data(as_text=True)
    browser.logout()

    browser.login("newbie")
    page = browser.get("/mentoring").get_data(as_text=True)
    assert "Your buddy" in page and "Bo Buddy" in page and "Engineering onboarding" in page
    assert "Bo Buddy" in browser.get("/users/newbie").get_data(as_text=True)
    session.rollback()
    session.expire_all()
    assert mentoring.buddy_of(session, newcomer) is not None


def test_the_demo_has_mentorships_a_buddy_pair_and_paths(session: Session) -> None:
    from forum.demo import load
    from forum.demo.mentoring import load_mentoring
    from forum.demo.paths import load_paths

    load(session, password="demo pass phrase", hash_method=TEST_HASH_METHOD)
    session.commit()
    assert load_mentoring(session) == 0 and load_paths(session) == 0  # loading again adds nothing
    statuses = sorted(session.scalars(select(Mentorship.status)))
    assert statuses == ["active", "ended", "requested"]
    tom = session.scalars(select(User).where(User.username == "tom")).one()
    buddy = mentoring.buddy_of(session, tom)
    assert buddy is not None and buddy.username == "priya"
    onboarding = paths.onboarding_path_for(session, tom)
    assert onboarding is not None and len(onboarding.steps) == 6
    assert len(paths.list_paths(session, viewer=None)) == 2
