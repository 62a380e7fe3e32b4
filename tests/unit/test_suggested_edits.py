"""Suggested edits: who suggests and who reviews, one pending per post, approval as a revision by
the proposer, stale suggestions refused, rejection, notifications, the audit log and the ledger."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from forum.models import AuditLog, Notification, Role, SuggestedEdit, User
from forum.models.reputation import ReputationEvent
from forum.services import answers, questions, reputation, revisions, suggested_edits
from forum.services.errors import Conflict, Forbidden, NotFound, ValidationError
from tests.factories import make_answer, make_article, make_question, make_user

NEW_BODY = "What is the usual way to do this here, with the exact error message?\n"


def _people(session: Session) -> tuple[User, User, User]:
    """An author, a newcomer (1 reputation) and a trusted member (1000)."""
    return make_user(session), make_user(session, reputation=1), make_user(session, reputation=1000)


def _suggest(session: Session, proposer: User, post_id: int, **kw: object) -> SuggestedEdit:
    post = questions.get(session, post_id, viewer=proposer)
    fields: dict[str, object] = {
        "title": post.title,
        "body_md": NEW_BODY,
        "tags": [t.name for t in post.tags],
        "summary": "Added the error message",
    }
    fields.update(kw)
    return suggested_edits.suggest(session, proposer=proposer, post_id=post_id, **fields)  # type: ignore[arg-type]


def test_below_the_threshold_members_suggest_and_at_it_they_edit(session: Session) -> None:
    author, newcomer, trusted = _people(session)
    moderator = make_user(session, role=Role.MODERATOR)
    question = make_question(session, author)
    assert suggested_edits.can_suggest(newcomer, question)
    assert not suggested_edits.can_suggest(author, question)  # the author edits
    assert not suggested_edits.can_suggest(trusted, question)  # edits directly
    assert not suggested_edits.can_review(newcomer)
    assert suggested_edits.can_review(trusted) and suggested_edits.can_review(moderator)
    # Articles are a wiki every member edits: no suggestions there.
    article = make_article(session, author)
    assert not suggested_edits.can_suggest(newcomer, article)
    with pytest.raises(NotFound):
        suggested_edits.suggest(
            session,
            proposer=newcomer,
            post_id=article.id,
            title=article.title,
            body_md="x",
            tags=[],
            summary="s",
        )
    with pytest.raises(Forbidden):
        _suggest(session, trusted, question.id)


def test_a_suggestion_leaves_the_post_unchanged_and_needs_a_summary(session: Session) -> None:
    author, newcomer, _trusted = _people(session)
    question = make_question(session, author)
    before = question.body_md
    with pytest.raises(ValidationError) as refused:
        _suggest(session, newcomer, question.id, summary="  ")
    assert "summary" in refused.value.errors
    suggestion = _suggest(session, newcomer, question.id)
    assert suggestion.status == "pending" and suggestion.base_revision == 1
    assert question.body_md == before and question.revision_count == 1


def test_one_pending_suggestion_per_post(session: Session) -> None:
    author, newcomer, _trusted = _people(session)
    other = make_user(session, reputation=1)
    question = make_question(session, author)
    _suggest(session, newcomer, question.id)
    with pytest.raises(Conflict, match="already waiting for review"):
        _suggest(session, other, question.id, summary="Mine too")


def test_approval_applies_a_revision_by_the_proposer_and_earns_two(session: Session) -> None:
    author, newcomer, trusted = _people(session)
    question = make_question(session, author)
    suggestion = _suggest(session, newcomer, question.id)
    suggested_edits.approve(session, reviewer=trusted, suggestion_id=suggestion.id)
    assert suggestion.status == "approved" and suggestion.reviewer_id == trusted.id
    assert question.body_md == NEW_BODY and question.revision_count == 2
    latest = revisions.latest_revision(session, question)
    assert latest is not None and latest.editor_id == newcomer.id
    assert f"approved by {trusted.display_name}" in latest.summary
    assert suggestion.revision_number == 2
    assert newcomer.reputation == 1 + 2
    event = session.scalar(select(ReputationEvent).where(ReputationEvent.user_id == newcomer.id))
    assert event is not None and event.reason == "edit_approved" and event.account == "edits"
    # The ledger stays derivable: the seeded reputation aside, only the approval's +2 is due.
    drifted = {d.user_id for d in reputation.recalc(session, fix=False).drift}
    assert newcomer.id in drifted  # its seeded 1 is not in the ledger
    newcomer.reputation = 2
    session.flush()
    assert newcomer.id not in {d.user_id for d in reputation.recalc(session, fix=False).drift}
    assert session.scalar(
        select(AuditLog).where(
            AuditLog.action == "suggested_edit.approve", AuditLog.actor_id == trusted.id
        )
    )
    note = session.scalar(select(Notification).where(Notification.recipient_id == newcomer.id))
    assert note is not None and note.kind == "suggested_edit" and "approved" in note.text


def test_an_answer_suggestion_is_applied_too(session: Session) -> None:
    author, newcomer, trusted = _people(session)
    reply = make_answer(session, make_question(session), author)
    suggestion = suggested_edits.suggest(
        session,
        proposer=newcomer,
        post_id=reply.id,
        title="",
        body_md="Like this, with an example.\n",
        tags=[],
        summary="Example",
    )
    suggested_edits.approve(session, reviewer=trusted, suggestion_id=suggestion.id)
    assert answers.get(session, reply.id).body_md == "Like this, with an example.\n"


def test_a_stale_suggestion_is_not_approved(session: Session) -> None:
    author, newcomer, trusted = _people(session)
    question = make_question(session, author)
    suggestion = _suggest(session, newcomer, question.id)
    # The post moves on by other means than an edit (say, a revision restored by a script).
    revisions.record_revision(session, question, editor=author, summary="Restored")
    session.flush()
    with pytest.raises(Conflict, match="edited after this suggestion"):
        suggested_edits.approve(session, reviewer=trusted, suggestion_id=suggestion.id)
    assert question.body_md != NEW_BODY and suggestion.status == "pending"


def test_a_direct_edit_supersedes_the_pending_suggestion(session: Session) -> None:
    author, newcomer, trusted = _people(session)
    question = make_question(session, author)
    suggestion = _suggest(session, newcomer, question.id)
    questions.edit(
        session,
        editor=author,
        question_id=question.id,
        title=question.title,
        body_md="Rewritten by the author.\n",
        tags=[t.name for t in question.tags],
    )
    assert suggestion.status == "superseded"
    with pytest.raises(Conflict):
        suggested_edits.approve(session, reviewer=trusted, suggestion_id=suggestion.id)
    # The post is free for a new suggestion.
    assert _suggest(session, newcomer, question.id).status == "pending"


def test_rejection_needs_a_reason_and_tells_the_proposer(session: Session) -> None:
    author, newcomer, trusted = _people(session)
    question = make_question(session, author)
    suggestion = _suggest(session, newcomer, question.id)
    with pytest.raises(ValidationError):
        suggested_edits.reject(session, reviewer=trusted, suggestion_id=suggestion.id, comment="")
    suggested_edits.reject(
        session, reviewer=trusted, suggestion_id=suggestion.id, comment="Changes the meaning"
    )
    assert suggestion.status == "rejected" and question.revision_count == 1
    assert newcomer.reputation == 1
    note = session.scalar(select(Notification).where(Notification.recipient_id == newcomer.id))
    assert note is not None and "rejected: Changes the meaning" in note.text
    assert session.scalar(select(AuditLog).where(AuditLog.action == "suggested_edit.reject"))


def test_reviewers_only_and_never_ones_own(session: Session) -> None:
    author, newcomer, trusted = _people(session)
    question = make_question(session, author)
    suggestion = _suggest(session, newcomer, question.id)
    other_newcomer = make_user(session, reputation=1)
    with pytest.raises(Forbidden):
        suggested_edits.approve(session, reviewer=other_newcomer, suggestion_id=suggestion.id)
    with pytest.raises(Forbidden):
        suggested_edits.queue(session, reviewer=other_newcomer)
    # A proposer who has since reached the threshold still can't review their own.
    newcomer.reputation = 5000
    with pytest.raises(Forbidden, match="your own"):
        suggested_edits.approve(session, reviewer=newcomer, suggestion_id=suggestion.id)
    assert suggested_edits.queue(session, reviewer=trusted) == [suggestion]
    with pytest.raises(NotFound):
        suggested_edits.approve(session, reviewer=trusted, suggestion_id=999_999)


def test_the_anonymous_asker_approving_in_their_thread_is_not_named(session: Session) -> None:
    asker = make_user(session, reputation=1000, display_name="Hidden Asker")
    newcomer = make_user(session, reputation=1)
    question = make_question(session, asker, anonymous=True)
    suggestion = _suggest(session, newcomer, question.id)
    suggested_edits.approve(session, reviewer=asker, suggestion_id=suggestion.id)
    latest = revisions.latest_revision(session, question)
    assert latest is not None and "Hidden Asker" not in latest.summary
    assert "approved by Anonymous colleague" in latest.summary
    assert suggested_edits.review_of(session, suggestion).reviewer_label == "Anonymous colleague"
    note = session.scalar(select(Notification).where(Notification.recipient_id == newcomer.id))
    assert note is not None and note.actor_id is None and "Hidden Asker" not in note.text
