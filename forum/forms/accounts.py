"""Forms for registration, login, profile, password and roles."""

from __future__ import annotations

from typing import Any

from wtforms import (
    BooleanField,
    EmailField,
    PasswordField,
    SelectChoice,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Length, Optional

from forum.forms import BaseForm
from forum.models import Role
from forum.services.accounts import ProfileData
from forum.services.skills import AVAILABILITY_LABELS, Skills


class DepartmentField(SelectField):
    """A department picked from the managed list (the view fills ``choices``).

    The service checks the choice, so a department removed while the form was open gets a
    clear message rather than WTForms' "Not a valid choice".
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("choices", [])
        kwargs.setdefault("validate_choice", False)
        super().__init__(*args, **kwargs)

    def offer(self, names: list[str], *, none: str = "No department") -> None:
        """Offer the listed departments, after a choice of none."""
        self.choices = [SelectChoice("", none), *(SelectChoice(name, name) for name in names)]


class RegisterForm(BaseForm):
    """A newcomer's account."""

    username = StringField(
        "Username",
        validators=[DataRequired(), Length(max=32)],
        description="3–32 characters: letters, digits, '.', '_' or '-'.",
    )
    email = EmailField("Work email", validators=[DataRequired(), Length(max=254)])
    display_name = StringField(
        "Display name",
        validators=[DataRequired(), Length(max=80)],
        description="The name colleagues know you by.",
    )
    department = DepartmentField("Department", validators=[Optional()])
    job_title = StringField("Job title", validators=[Optional(), Length(max=80)])
    password = PasswordField(
        "Password",
        validators=[DataRequired(), Length(max=256)],
        description="At least 10 characters; a short sentence works well.",
    )

    def profile(self) -> ProfileData:
        """The profile part of the form."""
        return ProfileData(
            display_name=self.display_name.data or "",
            email=self.email.data or "",
            department=self.department.data,
            job_title=self.job_title.data,
        )


class LoginForm(BaseForm):
    """Username or email, and password."""

    username = StringField("Username or email", validators=[DataRequired(), Length(max=254)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=256)])


class ProfileForm(BaseForm):
    """The editable parts of a profile."""

    display_name = StringField("Display name", validators=[DataRequired(), Length(max=80)])
    email = EmailField("Work email", validators=[DataRequired(), Length(max=254)])
    department = DepartmentField("Department", validators=[Optional()])
    job_title = StringField("Job title", validators=[Optional(), Length(max=80)])
    bio = TextAreaField(
        "About you",
        validators=[Optional(), Length(max=5000)],
        description="What you work on and what colleagues can ask you about.",
    )

    skills_help = StringField(
        "Tags I can help with",
        validators=[Optional(), Length(max=400)],
        description="Comma- or space-separated tags, e.g. python sql.",
    )
    skills_learn = StringField(
        "Tags I want to learn",
        validators=[Optional(), Length(max=400)],
        description="Mentoring suggests colleagues who know these.",
    )
    mentoring_availability = SelectField(
        "Mentoring availability",
        choices=[SelectChoice(k, v) for k, v in AVAILABILITY_LABELS.items()],
        validators=[DataRequired()],
        default="open",
    )

    def show_skills(self, current: Skills) -> None:
        """Fill the skill fields with the member's current skills."""
        self.skills_help.data = " ".join(current.help)
        self.skills_learn.data = " ".join(current.learn)

    def skills(self) -> dict[str, str] | None:
        """The skill fields as service input (None when the request did not include them)."""
        if not self.skills_help.raw_data and not self.skills_learn.raw_data:
            return None
        return {
            "help_text": self.skills_help.data or "",
            "learn_text": self.skills_learn.data or "",
            "availability": self.mentoring_availability.data or "open",
        }

    def profile(self) -> ProfileData:
        """The form as service input."""
        return ProfileData(
            display_name=self.display_name.data or "",
            email=self.email.data or "",
            department=self.department.data,
            job_title=self.job_title.data,
            bio=self.bio.data,
        )


