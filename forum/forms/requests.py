"""Forms of tutorial requests: asking for a tutorial and marking an article as fulfilling one."""

from __future__ import annotations

from wtforms import StringField, TextAreaField
from wtforms.validators import DataRequired, Optional

from forum.forms import BaseForm
from forum.services.tags import NO_TAGS, parse_tags


class TutorialRequestForm(BaseForm):
    """A request: the service validates lengths and tags so messages stay in one place."""

    title = StringField(
        "What should the tutorial teach?",
        validators=[DataRequired("Say what you want to learn.")],
        description="10–150 characters, e.g. “Profiling slow PostgreSQL queries with EXPLAIN”.",
    )
    details = TextAreaField(
        "Details",
        validators=[Optional()],
        description="Markdown. What you know already, what you are stuck on, what a good "
        "tutorial would cover.",
    )
    tags = StringField(
        "Tags",
        validators=[DataRequired(NO_TAGS)],
        description="1–5 tags separated by commas or spaces, e.g. postgresql performance.",
    )

    def tag_list(self) -> list[str]:
        """The tags as a list of names."""
        return parse_tags(self.tags.data or "")


class FulfilForm(BaseForm):
    """The article that fulfils a request, by its address or slug."""

    article = StringField(
        "Article address",
        validators=[DataRequired("Paste the address of the article.")],
        description="Paste the address of the tip or tutorial, e.g. /articles/sql-basics.",
    )
