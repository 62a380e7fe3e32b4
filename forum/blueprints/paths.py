"""Learning paths: the list, a path's page, curating its steps, enrolling and ticking steps."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import login_required
from sqlalchemy.orm import Session

from forum.db import get_session
from forum.forms.paths import OnboardingForm, PathForm, StepForm
from forum.services import departments, paths
from forum.services.errors import Forbidden, ValidationError
from forum.web import current_member, current_viewer, submit

bp = Blueprint("paths", __name__)


@bp.get("/paths")
def index() -> ResponseReturnValue:
    """Every learning path, with my progress in the ones I follow."""
    db = get_session()
    me = current_viewer()
    return render_template(
        "paths/index.html",
        summaries=paths.list_paths(db, viewer=me),
        onboarding=paths.onboarding_path_for(db, me) if me is not None else None,
    )


@bp.route("/paths/new", methods=["GET", "POST"])
@login_required
def create() -> ResponseReturnValue:
    """Start a new path."""
    form = PathForm()
    if request.method == "GET":
        return render_template("paths/edit.html", form=form, path=None)
    if not form.validate_on_submit():
        return render_template("paths/edit.html", form=form, path=None), 400
    db = get_session()
    path = submit(
        form,
        lambda: render_template("paths/edit.html", form=form, path=None),
        paths.create_path,
        db,
        owner=current_member(),
        title=form.title.data or "",
        description_md=form.description.data or "",
    )
    db.commit()
    flash("Your path is created: now add its steps.", "success")
    return redirect(url_for("paths.detail", path_id=path.id))


def _page(
    path_id: int, status: int = 200, *, step_form: StepForm | None = None
) -> ResponseReturnValue:
    db = get_session()
    me = current_viewer()
    page = paths.path_page(db, path_id, viewer=me)
    return render_template(
        "paths/detail.html",
        page=page,
        path=page.path,
        can_curate=paths.can_curate(me, page.path),
        step_form=step_form or StepForm(formdata=None),
        onboarding_form=_onboarding_form(db, page.path.onboarding_department),
    ), status


def _onboarding_form(db: Session, department: str | None) -> OnboardingForm:
    form = OnboardingForm(formdata=None, department=department or "")
    form.department.offer(departments.names(db), none="None (not an onboarding path)")
    return form


@bp.get("/paths/<int:path_id>")
def detail(path_id: int) -> ResponseReturnValue:
    """A path: description, ordered steps, my progress."""
    return _page(path_id)


@bp.route("/paths/<int:path_id>/edit", methods=["GET", "POST"])
@login_required
def edit(path_id: int) -> ResponseReturnValue:
    """Change a path's title and description (owner or moderator)."""
    db = get_session()
    path = paths.get_path(db, path_id)
    if not paths.can_curate(current_member(), path):
        raise Forbidden("Only the path's owner or a moderator can change it.")
    form = PathForm(data={"title": path.title, "description": path.description_md})
    if request.method == "GET":
        return render_template("paths/edit.html", form=form, path=path)
    form = PathForm()
    if not form.validate_on_submit():
        return render_template("paths/edit.html", form=form, path=path), 400
    submit(
        form,
        lambda: render_template("paths/edit.html", form=form, path=path),
        paths.update_path,
        db,
        path,
        actor=current_member(),
        title=form.title.data or "",
        description_md=form.description.data or "",
    )
    db.commit()
    flash("The path is saved.", "success")
    return redirect(url_for("paths.detail", path_id=path.id))


@bp.post("/paths/<int:path_id>/delete")
@login_required
def delete(path_id: int) -> ResponseReturnValue:
    """Delete a path (owner or moderator)."""
    db = get_session()
    path = paths.get_path(db, path_id)
    paths.delete_path(db, path, actor=current_member())
    db.commit()
    flash("The path is deleted.", "success")
    return redirect(url_for("paths.index"))


