"""Drafts: kept per member and form, private, dropped when sent; conflict markers refused."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from forum.models import Draft, PostKind
from forum.services import articles, drafts
from forum.services.errors import NotFound, ValidationError
from tests.factories import make_article, make_question, make_user


def test_a_draft_is_kept_per_member_form_and_target(session: Session) -> None:
    me, other = make_user(session), make_user(session)
    question = make_question(session)
    drafts.save(
        session,
        owner=me,
        kind=PostKind.QUESTION,
        target_id=0,
        text=drafts.DraftText(title="How do I rotate keys?", body="First try", tags="ops"),
    )
    drafts.save(
        session,
        owner=me,
        kind=PostKind.ANSWER,
        target_id=question.id,
        text=drafts.DraftText(body="Use the vault"),
    )
    # Saving again updates the same draft.
    drafts.save(
        session,
        owner=me,
        kind=PostKind.QUESTION,
        target_id=0,
        text=drafts.DraftText(title="How do I rotate keys?", body="Second try", tags="ops"),
    )
    found = drafts.find(session, me, PostKind.QUESTION)
    assert found is not None and found.body == "Second try" and found.tags == "ops"
    answer = drafts.find(session, me, PostKind.ANSWER, question.id)
    assert answer is not None and answer.body == "Use the vault"
    assert drafts.find(session, other, PostKind.QUESTION) is None
    assert [d.kind for d in drafts.list_for(session, me)] == ["question", "answer"]
    assert drafts.list_for(session, other) == []


def test_an_empty_form_discards_the_draft(session: Session) -> None:
    me = make_user(session)
    text = drafts.DraftText(title="A title worth keeping", body="text")
    drafts.save(session, owner=me, kind=PostKind.ARTICLE, target_id=0, text=text)
    kept = drafts.save(
        session, owner=me, kind=PostKind.ARTICLE, target_id=0, text=drafts.DraftText(tags="x")
    )
    assert kept is None
    assert drafts.find(session, me, PostKind.ARTICLE) is None


def test_others_drafts_are_not_found(session: Session) -> None:
    me, other = make_user(session), make_user(session)
    draft = drafts.save(
        session,
        owner=me,
        kind=PostKind.QUESTION,
        target_id=0,
        text=drafts.DraftText(body="mine"),
    )
    assert draft is not None
    with pytest.raises(NotFound):
        drafts.get(session, draft.id, other)
    with pytest.raises(NotFound):
        drafts.delete_draft(session, draft.id, other)
    assert drafts.get(session, draft.id, me) is draft
    drafts.delete_draft(session, draft.id, me)
    assert session.get(Draft, draft.id) is None


def test_discard_forgets_the_sent_forms_draft_only(session: Session) -> None:
    me = make_user(session)
    question = make_question(session)
    for kind, target in ((PostKind.QUESTION, 0), (PostKind.ANSWER, question.id)):
        drafts.save(session, owner=me, kind=kind, target_id=target, text=drafts.DraftText(body="x"))
    drafts.discard(session, me, PostKind.ANSWER, question.id)
    assert [d.kind for d in drafts.list_for(session, me)] == ["question"]


@pytest.mark.parametrize(
    ("kind", "target", "field"),
    [
        (PostKind.ANSWER, 0, "target"),
        (PostKind.QUESTION, 5, "target"),
        (PostKind.ANSWER, 999_999, "target"),
    ],
)
def test_a_draft_needs_a_fitting_target(
    session: Session, kind: PostKind, target: int, field: str
) -> None:
    me = make_user(session)
    with pytest.raises(ValidationError) as refused:
        drafts.save(session, owner=me, kind=kind, target_id=target, text=drafts.DraftText(body="x"))
    assert field in refused.value.errors


def test_an_answer_draft_is_not_for_an_article(session: Session) -> None:
    me = make_user(session)
    article = make_article(session)
    with pytest.raises(ValidationError):
        drafts.save(
            session,
            owner=me,
            kind=PostKind.ANSWER,
            target_id=article.id,
            text=drafts.DraftText(body="x"),
        )
    kept = drafts.save(
        session,
        owner=me,
        kind=PostKind.ARTICLE,
        target_id=article.id,
        text=drafts.DraftText(title=article.title, body="edited", base_revision=1),
    )
    assert kept is not None and kept.base_revision == 1
    assert drafts.target_title(session, kept) == article.title


def test_too_long_drafts_and_unknown_kinds_are_refused(session: Session) -> None:
    me = make_user(session)
    with pytest.raises(ValidationError) as refused:
        drafts.save(
            session,
            owner=me,
            kind=PostKind.QUESTION,
            target_id=0,
            text=drafts.DraftText(body="x" * (drafts.MAX_BODY + 1)),
        )
    assert "body" in refused.value.errors
    with pytest.raises(ValidationError):
        drafts.parse_kind("comment")


def test_a_member_keeps_a_bounded_number_of_drafts(
    session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(drafts, "MAX_DRAFTS", 3)
    me = make_user(session)
    questions = [make_question(session) for _ in range(4)]
    for question in questions:
        drafts.save(
            session,
            owner=me,
            kind=PostKind.ANSWER,
            target_id=question.id,
            text=drafts.DraftText(body=f"answer to {question.id}"),
        )
    kept = sorted(d.target_id for d in drafts.list_for(session, me))
    assert kept == sorted(q.id for q in questions[1:])


def test_conflict_marker_lines_are_found() -> None:
    merged, conflicted = articles.merge_texts("a\nb\nc\n", "a\nmine\nc\n", "a\ntheirs\nc\n")
    assert conflicted
    assert articles.conflict_marker_lines(merged) == [2, 4, 6]
    # A lone "=======" underlines a heading; it is no marker.
    assert articles.conflict_marker_lines("Title\n=======\ntext\n") == []
    # A start marker left behind alone is still one.
    assert articles.conflict_marker_lines("x\n<<<<<<< your version\ny\n=======\n") == [2]


def test_saving_a_merge_with_markers_is_refused_with_the_lines(session: Session) -> None:
    author, editor = make_user(session), make_user(session)
    article = make_article(session, author, body="one\ntwo\nthree\n")
    merged, _ = articles.merge_texts("two\n", "mine\n", "theirs\n")
    with pytest.raises(ValidationError) as refused:
        articles.edit_article(
            session,
            article,
            editor=editor,
            data=articles.ArticleData(
                title=article.title,
                body_md="intro\n" + merged,
                tags_text="howto",
                article_type="tip",
            ),
            base_revision=article.revision_count,
        )
    message = refused.value.errors["body"][0]
    assert "lines 2, 4 and 6" in message
    assert article.body_md == "one\ntwo\nthree\n"


def test_each_member_keeps_a_count_of_drafts_and_none_means_no_lookup(session: Session) -> None:
    me = make_user(session)
    question = make_question(session)
    assert me.draft_count == 0
    text = drafts.DraftText(title="Rotating keys", body="First try", tags="ops")
    drafts.save(session, owner=me, kind=PostKind.QUESTION, target_id=0, text=text)
    drafts.save(
        session,
        owner=me,
        kind=PostKind.ANSWER,
        target_id=question.id,
        text=drafts.DraftText(body="Use the vault"),
    )
    drafts.save(session, owner=me, kind=PostKind.QUESTION, target_id=0, text=text)
    assert me.draft_count == 2
    drafts.discard(session, me, PostKind.QUESTION)
    assert me.draft_count == 1
    answer = drafts.find(session, me, PostKind.ANSWER, question.id)
    assert answer is not None
    drafts.delete_draft(session, answer.id, me)
    assert me.draft_count == 0
    question_id = question.id
    session.commit()
    session.expire_all()
    assert me.draft_count == 0
    # With no drafts counted, looking one up asks the database nothing.
    statements: list[str] = []
    bind = session.get_bind()
    from sqlalchemy import event

    def record(*args: object) -> None:
        statements.append(str(args[2]))

    event.listen(bind, "before_cursor_execute", record)
    try:
        assert drafts.find(session, me, PostKind.QUESTION) is None
        drafts.discard(session, me, PostKind.ANSWER, question_id)
    finally:
        event.remove(bind, "before_cursor_execute", record)
    assert statements == []
