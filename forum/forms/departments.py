"""Forms for the department list (admins)."""

from __future__ import annotations

from wtforms import SelectField, StringField
from wtforms.validators import DataRequired, Length

from forum.forms import BaseForm
from forum.services.departments import NAME_MAX


class DepartmentForm(BaseForm):
    """A department's name: to add one, or to rename one."""

    name = StringField(
        "Name",
        validators=[
            DataRequired(message="Enter the department's name."),
            Length(max=NAME_MAX, message=f"Use at most {NAME_MAX} characters."),
        ],
    )


class MergeForm(BaseForm):
    """Which department to fold this one into (the view fills ``choices``)."""

    into = SelectField(
        "Merge into",
        coerce=int,
        choices=[],
        validators=[DataRequired(message="Choose the department to keep.")],
    )


class RemoveForm(BaseForm):
    """Removing a department (the CSRF token is all it carries)."""
