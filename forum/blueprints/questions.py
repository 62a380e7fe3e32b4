"""Questions and answers: lists, asking, the question page, edits, acceptance, moderation."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable

from flask import (
    Blueprint,
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
from markupsafe import Markup
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from forum import pagecache, search
from forum.db import begin_writing, get_session
from forum.extensions import client_address
from forum.forms.questions import (
    AnswerForm,
    AskForm,
    CloseForm,
    EditQuestionForm,
    RevealForm,
)
from forum.limits import answering_limited, asking_limited, history_limited
from forum.models import Post, PostKind, User
from forum.security import is_page_view
from forum.services import (
    answers,
    bounties,
    close_votes,
    drafts,
    posts,
    questions,
    reputation,
    revisions,
)
from forum.services import tags as tag_service
from forum.services.posts import PostRow
from forum.services.questions import TAB_LABELS, Tab
from forum.web import (
    current_member,
    current_viewer,
    form_checks_csrf,
    moderator_required,
    page_number,
    question_url,
    submit,
)

bp = Blueprint("questions", __name__)


@bp.app_template_filter("post_author")
def post_author_filter(post: Post) -> str:
    """The author's name as pages may show it ("Anonymous colleague" for anonymous ones)."""
    return posts.author_label(post)


@bp.app_template_filter("post_author_username")
def post_author_username_filter(post: Post) -> str | None:
    """The author's username when it may be linked, else None."""
    return posts.author_username(post)


def _tab() -> Tab:
    raw = request.args.get("tab", Tab.NEWEST.value)
    try:
        return Tab(raw)
    except ValueError:
        abort(400, "Unknown list.")


@bp.get("/questions")
def index() -> ResponseReturnValue:
    """Question lists: newest, active, top, unanswered and followed tags."""
    db = get_session()
    tab = _tab()
    page = page_number()
    per_page = int(current_app.config["QUESTIONS_PER_PAGE"])
    me = current_viewer()
    followed = tag_service.followed_tags(db, me) if me is not None else []

    def listing() -> str:
        limit = max(questions.COUNT_LIMIT, page * per_page)
        open_bounties: dict[int, int] = {}
        rows, total = questions.list_questions(
            db,
            tab=tab,
            viewer=me,
            page=page,
            per_page=per_page,
            count_limit=limit,
            open_bounties=open_bounties,
            followed_tags=followed,
        )
        return render_template(
            "questions/_listing.html",
            questions=rows,
            total=min(total, limit),
            more=total > limit,
            tab=tab,
            page=page,
            pages=max(1, math.ceil(min(total, limit) / per_page)),
            bounties=open_bounties,
        )

    # Every list reads the same for everyone who sees it (the pager's links carry the
    # address's arguments: the whole address names the part); "my tags" reads the same for
    # every member following the same tags, so their ids name it too.
    name = f"{request.full_path}:{per_page}"
    if tab == Tab.MY_TAGS:
        name += ":tags=" + ",".join(str(tag_id) for tag_id in sorted(t.id for t in followed))
    return render_template(
        "questions/index.html",
        listing=pagecache.kept_fragment(name, listing),
        tab=tab,
        tabs=TAB_LABELS,
        followed=followed,
    )


@bp.route("/questions/ask", methods=["GET", "POST"])
@login_required
@asking_limited
@form_checks_csrf
def ask() -> ResponseReturnValue:
    """Ask a question; the member's draft, if any, fills the form again."""
    form = AskForm()
    db = get_session()
    if request.method == "GET":
        draft = drafts.find(db, current_member(), PostKind.QUESTION)
        if draft is not None:
            form.title.data = draft.title
            form.body.data = draft.body
            form.tags.data = draft.tags
        else:
            # A link may fill the form in (a tag page's "ask", the Slack command's answer).
            form.title.data = request.args.get("title", "")[:300]
            form.tags.data = request.args.get("tags", "")[:200]
        return render_template("questions/ask.html", form=form, draft=draft)
    if not form.validate_on_submit():
        return render_template("questions/ask.html", form=form), 400
    question = submit(
        form,
        lambda: render_template("questions/ask.html", form=form),
        questions.ask,
        db,
        author=current_member(),
        title=form.title.data or "",
        body_md=form.body.data or "",
        tags=form.tag_list(),
        anonymous=bool(form.anonymous.data),
    )
    drafts.discard(db, current_member(), PostKind.QUESTION)
    db.commit()
    flash("Your question is posted. Colleagues following its tags will see it.", "success")
    return redirect(question_url(question))


