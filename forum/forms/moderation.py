"""Forms of moderation: flagging, the queue's actions and the code of conduct."""

from __future__ import annotations

from wtforms import BooleanField, HiddenField, RadioField, SelectChoice, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from forum.forms import BaseForm
from forum.services.moderation import MAX_FLAG_TEXT, MAX_NOTE, MAX_WARNING, REASON_HINTS, REASONS


class FlagForm(BaseForm):
    """Why a post or comment needs a moderator; the service checks the rules."""

    target = HiddenField()
    reason = RadioField(
        "Why does this need a moderator?",
        choices=[SelectChoice(value, label) for value, label in REASONS.items()],
        validators=[DataRequired(message="Choose why this needs a moderator.")],
        validate_choice=False,
    )
    text = TextAreaField(
        "Details",
        validators=[Optional(), Length(max=MAX_FLAG_TEXT)],
        description="Required for “Other”. Only moderators read it.",
    )

    hints = REASON_HINTS


class ModerationActionForm(BaseForm):
    """A queue action's optional note (for the audit log) and, for warnings, the text sent."""

    note = StringField(
        "Note for the audit log",
        validators=[Optional(), Length(max=MAX_NOTE)],
        description="Why, in a few words.",
    )
    warning = TextAreaField("Warning sent to the member", validators=[Length(max=MAX_WARNING)])
    #: For a warning: also resolve the flags (as helpful) while the content stays visible.
    resolve = BooleanField("Also resolve the flags as helpful")
    #: For hiding and deleting: the moderator confirmed on the confirmation step.
    confirmed = HiddenField()


class ConductForm(BaseForm):
    """The code of conduct's Markdown text."""

    body = TextAreaField(
        "Code of conduct",
        validators=[DataRequired("The code of conduct can't be empty.")],
        description="Markdown.",
    )
    summary = StringField(
        "Edit summary",
        validators=[Optional(), Length(max=300)],
        description="What you changed, for the history.",
    )
