"""[[Wiki links]] and @mentions work alike in questions, answers, comments and tag texts."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from forum.models import Notification
from forum.services import tags
from tests.factories import make_answer, make_article, make_comment, make_question, make_user

LINK = '<a class="wikilink" href="/articles/{slug}">{label}</a>'
MISSING = '<a class="wikilink wikilink--missing" href="/articles/new?title=No%20such%20page"'


def test_wiki_links_resolve_in_questions_answers_and_comments(session: Session) -> None:
    article = make_article(session, title="Deploying on Fridays")
    asker = make_user(session)
    question = make_question(session, asker, body="Is [[deploying on fridays]] still true?\n")
    answer = make_answer(session, question, body="See [[Deploying on Fridays|the guide]].\n")
    comment = make_comment(session, answer, body="And [[No such page]] too.")
    assert LINK.format(slug=article.slug, label="deploying on fridays") in question.body_html
    assert LINK.format(slug=article.slug, label="the guide") in answer.body_html
    assert MISSING in comment.body_html


def test_edited_posts_resolve_wiki_links(session: Session) -> None:
    from forum.services import answers, questions

    article = make_article(session, title="Code review checklist")
    asker = make_user(session)
    question = make_question(session, asker)
    questions.edit(
        session,
        editor=asker,
        question_id=question.id,
        title=question.title,
        body_md="Per [[Code review checklist]]?\n",
        tags=["howto"],
        base_revision=question.revision_count,
    )
    assert LINK.format(slug=article.slug, label="Code review checklist") in question.body_html
    answer = make_answer(session, question, asker)
    answers.edit(
        session,
        editor=asker,
        answer_id=answer.id,
        body_md="[[Code review checklist]]\n",
        base_revision=answer.revision_count,
    )
    assert 'class="wikilink"' in answer.body_html


def test_tag_description_has_wiki_links_and_mentions_that_notify_once(session: Session) -> None:
    article = make_article(session, title="Python style guide", tags="python")
    editor = make_user(session, "editor", reputation=1000, display_name="Edna")
    carol = make_user(session, "carol")
    tag = tags.get_tag(session, "python")
    for _ in range(2):
        tags.edit_description(
            session,
            editor=editor,
            tag=tag,
            excerpt="The language.",
            description_md="Read [[Python style guide]]; ask @carol or @editor.",
        )
    session.commit()
    assert tag.description_html is not None
    assert LINK.format(slug=article.slug, label="Python style guide") in tag.description_html
    assert '<a class="mention" href="/users/carol">@carol</a>' in tag.description_html
    notes = list(session.scalars(select(Notification).where(Notification.kind == "mention")))
    assert [(n.recipient_id, n.endpoint, n.params) for n in notes] == [
        (carol.id, "tags.detail", {"name": "python"})
    ]
    assert notes[0].text == "Edna mentioned you in the description of the tag python"
