"""Learning circles: lists, circle pages, membership, sessions, RSVPs, ratings, calendar feeds."""

from __future__ import annotations

from typing import Any

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_login import login_required

from forum.db import begin_writing, get_session
from forum.forms.circles import (
    AttendanceForm,
    CircleForm,
    HandOverForm,
    NotesForm,
    RatingForm,
    ResourceForm,
    SessionForm,
)
from forum.models import Circle, CircleSession, RsvpResponse
from forum.services import badges, circles
from forum.services import calendar as ical
from forum.services.circles import CircleData, SessionData
from forum.services.errors import Conflict, ValidationError
from forum.web import current_member, current_viewer, submit

bp = Blueprint("circles", __name__)


@bp.app_template_filter("circle_local")
def circle_local_filter(item: CircleSession) -> str:
    """A session's start in its own time zone, e.g. ``Tue 1 Jul 2031, 18:30 BST``."""
    start = circles.local_start(item)
    return f"{start:%a} {start.day} {start:%b %Y, %H:%M} {start.tzname()}"


# --- circles ----------------------------------------------------------------------------------


@bp.get("/circles")
def index() -> ResponseReturnValue:
    """Every circle, filtered by topic or by free seats."""
    tag = request.args.get("tag", "").strip().lower()[:35]
    open_only = request.args.get("open") == "1"
    db = get_session()
    me = current_viewer()
    return render_template(
        "circles/index.html",
        summaries=circles.list_circles(db, tag=tag or None, open_only=open_only),
        tag=tag,
        open_only=open_only,
        mine={c.id for c in circles.circles_of(db, me)} if me is not None else set(),
    )


def _circle_data(form: CircleForm) -> CircleData:
    return CircleData(
        name=form.name.data or "",
        description_md=form.description.data or "",
        tags=form.tag_list(),
        size_limit=form.size_limit.data,
    )


@bp.route("/circles/new", methods=["GET", "POST"])
@login_required
def new() -> ResponseReturnValue:
    """Start a circle: the creator facilitates it."""
    form = CircleForm()
    if request.method == "GET":
        return render_template("circles/circle_form.html", form=form, circle=None)
    if not form.validate_on_submit():
        return render_template("circles/circle_form.html", form=form, circle=None), 400
    db = get_session()
    circle = submit(
        form,
        lambda: render_template("circles/circle_form.html", form=form, circle=None),
        circles.create_circle,
        db,
        facilitator=current_member(),
        data=_circle_data(form),
    )
    db.commit()
    flash("Your circle is open. Schedule a first session so people know when you meet.", "success")
    return redirect(url_for("circles.detail", circle_id=circle.id))


def _render_detail(
    circle: Circle, *, status: int = 200, error: str | None = None, **forms: Any
) -> ResponseReturnValue:
    db = get_session()
    me = current_viewer()
    items = circles.sessions_of(db, circle)
    upcoming = [s for s in items if not circles.has_ended(s)]
    past = [s for s in items if circles.has_ended(s)]
    past.reverse()
    count = circles.member_count(db, circle)
    return (
        render_template(
            "circles/detail.html",
            circle=circle,
            members=circles.members(db, circle),
            member_count=count,
            is_member=circles.is_member(db, me, circle),
            can_manage=circles.can_manage(me, circle),
            can_delete=circles.can_delete(me, circle),
            upcoming=upcoming,
            past=past,
            resources=circles.resources_of(db, circle),
            resource_form=forms.get("resource_form") or ResourceForm(formdata=None),
            hand_over_form=forms.get("hand_over_form") or HandOverForm(formdata=None),
            error=error,
            viewer=me,
        ),
        status,
    )


@bp.get("/circles/<int:circle_id>")
def detail(circle_id: int) -> ResponseReturnValue:
    """A circle: what it is, its members, sessions and resources."""
    return _render_detail(circles.get_circle(get_session(), circle_id))


