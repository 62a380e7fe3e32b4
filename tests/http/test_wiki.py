"""The knowledge base through the test client: routes, forms, permissions, bad input."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any

import frontmatter
import pytest
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from forum.db import utcnow
from forum.models import Article, Role
from tests.conftest import Browser
from tests.factories import make_article, make_user


@pytest.fixture
def app_config(app_config: dict[str, Any]) -> dict[str, Any]:
    """Members here may create tags (the tag policy is tested in test_tag_policy.py)."""
    return {**app_config, "REPUTATION_THRESHOLDS": {"create_tags": 0}}


BODY = "Intro.\n\nFirst step.\n\nSecond step.\n\nThird step.\n"


def form(
    title: str = "Reading query plans",
    body: str = BODY,
    tags: str = "sql postgres",
    article_type: str = "tutorial",
    **extra: str,
) -> dict[str, str]:
    return {"title": title, "body": body, "tags": tags, "article_type": article_type, **extra}


def test_write_an_article_and_read_it(browser: Browser, session: Session) -> None:
    make_user(session, "priya")
    session.commit()
    browser.login("priya")
    assert browser.get("/articles/new").status_code == 200
    response = browser.post("/articles/new", form(body="## Plan\n\ntext\n\n## Cost\n\n`x`\n"))
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/articles/reading-query-plans")
    page = browser.get("/articles/reading-query-plans").get_data(as_text=True)
    assert "<h1>Reading query plans</h1>" in page
    assert '<nav class="toc" aria-label="Contents">' in page
    assert 'href="/articles?tag=sql"' in page or "tag=sql" in page
    listing = browser.get("/articles").get_data(as_text=True)
    assert "Reading query plans" in listing


def test_form_errors_keep_the_text(browser: Browser, session: Session) -> None:
    make_user(session, "tom")
    session.commit()
    browser.login("tom")
    cases = [
        (form(title=""), "Give the article a title."),
        (form(title="t" * 201), "Keep the title to 200 characters"),
        (form(tags="a b c d e f"), "Use at most 5 tags."),
        (form(body="x" * (200 * 1024 + 10)), "Markdown is limited to 200 KB"),
    ]
    for data, message in cases:
        response = browser.post("/articles/new", data)
        assert response.status_code == 400, message
        page = response.get_data(as_text=True)
        assert message in page
        assert "First step." in page or len(data["body"]) > 1000
    assert browser.client.application is not None
    assert session.scalar(select(Article.id)) is None


def test_anonymous_visitors_read_but_cannot_write(browser: Browser, session: Session) -> None:
    article = make_article(session, title="Public tip")
    session.commit()
    assert browser.get(f"/articles/{article.slug}").status_code == 200
    assert browser.get("/articles/new").status_code == 302
    assert browser.post(f"/articles/{article.slug}/edit", form()).status_code == 302


def test_unknown_slug_is_404(browser: Browser) -> None:
    assert browser.get("/articles/no-such-article").status_code == 404
    assert browser.get("/articles/no-such-article/history").status_code == 404


def test_edit_history_diff_and_rollback(browser: Browser, session: Session) -> None:
    author = make_user(session, "mei")
    article = make_article(
        session, author, title="Warehouse tips", body="alpha\nbeta\n", tags="dbt"
    )
    session.commit()
    browser.login("mei")
    page = browser.get(f"/articles/{article.slug}/edit").get_data(as_text=True)
    assert 'name="base_revision" type="hidden" value="1"' in page
    response = browser.post(
        f"/articles/{article.slug}/edit",
        form(
            title="Warehouse tips",
            body="alpha\ngamma\n",
            tags="dbt",
            article_type="tip",
            base_revision="1",
            summary="beta is gone",
        ),
    )
    assert response.status_code == 302
    history = browser.get(f"/articles/{article.slug}/history").get_data(as_text=True)
    assert "Revision 2" in history and "beta is gone" in history
    diff = browser.get(f"/articles/{article.slug}/diff?from=1&to=2").get_data(as_text=True)
    assert "<del>beta</del>" in diff and "<ins>gamma</ins>" in diff
    assert browser.get(f"/articles/{article.slug}/diff?from=1&to=9").status_code == 404
    assert browser.get(f"/articles/{article.slug}/diff?from=x&to=2").status_code == 400
    response = browser.post(f"/articles/{article.slug}/rollback", {"revision": "1"})
    assert response.status_code == 302
    session.expire_all()
    restored = session.get(Article, article.id)
    assert restored is not None and restored.body_md == "alpha\nbeta\n"
    assert restored.revision_count == 3


def test_diff_of_another_articles_revisions_is_404(browser: Browser, session: Session) -> None:
    one = make_article(session, title="First article")
    other = make_article(session, title="Second article")
    session.commit()
    assert browser.get(f"/articles/{other.slug}/diff?from=1&to=1").status_code == 200
    # Revision 2 exists only on the first article after an edit.
    from forum.services import articles

    articles.edit_article(
        session,
        one,
        editor=make_user(session),
        data=articles.ArticleData("First article", "changed\n", "howto", "tip"),
        base_revision=1,
    )
    session.commit()
    assert browser.get(f"/articles/{one.slug}/diff?from=1&to=2").status_code == 200
    assert browser.get(f"/articles/{other.slug}/diff?from=1&to=2").status_code == 404


def test_stale_edit_is_merged_or_shown_as_a_conflict(browser: Browser, session: Session) -> None:
    author = make_user(session, "sofia")
    article = make_article(session, author, title="Demo script", body=BODY, tags="sales")
    session.commit()
    browser.login("sofia")
    base = {"title": "Demo script", "tags": "sales", "article_type": "tip", "base_revision": "1"}
    first = browser.post(
        f"/articles/{article.slug}/edit", {**base, "body": BODY.replace("First", "1st")}
    )
    assert first.status_code == 302
    merged = browser.post(
        f"/articles/{article.slug}/edit", {**base, "body": BODY.replace("Third", "3rd")}
    )
    assert merged.status_code == 302
    session.expire_all()
    saved = session.get(Article, article.id)
    assert saved is not None and "1st step." in saved.body_md and "3rd step." in saved.body_md
    conflict = browser.post(
        f"/articles/{article.slug}/edit",
        {**base, "body": BODY.replace("First step.", "My own first step.")},
    )
    assert conflict.status_code == 409
    page = conflict.get_data(as_text=True)
    assert "My own first step." in page and "1st step." in page
    assert "&lt;&lt;&lt;&lt;&lt;&lt;&lt; your version" in page
    assert 'name="base_revision" type="hidden" value="3"' in page


def test_locked_article_edit_is_403_for_members(browser: Browser, session: Session) -> None:
    make_user(session, "jonas", role=Role.MODERATOR)
    make_user(session, "tom")
    article = make_article(session, title="Locked policy")
    session.commit()
    browser.login("tom")
    assert browser.post(f"/articles/{article.slug}/lock", {"locked": "1"}).status_code == 403
    browser.logout()
    browser.login("jonas")
    assert browser.post(f"/articles/{article.slug}/lock", {"locked": "1"}).status_code == 302
    browser.logout()
    browser.login("tom")
    assert browser.get(f"/articles/{article.slug}/edit").status_code == 403
    crafted = browser.post(f"/articles/{article.slug}/edit", form(base_revision="1"))
    assert crafted.status_code == 403
    assert browser.post(f"/articles/{article.slug}/rollback", {"revision": "1"}).status_code == 403


def test_wiki_links_and_backlinks_on_the_page(browser: Browser, session: Session) -> None:
    author = make_user(session)
    target = make_article(session, author, title="Code review tips")
    make_article(session, author, title="Onboarding checklist", body="See [[Code review tips]].\n")
    session.commit()
    page = browser.get(f"/articles/{target.slug}").get_data(as_text=True)
    backlinks = page.split('id="backlinks-heading"')[1]
    assert "Onboarding checklist" in backlinks
    source = browser.get("/articles/onboarding-checklist").get_data(as_text=True)
    assert '<a class="wikilink" href="/articles/code-review-tips">' in source


def test_missing_wiki_link_prefills_the_new_article_title(
    browser: Browser, session: Session
) -> None:
    make_user(session, "diego")
    session.commit()
    browser.login("diego")
    page = browser.get("/articles/new?title=Accessibility%20checklist").get_data(as_text=True)
    assert 'value="Accessibility checklist"' in page


def test_helpful_votes_are_changeable_and_private_notes_go_to_the_owner(
    browser: Browser, session: Session
) -> None:
    owner = make_user(session, "hannah")
    make_user(session, "luis")
    article = make_article(session, owner, title="Escalation guide")
    session.commit()
    browser.login("luis")
    url = f"/articles/{article.slug}"
    assert browser.post(url + "/helpful", {"helpful": "maybe"}).status_code == 400
    browser.post(url + "/helpful", {"helpful": "no", "comment": "Step 3 is outdated"})
    page = browser.get(url).get_data(as_text=True)
    assert "0% of 1 colleague found this helpful." in page
    assert "Step 3 is outdated" in page  # the member sees their own note in the form
    browser.post(url + "/helpful", {"helpful": "yes", "comment": "Step 3 is outdated"})
    page = browser.get(url).get_data(as_text=True)
    assert "100% of 1 colleague found this helpful." in page
    assert "Private notes from readers" not in page
    browser.logout()
    browser.login("hannah")
    page = browser.get(url).get_data(as_text=True)
    assert "Private notes from readers" in page and "Step 3 is outdated" in page
    assert browser.post(url + "/helpful", {"helpful": "yes"}).status_code == 403


def test_stale_list_notice_and_still_accurate(browser: Browser, session: Session) -> None:
    owner = make_user(session, "grace")
    make_user(session, "tom")
    old = make_article(session, owner, title="Old VPN setup", now=utcnow() - dt.timedelta(days=365))
    make_article(session, owner, title="New laptop setup")
    session.commit()
    stale = browser.get("/articles/stale").get_data(as_text=True)
    assert "Old VPN setup" in stale and "New laptop setup" not in stale
    browser.login("tom")
    page = browser.get(f"/articles/{old.slug}").get_data(as_text=True)
    assert "This article may be out of date." in page and "Still accurate" not in page
    assert browser.post(f"/articles/{old.slug}/review").status_code == 403
    browser.logout()
    browser.login("grace")
    assert browser.post(f"/articles/{old.slug}/review").status_code == 302
    assert "Old VPN setup" not in browser.get("/articles/stale").get_data(as_text=True)
    history = browser.get(f"/articles/{old.slug}/history").get_data(as_text=True)
    assert "Reviewed: still accurate" in history


def test_live_preview_endpoint_needs_csrf_and_sanitises(browser: Browser, session: Session) -> None:
    make_user(session, "kwame")
    session.commit()
    browser.login("kwame")
    token = browser.csrf_token("/articles/new")
    response = browser.client.post(
        "/articles/preview",
        data={"body": "**hi** <script>alert(1)</script>", "article_type": "tip"},
        headers={"X-CSRFToken": token},
    )
    assert response.status_code == 200
    html = response.get_json()["html"]
    assert "<strong>hi</strong>" in html and "<script" not in html
    no_token = browser.client.post("/articles/preview", data={"body": "x"})
    assert no_token.status_code == 400


def test_preview_button_without_javascript_rerenders_the_form(
    browser: Browser, session: Session
) -> None:
    make_user(session, "olivia")
    session.commit()
    browser.login("olivia")
    response = browser.post("/articles/new", form(body="_draft_ text", preview="1"))
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "<em>draft</em> text" in page and "_draft_ text" in page
    assert session.scalar(select(Article.id)) is None


def test_list_filters_and_empty_state(browser: Browser, session: Session) -> None:
    empty = browser.get("/articles").get_data(as_text=True)
    assert "The knowledge base is empty." in empty
    make_article(session, title="SQL tutorial", tags="sql", article_type="tutorial")
    make_article(session, title="Git tip", tags="git", article_type="tip")
    session.commit()
    page = browser.get("/articles?type=tutorial").get_data(as_text=True)
    assert "SQL tutorial" in page and "Git tip" not in page
    page = browser.get("/articles?tag=git&sort=updated").get_data(as_text=True)
    assert "Git tip" in page and "SQL tutorial" not in page
    assert browser.get("/articles?page=0").status_code == 400


def test_download_as_markdown_with_front_matter(browser: Browser, session: Session) -> None:
    author = make_user(session, "amara")
    article = make_article(
        session, author, title="On-call handbook", body="# Pager\n\nAnswer it.\n", tags="oncall ops"
    )
    session.commit()
    response = browser.get(f"/articles/{article.slug}/markdown")
    assert response.status_code == 200
    assert response.mimetype == "text/markdown"
    assert 'filename="on-call-handbook.md"' in response.headers["Content-Disposition"]
    post = frontmatter.loads(response.get_data(as_text=True))
    assert post["title"] == "On-call handbook" and post["tags"] == ["oncall", "ops"]
    assert post["type"] == "tip" and post["author"] == "amara"
    assert re.match(r"\d{4}-\d\d-\d\dT", str(post["created"]))
    assert post.content == "# Pager\n\nAnswer it."


def _export(app: Flask, out: Path) -> dict[str, str]:
    result = app.test_cli_runner().invoke(args=["export", "markdown", str(out)])
    assert result.exit_code == 0, result.output
    return {p.name: p.read_text(encoding="utf-8") for p in sorted(out.glob("*.md"))}


def test_import_export_import_round_trip(
    app: Flask, session: Session, tmp_path: Path, database_url: str
) -> None:
    make_user(session, "amara", role=Role.ADMIN)
    make_user(session, "priya")
    session.commit()
    source = tmp_path / "source"
    source.mkdir()
    (source / "sql-basics.md").write_text(
        "---\ntitle: SQL basics\ntags: [sql, onboarding]\ntype: tutorial\nauthor: priya\n"
        "created: 2026-01-05T09:30:00Z\n---\n"
        "## Select\n\nSELECT 1;\n\n## Join\n\nSee [[Indexes]].\n",
        encoding="utf-8",
    )
    (source / "indexes.md").write_text("# Indexes\n\nAdd them [[SQL basics|carefully]].\n")
    (source / "notes").mkdir()
    (source / "notes" / "no-heading.md").write_text("Plain text, no front matter.\n")
    (source / "broken.md").write_text("---\ntitle: ''\ntags: [a, b, c, d, e, f]\n---\nx\n")
    runner = app.test_cli_runner()
    result = runner.invoke(args=["import", "markdown", str(source)])
    assert result.exit_code == 1, result.output
    assert "3 created, 0 updated, 0 unchanged, 1 failed" in result.output
    assert "broken.md" in result.output
    # Re-running changes nothing.
    again = runner.invoke(args=["import", "markdown", str(source)])
    assert "0 created, 0 updated, 3 unchanged, 1 failed" in again.output
    sql = session.scalar(select(Article).where(Article.slug == "sql-basics"))
    assert sql is not None and sql.author is not None and sql.author.username == "priya"
    assert sql.revision_count == 1 and '<nav class="toc"' in sql.body_html
    indexes = session.scalar(select(Article).where(Article.title == "Indexes"))
    assert indexes is not None and indexes.author is not None
    assert indexes.author.username == "amara"
    assert '<a class="wikilink" href="/articles/indexes">Indexes</a>' in sql.body_html

    first = _export(app, tmp_path / "first")
    assert set(first) == {"sql-basics.md", "indexes.md", "no-heading.md"}
    post = frontmatter.loads(first["sql-basics.md"])
    assert (post["title"], post["type"], post["tags"]) == (
        "SQL basics",
        "tutorial",
        ["onboarding", "sql"],
    )
    assert post["created"] == "2026-01-05T09:30:00Z"

    # Into an empty knowledge base, then out again: the same files.
    from forum.models import ArticleLink, Revision

    for model in (ArticleLink, Revision, Article):
        session.query(model).delete()
    session.commit()
    result = runner.invoke(args=["import", "markdown", str(tmp_path / "first")])
    assert "3 created" in result.output, result.output
    assert _export(app, tmp_path / "second") == first


def test_a_malformed_base_revision_keeps_the_text(browser: Browser, session: Session) -> None:
    author = make_user(session, "priya")
    article = make_article(session, author, title="Base revision", body=BODY, tags="sql")
    session.commit()
    browser.login("priya")
    response = browser.post(
        f"/articles/{article.slug}/edit",
        form(title="Base revision", body="My careful rewrite.", base_revision="99"),
    )
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "The edit form is out of date; reload it." in page and "My careful rewrite." in page


def test_a_create_it_link_leads_to_the_article_once_it_exists(
    browser: Browser, session: Session
) -> None:
    make_article(session, title="Release checklist")
    make_user(session, "ola")
    session.commit()
    browser.login("ola")
    response = browser.get("/articles/new?title=release%20checklist")
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/articles/release-checklist")
    assert browser.get("/articles/new?title=Not%20written%20yet").status_code == 200
