"""Forms of learning circles: the circle, its sessions, notes, ratings, resources, hand-over."""

from __future__ import annotations

from wtforms import (
    DateField,
    IntegerField,
    RadioField,
    SelectChoice,
    SelectField,
    StringField,
    TextAreaField,
    TimeField,
)
from wtforms.validators import DataRequired, InputRequired, Length, Optional

from forum.forms import BaseForm
from forum.services.tags import NO_TAGS, parse_tags


class CircleForm(BaseForm):
    """A circle; the service checks lengths and tags so messages stay in one place."""

    name = StringField(
        "Name",
        validators=[DataRequired("Give the circle a name of at least 3 characters.")],
        description="What the circle is about, e.g. “Rust reading group”.",
    )
    description = TextAreaField(
        "Description",
        validators=[Optional()],
        description="Markdown. Who it is for, how often you meet, what you will learn.",
    )
    tags = StringField(
        "Topics",
        validators=[DataRequired(NO_TAGS)],
        description="1–5 tags separated by commas or spaces.",
    )
    size_limit = IntegerField(
        "Size limit",
        default=8,
        validators=[InputRequired()],
        description="How many members, facilitator included (2–50). Small circles talk more.",
    )

    def tag_list(self) -> list[str]:
        """The tags as a list of names."""
        return parse_tags(self.tags.data or "")


class SessionForm(BaseForm):
    """A meeting or workshop, in the local time of the zone it is scheduled in."""

    title = StringField(
        "Title", validators=[DataRequired("Give the session a title of at least 3 characters.")]
    )
    kind = SelectField(
        "Kind",
        choices=[
            SelectChoice("meeting", "Meeting"),
            SelectChoice("workshop", "Workshop (a member presents)"),
        ],
        validators=[DataRequired()],
        default="meeting",
    )
    presenter = StringField(
        "Presenter",
        validators=[Optional(), Length(max=32)],
        description="For a workshop: the username of the member who presents.",
    )
    date = DateField("Date", validators=[InputRequired()])
    time = TimeField("Start time", validators=[InputRequired()])
    timezone = StringField(
        "Time zone",
        validators=[
            DataRequired("Use a time-zone name such as Europe/London or America/New_York.")
        ],
        description="An IANA time-zone name, e.g. Europe/London, America/New_York, Asia/Tokyo.",
    )
    duration_minutes = IntegerField("Duration (minutes)", default=60, validators=[InputRequired()])
    location = StringField(
        "Place", validators=[Optional(), Length(max=200)], description="A room, a floor…"
    )
    link = StringField(
        "Link",
        validators=[Optional(), Length(max=500)],
        description="A video-call address (http:// or https://).",
    )
    agenda = TextAreaField("Agenda", validators=[Optional()], description="Markdown.")


class NotesForm(BaseForm):
    """Notes written after a session."""

    notes = TextAreaField(
        "Notes",
        validators=[Optional()],
        description="Markdown. What you covered, links, next steps.",
    )


class RatingForm(BaseForm):
    """An attendee's rating of a workshop."""

    rating = RadioField(
        "Rating",
        choices=[
            SelectChoice(str(n), label)
            for n, label in ((5, "5 – excellent"), (4, "4"), (3, "3"), (2, "2"), (1, "1 – poor"))
        ],
        validators=[DataRequired(message="Choose a rating from 1 to 5.")],
    )
    comment = TextAreaField(
        "Comment",
        validators=[Optional(), Length(max=2000)],
        description="What worked, what to try.",
    )

    def rating_value(self) -> int | None:
        """The chosen rating as a number."""
        raw = self.rating.data or ""
        return int(raw) if raw.isdigit() else None


class AttendanceForm(BaseForm):
    """The facilitator's attendance checklist: the ticked ``present`` boxes (user ids) are
    read from the request; the form itself carries the CSRF token."""


class ResourceForm(BaseForm):
    """An article or question to link from the circle."""

    reference = StringField(
        "Article or question",
        description="Paste its address (…/articles/… or …/questions/…) or its number.",
        validators=[
            DataRequired("Paste the address of an article or question, or its number."),
            Length(max=500),
        ],
    )


class HandOverForm(BaseForm):
    """Hand the circle to another member."""

    username = StringField(
        "New facilitator",
        validators=[DataRequired("Choose a member of this circle.")],
        description="The username of a member.",
    )
