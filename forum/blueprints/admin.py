"""Administration: members and their roles."""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_required

from forum.db import get_session
from forum.forms.accounts import RoleForm
from forum.models import Role, User
from forum.services import accounts
from forum.services.errors import NotFound, ValidationError
from forum.web import current_member, page_number

bp = Blueprint("admin", __name__, url_prefix="/admin")


def admin_required(view: Callable[..., Any]) -> Callable[..., Any]:
    """Only admins get past; others see 403."""

    @wraps(view)
    @login_required
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if not current_user.is_admin:
            abort(403)
        return view(*args, **kwargs)

    return wrapper


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
    user = db.get(User, user_id)
    if user is None:
        raise NotFound("No such member.")
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
