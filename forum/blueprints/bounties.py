"""Bounties: starting one on a question, awarding it to an answer, the featured list."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import login_required

from forum.db import get_session
from forum.forms.bounties import BountyForm
from forum.models import Answer, Question
from forum.services import bounties, posts, questions
from forum.services.errors import NotFound
from forum.web import current_member, form_checks_csrf, question_url, submit

bp = Blueprint("bounties", __name__)


def _render_start(form: BountyForm, question: Question, status: int = 200) -> ResponseReturnValue:
    member = current_member()
    return (
        render_template(
            "questions/bounty.html",
            form=form,
            question=question,
            blocked=bounties.why_not_start(get_session(), question, member),
            affordable=bounties.affordable_amounts(member),
        ),
        status,
    )


@bp.route("/questions/<int:question_id>/bounty", methods=["GET", "POST"])
@login_required
@form_checks_csrf
def start(question_id: int) -> ResponseReturnValue:
    """Offer some of one's reputation on a question, for a week."""
    db = get_session()
    member = current_member()
    question = questions.get(db, question_id, viewer=member)
    if question.is_deleted:
        raise NotFound("There is no such question.")
    form = BountyForm()
    if request.method == "GET":
        if not form.amount.data:
            form.amount.data = str(bounties.MIN_AMOUNT)
        return _render_start(form, question)
    if not form.validate_on_submit():
        return _render_start(form, question, 400)
    bounty = submit(
        form,
        lambda: _render_start(form, questions.get(db, question_id, viewer=member)),
        bounties.start,
        db,
        offerer=member,
        question_id=question_id,
        amount=form.amount.data,
        reason=form.reason.data,
    )
    db.commit()
    flash(f"Your +{bounty.amount} bounty is on. It runs for a week.", "success")
    return redirect(question_url(question))


@bp.route("/answers/<int:answer_id>/bounty", methods=["GET", "POST"])
@login_required
def award(answer_id: int) -> ResponseReturnValue:
    """Award one's open bounty to an answer, after a confirmation page."""
    db = get_session()
    member = current_member()
    if request.method == "GET":
        answer = db.get(Answer, answer_id)
        if answer is None or answer.is_deleted:
            raise NotFound("There is no such answer.")
        question = questions.get(db, answer.parent_id or 0, viewer=member)
        bounty = bounties.open_bounty(db, question.id)
        if bounty is None or bounty.offerer_id != member.id:
            return redirect(question_url(question) + f"#post-{answer.id}")
        return render_template(
            "questions/award_bounty.html",
            question=question,
            answer=answer,
            bounty=bounty,
            author=posts.author_label(answer),
        )
    bounty = bounties.award(db, actor=member, answer_id=answer_id)
    db.commit()
    flash(f"You awarded your +{bounty.amount} bounty. Thank you!", "success")
    return redirect(
        url_for("questions.detail", question_id=bounty.question_id) + f"#post-{answer_id}"
    )
