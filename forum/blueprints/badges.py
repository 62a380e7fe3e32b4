"""Badges: the catalogue by tier and who earned each one."""

from __future__ import annotations

import math

from flask import Blueprint, render_template
from flask.typing import ResponseReturnValue

from forum.db import get_session
from forum.models import BadgeAward
from forum.services import badges, reputation, visibility
from forum.web import current_viewer, page_number

bp = Blueprint("badges", __name__)

AWARDS_PER_PAGE = 50


@bp.app_template_global("reputation_reason")
def reputation_reason(reason: str) -> str:
    """A ledger reason in words."""
    return reputation.REASONS.get(reason, reason)


@bp.app_template_filter("award_day")
def award_day(award: BadgeAward) -> str:
    """The UTC day of an award, e.g. ``6 Dec 2026``: never the time of day."""
    day = badges.day_awarded(award)
    return f"{day.day} {day:%b %Y}"


@bp.app_template_filter("award_day_iso")
def award_day_iso(award: BadgeAward) -> str:
    """The UTC day of an award for a ``<time datetime>``: ``2026-12-06``."""
    return badges.day_awarded(award).isoformat()


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
    db = get_session()
    awards, total = badges.awards_of_badge(db, key, page=page, per_page=AWARDS_PER_PAGE)
    # An award names its post only while the viewer may see it (and its question).
    shown = visibility.visible_post_ids(
        db, current_viewer(), {a.post_id for a in awards if a.post_id is not None}
    )
    return render_template(
        "badges/detail.html",
        badge=badge,
        awards=awards,
        shown_posts=shown,
        total=total,
        page=page,
        pages=max(1, math.ceil(total / AWARDS_PER_PAGE)),
    )