@bp.route("/circles/<int:circle_id>/edit", methods=["GET", "POST"])
@login_required
def edit(circle_id: int) -> ResponseReturnValue:
    """Edit a circle (facilitator or moderator)."""
    db = get_session()
    circle = circles.get_circle(db, circle_id)
    if not circles.can_manage(current_member(), circle):
        abort(403, "Only the circle's facilitator or a moderator can edit it.")
    form = CircleForm()
    if request.method == "GET":
        form.name.data = circle.name
        form.description.data = circle.description_md
        form.tags.data = " ".join(t.name for t in circle.tags)
        form.size_limit.data = circle.size_limit
        return render_template("circles/circle_form.html", form=form, circle=circle)
    if not form.validate_on_submit():
        return render_template("circles/circle_form.html", form=form, circle=circle), 400
    submit(
        form,
        lambda: render_template("circles/circle_form.html", form=form, circle=circle),
        circles.edit_circle,
        db,
        editor=current_member(),
        circle=circle,
        data=_circle_data(form),
    )
    db.commit()
    flash("Circle saved.", "success")
    return redirect(url_for("circles.detail", circle_id=circle.id))


def _confirm_delete(
    circle: Circle, *, status: int = 200, error: str | None = None
) -> ResponseReturnValue:
    db = get_session()
    items = circles.sessions_of(db, circle)
    return (
        render_template(
            "circles/delete.html",
            circle=circle,
            member_count=circles.member_count(db, circle),
            upcoming=sum(1 for s in items if not circles.has_ended(s) and not s.is_cancelled),
            session_count=len(items),
            error=error,
        ),
        status,
    )


@bp.route("/circles/<int:circle_id>/delete", methods=["GET", "POST"])
@login_required
def delete(circle_id: int) -> ResponseReturnValue:
    """Close a circle for good after a confirmation (facilitator or admin)."""
    db = get_session()
    circle = circles.get_circle(db, circle_id)
    if not circles.can_delete(current_member(), circle):
        abort(403, "Only the circle's facilitator or an admin can delete it.")
    if request.method == "GET":
        return _confirm_delete(circle)
    if request.form.get("confirm") != "yes":
        return _confirm_delete(
            circle, status=400, error="Tick the box to confirm that the circle should go."
        )
    name = circle.name
    circles.delete_circle(db, actor=current_member(), circle=circle)
    db.commit()
    flash(f"{name} is deleted; its members have been told.", "success")
    return redirect(url_for("circles.index"))


@bp.post("/circles/<int:circle_id>/join")
@login_required
def join(circle_id: int) -> ResponseReturnValue:
    """Join a circle (409 with the reason when it is full)."""
    db = get_session()
    circle = circles.get_circle(db, circle_id)
    try:
        circles.join(db, user=current_member(), circle=circle)
    except Conflict as exc:
        db.rollback()
        return _render_detail(circle, status=409, error=str(exc))
    db.commit()
    flash(f"Welcome to {circle.name}!", "success")
    return redirect(url_for("circles.detail", circle_id=circle.id))


@bp.post("/circles/<int:circle_id>/leave")
@login_required
def leave(circle_id: int) -> ResponseReturnValue:
    """Leave a circle."""
    db = get_session()
    circle = circles.get_circle(db, circle_id)
    try:
        circles.leave(db, user=current_member(), circle=circle)
    except Conflict as exc:
        db.rollback()
        return _render_detail(circle, status=409, error=str(exc))
    db.commit()
    flash(f"You have left {circle.name}.", "success")
    return redirect(url_for("circles.detail", circle_id=circle.id))


@bp.post("/circles/<int:circle_id>/hand-over")
@login_required
def hand_over(circle_id: int) -> ResponseReturnValue:
    """Make another member the facilitator."""
    db = get_session()
    circle = circles.get_circle(db, circle_id)
    if not circles.can_manage(current_member(), circle):
        abort(403, "Only the circle's facilitator or a moderator can hand it over.")
    form = HandOverForm()
    new = submit(
        form,
        lambda: _render_detail(circle, hand_over_form=form),
        circles.hand_over,
        db,
        actor=current_member(),
        circle=circle,
        username=form.username.data or "",
    )
    db.commit()
    flash(f"{new.display_name} now facilitates {circle.name}.", "success")
    return redirect(url_for("circles.detail", circle_id=circle.id))


