"""Forms for mentoring requests, pairings and buddies."""

from __future__ import annotations

from wtforms import HiddenField, SelectChoice, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from forum.forms import BaseForm
from forum.services import mentoring


class RequestForm(BaseForm):
    """Ask a colleague to mentor you."""

    tag = HiddenField("Tag", validators=[Optional(), Length(max=35)])
    goal = TextAreaField(
        "What would you like to learn?",
        validators=[DataRequired(), Length(max=mentoring.MAX_GOAL)],
        description="A sentence or two: the goal you'd work on together.",
    )


class RespondForm(BaseForm):
    """The mentor's answer to a request."""

    note = TextAreaField(
        "Note to the mentee", validators=[Optional(), Length(max=mentoring.MAX_FEEDBACK)]
    )


class GoalForm(BaseForm):
    """A shared goal."""

    text = StringField("New goal", validators=[DataRequired(), Length(max=mentoring.MAX_GOAL_ITEM)])


class CheckInForm(BaseForm):
    """A check-in note in Markdown."""

    body = TextAreaField(
        "Check-in note",
        validators=[DataRequired(), Length(max=mentoring.MAX_NOTE)],
        description="What you talked about and what comes next. Markdown works.",
    )


class EndForm(BaseForm):
    """Ending a pairing (or adding one's feedback to an ended one)."""

    rating = SelectField(
        "How useful was it?",
        choices=[
            SelectChoice("5", "5 – very"),
            SelectChoice("4", "4"),
            SelectChoice("3", "3"),
            SelectChoice("2", "2"),
            SelectChoice("1", "1 – not at all"),
        ],
        validators=[DataRequired()],
    )
    feedback = TextAreaField(
        "Feedback", validators=[Optional(), Length(max=mentoring.MAX_FEEDBACK)]
    )


class BuddyForm(BaseForm):
    """Pair a new member with a buddy, by username."""

    newcomer = StringField("New member (username)", validators=[DataRequired(), Length(max=33)])
    buddy = StringField("Buddy (username)", validators=[DataRequired(), Length(max=33)])
