"""Forms for learning paths."""

from __future__ import annotations

from wtforms import StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from forum.forms import BaseForm
from forum.forms.accounts import DepartmentField
from forum.services import paths


class PathForm(BaseForm):
    """A path's title and description."""

    title = StringField("Title", validators=[DataRequired(), Length(max=paths.MAX_TITLE)])
    description = TextAreaField(
        "Description",
        validators=[Optional(), Length(max=paths.MAX_DESCRIPTION)],
        description="Who the path is for and what they'll know at the end. Markdown works.",
    )


class StepForm(BaseForm):
    """Add an article or question by its address or number."""

    reference = StringField(
        "Add a step",
        validators=[DataRequired(message="Paste the address of an article or a question.")],
        description="Paste the address of an article or a question, or its number.",
    )


class OnboardingForm(BaseForm):
    """Make a path a department's onboarding path (empty: none)."""

    department = DepartmentField("Onboarding path for department", validators=[Optional()])
