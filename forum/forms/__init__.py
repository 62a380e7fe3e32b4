"""Flask-WTF forms, one module per area; BaseForm carries service errors back to fields."""

from __future__ import annotations

from flask_wtf import FlaskForm


class BaseForm(FlaskForm):
    """A form that can show errors a service raised, next to the fields they concern."""

    def add_errors(self, errors: dict[str, list[str]]) -> None:
        """Attach ``errors`` (field name → messages); unknown names go to the form as a whole."""
        for name, messages in errors.items():
            field = self._fields.get(name)
            if field is None:
                self.form_errors.extend(messages)
            else:
                field.errors = [*field.errors, *messages]
