"""Read statements built once and reused: every call still sees its own arguments."""

from __future__ import annotations

from sqlalchemy.orm import Session

from forum.models import PostKind
from forum.services import comments, leaderboards, questions, votes
from tests.factories import make_answer, make_comment, make_question, make_user


def test_recent_posts_binds_the_member_and_the_limit(session: Session) -> None:
    ada, bob = make_user(session), make_user(session)
    for n in range(4):
        make_question(session, ada, title=f"Question number {n} from the first member")
    make_question(session, bob, title="The only question the second member asked")
    session.commit()
    two = leaderboards.recent_posts(session, ada, viewer=None, limit=2)
    three = leaderboards.recent_posts(session, ada, viewer=None, limit=3)
    assert [q.title for q in two[PostKind.QUESTION]] == [
        "Question number 3 from the first member",
        "Question number 2 from the first member",
    ]
    assert len(three[PostKind.QUESTION]) == 3
    others = leaderboards.recent_posts(session, bob, viewer=None, limit=2)
    assert [q.title for q in others[PostKind.QUESTION]] == [
        "The only question the second member asked"
    ]


def test_recent_posts_shows_anonymous_ones_to_the_member_only(session: Session) -> None:
    ada, bob = make_user(session), make_user(session)
    make_question(session, ada, title="Asked without a name by the first member", anonymous=True)
    session.commit()
    assert leaderboards.recent_posts(session, ada, viewer=bob)[PostKind.QUESTION] == []
    assert leaderboards.recent_posts(session, ada, viewer=None)[PostKind.QUESTION] == []
    own = leaderboards.recent_posts(session, ada, viewer=ada)[PostKind.QUESTION]
    assert [q.title for q in own] == ["Asked without a name by the first member"]


def test_top_tags_are_each_members_own(session: Session) -> None:
    ada, bob = make_user(session), make_user(session)
    make_question(session, ada, title="A question about the ada tag only", tags=("adatag",))
    make_question(session, bob, title="A question about the bob tag only", tags=("bobtag",))
    session.commit()
    assert [t.name for t in leaderboards.top_tags(session, ada)] == ["adatag"]
    assert [t.name for t in leaderboards.top_tags(session, bob)] == ["bobtag"]


def test_question_page_and_votes_see_their_own_question_and_viewer(session: Session) -> None:
    ada, bob = make_user(session), make_user(session)
    first = make_question(session, ada, title="The first question of this test here")
    second = make_question(session, ada, title="The second question of this test here")
    answer = make_answer(session, second, bob)
    comment = make_comment(session, answer, ada, body="A comment on the answer.")
    session.commit()
    votes.cast(session, voter=ada, post_id=answer.id, value=1)
    votes.cast_on_comment(session, voter=bob, comment_id=comment.id)
    session.commit()
    one = questions.page(session, first.id, viewer=None)
    two = questions.page(session, second.id, viewer=ada)
    assert one.question.id == first.id and one.answers == []
    assert [view.answer.id for view in two.answers] == [answer.id]
    assert two.my_votes == {answer.id: 1}
    assert [t.name for t in two.question.tags] == ["howto"]
    assert [c.id for c in comments.load(session, [answer.id])] == [comment.id]
    assert comments.load(session, [first.id]) == []
    assert votes.viewer_votes(session, bob, [answer.id], [comment.id]) == ({}, {comment.id})
    assert votes.viewer_votes(session, ada, [answer.id], []) == ({answer.id: 1}, set())