def _render_detail(
    question_id: int, answer_form: AnswerForm | None = None, status: int = 200
) -> ResponseReturnValue:
    db = get_session()
    viewer = current_viewer()
    loaded_in = pagecache.current_generation()
    data = questions.page(db, question_id, viewer=viewer)
    bounty = bounties.panel(db, data.question, viewer)
    return (
        render_template(
            "questions/detail.html",
            page=data,
            question=data.question,
            answer_form=answer_form or AnswerForm(),
            bounty=bounty,
            **_threads(data, viewer, bounty, loaded_in),
        ),
        status,
    )


def _threads(
    data: questions.QuestionPage,
    viewer: User | None,
    bounty: bounties.BountyPanel,
    loaded_in: bytes,
) -> dict[str, Markup]:
    """The page's answers and the question's comments, rendered once per audience and kept
    until the next write; each request fills in its viewer's votes (and CSRF token).
    ``loaded_in``: the page cache's generation before ``data`` was loaded."""
    audience = questions.audience(
        data, viewer, awards_bounty=bounty.open is not None and bounty.open.can_award
    )
    name = f"question:{data.question.id}:{request.full_path}:{audience!r}"
    mine, voted = data.my_votes, data.my_comment_votes

    def pressed(on: bool) -> str:
        return "true" if on else "false"

    fill: dict[str, Callable[[int], str]] = {
        "up": lambda post_id: " is-active" if mine.get(post_id) == 1 else "",
        "upon": lambda post_id: pressed(mine.get(post_id) == 1),
        "down": lambda post_id: " is-active" if mine.get(post_id) == -1 else "",
        "downon": lambda post_id: pressed(mine.get(post_id) == -1),
        "comment": lambda comment_id: " is-active" if comment_id in voted else "",
        "commenton": lambda comment_id: pressed(comment_id in voted),
    }

    def part(template: str) -> Callable[[bool], str]:
        return lambda marked: render_template(
            template, page=data, question=data.question, bounty=bounty, marked=marked
        )

    return {
        "question_comments": pagecache.kept_shared_fragment(
            name + ":comments", part("questions/_question_comments.html"), fill, loaded_in=loaded_in
        ),
        "answers_part": pagecache.kept_shared_fragment(
            name + ":answers", part("questions/_answers.html"), fill, loaded_in=loaded_in
        ),
    }


@bp.get("/questions/<int:question_id>")
@bp.get("/questions/<int:question_id>/<slug>")
def detail(question_id: int, slug: str | None = None) -> ResponseReturnValue:
    """A question with its answers and comments; counts one view per person per hour."""
    db = get_session()
    viewer = current_viewer()
    counted: bool | None = None
    if viewer is None:
        # A visitor: the kept page serves when this visit does not move the count.
        kept = pagecache.kept_page_for_visitor()
        if kept is not None:
            counted = _count_view(db, question_id, None)
            if not counted:
                return kept
    loaded_in = pagecache.current_generation()
    data = questions.page(db, question_id, viewer=viewer)
    bounty = bounties.panel(db, data.question, viewer)
    if bounty.due:
        bounty = _settle_bounty(data.question, viewer) or bounty
    # End the read transaction first: on SQLite the view count's write then waits for the
    # write lock instead of failing on a stale snapshot. A lost view never fails the page.
    db.commit()
    # A view counted before the page was read is in its count already.
    counted_after_read = counted is None and _count_view(db, question_id, viewer)
    # Only members who may answer see the form, with their draft answer if they left one.
    answer_form = answer_draft = None
    if data.can_answer:
        answer_form = AnswerForm()
        if viewer is not None:
            answer_draft = drafts.find(db, viewer, PostKind.ANSWER, question_id)
            if answer_draft is not None:
                answer_form.body.data = answer_draft.body
    return render_template(
        "questions/detail.html",
        page=data,
        question=data.question,
        answer_form=answer_form,
        answer_draft=answer_draft,
        shown_views=data.question.view_count + (1 if counted_after_read else 0),
        related=_related(data.question),
        bounty=bounty,
        **_threads(data, viewer, bounty, loaded_in),
    )


