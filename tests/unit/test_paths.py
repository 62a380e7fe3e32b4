"""Learning paths: curating, enrolling, progress, the completion badge and onboarding paths."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from forum.models import BadgeAward, LearningPath, Role, User
from forum.services import badges, paths
from forum.services.errors import Conflict, Forbidden, NotFound, ValidationError
from tests.factories import make_answer, make_article, make_question, make_user


@pytest.fixture
def owner(session: Session) -> User:
    return make_user(session, "owner")


@pytest.fixture
def path(session: Session, owner: User) -> LearningPath:
    path = paths.create_path(
        session, owner=owner, title="Backend basics", description_md="Start *here*."
    )
    session.commit()
    return path


def step_posts(path: LearningPath) -> list[int]:
    return [s.post_id for s in sorted(path.steps, key=lambda s: (s.position, s.id))]


def test_create_renders_the_description_and_validates(session: Session, owner: User) -> None:
    path = paths.create_path(session, owner=owner, title=" SQL ", description_md="Read **this**")
    assert path.title == "SQL" and "<strong>this</strong>" in path.description_html
    with pytest.raises(ValidationError) as caught:
        paths.create_path(session, owner=owner, title="", description_md="x")
    assert "title" in caught.value.errors


def test_steps_are_added_by_address_or_number_and_reordered(
    session: Session, owner: User, path: LearningPath
) -> None:
    article = make_article(session, owner)
    question = make_question(session, owner)
    other = make_question(session, owner)
    paths.add_step(
        session, path, actor=owner, reference=f"https://forum.example/articles/{article.slug}"
    )
    paths.add_step(session, path, actor=owner, reference=f"/questions/{question.id}/some-slug")
    paths.add_step(session, path, actor=owner, reference=str(other.id))
    session.commit()
    assert step_posts(path) == [article.id, question.id, other.id]

    last = path.steps[-1]
    paths.move_step(session, path, actor=owner, step_id=last.id, direction="up")
    session.commit()
    assert step_posts(path) == [article.id, other.id, question.id]
    first = min(path.steps, key=lambda s: s.position)
    paths.move_step(session, path, actor=owner, step_id=first.id, direction="up")
    assert step_posts(path) == [article.id, other.id, question.id]

    paths.remove_step(session, path, actor=owner, step_id=first.id)
    session.commit()
    assert step_posts(path) == [other.id, question.id]


@pytest.mark.parametrize(
    "reference", ["", "https://example.com/elsewhere", "999999", "/articles/none"]
)
def test_unknown_references_are_refused(
    session: Session, owner: User, path: LearningPath, reference: str
) -> None:
    with pytest.raises(ValidationError) as caught:
        paths.add_step(session, path, actor=owner, reference=reference)
    assert "reference" in caught.value.errors


def test_answers_and_duplicates_are_refused(
    session: Session, owner: User, path: LearningPath
) -> None:
    question = make_question(session, owner)
    answer = make_answer(session, question)
    with pytest.raises(ValidationError, match="not an answer"):
        paths.add_step(session, path, actor=owner, reference=str(answer.id))
    paths.add_step(session, path, actor=owner, reference=str(question.id))
    with pytest.raises(ValidationError, match="already a step"):
        paths.add_step(session, path, actor=owner, reference=str(question.id))


def test_only_the_owner_or_a_moderator_curates(
    session: Session, owner: User, path: LearningPath
) -> None:
    member = make_user(session)
    moderator = make_user(session, role=Role.MODERATOR)
    question = make_question(session, owner)
    with pytest.raises(Forbidden):
        paths.add_step(session, path, actor=member, reference=str(question.id))
    with pytest.raises(Forbidden):
        paths.update_path(session, path, actor=member, title="Mine now", description_md="")
    with pytest.raises(Forbidden):
        paths.delete_path(session, path, actor=member)
    paths.update_path(session, path, actor=moderator, title="Backend 101", description_md="")
    step = paths.add_step(session, path, actor=moderator, reference=str(question.id))
    with pytest.raises(Forbidden):
        paths.remove_step(session, path, actor=member, step_id=step.id)
    assert path.title == "Backend 101"


def test_progress_completion_and_the_path_finisher_badge(
    session: Session, owner: User, path: LearningPath
) -> None:
    learner = make_user(session, "learner")
    steps = [
        paths.add_step(session, path, actor=owner, reference=str(make_question(session, owner).id))
        for _ in range(3)
    ]
    session.commit()
    with pytest.raises(Conflict, match="Enrol in this path"):
        paths.mark_step(session, path, user=learner, step_id=steps[0].id, done=True)
    paths.enrol(session, path, user=learner)
    paths.enrol(session, path, user=learner)  # twice changes nothing
    first = paths.mark_step(session, path, user=learner, step_id=steps[0].id, done=True)
    assert (first.done, first.total, first.percent) == (1, 3, 33)
    again = paths.mark_step(session, path, user=learner, step_id=steps[0].id, done=True)
    assert again.done == 1
    with pytest.raises(NotFound):
        paths.mark_step(session, path, user=learner, step_id=999999, done=True)
    paths.mark_step(session, path, user=learner, step_id=steps[1].id, done=True)
    undone = paths.mark_step(session, path, user=learner, step_id=steps[1].id, done=False)
    assert undone.done == 1
    session.commit()
    assert session.scalar(select(BadgeAward).where(BadgeAward.user_id == learner.id)) is None

    paths.mark_step(session, path, user=learner, step_id=steps[1].id, done=True)
    final = paths.mark_step(session, path, user=learner, step_id=steps[2].id, done=True)
    session.commit()
    assert final.complete and final.percent == 100
    awards = session.scalars(
        select(BadgeAward.badge_key).where(BadgeAward.user_id == learner.id)
    ).all()
    assert awards == ["path_finisher"]
    page = paths.path_page(session, path.id, viewer=learner)
    assert page.enrolment is not None and page.enrolment.completed_at is not None
    assert page.progress.done == 3
    assert paths.enrolments_of(session, learner)[0][1].complete


def test_the_badge_metric_counts_finished_paths(session: Session, owner: User) -> None:
    learner = make_user(session)
    for n in range(2):
        path = paths.create_path(session, owner=owner, title=f"Path {n}", description_md="")
        step = paths.add_step(session, path, actor=owner, reference=str(make_question(session).id))
        paths.enrol(session, path, user=learner)
        paths.mark_step(session, path, user=learner, step_id=step.id, done=True)
    session.commit()
    assert paths.finished_paths(session, [learner.id]) == {learner.id: 2}
    assert badges.BADGES["path_finisher"].grants(session, None) == [badges.Grant(learner.id)]


def test_leaving_a_path_forgets_progress(session: Session, owner: User, path: LearningPath) -> None:
    learner = make_user(session)
    step = paths.add_step(session, path, actor=owner, reference=str(make_question(session).id))
    paths.enrol(session, path, user=learner)
    paths.mark_step(session, path, user=learner, step_id=step.id, done=True)
    paths.leave(session, path, user=learner)
    session.commit()
    assert paths.path_page(session, path.id, viewer=learner).enrolment is None
    with pytest.raises(Conflict):
        paths.leave(session, path, user=learner)


def test_one_onboarding_path_per_department_set_by_admins(
    session: Session, owner: User, path: LearningPath
) -> None:
    admin = make_user(session, role=Role.ADMIN)
    other = paths.create_path(session, owner=owner, title="Other", description_md="")
    newcomer = make_user(session, department="Engineering")
    with pytest.raises(Forbidden):
        paths.set_onboarding(session, path, actor=owner, department="Engineering")
    paths.set_onboarding(session, path, actor=admin, department="Engineering")
    session.commit()
    assert paths.onboarding_path_for(session, newcomer) == path
    paths.set_onboarding(session, other, actor=admin, department="Engineering")
    session.commit()
    assert paths.onboarding_path_for(session, newcomer) == other
    assert path.onboarding_department is None
    assert paths.onboarding_path_for(session, make_user(session, department="Sales")) is None


def test_the_list_shows_counts_and_my_progress(
    session: Session, owner: User, path: LearningPath
) -> None:
    learner = make_user(session)
    step = paths.add_step(session, path, actor=owner, reference=str(make_question(session).id))
    paths.add_step(session, path, actor=owner, reference=str(make_question(session).id))
    paths.enrol(session, path, user=learner)
    paths.mark_step(session, path, user=learner, step_id=step.id, done=True)
    session.commit()
    [summary] = paths.list_paths(session, viewer=learner)
    assert (summary.steps, summary.enrolled) == (2, 1)
    assert summary.progress is not None and summary.progress.percent == 50
    [anonymous] = paths.list_paths(session, viewer=None)
    assert anonymous.progress is None
