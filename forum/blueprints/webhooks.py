"""Webhooks (admins): register, change and remove them; their deliveries, sent again on demand."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from forum.db import get_session
from forum.forms.webhooks import ConfirmForm, WebhookEditForm, WebhookForm
from forum.models import Webhook
from forum.services import webhooks
from forum.web import admin_required, current_member, submit

bp = Blueprint("webhooks", __name__, url_prefix="/admin/webhooks")


def _data(form: WebhookForm) -> webhooks.WebhookData:
    return webhooks.WebhookData(
        url=form.url.data or "",
        secret=form.secret.data or "",
        events=list(form.events.data or []),
        format=form.format.data or "",
        active=bool(form.active.data),
    )


@bp.get("")
@admin_required
def index() -> ResponseReturnValue:
    """Every webhook, with a link to its deliveries."""
    return render_template(
        "webhooks/index.html",
        hooks=webhooks.list_webhooks(get_session()),
        formats=webhooks.FORMATS,
    )


def _form_page(form: WebhookForm, webhook: Webhook | None = None) -> str:
    return render_template(
        "webhooks/form.html", form=form, webhook=webhook, formats=webhooks.FORMATS
    )


@bp.route("/new", methods=["GET", "POST"])
@admin_required
def new() -> ResponseReturnValue:
    """Register a webhook."""
    form = WebhookForm()
    if request.method == "GET":
        return _form_page(form)
    if not form.validate_on_submit():
        return _form_page(form), 400
    db = get_session()
    webhook = submit(
        form,
        lambda: _form_page(form),
        webhooks.create,
        db,
        actor=current_member(),
        data=_data(form),
    )
    db.commit()
    flash(f"Webhook added: {webhook.url}", "success")
    return redirect(url_for("webhooks.detail", webhook_id=webhook.id))


def _webhook(webhook_id: int) -> Webhook:
    return webhooks.get(get_session(), webhook_id)


@bp.get("/<int:webhook_id>")
@admin_required
def detail(webhook_id: int) -> ResponseReturnValue:
    """A webhook's settings and its latest deliveries with every attempt."""
    db = get_session()
    webhook = _webhook(webhook_id)
    deliveries = webhooks.recent_deliveries(db, webhook)
    return render_template(
        "webhooks/detail.html",
        webhook=webhook,
        deliveries=deliveries,
        attempts=webhooks.attempts_of(db, [d.id for d in deliveries]),
        events=webhooks.EVENTS,
        formats=webhooks.FORMATS,
        form=ConfirmForm(formdata=None),
    )


@bp.route("/<int:webhook_id>/edit", methods=["GET", "POST"])
@admin_required
def edit(webhook_id: int) -> ResponseReturnValue:
    """Change a webhook's address, secret, events, format or state."""
    db = get_session()
    webhook = _webhook(webhook_id)
    if request.method == "GET":
        form = WebhookEditForm(
            formdata=None,
            url=webhook.url,
            events=webhook.event_names,
            format=webhook.format,
            active=webhook.active,
        )
        return _form_page(form, webhook)
    form = WebhookEditForm()
    if not form.validate_on_submit():
        return _form_page(form, webhook), 400
    submit(
        form,
        lambda: _form_page(form, webhook),
        webhooks.update,
        db,
        webhook,
        actor=current_member(),
        data=_data(form),
    )
    db.commit()
    flash("Webhook saved.", "success")
    return redirect(url_for("webhooks.detail", webhook_id=webhook.id))


@bp.route("/<int:webhook_id>/delete", methods=["GET", "POST"])
@admin_required
def delete(webhook_id: int) -> ResponseReturnValue:
    """Remove a webhook after a confirmation; its deliveries go with it."""
    db = get_session()
    webhook = _webhook(webhook_id)
    form = ConfirmForm()
    if request.method == "GET":
        return render_template("webhooks/delete.html", webhook=webhook, form=form, error=None)
    if not form.validate_on_submit() or request.form.get("confirm") != "yes":
        error = "Tick the box to confirm that the webhook should go."
        return render_template("webhooks/delete.html", webhook=webhook, form=form, error=error), 400
    url = webhook.url
    webhooks.delete(db, webhook, actor=current_member())
    db.commit()
    flash(f"Webhook removed: {url}", "success")
    return redirect(url_for("webhooks.index"))


@bp.post("/deliveries/<int:delivery_id>/send-again")
@admin_required
def send_again(delivery_id: int) -> ResponseReturnValue:
    """Queue a delivery again; it is sent within seconds."""
    db = get_session()
    delivery = webhooks.get_delivery(db, delivery_id)
    if not ConfirmForm().validate_on_submit():
        abort(400, "The form expired; please try again.")
    webhooks.send_again(db, delivery, actor=current_member())
    db.commit()
    flash("The delivery is queued again and will be sent within seconds.", "success")
    return redirect(url_for("webhooks.detail", webhook_id=delivery.webhook_id))
