"""HTML saved before the image policy is brought up to it by ``forum content resanitize``."""

from __future__ import annotations

from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from forum.models import Comment, Post
from tests.factories import make_comment, make_question, make_user

OLD_BODY = (
    '<p>See <img src="https://tracker.example/p.png?id=7" alt="diagram"> and '
    '<img src="/questions/1" alt="pixel"></p>\n'
)


def test_resanitize_turns_stored_images_into_links_once(app: Flask, session: Session) -> None:
    author = make_user(session)
    question = make_question(session, author)
    plain = make_question(session, author)
    comment = make_comment(session, question, author)
    session.flush()
    # Saved under the old allowlist, which kept images.
    question.body_html = OLD_BODY
    comment.body_html = OLD_BODY
    session.commit()
    kept_time = session.scalar(select(Post.updated_at).where(Post.id == question.id))
    untouched = plain.body_html
    session.commit()

    result = app.test_cli_runner().invoke(args=["content", "resanitize"])
    assert result.exit_code == 0, result.output
    assert "posts.body_html: 1 rows" in result.output
    assert "comments.body_html: 1 rows" in result.output
    session.commit()  # a new snapshot, after the command's own transaction
    for html in (
        session.scalar(select(Post.body_html).where(Post.id == question.id)),
        session.scalar(select(Comment.body_html).where(Comment.id == comment.id)),
    ):
        assert html is not None and "<img" not in html
        assert 'href="https://tracker.example/p.png?id=7"' in html and "Image: diagram" in html
        assert "pixel" in html and "/questions/1" not in html
    assert session.scalar(select(Post.updated_at).where(Post.id == question.id)) == kept_time
    assert session.scalar(select(Post.body_html).where(Post.id == plain.id)) == untouched

    again = app.test_cli_runner().invoke(args=["content", "resanitize"])
    assert again.exit_code == 0 and "Rewrote 0 stored HTML values." in again.output
