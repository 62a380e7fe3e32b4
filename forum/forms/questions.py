"""Forms of Q&A: asking, answering, editing, closing, revealing, comments and tags."""

from __future__ import annotations

from wtforms import (
    BooleanField,
    HiddenField,
    RadioField,
    SelectChoice,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Length, Optional

from forum.forms import BaseForm
from forum.services.questions import CloseReason
from forum.services.tags import NO_TAGS, parse_tags

TITLE_MESSAGE = "Use at least 15 characters: a title colleagues can recognise."
BODY_MESSAGE = "Describe what you are trying to do and what you have tried."


def _base_revision(field: HiddenField) -> int | None:
    raw = (field.data or "").strip()
    return int(raw) if raw.isdigit() and len(raw) < 9 else None


class AskForm(BaseForm):
    """A question: the service validates lengths and tags so messages stay in one place."""

    title = StringField(
        "Title",
        validators=[DataRequired(TITLE_MESSAGE)],
        description="15–150 characters. Be specific: “How do I rotate the staging database "
        "password?”",
    )
    body = TextAreaField(
        "Your question",
        validators=[DataRequired(BODY_MESSAGE)],
        description="Markdown. Say what you are trying to do, what you tried and what happened.",
    )
    tags = StringField(
        "Tags",
        validators=[DataRequired(NO_TAGS)],
        description="1–5 tags separated by commas or spaces, e.g. python sql.",
    )
    anonymous = BooleanField(
        "Ask anonymously",
        description="Your name is shown as “Anonymous colleague” everywhere. Moderators can "
        "reveal it only with a recorded reason. You earn no reputation for it.",
    )

    def tag_list(self) -> list[str]:
        """The tags as a list of names."""
        return parse_tags(self.tags.data or "")


class EditQuestionForm(BaseForm):
    """An edit of a question, recorded as a revision."""

    title = StringField(
        "Title", validators=[DataRequired(TITLE_MESSAGE)], description="15–150 characters."
    )
    body = TextAreaField(
        "Question", validators=[DataRequired(BODY_MESSAGE)], description="Markdown."
    )
    tags = StringField(
        "Tags",
        validators=[DataRequired(NO_TAGS)],
        description="1–5 tags separated by commas or spaces.",
    )
    summary = StringField(
        "Edit summary",
        validators=[Optional(), Length(max=300)],
        description="What you changed, for the history.",
    )
    base_revision = HiddenField()

    def tag_list(self) -> list[str]:
        """The tags as a list of names."""
        return parse_tags(self.tags.data or "")

    def base_revision_number(self) -> int | None:
        """The revision the edit started from."""
        return _base_revision(self.base_revision)


class AnswerForm(BaseForm):
    """An answer (or an edit of one)."""

    body = TextAreaField(
        "Your answer",
        validators=[DataRequired("Write your answer.")],
        description="Markdown. Explain why, not only what; link to sources.",
    )
    summary = StringField(
        "Edit summary", validators=[Optional(), Length(max=300)], description="What you changed."
    )
    base_revision = HiddenField()

    def base_revision_number(self) -> int | None:
        """The revision the edit started from."""
        return _base_revision(self.base_revision)


#: The summary a suggested edit needs: its reviewers read it first.
SUGGESTION_SUMMARY = StringField(
    "Edit summary",
    validators=[DataRequired("Say what you changed and why."), Length(max=300)],
    description="What you changed and why: reviewers read it first.",
)


class SuggestedQuestionEditForm(EditQuestionForm):
    """A suggested edit of someone else's question."""

    summary = SUGGESTION_SUMMARY


class SuggestedAnswerEditForm(AnswerForm):
    """A suggested edit of someone else's answer."""

    summary = SUGGESTION_SUMMARY


class SuggestionRejectForm(BaseForm):
    """Why a reviewer rejects a suggested edit (its author reads it)."""

    comment = TextAreaField(
        "Why you reject it",
        validators=[
            DataRequired("Tell the member why, so their next edit lands."),
            Length(max=500),
        ],
        description="Its author reads this, so their next edit lands.",
    )


class CommentForm(BaseForm):
    """A comment's text (used to edit one)."""

    body = TextAreaField("Comment", validators=[DataRequired("Write a comment."), Length(max=2000)])


class CloseForm(BaseForm):
    """A moderator closes a question, or a member with the privilege votes to close it.

    A duplicate's original is chosen among the results of a search (the ``find`` box and
    its "Search" button, which re-show the form without closing anything).
    """

    reason = SelectField(
        "Reason",
        choices=[SelectChoice(r.value, r.label) for r in CloseReason],
        validators=[DataRequired("Choose why the question is closed.")],
        default="needs-detail",
    )
    find = StringField(
        "Search for the original question",
        validators=[Optional(), Length(max=200)],
        description="For duplicates: words from its title, or its address.",
    )
    duplicate_of = RadioField(
        "Original question",
        coerce=int,
        validate_choice=False,
        validators=[Optional()],
        description="For duplicates: the question that already has the answer.",
    )
    note = TextAreaField(
        "Note to the asker",
        validators=[Optional(), Length(max=500)],
        description="Shown on the question: what would make it answerable.",
    )


class RevealForm(BaseForm):
    """A moderator's reason for revealing an anonymous author (written to the audit log)."""

    reason = TextAreaField(
        "Reason",
        validators=[
            DataRequired("Explain why the author must be revealed (at least 10 characters)."),
            Length(max=2000),
        ],
        description="Why the author must be known. This is recorded in the audit log.",
    )


class TagEditForm(BaseForm):
    """A tag's excerpt and description."""

    excerpt = TextAreaField(
        "Excerpt", validators=[Optional(), Length(max=300)], description="One or two sentences."
    )
    description = TextAreaField("Description", description="Markdown: when to use the tag.")


class SynonymForm(BaseForm):
    """A moderator adds a synonym (an existing tag of that name is merged)."""

    synonym = StringField(
        "Synonym",
        validators=[DataRequired("Type the other name.")],
        description="Another name that should lead to this tag. If a tag with that name exists, "
        "its posts and followers move here.",
    )
