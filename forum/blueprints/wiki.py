"""The knowledge base: tips and tutorials, their editor, history, feedback and freshness."""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_login import login_required

from forum.db import get_session
from forum.forms.wiki import ArticleForm
from forum.interchange import markdown_io
from forum.models import Article, User
from forum.services import articles, revisions
from forum.services.errors import ValidationError
from forum.web import current_member, current_viewer, page_number

bp = Blueprint("wiki", __name__)

PER_PAGE = 20


def _review_after() -> dt.timedelta:
    """How long an edit or review keeps an article fresh (FORUM_ARTICLE_REVIEW_DAYS)."""
    return dt.timedelta(days=int(current_app.config.get("ARTICLE_REVIEW_DAYS", 182)))


def _revision_arg(name: str) -> int:
    raw = request.args.get(name, "")
    if not raw.isdigit() or len(raw) > 9:
        abort(400, f"'{name}' must be a revision number.")
    return int(raw)


@bp.get("/articles")
def index() -> ResponseReturnValue:
    """Articles, filterable by tag and type, sorted newest, top or recently updated."""
    page = page_number()
    tag = (request.args.get("tag") or "").strip().lower()[:35] or None
    article_type = request.args.get("type") or None
    sort = request.args.get("sort", "newest")
    if sort not in articles.SORTS:
        sort = "newest"
    items, total = articles.list_articles(
        get_session(), tag=tag, article_type=article_type, sort=sort, page=page, per_page=PER_PAGE
    )
    return render_template(
        "wiki/index.html",
        items=items,
        total=total,
        page=page,
        pages=max(1, math.ceil(total / PER_PAGE)),
        tag=tag,
        article_type=article_type,
        sort=sort,
    )


@bp.get("/articles/stale")
def stale() -> ResponseReturnValue:
    """Articles past their review-by date."""
    return render_template("wiki/stale.html", items=articles.stale_articles(get_session()))


def _render_form(
    template: str, form: ArticleForm, status: int = 200, **context: Any
) -> ResponseReturnValue:
    preview_html = None
    if form.body.data and request.method == "POST" and "preview" in request.form:
        try:
            preview_html = articles.preview(
                get_session(), form.body.data, form.article_type.data or "tip"
            )
        except ValidationError as exc:
            form.add_errors(exc.errors)
            status = 400
    return render_template(template, form=form, preview_html=preview_html, **context), status


@bp.route("/articles/new", methods=["GET", "POST"])
@login_required
def new() -> ResponseReturnValue:
    """Write a new tip or tutorial (a "create it" wiki link pre-fills the title)."""
    form = ArticleForm()
    if request.method == "GET":
        form.title.data = (request.args.get("title") or "")[: articles.MAX_TITLE]
        if request.args.get("type") == "tutorial":
            form.article_type.data = "tutorial"
        return _render_form("wiki/edit.html", form, article=None)
    if "preview" in request.form:
        form.validate_on_submit()
        return _render_form("wiki/edit.html", form, article=None)
    if not form.validate_on_submit():
        return _render_form("wiki/edit.html", form, 400, article=None)
    db = get_session()
    try:
        article = articles.create_article(
            db,
            author=current_member(),
            data=form.data_for_service(),
            summary=form.summary.data or "",
            review_after=_review_after(),
        )
    except ValidationError as exc:
        db.rollback()
        form.add_errors(exc.errors)
        return _render_form("wiki/edit.html", form, 400, article=None)
    db.commit()
    flash("Your article is published. Thank you for sharing what you know.", "success")
    return redirect(url_for("wiki.detail", slug=article.slug))


@bp.post("/articles/preview")
@login_required
def preview() -> ResponseReturnValue:
    """The rendered HTML of the editor's text, for the live preview (JSON)."""
    try:
        html = articles.preview(
            get_session(), request.form.get("body", ""), request.form.get("article_type", "tip")
        )
    except ValidationError as exc:
        return jsonify(errors=exc.errors), 400
    return jsonify(html=html)


@bp.get("/articles/<slug>")
def detail(slug: str) -> ResponseReturnValue:
    """An article with its backlinks, helpful share and freshness."""
    db = get_session()
    viewer = current_viewer()
    article = articles.get_by_slug(db, slug, viewer=viewer)
    context = articles.page_context(db, article, viewer)
    return render_template(
        "wiki/detail.html",
        article=article,
        ctx=context,
        viewer=viewer,
        **_post_widgets(db, article, viewer),
    )


def _post_widgets(db: Any, article: Article, viewer: User | None) -> dict[str, Any]:
    """Votes and comments come from the Q&A area when it is installed."""
    if "posts.vote" not in current_app.view_functions:
        return {"widgets": False}
    from forum.services import comments

    threads_for = getattr(comments, "threads_for", None)
    if threads_for is None:
        return {"widgets": False}
    threads, mine = threads_for(db, [article], viewer=viewer)
    return {
        "widgets": True,
        "my_vote": mine.get(article.id, 0),
        "comment_nodes": threads.get(article.id, []),
    }


