"""Votes: one per member per post, undo, switch, no self-votes, atomic scores, comment votes."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from forum.models import Vote
from forum.models.qa import CommentVote
from forum.services import votes
from forum.services.errors import Forbidden, NotFound, ValidationError
from tests.factories import make_answer, make_comment, make_question, make_user


def _rows(session: Session, post_id: int) -> list[tuple[int, int]]:
    return [
        (user_id, value)
        for user_id, value in session.execute(
            select(Vote.user_id, Vote.value).where(Vote.post_id == post_id)
        )
    ]


def test_up_then_same_again_undoes(session: Session) -> None:
    question = make_question(session)
    voter = make_user(session)
    session.commit()
    first = votes.cast(session, voter=voter, post_id=question.id, value=1)
    session.commit()
    assert (first.score, first.my_vote) == (1, 1)
    assert _rows(session, question.id) == [(voter.id, 1)]
    undone = votes.cast(session, voter=voter, post_id=question.id, value=1)
    session.commit()
    assert (undone.score, undone.my_vote) == (0, 0)
    assert _rows(session, question.id) == []


def test_switching_direction_moves_the_score_by_two(session: Session) -> None:
    question = make_question(session)
    voter = make_user(session, reputation=1000)
    session.commit()
    votes.cast(session, voter=voter, post_id=question.id, value=1)
    switched = votes.cast(session, voter=voter, post_id=question.id, value=-1)
    session.commit()
    assert (switched.score, switched.my_vote) == (-1, -1)
    assert _rows(session, question.id) == [(voter.id, -1)]
    session.refresh(question)
    assert question.score == -1


def test_scores_add_up_over_many_voters(session: Session) -> None:
    answer = make_answer(session, make_question(session))
    voters = [make_user(session, reputation=1000) for _ in range(5)]
    session.commit()
    for voter, value in zip(voters, [1, 1, 1, -1, 1], strict=True):
        votes.cast(session, voter=voter, post_id=answer.id, value=value)
        session.commit()
    session.refresh(answer)
    assert answer.score == 3 == votes.recount(session, answer.id)


def test_nobody_votes_on_their_own_post(session: Session) -> None:
    author = make_user(session)
    question = make_question(session, author)
    session.commit()
    with pytest.raises(Forbidden):
        votes.cast(session, voter=author, post_id=question.id, value=1)
    session.rollback()
    assert _rows(session, question.id) == []


def test_unknown_and_deleted_posts_are_not_found(session: Session) -> None:
    voter = make_user(session)
    question = make_question(session)
    question.deleted_at = question.created_at
    session.commit()
    for post_id in (question.id, 999_999):
        with pytest.raises(NotFound):
            votes.cast(session, voter=voter, post_id=post_id, value=1)
        session.rollback()


@pytest.mark.parametrize("raw", ["0", "2", "", None, "up", "-2"])
def test_only_plus_or_minus_one_is_a_vote(raw: str | None) -> None:
    with pytest.raises(ValidationError):
        votes.parse_value(raw)


def test_down_votes_need_the_privilege(session: Session) -> None:
    question = make_question(session)
    newcomer = make_user(session, reputation=1)
    session.commit()
    with pytest.raises(Forbidden):
        votes.cast(session, voter=newcomer, post_id=question.id, value=-1)
    session.rollback()
    # Up votes are for everyone.
    assert votes.cast(session, voter=newcomer, post_id=question.id, value=1).score == 1


def test_the_database_allows_one_row_per_member_and_post(session: Session) -> None:
    question = make_question(session)
    voter = make_user(session)
    session.add(Vote(user_id=voter.id, post_id=question.id, value=1))
    session.commit()
    session.add(Vote(user_id=voter.id, post_id=question.id, value=-1))
    with pytest.raises(IntegrityError):
        session.commit()
    session.rollback()


def test_comment_up_votes_toggle_and_exclude_the_author(session: Session) -> None:
    question = make_question(session)
    writer, reader = make_user(session), make_user(session)
    comment = make_comment(session, question, writer)
    session.commit()
    assert votes.cast_on_comment(session, voter=reader, comment_id=comment.id).score == 1
    session.commit()
    assert votes.cast_on_comment(session, voter=reader, comment_id=comment.id).score == 0
    session.commit()
    count = session.scalar(select(func.count()).select_from(CommentVote))
    assert count == 0
    with pytest.raises(Forbidden):
        votes.cast_on_comment(session, voter=writer, comment_id=comment.id)
    session.rollback()


def test_viewer_votes_reads_posts_and_comments_in_one_go(session: Session) -> None:
    question = make_question(session)
    answer = make_answer(session, question)
    comment = make_comment(session, question)
    voter = make_user(session, reputation=1000)
    session.commit()
    votes.cast(session, voter=voter, post_id=question.id, value=1)
    votes.cast(session, voter=voter, post_id=answer.id, value=-1)
    votes.cast_on_comment(session, voter=voter, comment_id=comment.id)
    session.commit()
    mine, voted = votes.viewer_votes(session, voter, [question.id, answer.id], [comment.id])
    assert mine == {question.id: 1, answer.id: -1}
    assert voted == {comment.id}
    assert votes.viewer_votes(session, None, [question.id], [comment.id]) == ({}, set())
