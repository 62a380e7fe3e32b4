"""The front page's blocks: checklist, waiting questions, changes, next session, paths, overview."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy.orm import Session

from forum.db import utcnow
from forum.models import Post, Role, Tag, User
from forum.services import circles, home, logins, paths, posts, tags, votes
from forum.services.circles import CircleData, SessionData
from tests.factories import make_answer, make_article, make_comment, make_question, make_user


@pytest.fixture
def app_config(app_config: dict[str, Any]) -> dict[str, Any]:
    """Members here may create tags (the tag policy is tested in test_tag_policy.py)."""
    return {**app_config, "REPUTATION_THRESHOLDS": {"create_tags": 0}}


def follow(session: Session, user: User, name: str) -> None:
    tag = session.query(Tag).filter_by(name=name).one()
    tags.follow(session, user=user, tag=tag)


def new_circle(session: Session, facilitator: User, name: str = "Rust readers") -> Any:
    data = CircleData(name=name, description_md="We read.", tags=["rust"], size_limit=8)
    return circles.create_circle(session, facilitator=facilitator, data=data)


def schedule(session: Session, circle: Any, actor: User, days: int, title: str) -> Any:
    start = (utcnow() + dt.timedelta(days=days)).replace(tzinfo=None)
    data = SessionData(
        title=title,
        kind="meeting",
        date=start.date(),
        time=start.time().replace(second=0, microsecond=0),
        timezone="Europe/London",
        duration_minutes=60,
        location="Room 4",
        link="",
        agenda_md="",
        presenter="",
    )
    return circles.schedule(session, actor=actor, circle=circle, data=data)


def test_the_checklist_follows_each_first_step_and_is_complete_when_all_are_done(
    session: Session,
) -> None:
    newcomer = make_user(session, "newcomer")
    other = make_user(session)
    session.commit()
    steps = home.checklist(session, newcomer)
    assert (steps.done, steps.total, steps.complete) == (0, 5, False)

    newcomer.job_title = "Data engineer"
    newcomer.bio = "I keep the pipelines running."
    make_question(session, newcomer, tags=("python",))
    follow(session, newcomer, "python")
    make_answer(session, make_question(session, other), newcomer)
    session.commit()
    steps = home.checklist(session, newcomer)
    assert (steps.profile, steps.follows_tags, steps.asked, steps.answered) == (
        True,
        True,
        True,
        True,
    )
    assert not steps.joined_circle and not steps.complete

    circles.join(session, user=newcomer, circle=new_circle(session, other))
    session.commit()
    assert home.checklist(session, newcomer).complete


def test_a_deleted_question_does_not_tick_the_ask_step(session: Session) -> None:
    member = make_user(session)
    question = make_question(session, member)
    posts.soft_delete(session, actor=member, post=question)
    session.commit()
    assert not home.checklist(session, member).asked


def test_waiting_questions_come_from_the_followed_tags_or_from_everywhere(
    session: Session,
) -> None:
    reader = make_user(session, "reader")
    asker = make_user(session)
    in_python = make_question(session, asker, tags=("python",))
    in_sql = make_question(session, asker, tags=("sql",))
    answered = make_question(session, asker, tags=("python",))
    good = make_answer(session, answered)
    closed_or_own = make_question(session, reader, tags=("python",))
    gone = make_question(session, asker, tags=("python",))
    posts.soft_delete(session, actor=asker, post=gone)
    session.commit()
    votes.cast(session, voter=make_user(session, reputation=100), post_id=good.id, value=1)
    session.commit()

    everywhere = home.waiting_questions(session, reader, in_followed_tags=False)
    assert {q.id for q in everywhere} == {in_python.id, in_sql.id}
    follow(session, reader, "python")
    session.commit()
    page = home.member_home(session, reader)
    assert page.checklist.follows_tags
    assert [q.id for q in page.waiting] == [in_python.id]
    # Tags come loaded for the list; the member's own question is not waiting for them.
    assert [t.name for t in page.waiting[0].tags] == ["python"]
    assert closed_or_own.id not in {q.id for q in page.waiting}


def test_changes_since_the_last_visit_count_what_others_did_on_my_posts(
    session: Session,
) -> None:
    me = make_user(session, "me")
    other = make_user(session, reputation=2000)
    old = make_question(session, me, title="An old question of mine nobody touched?")
    busy = make_question(session, me, title="A busy question of mine with news?", anonymous=True)
    article = make_article(session, me, title="My tutorial on deploys")
    session.commit()
    # Everything so far happened before the visit that ended a minute ago.
    moment = utcnow() - dt.timedelta(minutes=1)
    for post in session.query(Post).all():
        post.created_at = post.last_activity_at = moment - dt.timedelta(days=3)
    session.commit()
    me.previous_visit_at = moment
    session.commit()

    answer = make_answer(session, busy, other)
    make_answer(session, busy, me)  # my own answer is no news to me
    make_comment(session, busy, other)
    make_comment(session, answer, other)
    make_comment(session, article, other)
    session.commit()
    votes.cast(session, voter=other, post_id=busy.id, value=1)
    session.commit()
    from forum.services import articles

    articles.edit_article(
        session,
        editor=other,
        article=article,
        data=articles.ArticleData(
            title=article.title, body_md="Better steps.\n", tags_text="howto", article_type="tip"
        ),
        base_revision=article.revision_count,
    )
    session.commit()

    page = home.member_home(session, me)
    assert page.since.replace(tzinfo=None) == moment.replace(tzinfo=None)
    assert not page.first_visit
    found = {c.post.id: c for c in page.changes}
    assert old.id not in found
    assert (found[busy.id].answers, found[busy.id].comments, found[busy.id].votes) == (1, 2, 1)
    assert found[busy.id].parts == ["1 new answer", "2 comments", "1 vote"]
    assert (found[article.id].comments, found[article.id].edits) == (1, 1)


def test_changes_are_only_about_the_members_own_live_posts(session: Session) -> None:
    me = make_user(session, "me")
    someone = make_user(session)
    theirs = make_question(session, someone)
    mine = make_question(session, me)
    session.commit()
    make_answer(session, theirs)
    make_answer(session, mine)
    posts.soft_delete(session, actor=me, post=mine)
    session.commit()
    page = home.member_home(session, me)
    assert page.first_visit  # no visit recorded yet: the last week counts
    assert page.changes == []
    assert [c.post.id for c in home.member_home(session, someone).changes] == [theirs.id]


def test_a_new_visit_starts_after_an_hour_away(session: Session) -> None:
    member = make_user(session)
    session.commit()
    start = utcnow()
    logins.record_visit(session, member.id, start)
    session.commit()
    session.refresh(member)
    assert member.previous_visit_at is None and member.last_seen_at is not None
    # Seen again within the hour: the same visit.
    logins.record_visit(session, member.id, start + dt.timedelta(minutes=30))
    session.commit()
    session.refresh(member)
    assert member.previous_visit_at is None
    # Back after two hours away: the previous visit ended when last seen.
    logins.record_visit(session, member.id, start + dt.timedelta(hours=2, minutes=30))
    session.commit()
    session.refresh(member)
    assert member.previous_visit_at is not None
    ended = member.previous_visit_at.replace(tzinfo=None)
    assert ended == (start + dt.timedelta(minutes=30)).replace(tzinfo=None)


def test_the_next_session_is_the_first_to_come_in_my_circles(session: Session) -> None:
    me = make_user(session, "me")
    host = make_user(session)
    mine = new_circle(session, host, "Rust readers")
    elsewhere = new_circle(session, host, "Go readers")
    circles.join(session, user=me, circle=mine)
    session.commit()
    assert home.next_session(session, me, utcnow()) is None
    schedule(session, elsewhere, host, 1, "Not my circle")
    later = schedule(session, mine, host, 9, "Chapter 4")
    soon = schedule(session, mine, host, 3, "Chapter 3")
    session.commit()
    found = home.next_session(session, me, utcnow())
    assert found is not None
    assert (found.item.id, found.circle_name) == (soon.id, "Rust readers")
    circles.cancel_session(session, actor=host, item=soon)
    session.commit()
    found = home.next_session(session, me, utcnow())
    assert found is not None and found.item.id == later.id


def test_path_progress_and_the_onboarding_suggestion(session: Session) -> None:
    owner = make_user(session, "owner", role=Role.ADMIN)
    me = make_user(session, "me", department="Data")
    path = paths.create_path(session, owner=owner, title="SQL basics", description_md="Start")
    for _ in range(4):
        paths.add_step(session, path, actor=owner, reference=str(make_question(session).id))
    session.commit()
    assert home.member_home(session, me).suggested_path is None
    paths.set_onboarding(session, path, actor=owner, department="Data")
    session.commit()
    page = home.member_home(session, me)
    assert page.enrolments == [] and page.suggested_path is not None
    assert page.suggested_path.id == path.id

    paths.enrol(session, path, user=me)
    paths.mark_step(session, path, user=me, step_id=path.steps[0].id, done=True)
    session.commit()
    page = home.member_home(session, me)
    assert page.suggested_path is None
    [(shown, progress)] = page.enrolments
    assert (shown.id, progress.done, progress.total) == (path.id, 1, 4)


def test_the_overview_of_an_empty_site(session: Session) -> None:
    found = home.overview(session)
    assert found.is_empty
    assert (found.questions.value, found.articles.value, found.members.value) == (0, 0, 0)
    assert found.top_tags == [] and found.recent_questions == [] and found.articles_list == []


def test_the_overview_counts_live_posts_and_ranks_tags(
    session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    author = make_user(session)
    for n in range(4):
        make_question(session, author, tags=("python", "sql") if n % 2 else ("python",))
    make_article(session, author, tags="python ops", article_type="tutorial")
    gone = make_question(session, author, tags=("gone",))
    posts.soft_delete(session, actor=author, post=gone)
    session.commit()
    found = home.overview(session)
    assert not found.is_empty
    assert (found.questions.value, found.articles.value, found.members.value) == (4, 1, 1)
    assert found.top_tags[:2] == [("python", 5), ("sql", 2)]
    assert "gone" not in dict(found.top_tags)
    assert len(found.recent_questions) == 4 and found.recent_questions[0].tags
    monkeypatch.setattr(home, "COUNT_LIMIT", 3)
    capped = home.overview(session).questions
    assert (capped.value, capped.more) == (3, True)
