"""Mentoring: suggested mentors, requests, pairings with goals and check-ins, and buddies."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import login_required

from forum.db import get_session
from forum.forms.mentoring import (
    BuddyForm,
    CheckInForm,
    EndForm,
    GoalForm,
    RequestForm,
    RespondForm,
)
from forum.models import Mentorship, User
from forum.services import mentoring, paths, skills
from forum.services.errors import NotFound
from forum.web import current_member, get_or_404, submit

bp = Blueprint("mentoring", __name__)


@bp.get("/mentoring")
@login_required
def index() -> ResponseReturnValue:
    """My requests and pairings, mentors suggested for what I want to learn, my buddy."""
    db = get_session()
    me = current_member()
    overview = mentoring.overview(db, me)
    return render_template(
        "mentoring/index.html",
        overview=overview,
        skills=skills.skills_of(db, me),
        onboarding=paths.onboarding_path_for(db, me) if overview.buddy is not None else None,
        can_pair=mentoring.can_pair(me),
        availability=skills.AVAILABILITY_LABELS,
    )


def _mentor(mentor_id: int) -> User:
    mentor = get_or_404(User, mentor_id, "There is no such member.")
    if not mentor.is_active:
        raise NotFound("There is no such member.")
    return mentor


@bp.route("/mentoring/request/<int:mentor_id>", methods=["GET", "POST"])
@login_required
def request_mentor(mentor_id: int) -> ResponseReturnValue:
    """Ask a colleague to be one's mentor."""
    mentor = _mentor(mentor_id)
    form = RequestForm()
    if request.method == "GET":
        form.tag.data = (request.args.get("tag") or "")[:35]
        return render_template("mentoring/request.html", form=form, mentor=mentor)
    if not form.validate_on_submit():
        return render_template("mentoring/request.html", form=form, mentor=mentor), 400
    db = get_session()
    mentorship = submit(
        form,
        lambda: render_template("mentoring/request.html", form=form, mentor=mentor),
        mentoring.request_mentor,
        db,
        mentee=current_member(),
        mentor_id=mentor.id,
        goal=form.goal.data or "",
        tag_name=form.tag.data or None,
    )
    db.commit()
    flash(f"Your request is on its way to {mentor.display_name}.", "success")
    return redirect(url_for("mentoring.detail", mentorship_id=mentorship.id))


def _detail(mentorship: Mentorship, status: int = 200, **forms: object) -> ResponseReturnValue:
    me = current_member()
    context = {
        "respond_form": RespondForm(formdata=None),
        "goal_form": GoalForm(formdata=None),
        "checkin_form": CheckInForm(formdata=None),
        "end_form": EndForm(formdata=None),
        **forms,
    }
    return render_template(
        "mentoring/detail.html",
        mentorship=mentorship,
        is_mentor=me.id == mentorship.mentor_id,
        is_participant=mentorship.involves(me),
        feedback_due=mentoring.feedback_due(mentorship, me),
        **context,
    ), status


def _load(mentorship_id: int) -> Mentorship:
    return mentoring.get_mentorship(get_session(), mentorship_id, viewer=current_member())


@bp.get("/mentoring/<int:mentorship_id>")
@login_required
def detail(mentorship_id: int) -> ResponseReturnValue:
    """A request or pairing: goal, shared goals, check-ins, feedback."""
    return _detail(_load(mentorship_id))


@bp.post("/mentoring/<int:mentorship_id>/respond")
@login_required
def respond(mentorship_id: int) -> ResponseReturnValue:
    """The mentor accepts or declines."""
    mentorship = _load(mentorship_id)
    form = RespondForm()
    decision = request.form.get("decision")
    if decision not in ("accept", "decline"):
        abort(400, "Choose accept or decline.")
    if not form.validate_on_submit():
        return _detail(mentorship, 400, respond_form=form)
    db = get_session()
    submit(
        form,
        lambda: _detail(_load(mentorship_id), respond_form=form),
        mentoring.respond,
        db,
        mentorship,
        actor=current_member(),
        accept=decision == "accept",
        note=form.note.data or "",
    )
    db.commit()
    flash("You accepted the request." if decision == "accept" else "You declined.", "success")
    return redirect(url_for("mentoring.detail", mentorship_id=mentorship.id))


@bp.post("/mentoring/<int:mentorship_id>/goals")
@login_required
def add_goal(mentorship_id: int) -> ResponseReturnValue:
    """Add a shared goal."""
    mentorship = _load(mentorship_id)
    form = GoalForm()
    if not form.validate_on_submit():
        return _detail(mentorship, 400, goal_form=form)
    db = get_session()
    submit(
        form,
        lambda: _detail(_load(mentorship_id), goal_form=form),
        mentoring.add_goal,
        db,
        mentorship,
        actor=current_member(),
        text=form.text.data or "",
    )
    db.commit()
    return redirect(url_for("mentoring.detail", mentorship_id=mentorship.id, _anchor="goals"))