@bp.post("/circles/<int:circle_id>/resources")
@login_required
def add_resource(circle_id: int) -> ResponseReturnValue:
    """Link an article or question from the circle."""
    db = get_session()
    circle = circles.get_circle(db, circle_id)
    form = ResourceForm()
    if not form.validate_on_submit():
        return _render_detail(circle, status=400, resource_form=form)
    submit(
        form,
        lambda: _render_detail(circle, resource_form=form),
        circles.add_resource,
        db,
        actor=current_member(),
        circle=circle,
        reference=form.reference.data or "",
    )
    db.commit()
    flash("Resource added.", "success")
    return redirect(url_for("circles.detail", circle_id=circle.id, _anchor="resources"))


@bp.post("/circles/<int:circle_id>/resources/<int:resource_id>/remove")
@login_required
def remove_resource(circle_id: int, resource_id: int) -> ResponseReturnValue:
    """Unlink a resource."""
    db = get_session()
    circle = circles.get_circle(db, circle_id)
    circles.remove_resource(db, actor=current_member(), circle=circle, resource_id=resource_id)
    db.commit()
    flash("Resource removed.", "success")
    return redirect(url_for("circles.detail", circle_id=circle.id, _anchor="resources"))


# --- sessions ---------------------------------------------------------------------------------


def _session_data(form: SessionForm) -> SessionData:
    return SessionData(
        title=form.title.data or "",
        kind=form.kind.data or "",
        date=form.date.data,
        time=form.time.data,
        timezone=form.timezone.data or "",
        duration_minutes=form.duration_minutes.data,
        location=form.location.data or "",
        link=form.link.data or "",
        agenda_md=form.agenda.data or "",
        presenter=form.presenter.data or "",
    )


def _session_form_page(
    form: SessionForm, circle: Circle, item: CircleSession | None, status: int = 200
) -> ResponseReturnValue:
    return (
        render_template(
            "circles/session_form.html",
            form=form,
            circle=circle,
            item=item,
            zones=circles.available_zones(),
        ),
        status,
    )


@bp.route("/circles/<int:circle_id>/sessions/new", methods=["GET", "POST"])
@login_required
def schedule(circle_id: int) -> ResponseReturnValue:
    """Schedule a meeting or workshop (facilitator or moderator)."""
    db = get_session()
    circle = circles.get_circle(db, circle_id)
    if not circles.can_manage(current_member(), circle):
        abort(403, "Only the circle's facilitator or a moderator can schedule sessions.")
    form = SessionForm()
    if request.method == "GET":
        form.timezone.data = current_app.config["DEFAULT_TIMEZONE"]
        if request.args.get("kind") == "workshop":
            form.kind.data = "workshop"
        return _session_form_page(form, circle, None)
    if not form.validate_on_submit():
        return _session_form_page(form, circle, None, 400)
    item = submit(
        form,
        lambda: _session_form_page(form, circle, None),
        circles.schedule,
        db,
        actor=current_member(),
        circle=circle,
        data=_session_data(form),
    )
    db.commit()
    flash("Session scheduled; the circle's members have been told.", "success")
    return redirect(url_for("circles.session_detail", session_id=item.id))


def _render_session(
    item: CircleSession, *, status: int = 200, error: str | None = None, **forms: Any
) -> ResponseReturnValue:
    db = get_session()
    me = current_viewer()
    circle = item.circle
    own_rating = circles.rating_of(db, me, item)
    rating_form = forms.get("rating_form")
    if rating_form is None:
        rating_form = RatingForm(formdata=None)
        if own_rating is not None:
            rating_form.rating.data = str(own_rating.rating)
            rating_form.comment.data = own_rating.comment or ""
    notes_form = forms.get("notes_form") or NotesForm(formdata=None, notes=item.notes_md or "")
    return (
        render_template(
            "circles/session.html",
            item=item,
            circle=circle,
            started=circles.has_started(item),
            ended=circles.has_ended(item),
            is_member=circles.is_member(db, me, circle),
            can_manage=circles.can_manage(me, circle),
            can_write_notes=me is not None
            and (circles.can_manage(me, circle) or me.id == item.presenter_id),
            my_rsvp=circles.rsvp_of(db, me, item),
            attendees=circles.attendees(db, item),
            responses=list(RsvpResponse),
            ratings=circles.ratings_of(db, item) if item.is_workshop else None,
            can_rate=circles.can_rate(db, me, item),
            can_mark_attendance=circles.can_mark_attendance(me, item),
            attendance=circles.attendance_list(db, item)
            if circles.can_mark_attendance(me, item)
            else [],
            attended=circles.attended(db, me, item),
            own_rating=own_rating,
            rating_form=rating_form,
            notes_form=notes_form,
            error=error,
            viewer=me,
        ),
        status,
    )