def _count_view(db: Session, question_id: int, viewer: User | None) -> bool:
    """Count this visit (once per person per hour); True when it counted. Never fails the page.

    Only a person opening the page counts: an <img> or a prefetch pointing here must not
    move the count (nor record who loaded it, and when).
    """
    if not is_page_view(request):
        return False
    key = questions.viewer_key(viewer, client_address(), current_app.config["SECRET_KEY"])
    try:
        counted = questions.record_view(db, question_id, key, seen=_seen_views())
        db.commit()
    except OperationalError:
        db.rollback()
        current_app.logger.warning("view of question %s not counted: database busy", question_id)
        return False
    return counted


def _settle_bounty(question: PostRow, viewer: User | None) -> bounties.BountyPanel | None:
    """Settle the question's bounty whose time is over (``forum bounties settle`` would).

    A busy database leaves it to the command: the page never fails for it.
    """
    db = get_session()
    try:
        begin_writing(db)
        bounties.settle_due(db, question_id=question.id)
        db.commit()
    except OperationalError:
        db.rollback()
        current_app.logger.warning("bounty of question %s not settled: database busy", question.id)
        return None
    return bounties.panel(db, question, viewer)


def _seen_views() -> questions.SeenViews:
    """This worker's memory of counted views (repeat views within the hour skip the write)."""
    seen: questions.SeenViews | None = current_app.extensions.get("forum.seen_views")
    if seen is None:
        seen = current_app.extensions.setdefault("forum.seen_views", questions.SeenViews())
    return seen


#: How long each worker keeps a question's related questions, and for how many questions:
#: finding them scores a large part of the search index (hundreds of milliseconds at 100k
#: posts), so a popular question pays once and its sidebar may lag a few minutes.
RELATED_CACHE_SECONDS = 600
RELATED_CACHE_SIZE = 2000
_related_lock = threading.Lock()


def _related(question: Post | PostRow) -> list[search.Hit]:
    """Up to 5 similar questions for the sidebar; the page never fails for want of them."""
    cache: dict[tuple[int, str], tuple[float, list[search.Hit]]]
    cache = current_app.extensions.setdefault("forum.related_questions", {})
    key = (question.id, question.title or "")
    now = time.monotonic()
    cached = cache.get(key)
    if cached is not None and now - cached[0] < RELATED_CACHE_SECONDS:
        # A question removed since it was cached must not stay in the sidebar.
        return search.live_hits(get_session(), cached[1])
    try:
        hits = search.related(get_session(), question.id, question.title or "", limit=5)
    except Exception:  # noqa: BLE001 - an unreadable index only hides the sidebar
        current_app.logger.exception("related questions for %s unavailable", question.id)
        return []
    with _related_lock:
        while len(cache) >= RELATED_CACHE_SIZE:
            cache.pop(next(iter(cache)))
        cache[key] = (now, hits)
    return hits


