"""Forms of the knowledge base: the article editor, helpful feedback."""

from __future__ import annotations

from wtforms import HiddenField, RadioField, SelectChoice, StringField, TextAreaField
from wtforms.validators import Length, Optional

from forum.forms import BaseForm
from forum.services.articles import MAX_SUMMARY, ArticleData


class ArticleForm(BaseForm):
    """Title, Markdown body, tags and type; the service validates the content."""

    title = StringField(
        "Title",
        description="A specific title helps colleagues find it: “Reviewing SQL migrations”.",
    )
    article_type = RadioField(
        "Type",
        choices=[
            SelectChoice("tip", "Tip: a short, single idea"),
            SelectChoice(
                "tutorial", "Tutorial: a longer, structured walk-through (gets a table of contents)"
            ),
        ],
        default="tip",
    )
    body = TextAreaField(
        "Text",
        description=(
            "Markdown: **bold**, `code`, ```fenced code```, tables, [[Article title]] links."
        ),
    )
    tags = StringField("Tags", description="1–5 tags, separated by commas or spaces.")
    summary = StringField(
        "Edit summary",
        validators=[Optional(), Length(max=MAX_SUMMARY)],
        description="What you changed, for the history.",
    )
    base_revision = HiddenField()

    def data_for_service(self) -> ArticleData:
        """The fields as service input."""
        return ArticleData(
            title=self.title.data or "",
            body_md=self.body.data or "",
            tags_text=self.tags.data or "",
            article_type=self.article_type.data or "",
        )

    def base_revision_number(self) -> int:
        """The revision the edit started from (0 when the field is missing or malformed)."""
        raw = (self.base_revision.data or "").strip()
        return int(raw) if raw.isdigit() and len(raw) < 9 else 0
