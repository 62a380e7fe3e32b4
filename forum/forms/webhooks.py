"""Forms of the webhook pages (admins)."""

from __future__ import annotations

from wtforms import (
    BooleanField,
    PasswordField,
    SelectChoice,
    SelectField,
    SelectMultipleField,
    URLField,
)
from wtforms.validators import DataRequired, Length, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from forum.forms import BaseForm
from forum.services.webhooks import EVENTS, FORMATS, SECRET_MAX, SECRET_MIN, URL_MAX


class CheckboxesField(SelectMultipleField):
    """Several choices, one checkbox each."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class WebhookForm(BaseForm):
    """A new webhook; the service checks the address and the events too."""

    url = URLField(
        "Address",
        validators=[
            DataRequired("Enter the address to send events to."),
            Length(max=URL_MAX, message=f"Use at most {URL_MAX} characters."),
        ],
        description="An http:// or https:// address, e.g. a chat's incoming webhook.",
    )
    secret = PasswordField(
        "Secret",
        validators=[
            DataRequired("Enter a secret; the receiver checks signatures with it."),
            Length(SECRET_MIN, SECRET_MAX, f"Use {SECRET_MIN} to {SECRET_MAX} characters."),
        ],
        description="Signs every delivery (X-Forum-Signature-256); give it to the receiver.",
    )
    events = CheckboxesField(
        "Events",
        choices=[SelectChoice(name, label) for name, label in EVENTS.items()],
        validators=[DataRequired("Choose at least one event.")],
    )
    format = SelectField(
        "Format",
        choices=[SelectChoice(name, label) for name, label in FORMATS.items()],
        default="json",
        validators=[DataRequired("Choose a format.")],
    )
    active = BooleanField("Send events (untick to pause the webhook)", default=True)


class WebhookEditForm(WebhookForm):
    """An existing webhook: its secret is kept unless a new one is given."""

    secret = PasswordField(
        "New secret",
        validators=[
            Optional(),
            Length(SECRET_MIN, SECRET_MAX, f"Use {SECRET_MIN} to {SECRET_MAX} characters."),
        ],
        description="Leave empty to keep the current secret.",
    )


class ConfirmForm(BaseForm):
    """Removing a webhook, or sending a delivery again (the CSRF token is all it carries)."""
