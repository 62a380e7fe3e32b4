"""The knowledge-base service: edits, merges, conflicts, rollback, links, feedback, freshness."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from forum.db import utcnow
from forum.models import ArticleFeedback, ArticleType, Role
from forum.services import articles, reputation, revisions
from forum.services.articles import ArticleData, EditConflict
from forum.services.errors import Forbidden, NotFound, ValidationError
from tests.factories import make_article, make_user


@pytest.fixture
def app_config(app_config: dict[str, Any]) -> dict[str, Any]:
    """Members here may create tags (the tag policy is tested in test_tag_policy.py)."""
    return {**app_config, "REPUTATION_THRESHOLDS": {"create_tags": 0}}


BODY = "Intro line.\n\nStep one: install.\n\nStep two: configure.\n\nStep three: run.\n"


def data(
    title: str = "Deploying on Fridays",
    body: str = BODY,
    tags: str = "deploy ops",
    kind: str = "tip",
) -> ArticleData:
    return ArticleData(title=title, body_md=body, tags_text=tags, article_type=kind)


def test_create_renders_slugs_and_records_the_first_revision(session: Session) -> None:
    author = make_user(session)
    article = articles.create_article(session, author=author, data=data())
    assert article.slug == "deploying-on-fridays"
    assert article.owner_id == author.id and article.author_id == author.id
    assert [t.name for t in article.tags] == ["deploy", "ops"]
    assert "<p>Step one: install.</p>" in article.body_html
    assert article.revision_count == 1
    assert revisions.history(session, article)[0].summary == "Created"
    again = articles.create_article(session, author=author, data=data())
    assert again.slug == "deploying-on-fridays-2"


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"title": ""}, "title", "Give the article a title."),
        ({"title": "x" * 201}, "title", "Keep the title to 200 characters"),
        ({"tags": "a b c d e f"}, "tags", "Use at most 5 tags."),
        ({"tags": ""}, "tags", "Add at least one tag"),
        ({"body": "  "}, "body", "Write the article's text."),
        ({"body": "x" * (200 * 1024 + 1)}, "body", "Markdown is limited to 200 KB"),
        ({"kind": "essay"}, "article_type", "Choose tip or tutorial."),
    ],
)
def test_bad_input_is_a_validation_error_per_field(
    session: Session, fields: dict[str, str], field: str, message: str
) -> None:
    with pytest.raises(ValidationError) as caught:
        articles.create_article(session, author=make_user(session), data=data(**fields))
    assert any(message in m for m in caught.value.errors[field])


def test_tutorials_get_a_table_of_contents_and_tips_do_not(session: Session) -> None:
    body = "## Setup\n\ntext\n\n## Usage\n\nmore\n"
    tutorial = make_article(session, body=body, article_type="tutorial")
    tip = make_article(session, body=body, article_type="tip")
    assert '<nav class="toc"' in tutorial.body_html and 'href="#h-setup"' in tutorial.body_html
    assert '<nav class="toc"' not in tip.body_html


def test_edit_from_the_current_revision_saves_a_new_one(session: Session) -> None:
    article = make_article(session, body=BODY)
    editor = make_user(session)
    result = articles.edit_article(
        session,
        article,
        editor=editor,
        data=data(body=BODY + "\nStep four.\n"),
        base_revision=1,
        summary="Add step four",
    )
    assert result.changed and result.merged_with is None
    assert article.revision_count == 2 and "Step four." in article.body_html
    latest = revisions.history(session, article)[0]
    assert (latest.number, latest.summary, latest.editor_id) == (2, "Add step four", editor.id)


def test_saving_unchanged_text_adds_no_revision(session: Session) -> None:
    article = make_article(session, title="Same text", body=BODY, tags="deploy ops")
    result = articles.edit_article(
        session,
        article,
        editor=make_user(session),
        data=data(title="Same text", body=BODY),
        base_revision=1,
    )
    assert not result.changed and article.revision_count == 1


def test_concurrent_edits_to_different_lines_merge_three_way(session: Session) -> None:
    article = make_article(session, title="Merge me", body=BODY, tags="deploy ops")
    alice, bob = make_user(session), make_user(session)
    # Both open the form at revision 1; Alice saves first.
    articles.edit_article(
        session,
        article,
        editor=alice,
        data=data(title="Merge me", body=BODY.replace("install", "install it")),
        base_revision=1,
    )
    result = articles.edit_article(
        session,
        article,
        editor=bob,
        data=data(title="Merge me", body=BODY.replace("Step three: run.", "Step three: run it.")),
        base_revision=1,
        summary="Clarify",
    )
    assert result.merged_with == 2
    assert "Step one: install it." in article.body_md
    assert "Step three: run it." in article.body_md
    assert article.revision_count == 3
    assert revisions.history(session, article)[0].summary == "Clarify (merged with revision 2)"


def test_overlapping_edits_are_a_conflict_and_nothing_is_saved(session: Session) -> None:
    article = make_article(session, title="Conflict me", body=BODY, tags="deploy ops")
    alice, bob = make_user(session), make_user(session)
    articles.edit_article(
        session,
        article,
        editor=alice,
        data=data(title="Conflict me", body=BODY.replace("install", "apt install")),
        base_revision=1,
    )
    mine = BODY.replace("install", "pip install")
    with pytest.raises(EditConflict) as caught:
        articles.edit_article(
            session,
            article,
            editor=bob,
            data=data(title="Conflict me", body=mine),
            base_revision=1,
        )
    conflict = caught.value
    assert conflict.fields == ["body"] and conflict.current_revision == 2
    assert conflict.mine == mine
    assert "apt install" in conflict.theirs
    assert "<<<<<<< your version" in conflict.merged and "pip install" in conflict.merged
    assert "apt install" in conflict.merged and "Step three: run." in conflict.merged
    assert article.revision_count == 2 and "apt install" in article.body_md


def test_conflicting_title_changes_are_a_conflict(session: Session) -> None:
    article = make_article(session, title="Original title", body=BODY, tags="deploy ops")
    articles.edit_article(
        session,
        article,
        editor=make_user(session),
        data=data(title="Their title"),
        base_revision=1,
    )
    with pytest.raises(EditConflict) as caught:
        articles.edit_article(
            session,
            article,
            editor=make_user(session),
            data=data(title="My title"),
            base_revision=1,
        )
    assert "title" in caught.value.fields


def test_rollback_restores_an_old_revision_as_a_new_one(session: Session) -> None:
    article = make_article(session, title="Rollback me", body="first text\n", tags="one")
    editor = make_user(session)
    articles.edit_article(
        session,
        article,
        editor=editor,
        data=data(title="Renamed", body="vandalised\n", tags="two"),
        base_revision=1,
    )
    articles.rollback(session, article, editor=editor, number=1)
    assert article.revision_count == 3
    assert (article.title, article.body_md) == ("Rollback me", "first text\n")
    assert [t.name for t in article.tags] == ["one"]
    assert "first text" in article.body_html
    assert revisions.history(session, article)[0].summary == "Restored revision 1"
    with pytest.raises(NotFound):
        articles.rollback(session, article, editor=editor, number=99)


def test_diff_between_revisions_and_foreign_revisions_404(session: Session) -> None:
    article = make_article(session, title="Diff me", body="alpha\nbeta\n", tags="one")
    other = make_article(session, title="Another one", body="x\n")
    articles.edit_article(
        session,
        article,
        editor=make_user(session),
        data=data(title="Diff me", body="alpha\ngamma\n", tags="one"),
        base_revision=1,
    )
    _old, _new, diff = revisions.diff_revisions(session, article, 1, 2)
    ops = {(line.op, line.text) for line in diff.lines}
    assert ("-", "beta") in ops and ("+", "gamma") in ops and (" ", "alpha") in ops
    assert other.revision_count == 1
    with pytest.raises(NotFound):
        revisions.diff_revisions(session, article, 1, 3)


def test_locked_articles_only_moderators_edit_and_only_moderators_lock(session: Session) -> None:
    article = make_article(session, body=BODY)
    member = make_user(session)
    moderator = make_user(session, role=Role.MODERATOR)
    with pytest.raises(Forbidden):
        articles.set_locked(session, article, actor=member, locked=True)
    articles.set_locked(session, article, actor=moderator, locked=True)
    with pytest.raises(Forbidden):
        articles.edit_article(
            session, article, editor=member, data=data(body="changed\n"), base_revision=1
        )
    with pytest.raises(Forbidden):
        articles.rollback(session, article, editor=member, number=1)
    result = articles.edit_article(
        session, article, editor=moderator, data=data(body="changed\n"), base_revision=1
    )
    assert result.changed


def test_wiki_links_resolve_and_missing_ones_become_live_when_created(session: Session) -> None:
    author = make_user(session)
    source = make_article(
        session,
        author,
        title="Onboarding checklist",
        body="Read [[SQL basics]] and [[code review tips|our review tips]].\n",
    )
    assert 'class="wikilink wikilink--missing" href="/articles/new?title=SQL%20basics"' in (
        source.body_html
    )
    target = make_article(session, author, title="SQL Basics", body="SELECT it.\n")
    session.refresh(source)
    assert '<a class="wikilink" href="/articles/sql-basics">SQL basics</a>' in source.body_html
    assert [a.title for a in articles.backlinks(session, target)] == ["Onboarding checklist"]
    tips = make_article(session, author, title="Code review tips")
    session.refresh(source)
    assert 'href="/articles/code-review-tips">our review tips</a>' in source.body_html
    assert articles.backlinks(session, tips) == [source]
    # Removing the link removes the backlink.
    articles.edit_article(
        session,
        source,
        editor=author,
        data=data(title="Onboarding checklist", body="Read [[SQL basics]].\n", tags="howto"),
        base_revision=source.revision_count,
    )
    assert articles.backlinks(session, tips) == []
    assert articles.backlinks(session, target) == [source]


def test_helpful_feedback_is_one_changeable_answer_per_member(session: Session) -> None:
    author = make_user(session)
    article = make_article(session, author)
    readers = [make_user(session) for _ in range(3)]
    articles.set_feedback(session, article, member=readers[0], helpful=True)
    articles.set_feedback(session, article, member=readers[1], helpful=True, comment="Great")
    articles.set_feedback(session, article, member=readers[2], helpful=False, comment="Outdated")
    summary = articles.helpful_summary(session, article)
    assert (summary.yes, summary.no, summary.total, summary.share) == (2, 1, 3, 67)
    articles.set_feedback(session, article, member=readers[2], helpful=True, comment="Outdated")
    summary = articles.helpful_summary(session, article)
    assert (summary.yes, summary.no, summary.share) == (3, 0, 100)
    count = session.scalar(select(func.count()).select_from(ArticleFeedback))
    assert count == 3
    # The author's reputation follows the "yes" answers (the ledger books each change).
    session.refresh(author)
    assert author.reputation == 3 * reputation.DEFAULT_RULES.article_helpful > 0
    with pytest.raises(Forbidden):
        articles.set_feedback(session, article, member=author, helpful=True)
    with pytest.raises(ValidationError):
        articles.set_feedback(session, article, member=readers[0], helpful=True, comment="x" * 2001)
    # Private notes: for the owner and moderators only.
    owner_view = articles.page_context(session, article, author)
    assert sorted(f.comment or "" for f in owner_view.private_feedback) == ["Great", "Outdated"]
    assert articles.page_context(session, article, readers[0]).private_feedback == []
    assert articles.page_context(session, article, readers[0]).my_feedback is not None


def test_staleness_review_dates_and_still_accurate(session: Session) -> None:
    owner = make_user(session)
    long_ago = utcnow() - dt.timedelta(days=400)
    old = make_article(session, owner, title="Old VPN guide", now=long_ago)
    fresh = make_article(session, owner, title="Fresh guide")
    assert old.review_by is not None
    assert articles.is_stale(old) and not articles.is_stale(fresh)
    assert articles.stale_articles(session) == [old]
    with pytest.raises(Forbidden):
        articles.mark_reviewed(session, old, actor=make_user(session))
    articles.mark_reviewed(session, old, actor=owner)
    assert not articles.is_stale(old) and articles.stale_articles(session) == []
    latest = revisions.history(session, old)[0]
    assert latest.summary.startswith("Reviewed: still accurate") and latest.number == 2
    # A moderator may confirm too; a configurable interval sets the next date.
    moderator = make_user(session, role=Role.MODERATOR)
    articles.mark_reviewed(session, old, actor=moderator, review_after=dt.timedelta(days=30))
    assert old.review_by is not None
    review_by = old.review_by if old.review_by.tzinfo else old.review_by.replace(tzinfo=dt.UTC)
    assert dt.timedelta(days=29) < review_by - utcnow() <= dt.timedelta(days=30)


def test_an_edit_resets_the_review_date(session: Session) -> None:
    article = make_article(session, title="Was stale", now=utcnow() - dt.timedelta(days=300))
    assert articles.is_stale(article)
    articles.edit_article(
        session,
        article,
        editor=make_user(session),
        data=data(title="Was stale", body="updated\n"),
        base_revision=1,
    )
    assert not articles.is_stale(article)


def test_list_filters_by_tag_and_type_and_sorts(session: Session) -> None:
    a = make_article(session, title="Alpha tip", tags="sql", article_type="tip")
    b = make_article(session, title="Beta tutorial", tags="sql python", article_type="tutorial")
    c = make_article(session, title="Gamma tip", tags="python")
    c.score = 5
    session.flush()
    items, total = articles.list_articles(session, tag="sql")
    assert total == 2 and {i.id for i in items} == {a.id, b.id}
    items, total = articles.list_articles(session, article_type="tutorial")
    assert [i.id for i in items] == [b.id]
    items, _ = articles.list_articles(session, sort="top")
    assert items[0].id == c.id
    items, total = articles.list_articles(session, page=2, per_page=2)
    assert total == 3 and len(items) == 1
    assert b.article_type is ArticleType.TUTORIAL


def test_preview_renders_without_saving_and_caps_size(session: Session) -> None:
    html = articles.preview(session, "**bold** [[Nowhere]]", "tip")
    assert "<strong>bold</strong>" in html and "wikilink--missing" in html
    with pytest.raises(ValidationError):
        articles.preview(session, "x" * (200 * 1024 + 1), "tip")


def test_merge_takes_a_tag_change_from_either_side(session: Session) -> None:
    article = make_article(session, title="Tag merge", body=BODY, tags="ops deploy")
    articles.edit_article(
        session,
        article,
        editor=make_user(session),
        data=data(title="Tag merge", body=BODY.replace("install", "install it"), tags="deploy ops"),
        base_revision=1,
    )
    result = articles.edit_article(
        session,
        article,
        editor=make_user(session),
        data=data(title="Tag merge", body=BODY, tags="ops deploy release"),
        base_revision=1,
    )
    assert result.merged_with == 2
    assert sorted(t.name for t in article.tags) == ["deploy", "ops", "release"]
    assert "install it" in article.body_md


def test_an_article_past_the_structure_limits_does_not_block_one_it_links_to(
    session: Session,
) -> None:
    old = make_article(session, title="Old long list", body="See [[Future page]].\n")
    # Saved before the structure limits existed: far more list items than allowed now.
    old.body_md = "See [[Future page]].\n\n" + "- item\n" * 5000
    session.flush()
    html_before = old.body_html
    created = make_article(session, title="Future page", body="Here now.\n")
    session.flush()
    session.refresh(old)
    assert created.id and old.body_html == html_before
    with pytest.raises(ValidationError, match="blocks at most"):
        articles.edit_article(
            session,
            old,
            editor=make_user(session),
            data=ArticleData(
                title="Old long list",
                body_md=old.body_md + "- one more\n",
                tags_text="howto",
                article_type="tip",
            ),
            base_revision=old.revision_count,
        )