@bp.post("/mentoring/<int:mentorship_id>/goals/<int:goal_id>")
@login_required
def set_goal(mentorship_id: int, goal_id: int) -> ResponseReturnValue:
    """Mark a shared goal reached or not."""
    mentorship = _load(mentorship_id)
    done = request.form.get("done")
    if done not in ("0", "1"):
        abort(400, "Say whether the goal is reached.")
    db = get_session()
    mentoring.set_goal_done(db, mentorship, goal_id, actor=current_member(), done=done == "1")
    db.commit()
    return redirect(url_for("mentoring.detail", mentorship_id=mentorship.id, _anchor="goals"))


@bp.post("/mentoring/<int:mentorship_id>/checkins")
@login_required
def add_checkin(mentorship_id: int) -> ResponseReturnValue:
    """Record a check-in note."""
    mentorship = _load(mentorship_id)
    form = CheckInForm()
    if not form.validate_on_submit():
        return _detail(mentorship, 400, checkin_form=form)
    db = get_session()
    checkin = submit(
        form,
        lambda: _detail(_load(mentorship_id), checkin_form=form),
        mentoring.add_checkin,
        db,
        mentorship,
        actor=current_member(),
        body_md=form.body.data or "",
    )
    db.commit()
    return redirect(
        url_for("mentoring.detail", mentorship_id=mentorship.id, _anchor=f"checkin-{checkin.id}")
    )


@bp.post("/mentoring/<int:mentorship_id>/end")
@login_required
def end(mentorship_id: int) -> ResponseReturnValue:
    """End the pairing with feedback (or add one's feedback afterwards)."""
    mentorship = _load(mentorship_id)
    form = EndForm()
    if not form.validate_on_submit():
        return _detail(mentorship, 400, end_form=form)
    db = get_session()
    submit(
        form,
        lambda: _detail(_load(mentorship_id), end_form=form),
        mentoring.end,
        db,
        mentorship,
        actor=current_member(),
        rating=int(form.rating.data or 0),
        feedback=form.feedback.data or "",
    )
    db.commit()
    flash("Thank you for your feedback.", "success")
    return redirect(url_for("mentoring.detail", mentorship_id=mentorship.id))


# --- buddies ----------------------------------------------------------------------------------


def _pairing_page(form: BuddyForm, status: int = 200) -> ResponseReturnValue:
    return render_template(
        "mentoring/buddies.html", form=form, pairs=mentoring.buddy_pairs(get_session())
    ), status


@bp.route("/mentoring/buddies", methods=["GET", "POST"])
@login_required
def buddies() -> ResponseReturnValue:
    """Pair new members with buddies (admins and people partners)."""
    me = current_member()
    if not mentoring.can_pair(me):
        abort(403, "Only admins and people partners pair buddies.")
    form = BuddyForm()
    if request.method == "GET":
        form.newcomer.data = (request.args.get("newcomer") or "")[:33]
        return _pairing_page(form)
    if not form.validate_on_submit():
        return _pairing_page(form, 400)
    db = get_session()
    pair = submit(
        form,
        lambda: _pairing_page(form),
        mentoring.assign_buddy,
        db,
        actor=me,
        newcomer_username=form.newcomer.data or "",
        buddy_username=form.buddy.data or "",
    )
    db.commit()
    flash(f"{pair.buddy.display_name} is now {pair.newcomer.display_name}'s buddy.", "success")
    return redirect(url_for("mentoring.buddies"))


@bp.post("/mentoring/buddies/<int:pair_id>/remove")
@login_required
def remove_buddy(pair_id: int) -> ResponseReturnValue:
    """End a buddy pairing."""
    db = get_session()
    mentoring.remove_buddy(db, actor=current_member(), pair_id=pair_id)
    db.commit()
    flash("The buddy pairing has ended.", "success")
    return redirect(url_for("mentoring.buddies"))


@bp.post("/mentoring/people-partners/<int:user_id>")
@login_required
def set_people_partner(user_id: int) -> ResponseReturnValue:
    """An admin lets a member pair buddies (or stops them)."""
    db = get_session()
    user = get_or_404(User, user_id, "No such member.")
    value = request.form.get("value")
    if value not in ("0", "1"):
        abort(400, "Say whether the member is a people partner.")
    mentoring.set_people_partner(db, actor=current_member(), user=user, value=value == "1")
    db.commit()
    state = "is now" if value == "1" else "is no longer"
    flash(f"{user.display_name} {state} a people partner.", "success")
    return redirect(url_for("admin.users"))