@bp.route("/questions/<int:question_id>/edit", methods=["GET", "POST"])
@login_required
@form_checks_csrf
def edit(question_id: int) -> ResponseReturnValue:
    """Edit a question; every save is a revision."""
    db = get_session()
    question = questions.get(db, question_id, viewer=current_member())
    if not posts.can_edit(current_member(), question):
        abort(403, "You can't edit this question.")
    form = EditQuestionForm()
    if request.method == "GET":
        form.title.data = question.title
        form.body.data = question.body_md
        form.tags.data = " ".join(t.name for t in question.tags)
        form.base_revision.data = str(question.revision_count)
        return render_template("questions/edit.html", form=form, question=question)
    if not form.validate_on_submit():
        return render_template("questions/edit.html", form=form, question=question), 400
    submit(
        form,
        lambda: render_template(
            "questions/edit.html",
            form=form,
            question=questions.get(db, question_id, viewer=current_member()),
        ),
        questions.edit,
        db,
        editor=current_member(),
        question_id=question_id,
        title=form.title.data or "",
        body_md=form.body.data or "",
        tags=form.tag_list(),
        summary=form.summary.data or "",
        base_revision=form.base_revision_number(),
    )
    db.commit()
    flash("Your edit is saved.", "success")
    return redirect(question_url(question))


def _history(post: Post, title: str, back: str, endpoint: str, args: dict[str, int]) -> str:
    db = get_session()
    history = revisions.history(db, post)
    diff = None
    from_n = request.args.get("from", type=int)
    to_n = request.args.get("to", type=int)
    if from_n and to_n:
        old = revisions.get_revision(db, post, from_n)
        new = revisions.get_revision(db, post, to_n)
        diff = revisions.compare(old, new, revisions.question_revision_text)
    hidden = _hidden_author_id(post)
    return render_template(
        "questions/history.html",
        post=post,
        title=title,
        back=back,
        history=history,
        diff=diff,
        from_n=from_n,
        to_n=to_n,
        endpoint=endpoint,
        args=args,
        hidden_editor_id=hidden,
    )


def _hidden_author_id(post: Post) -> int | None:
    db = get_session()
    question = post if post.parent_id is None else db.get(Post, post.parent_id)
    if question is not None and question.is_anonymous:
        return question.author_id
    return None


@bp.get("/questions/<int:question_id>/history")
@history_limited
def history(question_id: int) -> ResponseReturnValue:
    """Revisions of a question, and a diff of any two."""
    question = questions.get(get_session(), question_id, viewer=current_viewer())
    return _history(
        question,
        f"History of “{question.title}”",
        question_url(question),
        "questions.history",
        {"question_id": question.id},
    )


@bp.get("/answers/<int:answer_id>/history")
@history_limited
def answer_history(answer_id: int) -> ResponseReturnValue:
    """Revisions of an answer."""
    found = answers.get(get_session(), answer_id, viewer=current_viewer())
    return _history(
        found,
        "History of an answer",
        url_for("questions.detail", question_id=found.parent_id) + f"#post-{found.id}",
        "questions.answer_history",
        {"answer_id": found.id},
    )


@bp.post("/questions/<int:question_id>/answer")
@login_required
@answering_limited
@form_checks_csrf
def answer(question_id: int) -> ResponseReturnValue:
    """Post an answer."""
    form = AnswerForm()
    if not form.validate_on_submit():
        return _render_detail(question_id, form, 400)
    db = get_session()
    new = submit(
        form,
        lambda: _render_detail(question_id, form),
        answers.answer,
        db,
        author=current_member(),
        question_id=question_id,
        body_md=form.body.data or "",
    )
    drafts.discard(db, current_member(), PostKind.ANSWER, question_id)
    db.commit()
    flash("Thanks for answering!", "success")
    return redirect(url_for("questions.detail", question_id=question_id) + f"#post-{new.id}")


