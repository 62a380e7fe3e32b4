"""Administration: members and their roles, the department list, and the email deliveries."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy import select

from forum.db import get_session
from forum.forms.accounts import RoleForm
from forum.forms.departments import DepartmentForm, MergeForm, RemoveForm
from forum.models import Department, Role, User
from forum.services import accounts, departments, mailqueue
from forum.services.errors import ValidationError
from forum.web import admin_required, current_member, get_or_404, page_number, submit

bp = Blueprint("admin", __name__, url_prefix="/admin")


@bp.get("/users")
@admin_required
def users() -> ResponseReturnValue:
    """Every member with their role, and a form to change it."""
    db = get_session()
    page = page_number()
    per_page = int(current_app.config["USERS_PER_PAGE"])
    query = (request.args.get("q") or "").strip()[:80] or None
    members, total = accounts.list_members(db, query=query, page=page, per_page=per_page)
    forms = {m.id: RoleForm(formdata=None, role=m.role.value, prefix=f"m{m.id}") for m in members}
    return render_template(
        "admin/users.html",
        members=members,
        forms=forms,
        total=total,
        page=page,
        pages=max(1, math.ceil(total / per_page)),
        query=query,
    )


@bp.post("/users/<int:user_id>/role")
@admin_required
def set_role(user_id: int) -> ResponseReturnValue:
    """Change one member's role."""
    db = get_session()
    user = get_or_404(User, user_id, "No such member.")
    form = RoleForm(prefix=f"m{user_id}")
    if not form.validate_on_submit():
        abort(400, "Choose member, moderator or admin.")
    try:
        accounts.set_role(db, actor=current_member(), user=user, role=Role(form.role.data))
    except ValidationError as exc:
        flash(" ".join(exc.errors.get("role", [])), "error")
        return redirect(url_for("admin.users"))
    db.commit()
    flash(f"{user.display_name} is now {user.role.value}.", "success")
    return redirect(url_for("admin.users"))


@dataclass
class _DepartmentForms:
    """The department page's forms: adding one, and per department renaming and merging."""

    add: DepartmentForm
    rename: dict[int, DepartmentForm] = field(default_factory=dict)
    merge: dict[int, MergeForm] = field(default_factory=dict)
    remove: RemoveForm = field(default_factory=lambda: RemoveForm(formdata=None))


def _department_page(forms: _DepartmentForms | None = None) -> str:
    """The list with its forms; forms given (the one just sent) keep what was typed."""
    db = get_session()
    rows = departments.listing(db)
    forms = forms or _DepartmentForms(add=DepartmentForm(formdata=None))
    for row in rows:
        d = row.department
        forms.rename.setdefault(
            d.id, DepartmentForm(formdata=None, name=d.name, prefix=f"rename{d.id}")
        )
        merge = forms.merge.setdefault(d.id, MergeForm(formdata=None, prefix=f"merge{d.id}"))
        merge.into.choices = [(o.department.id, o.department.name) for o in rows if o != row]
    return render_template("admin/departments.html", rows=rows, forms=forms)


@bp.get("/departments")
@admin_required
def departments_page() -> ResponseReturnValue:
    """The departments members pick from: add, rename, merge and remove them."""
    return _department_page()


@bp.post("/departments")
@admin_required
def add_department() -> ResponseReturnValue:
    """Add a department."""
    db = get_session()
    form = DepartmentForm()
    forms = _DepartmentForms(add=form)
    if not form.validate_on_submit():
        return _department_page(forms), 400
    added = submit(
        form,
        lambda: _department_page(forms),
        departments.create,
        db,
        actor=current_member(),
        name=form.name.data or "",
    )
    db.commit()
    flash(f"{added.name} is on the list.", "success")
    return redirect(url_for("admin.departments_page"))


@bp.post("/departments/<int:department_id>/rename")
@admin_required
def rename_department(department_id: int) -> ResponseReturnValue:
    """Rename a department, for its members and onboarding path too."""
    db = get_session()
    department = get_or_404(Department, department_id, "No such department.")
    form = DepartmentForm(prefix=f"rename{department_id}")
    forms = _DepartmentForms(add=DepartmentForm(formdata=None), rename={department_id: form})
    if not form.validate_on_submit():
        return _department_page(forms), 400
    old = department.name
    submit(
        form,
        lambda: _department_page(forms),
        departments.rename,
        db,
        department,
        actor=current_member(),
        name=form.name.data or "",
    )
    db.commit()
    flash(f"{old} is now called {department.name}.", "success")
    return redirect(url_for("admin.departments_page"))


@bp.post("/departments/<int:department_id>/merge")
@admin_required
def merge_department(department_id: int) -> ResponseReturnValue:
    """Fold a department into another: its members move there."""
    db = get_session()
    department = get_or_404(Department, department_id, "No such department.")
    form = MergeForm(prefix=f"merge{department_id}")
    form.into.choices = [(d.id, d.name) for d in db.scalars(select(Department))]
    forms = _DepartmentForms(add=DepartmentForm(formdata=None), merge={department_id: form})
    if not form.validate_on_submit():
        return _department_page(forms), 400
    into = get_or_404(Department, form.into.data, "No such department.")
    source = department.name
    submit(
        form,
        lambda: _department_page(forms),
        departments.merge,
        db,
        department,
        actor=current_member(),
        into=into,
    )
    db.commit()
    flash(f"{source} is merged into {into.name}.", "success")
    return redirect(url_for("admin.departments_page"))


@bp.post("/departments/<int:department_id>/remove")
@admin_required
def remove_department(department_id: int) -> ResponseReturnValue:
    """Take a department off the list; its members are left without one."""
    db = get_session()
    department = get_or_404(Department, department_id, "No such department.")
    if not RemoveForm().validate_on_submit():
        abort(400, "The form expired; please try again.")
    name = department.name
    departments.remove(db, department, actor=current_member())
    db.commit()
    flash(f"{name} is off the list; its members have no department now.", "success")
    return redirect(url_for("admin.departments_page"))


@bp.get("/mail")
@admin_required
def mail() -> ResponseReturnValue:
    """Recent emails of the instant-email queue: state, attempts and the last error."""
    db = get_session()
    state = request.args.get("state") or None
    if state not in (None, *mailqueue.STATES):
        abort(400, "Unknown state.")
    return render_template(
        "admin/mail.html",
        deliveries=mailqueue.recent(db, state=state),
        counts=mailqueue.counts(db),
        state=state,
        configured=bool(current_app.config.get("SMTP_URL")),
    )
