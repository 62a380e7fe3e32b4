"""Flags, the moderation queue and its actions, the audit log and the code of conduct."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from forum.models import AuditLog, Comment, Flag, ModerationWarning, Notification, Post, Role
from forum.services import conduct, moderation, questions
from forum.services.errors import Conflict, Forbidden, NotFound, ValidationError
from tests.factories import make_answer, make_article, make_comment, make_question, make_user


@pytest.fixture
def people(session: Session) -> dict[str, object]:
    return {
        "author": make_user(session, "writer", display_name="Wendy Writer"),
        "reader": make_user(session, "reader"),
        "second": make_user(session, "second"),
        "moderator": make_user(session, "facilitator", role=Role.MODERATOR),
        "admin": make_user(session, "boss", role=Role.ADMIN),
    }


def _audit(session: Session) -> list[AuditLog]:
    return list(session.scalars(select(AuditLog).order_by(AuditLog.id)))


def test_a_member_flags_questions_answers_articles_and_comments(
    session: Session, people: dict
) -> None:
    question = make_question(session, people["author"])
    answer = make_answer(session, question, people["author"])
    article = make_article(session, people["author"])
    comment = make_comment(session, question, people["author"])
    for target in (
        f"post:{question.id}",
        f"post:{answer.id}",
        f"post:{article.id}",
        f"comment:{comment.id}",
    ):
        flag = moderation.flag(session, reporter=people["reader"], target=target, reason="spam")
        assert flag.status == "open" and f"{flag.target_type}:{flag.target_id}" == target
    assert session.scalar(select(Flag.id).where(Flag.comment_id == comment.id)) is not None


def test_flagging_twice_is_a_clear_conflict(session: Session, people: dict) -> None:
    question = make_question(session, people["author"])
    moderation.flag(session, reporter=people["reader"], target=f"post:{question.id}", reason="rude")
    with pytest.raises(Conflict, match="already flagged this question"):
        moderation.flag(
            session, reporter=people["reader"], target=f"post:{question.id}", reason="spam"
        )
    # Someone else may still flag it.
    moderation.flag(session, reporter=people["second"], target=f"post:{question.id}", reason="spam")


def test_the_database_refuses_a_second_open_flag_too(session: Session, people: dict) -> None:
    question = make_question(session, people["author"])
    moderation.flag(session, reporter=people["reader"], target=f"post:{question.id}", reason="rude")
    session.commit()
    from sqlalchemy.exc import IntegrityError

    session.add(Flag(reporter_id=people["reader"].id, post_id=question.id, reason="spam"))
    with pytest.raises(IntegrityError):
        session.flush()
    session.rollback()


def test_after_the_moderators_acted_a_member_may_flag_again(session: Session, people: dict) -> None:
    question = make_question(session, people["author"])
    first = moderation.flag(
        session, reporter=people["reader"], target=f"post:{question.id}", reason="rude"
    )
    moderation.act(session, moderator=people["moderator"], flag_id=first.id, action="dismiss")
    again = moderation.flag(
        session, reporter=people["reader"], target=f"post:{question.id}", reason="rude"
    )
    assert again.id != first.id


def test_nobody_flags_their_own_content(session: Session, people: dict) -> None:
    question = make_question(session, people["author"], anonymous=True)
    comment = make_comment(session, question, people["author"])
    for target in (f"post:{question.id}", f"comment:{comment.id}"):
        with pytest.raises(Forbidden, match="your own"):
            moderation.flag(session, reporter=people["author"], target=target, reason="spam")


@pytest.mark.parametrize(
    ("reason", "text", "field"),
    [
        ("", "", "reason"),
        ("nonsense", "", "reason"),
        ("other", "  ", "text"),
        ("spam", "x" * 501, "text"),
    ],
)
def test_flag_input_is_checked(
    session: Session, people: dict, reason: str, text: str, field: str
) -> None:
    question = make_question(session, people["author"])
    with pytest.raises(ValidationError) as caught:
        moderation.flag(
            session,
            reporter=people["reader"],
            target=f"post:{question.id}",
            reason=reason,
            text=text,
        )
    assert set(caught.value.errors) == {field}


@pytest.mark.parametrize("target", ["", "post:", "user:1", "post:1;drop", "post:99999999999"])
def test_malformed_targets_are_refused(session: Session, people: dict, target: str) -> None:
    with pytest.raises(ValidationError):
        moderation.flag(session, reporter=people["reader"], target=target, reason="spam")


def test_missing_or_deleted_targets_are_not_found(session: Session, people: dict) -> None:
    question = make_question(session, people["author"])
    questions.delete(session, actor=people["author"], question_id=question.id)
    for target in (f"post:{question.id}", "post:999999", "comment:999999"):
        with pytest.raises(NotFound):
            moderation.flag(session, reporter=people["reader"], target=target, reason="spam")


def test_the_queue_groups_open_flags_by_target(session: Session, people: dict) -> None:
    busy = make_question(session, people["author"], body="Buy <b>cheap</b> watches now")
    quiet = make_question(session, people["author"])
    comment = make_comment(session, quiet, people["author"])
    moderation.flag(session, reporter=people["reader"], target=f"post:{busy.id}", reason="spam")
    moderation.flag(session, reporter=people["second"], target=f"post:{busy.id}", reason="spam")
    moderation.flag(
        session,
        reporter=people["moderator"],
        target=f"post:{busy.id}",
        reason="other",
        text="Advertising",
    )
    moderation.flag(
        session, reporter=people["reader"], target=f"comment:{comment.id}", reason="rude"
    )
    items = moderation.queue(session, viewer=people["moderator"])
    assert [(i.target.kind, i.target.id, i.count) for i in items] == [
        ("post", busy.id, 3),
        ("comment", comment.id, 1),
    ]
    assert items[0].reasons == [("Spam", 2), ("Other", 1)]
    assert items[0].notes == ["Advertising"]
    assert items[0].target.excerpt == "Buy <b>cheap</b> watches now"
    assert items[0].target.author_label == "Wendy Writer"
    assert "Hello Wendy Writer" in items[0].warning_template
    assert moderation.open_flag_count(session) == 4


def test_the_queue_never_shows_an_anonymous_author(session: Session, people: dict) -> None:
    question = make_question(session, people["author"], anonymous=True)
    moderation.flag(session, reporter=people["reader"], target=f"post:{question.id}", reason="rude")
    (item,) = moderation.queue(session, viewer=people["moderator"])
    assert item.target.author_label == "Anonymous colleague"
    assert item.target.author_username is None
    assert "Wendy" not in item.warning_template


def test_members_have_no_queue_and_no_actions(session: Session, people: dict) -> None:
    question = make_question(session, people["author"])
    flag = moderation.flag(
        session, reporter=people["reader"], target=f"post:{question.id}", reason="spam"
    )
    with pytest.raises(Forbidden):
        moderation.queue(session, viewer=people["second"])
    with pytest.raises(Forbidden):
        moderation.act(session, moderator=people["second"], flag_id=flag.id, action="hide")
    with pytest.raises(Forbidden):
        moderation.audit_log(session, viewer=people["second"])


def _two_flags(session: Session, people: dict, target: str) -> Flag:
    first = moderation.flag(session, reporter=people["reader"], target=target, reason="rude")
    moderation.flag(session, reporter=people["second"], target=target, reason="spam")
    return first


@pytest.mark.parametrize("action", ["dismiss", "edit", "hide", "delete"])
def test_each_action_resolves_every_open_flag_and_is_audited(
    session: Session, people: dict, action: str
) -> None:
    question = make_question(session, people["author"])
    first = _two_flags(session, people, f"post:{question.id}")
    outcome = moderation.act(
        session, moderator=people["moderator"], flag_id=first.id, action=action, note="Checked"
    )
    assert outcome.resolved == 2
    flags = list(session.scalars(select(Flag).where(Flag.post_id == question.id)))
    assert {(f.status, f.resolution, f.resolved_by_id) for f in flags} == {
        ("closed", moderation.ACTIONS[action], people["moderator"].id)
    }
    (row,) = _audit(session)
    assert (row.actor_id, row.action, row.target_type, row.target_id) == (
        people["moderator"].id,
        f"moderation.{action}",
        "post",
        question.id,
    )
    assert "rude or abusive ×1" in row.reason and "spam ×1" in row.reason
    assert "Checked" in row.reason
    assert (question.deleted_at is not None) == (action in ("hide", "delete"))
    assert moderation.is_hidden(session, question) == (action == "hide")
    assert moderation.queue(session, viewer=people["moderator"]) == []


def test_a_handled_flag_cannot_be_handled_again(session: Session, people: dict) -> None:
    question = make_question(session, people["author"])
    first = _two_flags(session, people, f"post:{question.id}")
    moderation.act(session, moderator=people["moderator"], flag_id=first.id, action="dismiss")
    with pytest.raises(Conflict):
        moderation.act(session, moderator=people["moderator"], flag_id=first.id, action="hide")
    with pytest.raises(NotFound):
        moderation.act(session, moderator=people["moderator"], flag_id=999999, action="hide")


def test_unknown_actions_are_not_found(session: Session, people: dict) -> None:
    question = make_question(session, people["author"])
    first = _two_flags(session, people, f"post:{question.id}")
    with pytest.raises(NotFound):
        moderation.act(session, moderator=people["moderator"], flag_id=first.id, action="ban")


def test_hiding_a_comment_keeps_it_for_moderators_only(session: Session, people: dict) -> None:
    from forum.services import comments

    question = make_question(session, people["author"])
    comment = make_comment(session, question, people["author"], body="You are all idiots")
    flag = moderation.flag(
        session, reporter=people["reader"], target=f"comment:{comment.id}", reason="rude"
    )
    moderation.act(session, moderator=people["moderator"], flag_id=flag.id, action="hide")
    stored = session.get(Comment, comment.id)
    assert stored is not None and stored.deleted_at is not None
    assert stored.body_md == "You are all idiots"
    assert moderation.is_hidden(session, stored)
    loaded = comments.load(session, [question.id])
    member_view = comments.build_threads(loaded, viewer=people["reader"], voted=set())
    moderator_view = comments.build_threads(loaded, viewer=people["moderator"], voted=set())
    assert member_view.get(question.id, []) == []
    assert [n.comment.id for n in moderator_view[question.id]] == [comment.id]


def test_editing_a_flagged_comment_is_refused(session: Session, people: dict) -> None:
    question = make_question(session, people["author"])
    comment = make_comment(session, question, people["author"])
    flag = moderation.flag(
        session, reporter=people["reader"], target=f"comment:{comment.id}", reason="rude"
    )
    with pytest.raises(ValidationError) as caught:
        moderation.act(session, moderator=people["moderator"], flag_id=flag.id, action="edit")
    assert "action" in caught.value.errors
    assert session.get(Flag, flag.id).status == "open"  # type: ignore[union-attr]


def test_hiding_an_answer_uses_soft_delete_and_keeps_the_count_right(
    session: Session, people: dict
) -> None:
    question = make_question(session, people["reader"])
    answer = make_answer(session, question, people["author"])
    session.commit()
    session.refresh(question)
    assert question.answer_count == 1
    flag = moderation.flag(
        session, reporter=people["reader"], target=f"post:{answer.id}", reason="spam"
    )
    moderation.act(session, moderator=people["moderator"], flag_id=flag.id, action="hide")
    session.commit()
    session.refresh(question)
    assert question.answer_count == 0
    page = questions.page(session, question.id, viewer=people["second"])
    assert page.answers == []
    page = questions.page(session, question.id, viewer=people["moderator"])
    assert [v.answer.id for v in page.answers] == [answer.id]


def test_warning_is_stored_audited_and_notified(session: Session, people: dict) -> None:
    question = make_question(session, people["author"])
    first = _two_flags(session, people, f"post:{question.id}")
    outcome = moderation.act(
        session,
        moderator=people["moderator"],
        flag_id=first.id,
        action="warn",
        warning="Please keep it friendly.",
    )
    session.flush()
    warning = session.scalars(select(ModerationWarning)).one()
    assert (warning.member_id, warning.moderator_id, warning.text) == (
        people["author"].id,
        people["moderator"].id,
        "Please keep it friendly.",
    )
    assert outcome.warning is warning
    (row,) = _audit(session)
    assert row.action == "moderation.warn" and "Please keep it friendly." in row.reason
    note = session.scalars(
        select(Notification).where(Notification.recipient_id == people["author"].id)
    ).one()
    assert note.kind == "moderation"
    assert "A note from the moderators" in note.text and "Please keep it friendly." in note.text
    # From the moderators as a group, not one person.
    assert note.actor_id is None
    assert (note.endpoint, note.params) == ("questions.detail", {"question_id": question.id})


def test_a_warning_needs_text(session: Session, people: dict) -> None:
    question = make_question(session, people["author"])
    flag = moderation.flag(
        session, reporter=people["reader"], target=f"post:{question.id}", reason="rude"
    )
    with pytest.raises(ValidationError) as caught:
        moderation.act(
            session, moderator=people["moderator"], flag_id=flag.id, action="warn", warning=" "
        )
    assert set(caught.value.errors) == {"warning"}
    assert _audit(session) == []


def test_the_audit_log_includes_reveals_newest_first_and_filters(
    session: Session, people: dict
) -> None:
    anonymous = make_question(session, people["author"], anonymous=True)
    questions.reveal_author(
        session,
        moderator=people["moderator"],
        question_id=anonymous.id,
        reason="Harassment complaint from HR",
    )
    session.flush()
    other = make_question(session, people["author"])
    flag = moderation.flag(
        session, reporter=people["reader"], target=f"post:{other.id}", reason="spam"
    )
    moderation.act(session, moderator=people["admin"], flag_id=flag.id, action="hide")
    session.flush()
    entries, total = moderation.audit_log(session, viewer=people["moderator"])
    assert total == 2
    assert [e.row.action for e in entries] == ["moderation.hide", "question.reveal_author"]
    assert [e.role for e in entries] == ["admin", "moderator"]
    assert entries[1].action_label == "Revealed an anonymous author"
    assert entries[1].endpoint == "questions.detail"
    entries, total = moderation.audit_log(
        session, viewer=people["moderator"], action="question.reveal_author"
    )
    assert total == 1 and entries[0].row.reason == "Harassment complaint from HR"
    assert moderation.audit_actions(session) == ["moderation.hide", "question.reveal_author"]
    entries, total = moderation.audit_log(session, viewer=people["moderator"], page=2, per_page=1)
    assert total == 2 and [e.row.action for e in entries] == ["question.reveal_author"]


def test_the_code_of_conduct_starts_with_a_default(session: Session) -> None:
    shown = conduct.current(session)
    assert shown.is_default and "What we expect</h2>" in shown.body_html


def test_admins_edit_the_code_of_conduct_and_versions_are_kept(
    session: Session, people: dict
) -> None:
    conduct.edit(session, editor=people["admin"], body_md="# Be kind\n", summary="Shorter")
    conduct.edit(session, editor=people["admin"], body_md="Be kind <script>alert(1)</script>\n")
    shown = conduct.current(session)
    assert not shown.is_default and shown.revision_count == 2
    assert "<script>" not in shown.body_html
    assert shown.editor is not None and shown.editor.id == people["admin"].id
    assert [r.summary for r in conduct.history(session)] == ["Edited", "Shorter"]


@pytest.mark.parametrize("who", ["moderator", "reader"])
def test_only_admins_edit_the_code_of_conduct(session: Session, people: dict, who: str) -> None:
    with pytest.raises(Forbidden):
        conduct.edit(session, editor=people[who], body_md="Anything goes")


def test_an_empty_code_of_conduct_is_refused(session: Session, people: dict) -> None:
    with pytest.raises(ValidationError):
        conduct.edit(session, editor=people["admin"], body_md="   ")


def test_flags_go_when_their_post_is_removed_for_good(session: Session, people: dict) -> None:
    question = make_question(session, people["author"])
    moderation.flag(session, reporter=people["reader"], target=f"post:{question.id}", reason="spam")
    session.commit()
    session.delete(session.get(Post, question.id))
    session.commit()
    assert session.scalars(select(Flag)).all() == []
