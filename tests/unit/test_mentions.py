"""@mentions: links to existing members only, outside code and links; one notification each."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from forum.markdown import render_document
from forum.models import Notification, User
from forum.services import answers, articles, comments, mentions, questions
from tests.factories import make_answer, make_article, make_comment, make_question, make_user

MEMBERS = {"bob": "/users/bob", "ann.lee": "/users/ann.lee"}


def render(source: str) -> tuple[str, list[str]]:
    doc = render_document(source, mention_resolver=MEMBERS.get)
    return doc.html, doc.mentions


def mentions_of(session: Session, user: User) -> list[Notification]:
    return list(
        session.scalars(
            select(Notification)
            .where(Notification.recipient_id == user.id, Notification.kind == "mention")
            .order_by(Notification.id)
        )
    )


def test_existing_member_becomes_a_profile_link() -> None:
    html, found = render("Ask @bob or @Ann.Lee. about it; @nobody knows.")
    assert '<a class="mention" href="/users/bob">@bob</a>' in html
    assert '<a class="mention" href="/users/ann.lee">@Ann.Lee</a>.' in html
    assert "@nobody" in html and "/users/nobody" not in html
    assert found == ["bob", "ann.lee"]


def test_no_mentions_in_code_links_or_addresses() -> None:
    source = (
        "`@bob` in code\n\n"
        "```\n@bob in a block\n```\n\n"
        "    @bob indented\n\n"
        "[ask @bob](https://example.com) and mail bob@example.com or https://x.test/@bob\n"
    )
    html, found = render(source)
    assert found == []
    assert 'class="mention"' not in html
    assert "<code>@bob</code>" in html


def test_without_a_resolver_nothing_changes() -> None:
    assert 'class="mention"' not in render_document("hi @bob").html


def test_mention_output_stays_sanitised() -> None:
    html, found = render('@bob"><script>alert(1)</script> and <img src=x onerror=alert(1)> @bob')
    assert found == ["bob"]
    assert "<script" not in html and "<img" not in html and "&lt;script&gt;" in html
    assert html.count('class="mention"') == 2


def test_resolver_uses_members(session: Session) -> None:
    make_user(session, "carol")
    resolve = mentions.resolver(session)
    assert resolve("carol") == "/users/carol"
    assert resolve("CAROL") == "/users/carol"
    assert resolve("ghost") is None


def test_question_mentions_notify_once_even_after_edits(session: Session) -> None:
    asker = make_user(session, "asker", display_name="Asha")
    carol, dave = make_user(session, "carol"), make_user(session, "dave")
    question = make_question(session, asker, body="Maybe @carol knows? Also @asker (myself).\n")
    session.commit()
    assert '<a class="mention" href="/users/carol">@carol</a>' in question.body_html
    [note] = mentions_of(session, carol)
    assert note.text == f"Asha mentioned you in the question “{question.title}”"
    assert note.params == {"question_id": question.id} and note.actor_id == asker.id
    assert mentions_of(session, asker) == []
    questions.edit(
        session,
        editor=asker,
        question_id=question.id,
        title=question.title,
        body_md="Maybe @carol knows, or @dave?\n",
        tags=["howto"],
    )
    session.commit()
    assert len(mentions_of(session, carol)) == 1
    assert len(mentions_of(session, dave)) == 1


def test_answer_article_and_comment_mentions(session: Session) -> None:
    writer = make_user(session, "writer", display_name="Wren")
    erin = make_user(session, "erin")
    question = make_question(session)
    answer = make_answer(session, question, writer, body="See what @erin wrote.\n")
    article = make_article(session, writer, body="Thanks to @erin for this.\n")
    comment = make_comment(session, question, writer, body="cc @erin")
    session.commit()
    notes = mentions_of(session, erin)
    assert [n.params for n in notes] == [
        {"question_id": question.id, "_anchor": f"post-{answer.id}"},
        {"slug": article.slug},
        {"question_id": question.id, "_anchor": f"comment-{comment.id}"},
    ]
    assert notes[1].text == f"Wren mentioned you in the article “{article.title}”"
    assert 'href="/users/erin"' in comment.body_html
    # Edits of each keep the one notification.
    answers.edit(session, editor=writer, answer_id=answer.id, body_md="Ask @erin.\n")
    comments.edit(session, editor=writer, comment_id=comment.id, body="cc @erin again")
    articles.edit_article(
        session,
        article,
        editor=writer,
        data=articles.ArticleData(
            title=article.title,
            body_md="Thanks again, @erin.\n",
            tags_text="howto",
            article_type="tip",
        ),
        base_revision=article.revision_count,
    )
    session.commit()
    assert len(mentions_of(session, erin)) == 3


def test_post_author_mentioned_in_a_comment_is_told_once(session: Session) -> None:
    owner, fan = make_user(session, "owner"), make_user(session, "fan")
    question = make_question(session, owner)
    make_comment(session, question, fan, body="@owner nice one")
    session.commit()
    kinds = [
        n.kind
        for n in session.scalars(
            select(Notification).where(
                Notification.recipient_id == owner.id, Notification.kind != "badge"
            )
        )
    ]
    assert kinds == ["comment"]


def test_anonymous_asker_mentions_stay_anonymous(session: Session) -> None:
    asker = make_user(session, "asker", display_name="Hidden Hana")
    frank = make_user(session, "frank")
    question = make_question(session, asker, anonymous=True, body="Could @frank help?\n")
    session.commit()
    [note] = mentions_of(session, frank)
    assert note.actor_id is None
    assert "Hidden Hana" not in note.text and "asker" not in note.text
    assert note.text.startswith("Someone mentioned you in the question")
    assert question.is_anonymous
