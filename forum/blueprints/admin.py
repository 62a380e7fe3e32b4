"""Administration: members (roles, deactivation, claim links), the department list and the email
deliveries."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy import select
from sqlalchemy.orm import Session

from forum.db import get_session
from forum.forms.accounts import ClaimLinkForm, ConfirmForm, RoleForm
from forum.forms.departments import DepartmentForm, MergeForm, RemoveForm
from forum.models import Department, Role, User
from forum.services import accounts, claims, departments, mailqueue
from forum.services.errors import ValidationError
from forum.web import (
    admin_required,
    current_member,
    get_or_404,
    page_number,
    site_url_for,
    submit,
)

bp = Blueprint("admin", __name__, url_prefix="/admin")


def _filters() -> tuple[str | None, Role | None, str]:
    """The list's search text, role and state from the query string (a bad one is a 400)."""
    query = (request.args.get("q") or "").strip()[:80] or None
    role_name = request.args.get("role") or ""
    if role_name and role_name not in {r.value for r in Role}:
        abort(400, "Choose member, moderator or admin.")
    state = request.args.get("state") or "all"
    if state not in accounts.STATES:
        abort(400, "Choose active, deactivated or all members.")
    return query, Role(role_name) if role_name else None, state


@bp.get("/users")
@admin_required
def users() -> ResponseReturnValue:
    """Every member (deactivated ones too) with their role, state and last visit: searched by
    name, username or email, filtered by role and state."""
    db = get_session()
    page = page_number()
    per_page = int(current_app.config["USERS_PER_PAGE"])
    query, role, state = _filters()
    members, total = accounts.admin_list(
        db, query=query, role=role, state=state, page=page, per_page=per_page
    )
    forms = {m.id: RoleForm(formdata=None, role=m.role.value, prefix=f"m{m.id}") for m in members}
    return render_template(
        "admin/users.html",
        members=members,
        forms=forms,
        total=total,
        page=page,
        pages=max(1, math.ceil(total / per_page)),
        query=query,
        role=role.value if role else "",
        state=state,
        roles=list(Role),
        states=accounts.STATES,
    )


@bp.post("/users/<int:user_id>/role")
@admin_required
def set_role(user_id: int) -> ResponseReturnValue:
    """Change one member's role (audited)."""
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


def _member_page(
    member: User, *, claim_form: ClaimLinkForm | None = None, link: str | None = None
) -> str:
    return render_template(
        "admin/member.html",
        member=member,
        claimable=claims.claimable(member),
        claim_form=claim_form or ClaimLinkForm(formdata=None, email=member.email),
        link=link,
    )


@bp.get("/users/<int:user_id>")
@admin_required
def member(user_id: int) -> ResponseReturnValue:
    """One member as admins see them: state, last visit, and for an imported member the
    form that sends a claim link."""
    return _member_page(get_or_404(User, user_id, "No such member."))


_ACCOUNT_CHANGES: dict[str, tuple[Callable[[Session, User | None, User], None], str]] = {
    "deactivate": (accounts.deactivate, "{name} is deactivated: every session has ended."),
    "reactivate": (accounts.reactivate, "{name} can log in again."),
}


@bp.route("/users/<int:user_id>/<any(deactivate, reactivate):change>", methods=["GET", "POST"])
@admin_required
def change_state(user_id: int, change: str) -> ResponseReturnValue:
    """Deactivate or reactivate a member, after a confirmation page (audited)."""
    db = get_session()
    user = get_or_404(User, user_id, "No such member.")
    form = ConfirmForm()
    if request.method == "GET" or not form.validate_on_submit():
        status = 400 if request.method == "POST" else 200
        return render_template(
            "admin/confirm_state.html", member=user, change=change, form=form
        ), status
    service, message = _ACCOUNT_CHANGES[change]
    try:
        service(db, current_member(), user)
    except ValidationError as exc:
        db.rollback()
        flash(" ".join(exc.messages), "error")
        return redirect(url_for("admin.member", user_id=user_id))
    db.commit()
    flash(message.format(name=user.display_name), "success")
    return redirect(url_for("admin.member", user_id=user_id))


@bp.post("/users/<int:user_id>/claim")
@admin_required
def send_claim_link(user_id: int) -> ResponseReturnValue:
    """Set an imported member's email and send them a claim link (audited).

    The email is queued with the others and leaves after the commit (retried when the mail
    server fails; never in the request); without a mail server the page shows the link to pass
    on by hand.
    """
    db = get_session()
    user = get_or_404(User, user_id, "No such member.")
    form = ClaimLinkForm()
    if not form.validate_on_submit():
        return _member_page(user, claim_form=form), 400
    token = submit(
        form,
        lambda: _member_page(user, claim_form=form),
        claims.issue,
        db,
        actor=current_member(),
        member=user,
        email=form.email.data or "",
        secret_key=str(current_app.secret_key),
    )
    link = site_url_for("auth.claim", token=token)
    if current_app.config.get("SMTP_URL"):
        subject, text = claims.compose(user, link)
        mailqueue.enqueue_account(
            db,
            kind=mailqueue.CLAIM,
            to_address=str(user.email),
            recipient=user,
            subject=subject,
            text=text,
        )
        db.commit()
        flash(
            f"A claim link is on its way to {user.email} (its delivery is listed under "
            "Email deliveries).",
            "success",
        )
        return redirect(url_for("admin.member", user_id=user_id))
    db.commit()
    flash("No mail server is set up (FORUM_SMTP_URL): pass this link on yourself.", "info")
    return _member_page(user, link=link)


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