@bp.post("/paths/<int:path_id>/steps")
@login_required
def add_step(path_id: int) -> ResponseReturnValue:
    """Append an article or question by address or number."""
    db = get_session()
    path = paths.get_path(db, path_id)
    me = current_member()
    if not paths.can_curate(me, path):
        raise Forbidden("Only the path's owner or a moderator can change it.")
    form = StepForm()
    if not form.validate_on_submit():
        return _page(path_id, 400, step_form=form)
    submit(
        form,
        lambda: _page(path_id, step_form=form),
        paths.add_step,
        db,
        path,
        actor=me,
        reference=form.reference.data or "",
    )
    db.commit()
    return redirect(url_for("paths.detail", path_id=path.id, _anchor="steps"))


@bp.post("/paths/<int:path_id>/steps/<int:step_id>/move")
@login_required
def move_step(path_id: int, step_id: int) -> ResponseReturnValue:
    """Move a step up or down."""
    db = get_session()
    path = paths.get_path(db, path_id)
    direction = request.form.get("direction", "")
    if direction not in ("up", "down"):
        abort(400, "Move a step up or down.")
    paths.move_step(db, path, actor=current_member(), step_id=step_id, direction=direction)
    db.commit()
    return redirect(url_for("paths.detail", path_id=path.id, _anchor=f"step-{step_id}"))


@bp.post("/paths/<int:path_id>/steps/<int:step_id>/remove")
@login_required
def remove_step(path_id: int, step_id: int) -> ResponseReturnValue:
    """Take a step out of the path."""
    db = get_session()
    path = paths.get_path(db, path_id)
    paths.remove_step(db, path, actor=current_member(), step_id=step_id)
    db.commit()
    return redirect(url_for("paths.detail", path_id=path.id, _anchor="steps"))


@bp.post("/paths/<int:path_id>/steps/<int:step_id>/done")
@login_required
def mark_step(path_id: int, step_id: int) -> ResponseReturnValue:
    """Tick a step done (done=1) or not (done=0); enrolled members only."""
    db = get_session()
    path = paths.get_path(db, path_id)
    done = request.form.get("done")
    if done not in ("0", "1"):
        abort(400, "Say whether the step is done.")
    progress = paths.mark_step(db, path, user=current_member(), step_id=step_id, done=done == "1")
    db.commit()
    if progress.complete and done == "1":
        flash(f"You finished “{path.title}”. Well done!", "success")
    return redirect(url_for("paths.detail", path_id=path.id, _anchor=f"step-{step_id}"))


@bp.post("/paths/<int:path_id>/enrol")
@login_required
def enrol(path_id: int) -> ResponseReturnValue:
    """Enrol in a path."""
    db = get_session()
    path = paths.get_path(db, path_id)
    paths.enrol(db, path, user=current_member())
    db.commit()
    flash("You are enrolled: tick each step when you've done it.", "success")
    return redirect(url_for("paths.detail", path_id=path.id))


@bp.post("/paths/<int:path_id>/leave")
@login_required
def leave(path_id: int) -> ResponseReturnValue:
    """Leave a path."""
    db = get_session()
    path = paths.get_path(db, path_id)
    paths.leave(db, path, user=current_member())
    db.commit()
    flash("You left the path.", "success")
    return redirect(url_for("paths.detail", path_id=path.id))


@bp.post("/paths/<int:path_id>/onboarding")
@login_required
def set_onboarding(path_id: int) -> ResponseReturnValue:
    """Make the path a department's onboarding path, or none (admins)."""
    db = get_session()
    path = paths.get_path(db, path_id)
    form = OnboardingForm()
    if not form.validate_on_submit():
        abort(400, "Choose a department from the list.")
    try:
        paths.set_onboarding(db, path, actor=current_member(), department=form.department.data)
    except ValidationError as exc:
        abort(400, " ".join(exc.messages))
    db.commit()
    if path.onboarding_department:
        flash(f"New members of {path.onboarding_department} will see this path.", "success")
    else:
        flash("This path is no longer an onboarding path.", "success")
    return redirect(url_for("paths.detail", path_id=path.id))
