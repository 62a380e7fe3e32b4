"""Badges: the catalogue by tier and who earned each one."""

from __future__ import annotations

import math

from flask import Blueprint, render_template
from flask.blueprints import BlueprintSetupState
from flask.typing import ResponseReturnValue
from werkzeug.routing import BuildError

from forum.db import get_session
from forum.models import Post, PostKind
from forum.services import badges, reputation
from forum.web import page_number
from forum.web import url_for as cached_url_for

bp = Blueprint("badges", __name__)

AWARDS_PER_PAGE = 50


@bp.record_once
def _setup(state: BlueprintSetupState) -> None:
    """Put the configured reputation rules in force and award badges after each commit."""
    config = state.app.config
    reputation.configure(config.get("REPUTATION_RULES"), config.get("REPUTATION_THRESHOLDS"))
    badges.install()


@bp.app_template_global("post_url")
def post_url(post: Post | None) -> str | None:
    """Where a post is read (an answer on its question's page), or None when it can't be."""
    if post is None or post.is_deleted:
        return None
    try:
        # Called for every post a profile lists: the memoised builder.
        if post.kind == PostKind.ARTICLE:
            return cached_url_for("wiki.detail", slug=post.slug)
        if post.kind == PostKind.ANSWER:
            url = cached_url_for("questions.detail", question_id=post.parent_id)
            return url + f"#post-{post.id}"
        return cached_url_for("questions.detail", question_id=post.id)
    except BuildError:
        return None


@bp.app_template_global("reputation_reason")
def reputation_reason(reason: str) -> str:
    """A ledger reason in words."""
    return reputation.REASONS.get(reason, reason)


@bp.get("/badges")
def index() -> ResponseReturnValue:
    """Every badge by tier, with its criteria and how many members hold it."""
    catalogue = badges.catalogue()
    by_tier = {tier: [b for b in catalogue if b.tier is tier] for tier in badges.TIER_ORDER}
    return render_template(
        "badges/index.html",
        by_tier=by_tier,
        holders=badges.holder_counts(get_session()),
    )


@bp.get("/badges/<key>")
def detail(key: str) -> ResponseReturnValue:
    """Who earned a badge, when, and for what."""
    badge = badges.get(key)
    page = page_number()
    awards, total = badges.awards_of_badge(get_session(), key, page=page, per_page=AWARDS_PER_PAGE)
    return render_template(
        "badges/detail.html",
        badge=badge,
        awards=awards,
        total=total,
        page=page,
        pages=max(1, math.ceil(total / AWARDS_PER_PAGE)),
    )
