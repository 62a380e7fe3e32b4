"""Flask-WTF forms, one module per area; BaseForm carries service errors back to fields."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from flask_wtf import FlaskForm
from wtforms import Field, PasswordField, StringField, TextAreaField

from forum.services.text import single_line_errors

#: Shown above a form whose CSRF check failed; the view shows the form again as it was sent.
CSRF_REFUSED = (
    "This form was not sent: its security token (CSRF) had expired, or you logged out and in "
    "again in another tab. Nothing is lost: check your text below and send it again."
)


def is_single_line(field: Field) -> bool:
    """Text inputs, hidden fields included; not text areas (multi-line) nor passwords."""
    return isinstance(field, StringField) and not isinstance(field, TextAreaField | PasswordField)


class BaseForm(FlaskForm):
    """A form that can show errors a service raised, next to the fields they concern.

    Every single-line text field refuses control characters, whatever form it is on: such
    values end up in page titles, calendar feeds, e-mail headers and file names.
    """

    def validate(self, extra_validators: Mapping[str, Sequence[Any]] | None = None) -> bool:
        """Run the fields' validators, then refuse control characters in single-line fields."""
        valid: bool = super().validate(extra_validators)
        csrf_field = self._fields.get(self.meta.csrf_field_name) if self.meta.csrf else None
        if csrf_field is not None and csrf_field.errors:
            # Not a field the member can fix: say what happened above the form instead.
            csrf_field.errors = []
            self.form_errors.append(CSRF_REFUSED)
        for field in self:
            if is_single_line(field) and isinstance(field.data, str):
                messages = single_line_errors(field.data)
                if messages:
                    field.errors = [*field.errors, *messages]
                    valid = False
        return valid

    def csrf_refused(self) -> bool:
        """Check only the CSRF token (for views whose service validates the rest).

        True when it is refused; the form then says so above its fields.
        """
        field = self._fields.get(self.meta.csrf_field_name) if self.meta.csrf else None
        if field is None or field.validate(self):
            return False
        field.errors = []
        self.form_errors.append(CSRF_REFUSED)
        return True

    def add_errors(self, errors: dict[str, list[str]]) -> None:
        """Attach ``errors`` (field name → messages); unknown names go to the form as a whole."""
        for name, messages in errors.items():
            field = self._fields.get(name)
            if field is None:
                self.form_errors.extend(messages)
            else:
                field.errors = [*field.errors, *messages]