@bp.get("/circles/sessions/<int:session_id>")
def session_detail(session_id: int) -> ResponseReturnValue:
    """A session: when and where, agenda, notes, who comes, and ratings for workshops."""
    return _render_session(circles.get_session_item(get_session(), session_id))


@bp.route("/circles/sessions/<int:session_id>/edit", methods=["GET", "POST"])
@login_required
def edit_session(session_id: int) -> ResponseReturnValue:
    """Change a session's details (facilitator or moderator)."""
    db = get_session()
    item = circles.get_session_item(db, session_id)
    if not circles.can_manage(current_member(), item.circle):
        abort(403, "Only the circle's facilitator or a moderator can change sessions.")
    form = SessionForm()
    if request.method == "GET":
        start = circles.local_start(item)
        form.title.data = item.title
        form.kind.data = item.kind.value
        form.presenter.data = item.presenter.username if item.presenter else ""
        form.date.data = start.date()
        form.time.data = start.time().replace(tzinfo=None)
        form.timezone.data = item.timezone
        form.duration_minutes.data = item.duration_minutes
        form.location.data = item.location or ""
        form.link.data = item.link or ""
        form.agenda.data = item.agenda_md
        return _session_form_page(form, item.circle, item)
    if not form.validate_on_submit():
        return _session_form_page(form, item.circle, item, 400)
    submit(
        form,
        lambda: _session_form_page(form, item.circle, item),
        circles.edit_session,
        db,
        actor=current_member(),
        item=item,
        data=_session_data(form),
    )
    db.commit()
    flash("Session updated; subscribed calendars pick up the change.", "success")
    return redirect(url_for("circles.session_detail", session_id=item.id))


@bp.post("/circles/sessions/<int:session_id>/notes")
@login_required
def notes(session_id: int) -> ResponseReturnValue:
    """Save the notes of a session (facilitator, presenter or moderator)."""
    db = get_session()
    item = circles.get_session_item(db, session_id)
    form = NotesForm()
    submit(
        form,
        lambda: _render_session(item, notes_form=form),
        circles.record_notes,
        db,
        actor=current_member(),
        item=item,
        notes_md=form.notes.data or "",
    )
    db.commit()
    flash("Notes saved.", "success")
    return redirect(url_for("circles.session_detail", session_id=item.id, _anchor="notes"))


@bp.post("/circles/sessions/<int:session_id>/cancel")
@login_required
def cancel(session_id: int) -> ResponseReturnValue:
    """Call a session off."""
    db = get_session()
    item = circles.get_session_item(db, session_id)
    try:
        circles.cancel_session(db, actor=current_member(), item=item)
    except Conflict as exc:
        db.rollback()
        return _render_session(item, status=409, error=str(exc))
    db.commit()
    flash("Session cancelled; subscribed calendars show it as cancelled.", "success")
    return redirect(url_for("circles.session_detail", session_id=item.id))


@bp.post("/circles/sessions/<int:session_id>/rsvp")
@login_required
def rsvp(session_id: int) -> ResponseReturnValue:
    """Answer yes, maybe or no (409 with the reason once the session has started)."""
    db = get_session()
    item = circles.get_session_item(db, session_id)
    try:
        circles.rsvp(
            db, user=current_member(), item=item, response=request.form.get("response", "")
        )
    except Conflict as exc:
        db.rollback()
        return _render_session(item, status=409, error=str(exc))
    except ValidationError as exc:
        db.rollback()
        return _render_session(item, status=400, error=" ".join(exc.errors["response"]))
    db.commit()
    flash("Thanks — your answer is saved.", "success")
    return redirect(url_for("circles.session_detail", session_id=item.id))