@bp.route("/answers/<int:answer_id>/edit", methods=["GET", "POST"])
@login_required
@form_checks_csrf
def edit_answer(answer_id: int) -> ResponseReturnValue:
    """Edit an answer; every save is a revision."""
    db = get_session()
    found = answers.get(db, answer_id, viewer=current_member())
    if not posts.can_edit(current_member(), found):
        abort(403, "You can't edit this answer.")
    form = AnswerForm()
    if request.method == "GET":
        form.body.data = found.body_md
        form.base_revision.data = str(found.revision_count)
        return render_template("questions/edit_answer.html", form=form, answer=found)
    if not form.validate_on_submit():
        return render_template("questions/edit_answer.html", form=form, answer=found), 400
    submit(
        form,
        lambda: render_template(
            "questions/edit_answer.html",
            form=form,
            answer=answers.get(db, answer_id, viewer=current_member()),
        ),
        answers.edit,
        db,
        editor=current_member(),
        answer_id=answer_id,
        body_md=form.body.data or "",
        summary=form.summary.data or "",
        base_revision=form.base_revision_number(),
    )
    db.commit()
    flash("Your edit is saved.", "success")
    return redirect(url_for("questions.detail", question_id=found.parent_id) + f"#post-{found.id}")


@bp.post("/answers/<int:answer_id>/accept")
@login_required
def accept(answer_id: int) -> ResponseReturnValue:
    """Accept an answer (or undo the acceptance): the asker only."""
    db = get_session()
    question = answers.accept(db, acceptor=current_member(), answer_id=answer_id)
    db.commit()
    if question.accepted_answer_id == answer_id:
        flash("You accepted this answer. Thank you for closing the loop!", "success")
    else:
        flash("The answer is no longer accepted.", "info")
    return redirect(question_url(question) + f"#post-{answer_id}")


@bp.route("/answers/<int:answer_id>/delete", methods=["GET", "POST"])
@login_required
def delete_answer(answer_id: int) -> ResponseReturnValue:
    """Delete an answer (its author or a moderator), after a confirmation page."""
    db = get_session()
    member = current_member()
    if request.method == "GET":
        found = answers.get(db, answer_id, viewer=member)
        posts.require_can_delete(member, found)
        question = questions.get(db, found.parent_id or 0, viewer=member)
        back = question_url(question) + f"#post-{found.id}"
        if found.is_deleted:
            return redirect(back)
        return render_template(
            "questions/delete.html",
            what="answer",
            title=question.title,
            action=url_for("questions.delete_answer", answer_id=found.id),
            back=back,
            own=member.id == found.author_id,
        )
    found = answers.delete(db, actor=member, answer_id=answer_id)
    db.commit()
    flash("The answer is deleted. A moderator can restore it.", "info")
    return redirect(url_for("questions.detail", question_id=found.parent_id))


@bp.post("/answers/<int:answer_id>/undelete")
@login_required
def undelete_answer(answer_id: int) -> ResponseReturnValue:
    """Restore a deleted answer (moderators)."""
    db = get_session()
    found = answers.undelete(db, actor=current_member(), answer_id=answer_id)
    db.commit()
    flash("The answer is restored.", "success")
    return redirect(url_for("questions.detail", question_id=found.parent_id) + f"#post-{found.id}")


@bp.route("/questions/<int:question_id>/delete", methods=["GET", "POST"])
@login_required
def delete(question_id: int) -> ResponseReturnValue:
    """Delete a question (its author or a moderator), after a confirmation page."""
    db = get_session()
    member = current_member()
    if request.method == "GET":
        question = questions.get(db, question_id, viewer=member)
        posts.require_can_delete(member, question)
        if question.is_deleted:
            return redirect(question_url(question))
        return render_template(
            "questions/delete.html",
            what="question",
            title=question.title,
            action=url_for("questions.delete", question_id=question.id),
            back=question_url(question),
            own=member.id == question.author_id,
        )
    questions.delete(db, actor=member, question_id=question_id)
    db.commit()
    flash("The question is deleted. A moderator can restore it.", "info")
    return redirect(url_for("questions.index"))


@bp.post("/questions/<int:question_id>/undelete")
@login_required
def undelete(question_id: int) -> ResponseReturnValue:
    """Restore a deleted question (moderators)."""
    db = get_session()
    question = questions.undelete(db, actor=current_member(), question_id=question_id)
    db.commit()
    flash("The question is restored.", "success")
    return redirect(question_url(question))


