"""People: the member directory, profiles and one's own settings."""

from __future__ import annotations

import math

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_required, login_user

from forum.db import get_session
from forum.forms.accounts import PasswordForm, ProfileForm
from forum.models import User
from forum.services import accounts, leaderboards, skills
from forum.services.errors import ValidationError
from forum.web import current_member, page_number, password_policy

bp = Blueprint("users", __name__)


@bp.get("/users")
def index() -> ResponseReturnValue:
    """Members by name, filterable by department and a name search."""
    db = get_session()
    page = page_number()
    department = request.args.get("department") or None
    query = (request.args.get("q") or "").strip()[:80] or None
    per_page = int(current_app.config["USERS_PER_PAGE"])
    members, total = accounts.list_members(
        db, department=department, query=query, page=page, per_page=per_page
    )
    return render_template(
        "users/index.html",
        members=members,
        total=total,
        page=page,
        pages=max(1, math.ceil(total / per_page)),
        department=department,
        query=query,
        departments=accounts.departments(db),
    )


@bp.get("/users/<username>")
def profile(username: str) -> ResponseReturnValue:
    """A member's public profile."""
    db = get_session()
    user = accounts.get_by_username(db, username)
    signed_in = current_user._get_current_object()
    viewer = signed_in if isinstance(signed_in, User) else None
    recognition = leaderboards.profile(db, user, viewer=viewer)
    programs = skills.profile_programs(db, user)
    return render_template(
        "users/profile.html", user=user, recognition=recognition, programs=programs
    )


@bp.route("/settings/profile", methods=["GET", "POST"])
@login_required
def edit_profile() -> ResponseReturnValue:
    """Edit one's own profile."""
    user = current_member()
    form = ProfileForm(obj=user)
    db = get_session()
    if request.method == "GET":
        form.show_skills(skills.skills_of(db, user))
    if not form.validate_on_submit():
        status = 400 if request.method == "POST" else 200
        return render_template("users/edit_profile.html", form=form), status
    try:
        accounts.update_profile(db, user, form.profile())
        if (choices := form.skills()) is not None:
            skills.set_skills(db, user, **choices)
    except ValidationError as exc:
        db.rollback()
        form.add_errors(exc.errors)
        return render_template("users/edit_profile.html", form=form), 400
    db.commit()
    flash("Your profile is saved.", "success")
    return redirect(url_for("users.profile", username=user.username))


@bp.route("/settings/password", methods=["GET", "POST"])
@login_required
def change_password() -> ResponseReturnValue:
    """Change one's password; other devices are logged out."""
    user = current_member()
    form = PasswordForm()
    if not form.validate_on_submit():
        status = 400 if request.method == "POST" else 200
        return render_template("users/change_password.html", form=form), status
    db = get_session()
    try:
        accounts.change_password(
            db,
            user,
            current=form.current_password.data or "",
            new=form.new_password.data or "",
            policy=password_policy(),
        )
    except ValidationError as exc:
        form.add_errors(exc.errors)
        return render_template("users/change_password.html", form=form), 400
    db.commit()
    login_user(user)  # the session id changed with the token; keep this device logged in
    flash("Your password is changed. Other devices have been logged out.", "success")
    return redirect(url_for("users.profile", username=user.username))
