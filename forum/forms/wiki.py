"""Forms of the knowledge base: the article editor and the article's life cycle."""

from __future__ import annotations

from wtforms import (
    BooleanField,
    DateField,
    HiddenField,
    RadioField,
    SelectChoice,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Length, Optional

from forum.forms import BaseForm
from forum.services.article_life import MAX_REASON
from forum.services.articles import MAX_SUMMARY, ArticleData
from forum.services.tags import NO_TAGS


class ArticleForm(BaseForm):
    """Title, Markdown body, tags and type; the service validates the content."""

    title = StringField(
        "Title",
        validators=[DataRequired("Give the article a title.")],
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
        validators=[DataRequired("Choose a tip or a tutorial.")],
        default="tip",
    )
    body = TextAreaField(
        "Text",
        validators=[DataRequired("Write the article's text.")],
        description=(
            "Markdown: **bold**, `code`, ```fenced code```, tables, [[Article title]] links."
        ),
    )
    tags = StringField(
        "Tags",
        validators=[DataRequired(NO_TAGS)],
        description="1–5 tags, separated by commas or spaces.",
    )
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


class HandOverForm(BaseForm):
    """Hand an article to a new owner, who keeps it up to date."""

    username = StringField(
        "New owner",
        validators=[DataRequired("Choose the member who will keep the article up to date.")],
        description="The username of a member, such as ann.lee.",
    )


class ReviewByForm(BaseForm):
    """The date by which the article should be checked again."""

    review_by = DateField(
        "Review by",
        validators=[DataRequired("Choose a date, such as 2027-06-30.")],
        description="After this date the article shows a notice and its owner is told.",
    )


class RemoveArticleForm(BaseForm):
    """Confirm unpublishing or deleting an article, with a reason for the audit log."""

    reason = StringField(
        "Reason",
        validators=[Optional(), Length(max=MAX_REASON)],
        description="Kept in the moderators' audit log.",
    )
    confirm = BooleanField("Yes, I am sure", validators=[DataRequired("Tick the box to confirm.")])
