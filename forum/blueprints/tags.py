"""Tags: the directory, a tag's page with its questions and articles, following, synonyms."""

from __future__ import annotations

import functools
import math

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import login_required
from sqlalchemy import Integer, Select, bindparam, select

from forum import pagecache
from forum.db import get_session
from forum.forms.questions import SynonymForm, TagEditForm
from forum.models import Article, Post, Tag, post_tags
from forum.services import posts, questions
from forum.services import tags as tag_service
from forum.services.errors import Forbidden
from forum.services.questions import TAB_LABELS, Tab
from forum.web import current_member, current_viewer, page_number, submit

bp = Blueprint("tags", __name__)


@bp.get("/tags")
def index() -> ResponseReturnValue:
    """Every tag with its counts and excerpt, most used first (or by name)."""
    db = get_session()
    page = page_number()
    sort = "name" if request.args.get("sort") == "name" else "popular"
    query = (request.args.get("q") or "").strip()[:35] or None
    per_page = 60

    def grid() -> str:
        rows, total = tag_service.list_tags(
            db, query=query, sort=sort, page=page, per_page=per_page
        )
        return render_template(
            "tags/_grid.html",
            tags=rows,
            query=query,
            page=page,
            pages=max(1, math.ceil(total / per_page)),
        )

    return render_template(
        "tags/index.html",
        sort=sort,
        query=query,
        # The same for everyone: kept until the next write (the whole address names it).
        grid=pagecache.kept_fragment(request.full_path, grid),
    )


@functools.cache
def _articles_statement(limit: int) -> Select[Article]:
    # Built once per limit (the tag is a parameter): a tag page runs it on every view.
    return (
        select(Article)
        .join(post_tags, post_tags.c.post_id == Article.id)
        .where(
            post_tags.c.tag_id == bindparam("tag_id", type_=Integer), Article.deleted_at.is_(None)
        )
        .order_by(Article.score.desc(), Article.created_at.desc())
        .limit(limit)
    )


def _articles(tag_id: int, limit: int = 10) -> list[Post]:
    db = get_session()
    return list(db.scalars(_articles_statement(limit), {"tag_id": tag_id}))


@bp.get("/tags/<name>")
def detail(name: str) -> ResponseReturnValue:
    """A tag: its description, its questions (with the usual lists) and its articles."""
    db = get_session()
    tag = tag_service.get_tag(db, name)
    if tag.name != name:
        return redirect(url_for("tags.detail", name=tag.name), 301)
    return _render_detail(tag)


def _render_detail(
    tag: Tag, synonym_form: SynonymForm | None = None, status: int = 200
) -> ResponseReturnValue:
    db = get_session()
    tab_raw = request.args.get("tab", Tab.NEWEST.value)
    tab = Tab(tab_raw) if tab_raw in {t.value for t in Tab} - {Tab.MY_TAGS.value} else Tab.NEWEST
    page = page_number()
    per_page = int(current_app.config["QUESTIONS_PER_PAGE"])
    limit = max(questions.COUNT_LIMIT, page * per_page)
    summary = tag_service.summary(tag)
    # The summary counted the tag's questions already (from the tag's side, which is cheap);
    # only the lists that filter further need a count of their own.
    known = summary.questions if tab in (Tab.NEWEST, Tab.ACTIVE, Tab.TOP_ALL) else None

    def listing() -> str:
        count_limit = limit
        open_bounties: dict[int, int] = {}
        rows, total = questions.list_questions(
            db,
            tab=tab,
            tag=tag,
            page=page,
            per_page=per_page,
            count_limit=count_limit,
            total=known,
            open_bounties=open_bounties,
        )
        if known is not None:
            count_limit = max(count_limit, known)
        return render_template(
            "tags/_questions.html",
            tag=tag,
            questions=rows,
            more=total > count_limit,
            page=page,
            pages=max(1, math.ceil(min(total, count_limit) / per_page)),
            bounties=open_bounties,
        )

    me = current_viewer()
    return render_template(
        "tags/detail.html",
        tag=tag,
        summary=summary,
        synonyms=tag_service.synonyms_of(db, tag),
        # The same for everyone: kept until the next write (the whole address names it).
        listing=pagecache.kept_fragment(f"{request.full_path}:{per_page}", listing),
        tab=tab,
        tabs={k: v for k, v in TAB_LABELS.items() if k is not Tab.MY_TAGS},
        articles=_articles(tag.id),
        following=tag_service.is_following(db, me, tag),
        can_edit=posts.can(me, "edit_tag_wiki"),
        synonym_form=synonym_form or SynonymForm(),
    ), status


@bp.route("/tags/<name>/edit", methods=["GET", "POST"])
@login_required
def edit(name: str) -> ResponseReturnValue:
    """Edit a tag's excerpt and description (members with enough reputation)."""
    db = get_session()
    tag = tag_service.get_tag(db, name)
    member = current_member()
    if not posts.can(member, "edit_tag_wiki"):
        raise Forbidden("You need more reputation to edit tag descriptions.")
    form = TagEditForm()
    if request.method == "GET":
        form.excerpt.data = tag.excerpt or ""
        form.description.data = tag.description_md or ""
        return render_template("tags/edit.html", form=form, tag=tag)
    if not form.validate_on_submit():
        return render_template("tags/edit.html", form=form, tag=tag), 400
    submit(
        form,
        lambda: render_template("tags/edit.html", form=form, tag=tag),
        tag_service.edit_description,
        db,
        editor=member,
        tag=tag,
        excerpt=form.excerpt.data or "",
        description_md=form.description.data or "",
    )
    db.commit()
    flash("The tag description is saved.", "success")
    return redirect(url_for("tags.detail", name=tag.name))


@bp.post("/tags/<name>/follow")
@login_required
def follow(name: str) -> ResponseReturnValue:
    """Follow a tag: its questions appear under "My tags"."""
    db = get_session()
    tag = tag_service.get_tag(db, name)
    tag_service.follow(db, user=current_member(), tag=tag)
    db.commit()
    flash(f"You follow {tag.name}.", "success")
    return redirect(url_for("tags.detail", name=tag.name))


@bp.post("/tags/<name>/unfollow")
@login_required
def unfollow(name: str) -> ResponseReturnValue:
    """Stop following a tag."""
    db = get_session()
    tag = tag_service.get_tag(db, name)
    tag_service.unfollow(db, user=current_member(), tag=tag)
    db.commit()
    flash(f"You no longer follow {tag.name}.", "info")
    return redirect(url_for("tags.detail", name=tag.name))


@bp.post("/tags/<name>/synonyms")
@login_required
def add_synonym(name: str) -> ResponseReturnValue:
    """Add a synonym; an existing tag with that name is merged into this one (moderators)."""
    db = get_session()
    tag = tag_service.get_tag(db, name)
    form = SynonymForm()
    if not form.validate_on_submit():
        return _render_detail(tag, form, 400)
    submit(
        form,
        lambda: _render_detail(tag, form),
        tag_service.add_synonym,
        db,
        moderator=current_member(),
        tag=tag,
        name=form.synonym.data or "",
    )
    db.commit()
    flash("The synonym is added; posts with that tag now carry this one.", "success")
    return redirect(url_for("tags.detail", name=name))
