"""The code of conduct: a Markdown page admins edit, every version kept with its editor."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import lru_cache

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from forum.markdown import render_markdown
from forum.models import ConductRevision, User
from forum.services import posts
from forum.services.errors import Forbidden, ValidationError

MAX_LENGTH = 20_000

DEFAULT_CONDUCT_MD = """\
We are colleagues who learn from each other. This forum works when everyone feels safe to ask,
to answer and to be wrong in public.

## What we expect

- **Be kind and assume good intent.** Nobody asks a question to waste your time.
- **Criticise ideas, not people.** Say what would make an answer better, not who is wrong.
- **No question is too basic.** Link to an earlier answer instead of saying "search first".
- **Share what you know, even partly.** A half answer with its limits stated helps.
- **Keep confidential information out.** No passwords, customer data or personnel matters.

## What is not acceptable

Harassment, insults, discriminating remarks, personal attacks, spam and advertising,
and deliberately misleading answers.

## When something is wrong

Use **Flag** on the post or comment. Moderators are facilitators: they look at every flag,
may hide, edit or remove content and may send a member a note. Their actions are recorded
in an audit log, and they reveal the author of an anonymous question only with a recorded
reason.
"""


@lru_cache(maxsize=1)
def _default_html() -> str:
    return render_markdown(DEFAULT_CONDUCT_MD)


@dataclass
class Conduct:
    """The code of conduct as shown: the current text and who last changed it, when."""

    body_md: str
    body_html: str
    editor: User | None
    updated_at: dt.datetime | None
    revision_count: int

    @property
    def is_default(self) -> bool:
        """Nobody has edited it yet: the text shipped with forum is shown."""
        return self.revision_count == 0


def current(session: Session) -> Conduct:
    """The newest version of the code of conduct, or the shipped default."""
    revisions = history(session)
    if not revisions:
        return Conduct(DEFAULT_CONDUCT_MD, _default_html(), None, None, 0)
    latest = revisions[0]
    return Conduct(
        latest.body_md, latest.body_html, latest.editor, latest.created_at, len(revisions)
    )


def history(session: Session) -> list[ConductRevision]:
    """Every saved version, newest first, with its editor."""
    return list(
        session.scalars(
            select(ConductRevision)
            .options(joinedload(ConductRevision.editor))
            .order_by(ConductRevision.created_at.desc(), ConductRevision.id.desc())
        )
    )


def edit(session: Session, *, editor: User, body_md: str, summary: str = "") -> ConductRevision:
    """Save a new version of the code of conduct (admins only)."""
    if not editor.is_admin:
        raise Forbidden("Only admins can change the code of conduct.")
    text = (body_md or "").strip()
    errors: dict[str, list[str]] = {}
    if not text:
        errors["body"] = ["The code of conduct can't be empty."]
    elif len(text) > MAX_LENGTH:
        errors["body"] = [f"Keep the code of conduct under {MAX_LENGTH:,} characters."]
    if len((summary or "").strip()) > 300:
        errors["summary"] = ["Keep the summary to 300 characters."]
    if errors:
        raise ValidationError(errors)
    revision = ConductRevision(
        body_md=text + "\n",
        body_html=posts.render(text),
        summary=(summary or "").strip() or "Edited",
        editor_id=editor.id,
    )
    session.add(revision)
    session.flush()
    return revision