@bp.route("/articles/<slug>/edit", methods=["GET", "POST"])
@login_required
def edit(slug: str) -> ResponseReturnValue:
    """Edit an article; concurrent edits are merged, or shown as a conflict."""
    db = get_session()
    article = articles.get_by_slug(db, slug)
    editor = current_member()
    if article.is_locked and not editor.is_moderator:
        abort(403, "A moderator has locked this article; it cannot be edited.")
    form = ArticleForm()
    if request.method == "GET":
        form.title.data = article.title
        form.body.data = article.body_md
        form.tags.data = " ".join(t.name for t in article.tags)
        form.article_type.data = article.article_type.value if article.article_type else "tip"
        form.base_revision.data = str(article.revision_count)
        return _render_form("wiki/edit.html", form, article=article)
    if "preview" in request.form:
        form.validate_on_submit()
        return _render_form("wiki/edit.html", form, article=article)
    if not form.validate_on_submit():
        return _render_form("wiki/edit.html", form, 400, article=article)
    try:
        result = articles.edit_article(
            db,
            article,
            editor=editor,
            data=form.data_for_service(),
            base_revision=form.base_revision_number(),
            summary=form.summary.data or "",
            review_after=_review_after(),
        )
    except articles.EditConflict as conflict:
        db.rollback()
        form.body.data = conflict.merged
        form.base_revision.data = str(conflict.current_revision)
        return render_template(
            "wiki/conflict.html", form=form, article=article, conflict=conflict
        ), 409
    except ValidationError as exc:
        db.rollback()
        form.add_errors(exc.errors)
        return _render_form("wiki/edit.html", form, 400, article=article)
    db.commit()
    if not result.changed:
        flash("Nothing changed, so no new revision was saved.", "info")
    elif result.merged_with:
        flash(
            f"Someone saved revision {result.merged_with} while you edited; "
            "your changes were merged with theirs.",
            "success",
        )
    else:
        flash("Your changes are saved.", "success")
    return redirect(url_for("wiki.detail", slug=article.slug))


@bp.get("/articles/<slug>/history")
def history(slug: str) -> ResponseReturnValue:
    """Every revision of an article."""
    db = get_session()
    article = articles.get_by_slug(db, slug)
    viewer = current_viewer()
    can_rollback = viewer is not None and (not article.is_locked or viewer.is_moderator)
    return render_template(
        "wiki/history.html",
        article=article,
        revisions=revisions.history(db, article),
        can_rollback=can_rollback,
    )


@bp.get("/articles/<slug>/diff")
def diff(slug: str) -> ResponseReturnValue:
    """The differences between two revisions of an article."""
    db = get_session()
    article = articles.get_by_slug(db, slug)
    old, new, lines = revisions.diff_revisions(
        db, article, _revision_arg("from"), _revision_arg("to")
    )
    return render_template(
        "wiki/diff.html",
        article=article,
        old=old,
        new=new,
        lines=lines,
        revisions=revisions.history(db, article),
    )


@bp.post("/articles/<slug>/rollback")
@login_required
def rollback(slug: str) -> ResponseReturnValue:
    """Restore an older revision as a new one."""
    db = get_session()
    article = articles.get_by_slug(db, slug)
    raw = request.form.get("revision", "")
    if not raw.isdigit() or len(raw) > 9:
        abort(400, "Choose a revision to restore.")
    try:
        articles.rollback(
            db, article, editor=current_member(), number=int(raw), review_after=_review_after()
        )
    except ValidationError as exc:
        db.rollback()
        flash(" ".join(m for ms in exc.errors.values() for m in ms), "error")
        return redirect(url_for("wiki.history", slug=slug))
    db.commit()
    flash(f"Revision {raw} is restored as a new revision.", "success")
    return redirect(url_for("wiki.detail", slug=slug))


@bp.post("/articles/<slug>/lock")
@login_required
def lock(slug: str) -> ResponseReturnValue:
    """Lock (locked=1) or unlock (locked=0) an article; moderators only."""
    db = get_session()
    article = articles.get_by_slug(db, slug)
    locked = request.form.get("locked") == "1"
    articles.set_locked(db, article, actor=current_member(), locked=locked)
    db.commit()
    flash("The article is locked." if locked else "The article is unlocked.", "success")
    return redirect(url_for("wiki.detail", slug=slug))


@bp.post("/articles/<slug>/review")
@login_required
def review(slug: str) -> ResponseReturnValue:
    """ "Still accurate": reset the review-by date."""
    db = get_session()
    article = articles.get_by_slug(db, slug)
    articles.mark_reviewed(db, article, actor=current_member(), review_after=_review_after())
    db.commit()
    flash("Thanks for checking: the article is marked as still accurate.", "success")
    return redirect(url_for("wiki.detail", slug=slug))


@bp.post("/articles/<slug>/helpful")
@login_required
def helpful(slug: str) -> ResponseReturnValue:
    """Answer "Was this helpful?" (helpful=yes|no) with an optional private note."""
    db = get_session()
    article = articles.get_by_slug(db, slug)
    answer = request.form.get("helpful")
    if answer not in {"yes", "no"}:
        abort(400, "Answer yes or no.")
    try:
        articles.set_feedback(
            db,
            article,
            member=current_member(),
            helpful=answer == "yes",
            comment=request.form.get("comment", ""),
        )
    except ValidationError as exc:
        db.rollback()
        flash(" ".join(m for ms in exc.errors.values() for m in ms), "error")
        return redirect(url_for("wiki.detail", slug=slug) + "#helpful")
    db.commit()
    flash("Thanks for your feedback.", "success")
    return redirect(url_for("wiki.detail", slug=slug) + "#helpful")


@bp.get("/articles/<slug>/markdown")
def download(slug: str) -> ResponseReturnValue:
    """The article as Markdown with YAML front matter."""
    article = articles.get_by_slug(get_session(), slug)
    response = Response(markdown_io.dump_article(article), mimetype="text/markdown")
    response.headers["Content-Disposition"] = f'attachment; filename="{article.slug}.md"'
    return response
