"""The form that starts a bounty (the service checks the amount and the reason)."""

from __future__ import annotations

from wtforms import RadioField, SelectChoice, SelectField
from wtforms.validators import DataRequired

from forum.forms import BaseForm
from forum.services.bounties import AMOUNTS, REASONS


class BountyForm(BaseForm):
    """Amount and reason of a new bounty; unknown values reach the service, which says why."""

    amount = SelectField(
        "Bounty amount",
        choices=[SelectChoice(str(a), f"+{a}") for a in AMOUNTS],
        validate_choice=False,
        validators=[DataRequired("Choose an amount.")],
        description="Points from your own reputation, 50 to 500. They leave you at once.",
    )
    reason = RadioField(
        "Why start a bounty?",
        choices=[SelectChoice(key, label) for key, label in REASONS.items()],
        validate_choice=False,
        validators=[DataRequired("Choose why you start the bounty.")],
    )
