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
from flask_login import current_user, login_required

from forum import pagecache
from forum.db import get_session
from forum.extensions import limiter
from forum.forms.wiki import ArticleForm, HandOverForm, RemoveArticleForm, ReviewByForm
from forum.interchange import markdown_io
from forum.limits import article_writes_limited, history_limited, member_key, preview_limit
from forum.models import Article, Draft, PostKind
from forum.services import (
    article_life,
    articles,
    comments,
    drafts,
    questions,
    revisions,
    wikilinks,
)
from forum.services.errors import ValidationError
from forum.web import current_member, current_viewer, form_checks_csrf, page_number, submit

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
    member = current_user.is_authenticated

    def listing() -> str:
        items, total = articles.list_articles(
            get_session(),
            tag=tag,
            article_type=article_type,
            sort=sort,
            page=page,
            per_page=PER_PAGE,
        )
        return render_template(
            "wiki/_listing.html",
            items=items,
            total=total,
            page=page,
            pages=max(1, math.ceil(total / PER_PAGE)),
            tag=tag,
            article_type=article_type,
            member=member,
        )

    # The list reads the same for everyone who sees it (the pager's links carry the address's
    # arguments: the whole address names the part; only an empty list differs for members).
    name = f"{request.full_path}:{PER_PAGE}:{'member' if member else 'visitor'}"
    return render_template(
        "wiki/index.html",
        listing=pagecache.kept_fragment(name, listing),
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


def _fill_from_draft(form: ArticleForm, draft: Draft) -> None:
    form.title.data = draft.title
    form.body.data = draft.body
    form.tags.data = draft.tags
    if draft.article_type:
        form.article_type.data = draft.article_type
    if draft.base_revision is not None:
        # The edit goes on from where the draft started, so later saves are merged in.
        form.base_revision.data = str(draft.base_revision)


@bp.route("/articles/new", methods=["GET", "POST"])
@login_required
@article_writes_limited
@form_checks_csrf
def new() -> ResponseReturnValue:
    """Write a new tip or tutorial (a "create it" wiki link pre-fills the title).

    The member's draft of a new article, if any, fills the form again.
    """
    form = ArticleForm()
    if request.method == "GET":
        title = (request.args.get("title") or "")[: articles.MAX_TITLE]
        # A "create it" link saved before the article was written leads to the article now.
        existing = wikilinks.find_by_title(get_session(), title) if title else None
        if existing is not None and existing.slug:
            return redirect(url_for("wiki.detail", slug=existing.slug))
        draft = drafts.find(get_session(), current_member(), PostKind.ARTICLE)
        if draft is not None:
            _fill_from_draft(form, draft)
        else:
            form.title.data = title
            if request.args.get("type") == "tutorial":
                form.article_type.data = "tutorial"
        return _render_form("wiki/edit.html", form, article=None, draft=draft)
    if "preview" in request.form:
        form.validate_on_submit()
        return _render_form("wiki/edit.html", form, article=None)
    if not form.validate_on_submit():
        return _render_form("wiki/edit.html", form, 400, article=None)
    db = get_session()
    article = submit(
        form,
        lambda: _render_form("wiki/edit.html", form, article=None),
        articles.create_article,
        db,
        author=current_member(),
        data=form.data_for_service(),
        summary=form.summary.data or "",
        review_after=_review_after(),
    )
    drafts.discard(db, current_member(), PostKind.ARTICLE)
    db.commit()
    flash("Your article is published. Thank you for sharing what you know.", "success")
    return redirect(url_for("wiki.detail", slug=article.slug))


@bp.post("/articles/preview")
@login_required
@limiter.limit(preview_limit, key_func=member_key)
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
    article = articles.get_by_slug(db, slug, viewer=viewer, for_page=True)
    context = articles.page_context(db, article, viewer, with_backlinks=False)
    threads, mine, followed = comments.threads_and_marks(db, [article], viewer=viewer)
    # Kept only while the article is live: a deleted or unpublished one is seen by few.
    live = article.deleted_at is None

    def byline() -> tuple[str, bool]:
        questions.load_tags(db, [article])
        html = render_template("wiki/_byline.html", article=article, ctx=context)
        return html, live

    def links() -> tuple[str, bool]:
        context.backlinks = articles.backlinks(db, article)
        return render_template("wiki/_links.html", article=article, ctx=context), live

    # The byline, tags and what links here read the same for everyone who may see the article:
    # kept until the next write (its staleness, which moves with time alone, names the part).
    part = f"wiki.detail:{article.id}:{'stale' if context.is_stale else 'fresh'}"
    return render_template(
        "wiki/detail.html",
        article=article,
        ctx=context,
        viewer=viewer,
        my_vote=mine.get(article.id, 0),
        following=article.id in followed,
        comment_nodes=threads.get(article.id, []),
        can_manage=article_life.can_manage(viewer, article),
        is_draft=article_life.is_draft(article),
        byline=pagecache.kept_fragment(part + ":byline", byline),
        links=pagecache.kept_fragment(part + ":links", links),
    )


@bp.route("/articles/<slug>/edit", methods=["GET", "POST"])
@login_required
@article_writes_limited
@form_checks_csrf
def edit(slug: str) -> ResponseReturnValue:
    """Edit an article; concurrent edits are merged, or shown as a conflict."""
    db = get_session()
    editor = current_member()
    # Its managers edit an unpublished draft too; a deleted article is gone.
    article = articles.get_by_slug(db, slug, viewer=editor)
    if article.is_deleted and not article_life.is_draft(article):
        abort(404, "There is no article at this address.")
    if article.is_locked and not editor.is_moderator:
        abort(403, "A moderator has locked this article; it cannot be edited.")
    form = ArticleForm()
    if request.method == "GET":
        form.title.data = article.title
        form.body.data = article.body_md
        form.tags.data = " ".join(t.name for t in article.tags)
        form.article_type.data = article.article_type.value if article.article_type else "tip"
        form.base_revision.data = str(article.revision_count)
        draft = drafts.find(db, editor, PostKind.ARTICLE, article.id)
        if draft is not None:
            _fill_from_draft(form, draft)
        return _render_form("wiki/edit.html", form, article=article, draft=draft)
    if "preview" in request.form:
        form.validate_on_submit()
        return _render_form("wiki/edit.html", form, article=article)
    if not form.validate_on_submit():
        return _render_form("wiki/edit.html", form, 400, article=article)
    try:
        result = submit(
            form,
            lambda: _render_form("wiki/edit.html", form, article=article),
            articles.edit_article,
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
    drafts.discard(db, editor, PostKind.ARTICLE, article.id)
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
@history_limited
def history(slug: str) -> ResponseReturnValue:
    """Every revision of an article."""
    db = get_session()
    viewer = current_viewer()
    article = articles.get_by_slug(db, slug, viewer=viewer)
    can_rollback = (
        viewer is not None
        and not article.is_deleted
        and (not article.is_locked or viewer.is_moderator)
    )
    return render_template(
        "wiki/history.html",
        article=article,
        revisions=revisions.history(db, article),
        can_rollback=can_rollback,
    )


@bp.get("/articles/<slug>/diff")
@history_limited
def diff(slug: str) -> ResponseReturnValue:
    """The differences between two revisions of an article."""
    db = get_session()
    article = articles.get_by_slug(db, slug, viewer=current_viewer())
    old, new, diff = revisions.diff_revisions(
        db, article, _revision_arg("from"), _revision_arg("to")
    )
    return render_template(
        "wiki/diff.html",
        article=article,
        old=old,
        new=new,
        diff=diff,
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
        flash(" ".join(exc.messages), "error")
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
        flash(" ".join(exc.messages), "error")
        return redirect(url_for("wiki.detail", slug=slug) + "#helpful")
    db.commit()
    flash("Thanks for your feedback.", "success")
    return redirect(url_for("wiki.detail", slug=slug) + "#helpful")


@bp.get("/articles/<slug>/markdown")
def download(slug: str) -> ResponseReturnValue:
    """The article as Markdown with YAML front matter."""
    article = articles.get_by_slug(get_session(), slug, viewer=current_viewer())
    response = Response(markdown_io.dump_article(article), mimetype="text/markdown")
    response.headers["Content-Disposition"] = f'attachment; filename="{article.slug}.md"'
    return response


# ---------------------------------------------------------------- life cycle


def _managed(slug: str) -> Article:
    """The published article or draft at ``slug``, for a member who manages it; else 404/403."""
    member = current_member()
    article = articles.get_by_slug(get_session(), slug, viewer=member)
    if article.is_deleted and not article_life.is_draft(article):
        abort(404, "There is no article at this address.")
    if not article_life.can_manage(member, article):
        abort(403, "Only the article's author, its owner or a moderator can manage it.")
    return article


def _manage_page(
    article: Article,
    hand_over_form: HandOverForm | None = None,
    review_form: ReviewByForm | None = None,
) -> str:
    if review_form is None:
        review_form = ReviewByForm(formdata=None)
        review_form.review_by.data = article.review_by.date() if article.review_by else None
    return render_template(
        "wiki/manage.html",
        article=article,
        is_draft=article_life.is_draft(article),
        hand_over_form=hand_over_form or HandOverForm(formdata=None),
        review_form=review_form,
    )


@bp.get("/articles/<slug>/manage")
@login_required
def manage(slug: str) -> ResponseReturnValue:
    """The article's owner, review-by date, and unpublishing or deleting it."""
    return _manage_page(_managed(slug))


@bp.post("/articles/<slug>/owner")
@login_required
def hand_over(slug: str) -> ResponseReturnValue:
    """Hand the article over to a new owner."""
    article = _managed(slug)
    form = HandOverForm()
    if not form.validate_on_submit():
        return _manage_page(article, hand_over_form=form), 400
    db = get_session()
    new = submit(
        form,
        lambda: _manage_page(_managed(slug), hand_over_form=form),
        article_life.hand_over,
        db,
        article,
        actor=current_member(),
        username=form.username.data or "",
    )
    db.commit()
    flash(f"{new.display_name} now owns the article and has been told.", "success")
    return redirect(url_for("wiki.detail", slug=slug))


@bp.post("/articles/<slug>/review-by")
@login_required
def review_by(slug: str) -> ResponseReturnValue:
    """Set the date by which the article should be checked again."""
    article = _managed(slug)
    form = ReviewByForm()
    if not form.validate_on_submit() or form.review_by.data is None:
        return _manage_page(article, review_form=form), 400
    db = get_session()
    submit(
        form,
        lambda: _manage_page(_managed(slug), review_form=form),
        article_life.set_review_by,
        db,
        article,
        actor=current_member(),
        review_by=form.review_by.data,
    )
    db.commit()
    flash(f"The article is due for review by {form.review_by.data:%d %b %Y}.", "success")
    return redirect(url_for("wiki.detail", slug=slug))


@bp.route("/articles/<slug>/unpublish", methods=["GET", "POST"])
@login_required
def unpublish(slug: str) -> ResponseReturnValue:
    """Confirm, then take the article back to a draft only its managers see."""
    return _remove(slug, "unpublish")


@bp.route("/articles/<slug>/delete", methods=["GET", "POST"])
@login_required
def delete(slug: str) -> ResponseReturnValue:
    """Confirm, then delete the article."""
    return _remove(slug, "delete")


def _remove(slug: str, action: str) -> ResponseReturnValue:
    article = _managed(slug)
    if action == "unpublish" and article.is_deleted:
        return redirect(url_for("wiki.detail", slug=slug))
    form = RemoveArticleForm()

    def page() -> str:
        return render_template("wiki/remove.html", article=_managed(slug), form=form, action=action)

    if request.method == "GET":
        return page()
    if not form.validate_on_submit():
        return page(), 400
    db = get_session()
    service = article_life.unpublish if action == "unpublish" else article_life.delete
    submit(form, page, service, db, article, actor=current_member(), reason=form.reason.data or "")
    db.commit()
    if action == "unpublish":
        flash("The article is unpublished: only you and the moderators see it now.", "success")
        return redirect(url_for("wiki.detail", slug=slug))
    flash("The article is deleted.", "success")
    return redirect(url_for("wiki.index"))


@bp.post("/articles/<slug>/publish")
@login_required
def publish(slug: str) -> ResponseReturnValue:
    """Publish an unpublished article again."""
    article = _managed(slug)
    db = get_session()
    article_life.publish(db, article, actor=current_member())
    db.commit()
    flash("The article is published again.", "success")
    return redirect(url_for("wiki.detail", slug=slug))