@bp.post("/circles/sessions/<int:session_id>/attendance")
@login_required
def attendance(session_id: int) -> ResponseReturnValue:
    """Record who came (facilitator or moderator): ticked members are present, others absent."""
    db = get_session()
    item = circles.get_session_item(db, session_id)
    if not circles.can_manage(current_member(), item.circle):
        abort(403, "Only the circle's facilitator or a moderator can record attendance.")
    form = AttendanceForm()
    if not form.validate_on_submit():
        return _render_session(item, status=400, error=" ".join(form.form_errors))
    raw = request.form.getlist("present")
    if not all(value.isdigit() and len(value) < 12 for value in raw):
        abort(400, "Tick only people listed for this session.")
    try:
        present = circles.mark_attendance(
            db, actor=current_member(), item=item, present_ids={int(v) for v in raw}
        )
    except Conflict as exc:
        db.rollback()
        return _render_session(item, status=409, error=str(exc))
    except ValidationError as exc:
        db.rollback()
        return _render_session(item, status=400, error=" ".join(exc.errors["present"]))
    db.commit()
    flash(f"Attendance saved: {present} present.", "success")
    return redirect(url_for("circles.session_detail", session_id=item.id, _anchor="attendance"))


@bp.post("/circles/sessions/<int:session_id>/rating")
@login_required
def rate(session_id: int) -> ResponseReturnValue:
    """Rate a workshop after it ended (once each; a new rating replaces yours)."""
    db = get_session()
    item = circles.get_session_item(db, session_id)
    form = RatingForm()
    if not form.validate_on_submit():
        return _render_session(item, status=400, rating_form=form)
    me = current_member()
    try:
        submit(
            form,
            lambda: _render_session(item, rating_form=form),
            circles.rate,
            db,
            user=me,
            item=item,
            rating=form.rating_value(),
            comment=form.comment.data or "",
        )
    except Conflict as exc:
        db.rollback()
        return _render_session(item, status=409, error=str(exc))
    db.commit()
    if item.presenter_id is not None:
        # Ratings are not among the changes the badge hooks watch: award the host here.
        badges.award(db, [item.presenter_id], keys=["workshop_host", "popular_host"])
        db.commit()
    flash("Thanks for rating the workshop.", "success")
    return redirect(url_for("circles.session_detail", session_id=item.id, _anchor="ratings"))


# --- calendar feeds ---------------------------------------------------------------------------


def _ics(name: str, items: list[CircleSession], filename: str) -> Response:
    links = {
        item.id: url_for("circles.session_detail", session_id=item.id, _external=True)
        for item in items
    }
    body = ical.build_calendar(
        name, items, domain=request.host.split(":")[0] or "forum", url_for_session=links
    )
    response = Response(body, mimetype="text/calendar")
    response.headers["Content-Type"] = "text/calendar; charset=utf-8"
    response.headers["Content-Disposition"] = f'inline; filename="{filename}"'
    response.headers["Cache-Control"] = "private, max-age=300"
    return response


@bp.get("/circles/<int:circle_id>/calendar.ics")
def circle_calendar(circle_id: int) -> ResponseReturnValue:
    """Every session of a circle as an iCalendar feed."""
    db = get_session()
    circle = circles.get_circle(db, circle_id)
    return _ics(circle.name, circles.sessions_of(db, circle), f"circle-{circle.id}.ics")


@bp.get("/circles/calendar")
@login_required
def my_calendar() -> ResponseReturnValue:
    """The member's personal feed address, to subscribe to from a calendar app."""
    db = get_session()
    begin_writing(db)  # the secret is created on the first visit
    token = circles.calendar_token(db, current_member())
    db.commit()
    feed = url_for("circles.member_calendar", token=token, _external=True)
    return render_template(
        "circles/calendar.html",
        feed=feed,
        webcal="webcal://" + feed.split("://", 1)[1],
        items=[s for s in circles.member_feed(db, current_member()) if not circles.has_ended(s)],
    )


@bp.get("/circles/calendar/<token>.ics")
def member_calendar(token: str) -> ResponseReturnValue:
    """A member's sessions, found by the secret in the address (no login cookie needed)."""
    db = get_session()
    member = circles.member_by_token(db, token)
    items = circles.member_feed(db, member)
    return _ics(f"{member.display_name}'s learning circles", items, "my-circles.ics")
