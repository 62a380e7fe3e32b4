"""One tag policy wherever tags are attached: synonyms resolve, new names need create_tags."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from forum.importers import stackexchange
from forum.interchange import markdown_io
from forum.models import Question, Role, Tag, TagSynonym, User
from forum.services import articles, circles, mentoring, questions, skills, tutorial_requests
from forum.services.circles import CircleData
from forum.services.errors import ValidationError
from forum.services.tags import tags_named
from tests.factories import make_article, make_question, make_user

Attach = Callable[[Session, User, list[str]], list[str]]


def _question(session: Session, member: User, names: list[str]) -> list[str]:
    question = questions.ask(
        session, author=member, title="How do we do this here?", body_md="Body.", tags=names
    )
    return [t.name for t in question.tags]


def _question_edit(session: Session, member: User, names: list[str]) -> list[str]:
    question = make_question(session, member)
    questions.edit(
        session,
        editor=member,
        question_id=question.id,
        title=question.title,
        body_md="Changed body.",
        tags=names,
    )
    return [t.name for t in question.tags]


def _article(session: Session, member: User, names: list[str]) -> list[str]:
    data = articles.ArticleData(
        title="Policy article", body_md="Text.\n", tags_text=" ".join(names), article_type="tip"
    )
    return [t.name for t in articles.create_article(session, author=member, data=data).tags]


def _article_edit(session: Session, member: User, names: list[str]) -> list[str]:
    article = make_article(session, member, title="Edited article")
    data = articles.ArticleData(
        title="Edited article", body_md="New text.\n", tags_text=" ".join(names), article_type="tip"
    )
    result = articles.edit_article(
        session, article, editor=member, data=data, base_revision=article.revision_count
    )
    return [t.name for t in result.article.tags]


def _circle(session: Session, member: User, names: list[str]) -> list[str]:
    circle = circles.create_circle(
        session, facilitator=member, data=CircleData(name="Policy circle", tags=names)
    )
    return [t.name for t in circle.tags]


def _circle_edit(session: Session, member: User, names: list[str]) -> list[str]:
    tags_named(session, ["howto"])
    circle = circles.create_circle(
        session, facilitator=member, data=CircleData(name="Policy circle", tags=["howto"])
    )
    circles.edit_circle(
        session, editor=member, circle=circle, data=CircleData(name="Policy circle", tags=names)
    )
    return [t.name for t in circle.tags]


def _request(session: Session, member: User, names: list[str]) -> list[str]:
    request = tutorial_requests.create(
        session, requester=member, title="Please explain this", details_md="", tags=names
    )
    return [t.name for t in request.tags]


def _skills(session: Session, member: User, names: list[str]) -> list[str]:
    skills.set_skills(session, member, help_text=" ".join(names), learn_text="")
    return skills.skills_of(session, member).help


ATTACHERS = [
    pytest.param(_question, id="question"),
    pytest.param(_question_edit, id="question-edit"),
    pytest.param(_article, id="article"),
    pytest.param(_article_edit, id="article-edit"),
    pytest.param(_circle, id="circle"),
    pytest.param(_circle_edit, id="circle-edit"),
    pytest.param(_request, id="request"),
    pytest.param(_skills, id="skills"),
]


def _synonym(session: Session, alias: str, target: str) -> None:
    (tag,) = tags_named(session, [target])
    session.flush()
    session.add(TagSynonym(name=alias, tag_id=tag.id))
    session.flush()


@pytest.mark.parametrize("attach", ATTACHERS)
def test_a_new_member_cannot_create_tags(session: Session, attach: Attach) -> None:
    member = make_user(session, reputation=1)
    tags_named(session, ["howto"])
    session.flush()
    with pytest.raises(ValidationError) as refused:
        attach(session, member, ["howto", "brand-new"])
    messages = [m for ms in refused.value.errors.values() for m in ms]
    assert any("brand-new" in m and "reputation" in m for m in messages)
    assert "howto" not in " ".join(messages)
    session.rollback()
    assert session.scalar(select(Tag).where(Tag.name == "brand-new")) is None


@pytest.mark.parametrize("attach", ATTACHERS)
def test_synonyms_resolve_to_their_tag(session: Session, attach: Attach) -> None:
    member = make_user(session, reputation=1)
    _synonym(session, "js", "javascript")
    assert attach(session, member, ["js"]) == ["javascript"]
    assert session.scalar(select(Tag).where(Tag.name == "js")) is None


@pytest.mark.parametrize("attach", ATTACHERS)
@pytest.mark.parametrize("kind", ["reputation", "moderator"])
def test_members_with_the_privilege_create_tags(
    session: Session, attach: Attach, kind: str
) -> None:
    if kind == "moderator":
        member = make_user(session, role=Role.MODERATOR, reputation=1)
    else:
        member = make_user(session, reputation=100_000)
    assert attach(session, member, ["brand-new"]) == ["brand-new"]
    assert session.scalar(select(Tag.id).where(Tag.name == "brand-new")) is not None


def test_the_markdown_import_creates_tags_and_resolves_synonyms(
    session: Session, tmp_path: Path
) -> None:
    """An admin runs the import, so its authors need no privilege for new tags."""
    author = make_user(session, reputation=1)
    _synonym(session, "js", "javascript")
    (tmp_path / "a.md").write_text("---\ntitle: Imported\ntags: [js, fresh-tag]\n---\nText.\n")
    summary = markdown_io.import_directory(
        session, markdown_io.markdown_files(tmp_path), default_author=author
    )
    assert summary.failed == []
    article = articles.get_by_slug(session, "imported")
    assert sorted(t.name for t in article.tags) == ["fresh-tag", "javascript"]


def test_the_stackexchange_import_resolves_synonyms(session: Session, tmp_path: Path) -> None:
    _synonym(session, "js", "javascript")
    session.commit()
    dump = tmp_path / "example.stackexchange.com"
    dump.mkdir()
    (dump / "Users.xml").write_text(
        '<users><row Id="7" DisplayName="Ada" CreationDate="2020-01-01T00:00:00.000" /></users>'
    )
    (dump / "Posts.xml").write_text(
        '<posts><row Id="1" PostTypeId="1" OwnerUserId="7" Title="Arrays in js?"'
        ' Body="&lt;p&gt;How?&lt;/p&gt;" Tags="&lt;js&gt;&lt;imported-new&gt;"'
        ' CreationDate="2020-01-02T00:00:00.000" Score="1" /></posts>'
    )
    stackexchange.import_dump(session, dump)
    question = session.scalars(select(Question)).one()
    assert sorted(t.name for t in question.tags) == ["imported-new", "javascript"]
    assert session.scalar(select(Tag).where(Tag.name == "js")) is None


def test_a_mentorship_request_resolves_synonyms_and_creates_no_tag(session: Session) -> None:
    mentee = make_user(session, reputation=100_000)
    mentor = make_user(session)
    _synonym(session, "js", "javascript")
    mentorship = mentoring.request_mentor(
        session, mentee=mentee, mentor_id=mentor.id, goal="Learn it", tag_name="JS"
    )
    assert mentorship.tag_id == session.scalar(select(Tag.id).where(Tag.name == "javascript"))
    with pytest.raises(ValidationError) as refused:
        mentoring.request_mentor(
            session, mentee=mentee, mentor_id=mentor.id, goal="Learn it", tag_name="brand-new"
        )
    assert "tag" in refused.value.errors
    assert session.scalar(select(Tag).where(Tag.name == "brand-new")) is None