class PasswordForm(BaseForm):
    """Change password: the current one, then the new one."""

    current_password = PasswordField("Current password", validators=[DataRequired()])
    new_password = PasswordField("New password", validators=[DataRequired(), Length(max=256)])


class RoleForm(BaseForm):
    """An admin's choice of role for a member (one per table row, so fields are prefixed).

    CSRFProtect checks every POST app-wide; the prefixed form skips its own token field.
    """

    class Meta:
        csrf = False

    role = SelectField(
        "Role",
        choices=[SelectChoice(r.value, r.value.capitalize()) for r in Role],
        validators=[DataRequired()],
    )


class ConfirmForm(BaseForm):
    """A confirmation step (deactivating or reactivating a member): the CSRF token is all."""


class ClaimLinkForm(BaseForm):
    """The address an imported member's claim link goes to."""

    email = EmailField(
        "Work email",
        validators=[DataRequired(message="Enter the member's email address."), Length(max=254)],
        description="The claim link goes there; it works once, for 7 days.",
    )


class ClaimForm(BaseForm):
    """The password of an account being claimed."""

    password = PasswordField(
        "New password",
        validators=[DataRequired(message="Choose a password."), Length(max=256)],
        description="At least 10 characters; a short sentence works well.",
    )


class ForgotPasswordForm(BaseForm):
    """The address a password reset link is sent to."""

    email = EmailField("Work email", validators=[DataRequired(), Length(max=254)])


class ResetPasswordForm(BaseForm):
    """A new password, set with a reset link."""

    password = PasswordField(
        "New password",
        validators=[DataRequired(), Length(max=256)],
        description="At least 10 characters; a short sentence works well.",
    )


#: How long a new access token lasts: (days or "never", label).
TOKEN_EXPIRY_CHOICES = [
    ("30", "30 days"),
    ("90", "90 days"),
    ("365", "1 year"),
    ("never", "Never"),
]


class TokenForm(BaseForm):
    """A new personal access token for the REST API."""

    name = StringField(
        "Token name",
        validators=[DataRequired(), Length(max=60)],
        description="What uses it, e.g. “release notes script”.",
    )
    scope_read = BooleanField("Read: questions, articles, search, notifications", default=True)
    scope_write = BooleanField("Write: ask, answer, comment, vote, edit")
    expires = SelectField(
        "Expires after",
        choices=[SelectChoice(value, label) for value, label in TOKEN_EXPIRY_CHOICES],
        validators=[DataRequired()],
        default="90",
    )

    def scopes(self) -> list[str]:
        """The ticked scopes."""
        return [
            scope
            for scope, field in (("read", self.scope_read), ("write", self.scope_write))
            if field.data
        ]

    def expiry_days(self) -> int | None:
        """Days until the token expires; None for never (anything unknown is the default)."""
        raw = self.expires.data or "90"
        if raw == "never":
            return None
        return int(raw) if raw.isdigit() else 90


class InvitationForm(BaseForm):
    """The address of a colleague to invite."""

    email = EmailField("Colleague's work email", validators=[DataRequired(), Length(max=254)])


class LinkAccountForm(BaseForm):
    """The local account's password, entered once to link a company sign-in to it, and a
    two-factor code when the account has two-factor authentication on."""

    password = PasswordField("Password", validators=[DataRequired(), Length(max=256)])
    code = StringField(
        "Code from your authenticator app, or a recovery code",
        validators=[Optional(), Length(max=32)],
    )


class TwoFactorCodeForm(BaseForm):
    """A code from the authenticator app (or, at login, a recovery code)."""

    code = StringField("Code", validators=[DataRequired(), Length(max=32)])


class TwoFactorStartForm(BaseForm):
    """Start (or restart) setting up two-factor authentication: a button only."""
