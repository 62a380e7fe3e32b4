"""Tags: parsing what members type, validating names, finding or creating them."""

from __future__ import annotations

import re

from sqlalchemy import select
from sqlalchemy.orm import Session

from forum.models import Tag

TAG_NAME_RE = re.compile(r"^[a-z0-9+#.-]{1,35}$")
MAX_TAGS = 5


def parse_tags(text: str) -> list[str]:
    """Split comma- or space-separated tags, lower-cased, in order, without repeats."""
    names: list[str] = []
    for raw in re.split(r"[,\s]+", text or ""):
        name = raw.strip().lower()
        if name and name not in names:
            names.append(name)
    return names


def tag_errors(names: list[str], *, required: bool = True) -> list[str]:
    """What is wrong with a list of tag names (empty when it is acceptable)."""
    errors: list[str] = []
    if required and not names:
        errors.append("Add at least one tag so colleagues can find this.")
    if len(names) > MAX_TAGS:
        errors.append(f"Use at most {MAX_TAGS} tags.")
    bad = [n for n in names if not TAG_NAME_RE.match(n)]
    if bad:
        errors.append(
            "Tags use lower-case letters, digits and + # . - (at most 35 characters): "
            + ", ".join(bad[:5])
        )
    return errors


def tags_named(session: Session, names: list[str]) -> list[Tag]:
    """The tags with these names, creating the missing ones, in the given order."""
    existing = {t.name: t for t in session.scalars(select(Tag).where(Tag.name.in_(names)))}
    tags: list[Tag] = []
    for name in names:
        tag = existing.get(name)
        if tag is None:
            tag = Tag(name=name)
            session.add(tag)
            existing[name] = tag
        tags.append(tag)
    return tags
