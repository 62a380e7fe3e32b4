"""Mentoring: who is suggested, the request → pairing → feedback lifecycle, and buddies."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from forum.models import ArticleFeedback, Notification, Role, User
from forum.services import answers, mentoring, skills
from forum.services.errors import Conflict, Forbidden, ValidationError
from tests.factories import make_answer, make_article, make_question, make_user


def notes_of(session: Session, user: User, kind: str) -> list[str]:
    return list(
        session.scalars(
            select(Notification.text).where(
                Notification.recipient_id == user.id, Notification.kind == kind
            )
        )
    )


@pytest.fixture
def learner(session: Session) -> User:
    member = make_user(session, "learner", reputation=500)
    skills.set_skills(session, member, help_text="", learn_text="python")
    session.flush()
    return member


def accepted_answer_by(session: Session, expert: User, *, score: int = 3) -> None:
    asker = make_user(session)
    question = make_question(session, asker, tags=("python",))
    answer = make_answer(session, question, expert)
    answer.score = score
    answers.accept(session, acceptor=asker, answer_id=answer.id)


def test_demonstrated_expertise_beats_stated_only_skills(session: Session, learner: User) -> None:
    expert = make_user(session, "expert", display_name="Zed Expert")
    stated = make_user(session, "stated", display_name="Abe Stated", reputation=500)
    skills.set_skills(session, stated, help_text="python", learn_text="")
    accepted_answer_by(session, expert)
    accepted_answer_by(session, expert, score=9)
    session.commit()

    [python] = mentoring.suggestions(session, learner)
    assert python.tag == "python"
    assert [s.user.username for s in python.mentors] == ["expert", "stated"]
    top, second = python.mentors
    assert top.strength > second.strength
    assert top.why == "2 accepted answers in python; answer score 12 in python"
    assert second.why == "says they can help"


def test_stating_a_skill_adds_to_demonstrated_expertise(session: Session, learner: User) -> None:
    shown = make_user(session, "shown")
    both = make_user(session, "both", reputation=500)
    accepted_answer_by(session, shown)
    accepted_answer_by(session, both)
    skills.set_skills(session, both, help_text="python", learn_text="")
    session.commit()
    [python] = mentoring.suggestions(session, learner)
    assert [s.user.username for s in python.mentors] == ["both", "shown"]
    assert python.mentors[0].why.endswith("says they can help")


def test_helpful_tutorials_count_as_expertise(session: Session, learner: User) -> None:
    author = make_user(session, "author")
    reader = make_user(session)
    article = make_article(session, author, tags="python", article_type="tutorial")
    session.add(ArticleFeedback(article_id=article.id, user_id=reader.id, helpful=True))
    session.commit()
    [python] = mentoring.suggestions(session, learner)
    assert [s.user.username for s in python.mentors] == ["author"]
    assert python.mentors[0].why == "1 helpful tutorial in python"


def test_closed_availability_and_oneself_are_never_suggested(
    session: Session, learner: User
) -> None:
    closed = make_user(session, "closed", reputation=500)
    accepted_answer_by(session, closed, score=50)
    skills.set_skills(session, closed, help_text="python", learn_text="", availability="closed")
    limited = make_user(session, "limited", reputation=500)
    skills.set_skills(session, limited, help_text="python", learn_text="", availability="limited")
    accepted_answer_by(session, learner, score=10)
    session.commit()
    [python] = mentoring.suggestions(session, learner)
    assert [s.user.username for s in python.mentors] == ["limited"]
    assert "limited availability" in python.mentors[0].why


def test_requesting_yourself_or_a_closed_mentor_is_refused(session: Session, learner: User) -> None:
    with pytest.raises(ValidationError) as caught:
        mentoring.request_mentor(session, mentee=learner, mentor_id=learner.id, goal="Learn")
    assert caught.value.errors["mentor"] == ["You can't be your own mentor: choose a colleague."]
    closed = make_user(session, mentoring_availability="closed")
    with pytest.raises(ValidationError) as caught:
        mentoring.request_mentor(session, mentee=learner, mentor_id=closed.id, goal="Learn")
    assert "isn't taking mentees" in caught.value.errors["mentor"][0]
    mentor = make_user(session)
    with pytest.raises(ValidationError) as caught:
        mentoring.request_mentor(session, mentee=learner, mentor_id=mentor.id, goal="  ")
    assert "goal" in caught.value.errors


def test_the_mentoring_lifecycle(session: Session, learner: User) -> None:
    mentor = make_user(session, "mentor", display_name="Mia Mentor")
    outsider = make_user(session, "outsider")
    request = mentoring.request_mentor(
        session,
        mentee=learner,
        mentor_id=mentor.id,
        goal="Write idiomatic Python",
        tag_name="python",
    )
    session.commit()
    assert request.status == "requested"
    assert notes_of(session, mentor, "mentoring") == [
        f"{learner.display_name} asked you to be their mentor in python"
    ]
    with pytest.raises(ValidationError):
        mentoring.request_mentor(session, mentee=learner, mentor_id=mentor.id, goal="Again")
    with pytest.raises(Forbidden):
        mentoring.respond(session, request, actor=learner, accept=True)

    mentoring.respond(session, request, actor=mentor, accept=True, note="Happy to")
    session.commit()
    assert request.status == "active"
    assert [g.text for g in request.goals] == ["Write idiomatic Python"]
    assert notes_of(session, learner, "mentoring") == ["Mia Mentor accepted your mentoring request"]
    with pytest.raises(Conflict):
        mentoring.respond(session, request, actor=mentor, accept=False)

    goal = mentoring.add_goal(session, request, actor=learner, text="Read Fluent Python")
    mentoring.set_goal_done(session, request, goal.id, actor=mentor, done=True)
    checkin = mentoring.add_checkin(session, request, actor=mentor, body_md="We read **PEP 8**.")
    session.commit()
    assert goal.done
    assert "<strong>PEP 8</strong>" in checkin.body_html
    with pytest.raises(Forbidden):
        mentoring.add_checkin(session, request, actor=outsider, body_md="Hi")
    with pytest.raises(Forbidden):
        mentoring.get_mentorship(session, request.id, viewer=outsider)

    with pytest.raises(ValidationError):
        mentoring.end(session, request, actor=learner, rating=6, feedback="")
    mentoring.end(session, request, actor=learner, rating=5, feedback="Very helpful")
    session.commit()
    assert request.status == "ended" and request.mentee_rating == 5
    assert mentoring.feedback_due(request, mentor) and not mentoring.feedback_due(request, learner)
    with pytest.raises(Conflict):
        mentoring.add_checkin(session, request, actor=mentor, body_md="Late")
    mentoring.end(session, request, actor=mentor, rating=4, feedback="Keen learner")
    session.commit()
    assert (request.mentor_rating, request.mentor_feedback) == (4, "Keen learner")
    with pytest.raises(Conflict):
        mentoring.end(session, request, actor=mentor, rating=4, feedback="Twice")


def test_a_declined_request_can_be_followed_by_a_new_one(session: Session, learner: User) -> None:
    mentor = make_user(session)
    first = mentoring.request_mentor(session, mentee=learner, mentor_id=mentor.id, goal="SQL")
    mentoring.respond(session, first, actor=mentor, accept=False)
    second = mentoring.request_mentor(session, mentee=learner, mentor_id=mentor.id, goal="SQL")
    session.commit()
    assert (first.status, second.status) == ("declined", "requested")
    overview = mentoring.overview(session, learner)
    assert overview.outgoing == [second] and overview.past == [first]
    assert mentoring.overview(session, mentor).incoming == [second]


def test_buddies_are_paired_by_admins_and_people_partners(session: Session) -> None:
    admin = make_user(session, role=Role.ADMIN)
    partner = make_user(session, "partner")
    member = make_user(session)
    newcomer = make_user(session, "newcomer")
    buddy = make_user(session, "buddy", display_name="Bo Buddy")
    with pytest.raises(Forbidden):
        mentoring.assign_buddy(
            session, actor=partner, newcomer_username="newcomer", buddy_username="buddy"
        )
    with pytest.raises(Forbidden):
        mentoring.set_people_partner(session, actor=member, user=partner, value=True)
    mentoring.set_people_partner(session, actor=admin, user=partner, value=True)
    pair = mentoring.assign_buddy(
        session, actor=partner, newcomer_username="newcomer", buddy_username="@buddy"
    )
    session.commit()
    assert (pair.newcomer_id, pair.buddy_id) == (newcomer.id, buddy.id)
    assert mentoring.buddy_of(session, newcomer) == buddy
    assert mentoring.overview(session, buddy).newcomers == [newcomer]
    assert notes_of(session, newcomer, "buddy") == [
        "Bo Buddy is your buddy: ask them anything while you settle in"
    ]
    assert len(notes_of(session, buddy, "buddy")) == 1
    with pytest.raises(ValidationError) as caught:
        mentoring.assign_buddy(
            session, actor=admin, newcomer_username="newcomer", buddy_username="newcomer"
        )
    assert caught.value.errors == {"buddy": ["A new member can't be their own buddy."]}
    with pytest.raises(ValidationError) as caught:
        mentoring.assign_buddy(
            session, actor=admin, newcomer_username="nobody", buddy_username="buddy"
        )
    assert "newcomer" in caught.value.errors
    # A second pairing replaces the first buddy.
    mentoring.assign_buddy(
        session, actor=admin, newcomer_username="newcomer", buddy_username=member.username
    )
    session.commit()
    assert mentoring.buddy_of(session, newcomer) == member