def _render_close(
    form: CloseForm, question_id: int, searched: bool = False, status: int = 200
) -> ResponseReturnValue:
    member = current_member()
    db = get_session()
    question = questions.get(db, question_id, viewer=member)
    chosen = form.duplicate_of.data if isinstance(form.duplicate_of.data, int) else None
    form.duplicate_of.choices = [
        (found_id, title)
        for found_id, title in close_votes.find_originals(
            db, question.id, form.find.data or "", keep=chosen
        )
    ]
    return (
        render_template(
            "questions/close.html",
            form=form,
            question=question,
            tally=close_votes.tally(db, question, member),
            searched=searched or bool(form.find.data),
        ),
        status,
    )


@bp.route("/questions/<int:question_id>/close", methods=["GET", "POST"])
@login_required
def close(question_id: int) -> ResponseReturnValue:
    """Close a question as a duplicate, off-topic or needing detail: moderators at once,
    members with the "vote to close" privilege by voting."""
    member = current_member()
    db = get_session()
    reputation.require(member, "vote_close")
    question = questions.get(db, question_id, viewer=member)
    if question.is_deleted:
        abort(404)
    form = CloseForm()
    if request.method == "GET":
        # The search for a duplicate's original is a form of its own (GET, no script): its
        # results come back as choices in the close form.
        form.find.data = request.args.get("find", "").strip()[:200]
        if form.find.data:
            form.reason.data = "duplicate"
        return _render_close(form, question_id)
    if not form.validate_on_submit():
        return _render_close(form, question_id, status=400)
    result = submit(
        form,
        lambda: _render_close(form, question_id),
        close_votes.vote_close,
        db,
        voter=member,
        question_id=question_id,
        reason=form.reason.data or "",
        duplicate_of_id=form.duplicate_of.data if form.reason.data == "duplicate" else None,
        note=form.note.data or "" if member.is_moderator else "",
    )
    db.commit()
    if result.decided:
        flash("The question is closed.", "success")
    else:
        flash(
            f"Your vote to close is counted: {result.count} of {result.needed}.",
            "success",
        )
    return redirect(question_url(question))


@bp.post("/questions/<int:question_id>/reopen")
@login_required
def reopen(question_id: int) -> ResponseReturnValue:
    """Reopen a closed question: moderators at once, privileged members by voting."""
    db = get_session()
    result = close_votes.vote_reopen(db, voter=current_member(), question_id=question_id)
    db.commit()
    if result.decided:
        flash("The question is open again.", "success")
    else:
        flash(f"Your vote to reopen is counted: {result.count} of {result.needed}.", "success")
    return redirect(question_url(result.question))


@bp.post("/questions/<int:question_id>/close-vote/withdraw")
@login_required
def withdraw_close_vote(question_id: int) -> ResponseReturnValue:
    """Take back one's pending vote to close (or reopen) a question."""
    db = get_session()
    question, withdrawn = close_votes.withdraw(db, voter=current_member(), question_id=question_id)
    db.commit()
    flash("Your vote is withdrawn." if withdrawn else "You had no vote to withdraw.", "info")
    return redirect(question_url(question))


@bp.route("/questions/<int:question_id>/reveal", methods=["GET", "POST"])
@moderator_required
def reveal(question_id: int) -> ResponseReturnValue:
    """Reveal an anonymous question's author to a moderator, with a reason (audited)."""
    moderator = current_member()
    db = get_session()
    question = questions.get(db, question_id, viewer=moderator)
    form = RevealForm()
    if request.method == "GET":
        return render_template("questions/reveal.html", form=form, question=question, author=None)
    if not form.validate_on_submit():
        return render_template(
            "questions/reveal.html", form=form, question=question, author=None
        ), 400
    author = submit(
        form,
        lambda: render_template("questions/reveal.html", form=form, question=question, author=None),
        questions.reveal_author,
        db,
        moderator=moderator,
        question_id=question_id,
        reason=form.reason.data or "",
    )
    db.commit()
    return render_template(
        "questions/reveal.html", form=form, question=question, author=author, revealed=True
    )
