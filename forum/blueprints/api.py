"""The REST API, version 1: JSON under /api/v1, authenticated with personal access tokens.

Every operation goes through the same services as the pages (permissions, privileges,
anonymity, validation); ``forum.api.core`` declares each one once for routing, checks and
the OpenAPI document at /api/v1/openapi.json, which /api/v1/docs shows as a page.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import flask
import pydantic
from flask import Blueprint, Response, current_app, render_template, request
from flask.typing import ResponseReturnValue
from werkzeug.routing import BuildError

from forum import search
from forum.api import bookkeeping
from forum.api import schemas as s
from forum.api.bookkeeping import per_token
from forum.api.core import (
    ApiProblem,
    Registry,
    decode_cursor,
    next_cursor,
    problem_response,
    render_problem,
    token_key,
    token_member,
    token_member_key,
)
from forum.db import get_session, utcnow
from forum.extensions import csrf, limiter
from forum.limits import (
    ANSWERING,
    ASKING,
    COMMENTING,
    VOTING,
    article_limit,
    comment_limit,
    post_limit,
    search_limit,
    vote_limit,
)
from forum.models import Answer, Article, Notification, Post, Question, User
from forum.models import Comment as CommentModel
from forum.services import (
    accounts,
    answers,
    articles,
    badges,
    comments,
    notifications,
    posts,
    questions,
    visibility,
    votes,
)
from forum.services import tags as tag_service
from forum.services.comments import ANONYMOUS_ASKER_LABEL, CommentNode
from forum.services.errors import Conflict, Forbidden, NotFound, ValidationError
from forum.services.questions import Tab
from forum.services.tags import parse_tags
from forum.web import post_url, question_url, url_for

bp = Blueprint("api", __name__, url_prefix="/api/v1")
csrf.exempt(bp)

api = Registry(
    blueprint=bp,
    title="forum REST API",
    version="1",
    description=(
        "Questions, answers, comments, votes, articles, tags, members, search and "
        "notifications, with the same permissions, privileges, anonymity and validation as "
        "the pages. Authenticate with a personal access token made at /settings/tokens: "
        "`Authorization: Bearer <token>`; the read scope allows GET, the write scope the rest. "
        "Errors are application/problem+json (RFC 9457). Lists are paged with opaque cursors."
    ),
    extra_models=[s.EditConflictProblem],
)


def _member_limit(rate: Any, scope: str) -> Any:
    return limiter.shared_limit(rate, scope=scope, key_func=token_member_key)


#: The pages' budgets (forum/limits.py): the same counters per member and action.
asking = _member_limit(post_limit, ASKING)
answering = _member_limit(post_limit, ANSWERING)
voting = _member_limit(vote_limit, VOTING)
commenting = _member_limit(comment_limit, COMMENTING)
#: The same budget as the knowledge base's editor (shared with the pages).
article_writes = _member_limit(article_limit, "article-writes")
searching = limiter.limit(search_limit, key_func=token_key, override_defaults=False)


# ---------------------------------------------------------------- errors, headers, bookkeeping


@bp.errorhandler(ApiProblem)
def _problem(exc: ApiProblem) -> Response:
    get_session().rollback()
    return render_problem(exc)


@bp.errorhandler(ValidationError)
def _invalid(exc: ValidationError) -> Response:
    get_session().rollback()
    return problem_response(422, "The input is invalid.", errors=exc.errors)


@bp.errorhandler(articles.EditConflict)
def _edit_conflict(exc: articles.EditConflict) -> Response:
    get_session().rollback()
    return problem_response(
        409,
        str(exc),
        extra={
            "merged": exc.merged,
            "current_revision": exc.current_revision,
            "fields": exc.fields,
        },
    )


@bp.errorhandler(NotFound)
def _not_found(exc: NotFound) -> Response:
    get_session().rollback()
    return problem_response(404, str(exc) or None)


@bp.errorhandler(Forbidden)
def _forbidden(exc: Forbidden) -> Response:
    get_session().rollback()
    return problem_response(403, str(exc) or None)


@bp.errorhandler(Conflict)
def _conflict(exc: Conflict) -> Response:
    get_session().rollback()
    return problem_response(409, str(exc) or None)


@bp.errorhandler(pydantic.ValidationError)
def _bad_output(exc: pydantic.ValidationError) -> Response:
    # Input is validated where it arrives; this is an answer that broke its own schema.
    current_app.logger.error("API answer does not match its schema: %s", exc)
    get_session().rollback()
    return problem_response(500, "The answer could not be built.")


bp.after_request(bookkeeping.remember_use)
bp.teardown_request(bookkeeping.record_use)


# ---------------------------------------------------------------- shaping answers


def _external(url: str) -> str:
    return request.host_url.rstrip("/") + url


def _author(label: str, username: str | None) -> s.Author:
    return s.Author(username=username, display_name=label)


def _post_author(post: Post) -> s.Author:
    return _author(posts.author_label(post), posts.author_username(post))


def _comments(nodes: list[CommentNode], viewer: User) -> list[s.Comment]:
    flat: list[s.Comment] = []

    def walk(node: CommentNode) -> None:
        comment = node.comment
        removed = comment.deleted_at is not None and not viewer.is_moderator
        flat.append(
            s.Comment(
                id=comment.id,
                parent_id=comment.parent_id,
                author=_author(node.author_label, node.author_username),
                body_html="" if removed else comment.body_html,
                score=comment.score,
                created_at=comment.created_at,
            )
        )
        for reply in node.replies:
            walk(reply)

    for node in nodes:
        walk(node)
    return flat


def _question_summary(question: Question) -> s.QuestionSummary:
    return s.QuestionSummary(
        id=question.id,
        title=question.title or "",
        url=_external(question_url(question)),
        author=_post_author(question),
        tags=[t.name for t in question.tags],
        score=question.score,
        answer_count=question.answer_count,
        view_count=question.view_count,
        has_accepted_answer=question.accepted_answer_id is not None,
        is_closed=question.closed_at is not None,
        created_at=question.created_at,
        last_activity_at=question.last_activity_at,
    )


def _question(question_id: int, member: User) -> s.Question:
    db = get_session()
    page = questions.page(db, question_id, viewer=member)
    source = questions.get(db, question_id, viewer=member)
    row = page.question
    return s.Question(
        id=row.id,
        title=row.title or "",
        url=_external(question_url(row)),
        author=_author(page.author_label, page.author_username),
        tags=[t.name for t in row.tags],
        body_md=source.body_md,
        body_html=row.body_html,
        score=row.score,
        view_count=row.view_count,
        revision=row.revision_count,
        accepted_answer_id=row.accepted_answer_id,
        closed_reason=row.closed_reason,
        is_deleted=row.is_deleted,
        created_at=row.created_at,
        last_activity_at=row.last_activity_at,
        comments=_comments(page.threads.get(row.id, []), member),
        answers=[
            s.Answer(
                id=view.answer.id,
                question_id=row.id,
                url=_external(question_url(row) + f"#post-{view.answer.id}"),
                author=_author(view.author_label, view.author_username),
                body_html=view.answer.body_html,
                score=view.answer.score,
                is_accepted=view.answer.id == row.accepted_answer_id,
                is_deleted=view.answer.is_deleted,
                revision=view.answer.revision_count,
                created_at=view.answer.created_at,
                comments=_comments(page.threads.get(view.answer.id, []), member),
            )
            for view in page.answers
        ],
    )


def _answer(answer_id: int, member: User) -> s.Answer:
    found = answers.get(get_session(), answer_id, viewer=member)
    assert found.parent_id is not None
    question = _question(found.parent_id, member)
    for shown in question.answers:
        if shown.id == found.id:
            return shown
    raise NotFound("There is no such answer.")


def _article(article: Article) -> s.Article:
    return s.Article(
        slug=article.slug or "",
        title=article.title or "",
        url=_external(url_for("wiki.detail", slug=article.slug)),
        type="tutorial"
        if article.article_type and article.article_type.value == "tutorial"
        else "tip",
        author=_post_author(article),
        tags=[t.name for t in article.tags],
        score=article.score,
        created_at=article.created_at,
        updated_at=article.updated_at,
        body_md=article.body_md,
        body_html=article.body_html,
        revision=article.revision_count,
        is_locked=article.is_locked,
        review_by=article.review_by,
    )


def _review_after() -> dt.timedelta:
    return dt.timedelta(days=int(current_app.config.get("ARTICLE_REVIEW_DAYS", 182)))


def _vote_state(post_id: int, member: User) -> s.VoteState:
    db = get_session()
    post = posts.get_post(db, post_id, viewer=member)
    mine = votes.my_votes(db, member, [post_id]).get(post_id, 0)
    return s.VoteState(post_id=post_id, score=post.score, my_vote=mine)


def _comment_author(comment: CommentModel, post: Post, member: User) -> s.Author:
    question: Post | None = post
    if isinstance(post, Answer):
        question = get_session().get(Question, post.parent_id)
    if question is not None and question.is_anonymous and question.author_id == member.id:
        return _author(ANONYMOUS_ASKER_LABEL, None)
    return _author(member.display_name, member.username)


def _notification_url(notification: Notification) -> str | None:
    try:
        return _external(flask.url_for(notification.endpoint, **dict(notification.params or {})))
    except (BuildError, ValueError, TypeError):
        return None


# ---------------------------------------------------------------- questions and answers

_TABS = {
    "newest": Tab.NEWEST,
    "active": Tab.ACTIVE,
    "top": Tab.TOP_ALL,
    "top-week": Tab.TOP_WEEK,
    "top-month": Tab.TOP_MONTH,
    "unanswered": Tab.UNANSWERED,
}


@api.operation(
    "GET",
    "/questions",
    summary="List questions",
    tag="questions",
    scope="read",
    query=s.QuestionListQuery,
    response=s.QuestionList,
    errors=(404,),
    limits=(per_token,),
)
def list_questions(query: s.QuestionListQuery) -> s.QuestionList:
    """Questions, newest first (or by activity, by score, only unanswered), optionally of one
    tag (404 for an unknown tag)."""
    db = get_session()
    member = token_member()
    tag = tag_service.get_tag(db, query.tag) if query.tag else None
    page = decode_cursor(query.cursor)
    cap = max(questions.COUNT_LIMIT, page * query.limit)
    rows, total = questions.list_questions(
        db,
        tab=_TABS[query.sort],
        viewer=member,
        tag=tag,
        page=page,
        per_page=query.limit,
        count_limit=cap,
    )
    return s.QuestionList(
        items=[_question_summary(q) for q in rows],
        total=min(total, cap),
        next_cursor=next_cursor(page, query.limit, total),
    )


@api.operation(
    "POST",
    "/questions",
    summary="Ask a question",
    tag="questions",
    scope="write",
    body=s.QuestionCreate,
    response=s.Question,
    status=201,
    limits=(per_token, asking),
)
def create_question(body: s.QuestionCreate) -> s.Question:
    """Ask a question; with ``anonymous`` its author is never shown (nor given by the API)."""
    db = get_session()
    member = token_member()
    question = questions.ask(
        db,
        author=member,
        title=body.title,
        body_md=body.body,
        tags=parse_tags(" ".join(body.tags)),
        anonymous=body.anonymous,
    )
    db.commit()
    return _question(question.id, member)


@api.operation(
    "GET",
    "/questions/<int:question_id>",
    summary="Get a question",
    tag="questions",
    scope="read",
    response=s.Question,
    limits=(per_token,),
)
def get_question(question_id: int) -> s.Question:
    """A question with its answers and every comment, as the question page shows them."""
    return _question(question_id, token_member())


@api.operation(
    "PATCH",
    "/questions/<int:question_id>",
    summary="Edit a question",
    tag="questions",
    scope="write",
    body=s.QuestionEdit,
    response=s.Question,
    limits=(per_token,),
)
def edit_question(question_id: int, body: s.QuestionEdit) -> s.Question:
    """Edit a question (its author, or a member with the privilege to edit others' posts);
    saved as a new revision."""
    db = get_session()
    member = token_member()
    current = questions.get(db, question_id, viewer=member)
    questions.edit(
        db,
        editor=member,
        question_id=question_id,
        title=body.title if body.title is not None else current.title or "",
        body_md=body.body if body.body is not None else current.body_md,
        tags=parse_tags(" ".join(body.tags))
        if body.tags is not None
        else [t.name for t in current.tags],
        summary=body.summary,
        base_revision=body.base_revision,
    )
    db.commit()
    return _question(question_id, member)


@api.operation(
    "POST",
    "/questions/<int:question_id>/answers",
    summary="Answer a question",
    tag="answers",
    scope="write",
    body=s.AnswerCreate,
    response=s.Answer,
    status=201,
    limits=(per_token, answering),
)
def create_answer(question_id: int, body: s.AnswerCreate) -> s.Answer:
    """Answer an open question."""
    db = get_session()
    member = token_member()
    new = answers.answer(db, author=member, question_id=question_id, body_md=body.body)
    db.commit()
    return _answer(new.id, member)


@api.operation(
    "PATCH",
    "/answers/<int:answer_id>",
    summary="Edit an answer",
    tag="answers",
    scope="write",
    body=s.AnswerEdit,
    response=s.Answer,
    limits=(per_token,),
)
def edit_answer(answer_id: int, body: s.AnswerEdit) -> s.Answer:
    """Edit an answer (its author, or a member with the privilege to edit others' posts)."""
    db = get_session()
    member = token_member()
    answers.edit(
        db,
        editor=member,
        answer_id=answer_id,
        body_md=body.body,
        summary=body.summary,
        base_revision=body.base_revision,
    )
    db.commit()
    return _answer(answer_id, member)


@api.operation(
    "POST",
    "/answers/<int:answer_id>/accept",
    summary="Accept an answer (or take the acceptance back)",
    tag="answers",
    scope="write",
    response=s.Acceptance,
    limits=(per_token,),
)
def accept_answer(answer_id: int) -> s.Acceptance:
    """The asker accepts an answer; for the accepted answer, this takes the acceptance back,
    as the button on the page does."""
    db = get_session()
    question = answers.accept(db, acceptor=token_member(), answer_id=answer_id)
    db.commit()
    return s.Acceptance(question_id=question.id, accepted_answer_id=question.accepted_answer_id)


# ---------------------------------------------------------------- votes and comments


@api.operation(
    "PUT",
    "/posts/<int:post_id>/vote",
    summary="Vote on a post",
    tag="votes",
    scope="write",
    body=s.VoteCast,
    response=s.VoteState,
    limits=(per_token, voting),
)
def cast_vote(post_id: int, body: s.VoteCast) -> s.VoteState:
    """Vote a question, answer or article up (1) or down (-1; needs the privilege). Casting
    the vote one already has changes nothing."""
    db = get_session()
    member = token_member()
    if _vote_state(post_id, member).my_vote == body.value:
        return _vote_state(post_id, member)
    # The vote opens its own transaction (see forum.services.votes).
    db.commit()
    outcome = votes.cast(db, voter=member, post_id=post_id, value=body.value)
    db.commit()
    return s.VoteState(post_id=post_id, score=outcome.score, my_vote=outcome.my_vote)


@api.operation(
    "DELETE",
    "/posts/<int:post_id>/vote",
    summary="Withdraw a vote",
    tag="votes",
    scope="write",
    response=s.VoteState,
    limits=(per_token, voting),
)
def withdraw_vote(post_id: int) -> s.VoteState:
    """Take one's vote on a post back (nothing changes without one)."""
    db = get_session()
    member = token_member()
    state = _vote_state(post_id, member)
    if state.my_vote == 0:
        return state
    db.commit()
    outcome = votes.cast(db, voter=member, post_id=post_id, value=state.my_vote)
    db.commit()
    return s.VoteState(post_id=post_id, score=outcome.score, my_vote=outcome.my_vote)


@api.operation(
    "POST",
    "/posts/<int:post_id>/comments",
    summary="Comment on a post",
    tag="comments",
    scope="write",
    body=s.CommentCreate,
    response=s.Comment,
    status=201,
    limits=(per_token, commenting),
)
def create_comment(post_id: int, body: s.CommentCreate) -> s.Comment:
    """Comment on a question, answer or article, or reply to one of its comments."""
    db = get_session()
    member = token_member()
    comment = comments.add(
        db, author=member, post_id=post_id, body=body.body, parent_id=body.parent_id
    )
    post = comment.post
    shown = s.Comment(
        id=comment.id,
        parent_id=comment.parent_id,
        author=_comment_author(comment, post, member),
        body_html=comment.body_html,
        score=comment.score,
        created_at=comment.created_at,
    )
    db.commit()
    return shown


# ---------------------------------------------------------------- articles


@api.operation(
    "GET",
    "/articles",
    summary="List articles",
    tag="articles",
    scope="read",
    query=s.ArticleListQuery,
    response=s.ArticleList,
    limits=(per_token,),
)
def list_articles(query: s.ArticleListQuery) -> s.ArticleList:
    """Published tips and tutorials, newest (or top, or recently updated) first."""
    token_member()
    page = decode_cursor(query.cursor)
    items, total = articles.list_articles(
        get_session(),
        tag=query.tag.strip().lower() if query.tag else None,
        article_type=query.type,
        sort=query.sort,
        page=page,
        per_page=query.limit,
    )
    return s.ArticleList(
        items=[_article_summary(a) for a in items],
        total=total,
        next_cursor=next_cursor(page, query.limit, total),
    )


def _article_summary(article: Article) -> s.ArticleSummary:
    full = _article(article)
    return s.ArticleSummary(**{name: getattr(full, name) for name in s.ArticleSummary.model_fields})


@api.operation(
    "POST",
    "/articles",
    summary="Publish an article",
    tag="articles",
    scope="write",
    body=s.ArticleCreate,
    response=s.Article,
    status=201,
    limits=(per_token, article_writes),
)
def create_article(body: s.ArticleCreate) -> s.Article:
    """Publish a tip or tutorial; the member owns it."""
    db = get_session()
    article = articles.create_article(
        db,
        author=token_member(),
        data=articles.ArticleData(
            title=body.title,
            body_md=body.body,
            tags_text=" ".join(body.tags),
            article_type=body.type,
        ),
        summary=body.summary,
        review_after=_review_after(),
    )
    db.commit()
    return _article(article)


@api.operation(
    "GET",
    "/articles/<slug>",
    summary="Get an article",
    tag="articles",
    scope="read",
    response=s.Article,
    limits=(per_token,),
)
def get_article(slug: str) -> s.Article:
    """An article with its Markdown and its rendered HTML."""
    return _article(articles.get_by_slug(get_session(), slug, viewer=token_member()))


@api.operation(
    "PATCH",
    "/articles/<slug>",
    summary="Edit an article",
    tag="articles",
    scope="write",
    body=s.ArticleEdit,
    response=s.ArticleSaved,
    errors=(409,),
    limits=(per_token, article_writes),
)
def edit_article(slug: str, body: s.ArticleEdit) -> s.ArticleSaved:
    """Edit an article as the editor does: an edit started from an older revision is merged
    with what was saved since, or refused with 409 (and the merged text) when both changed
    the same lines."""
    db = get_session()
    member = token_member()
    article = articles.get_by_slug(db, slug, viewer=member)
    current_type = article.article_type.value if article.article_type else "tip"
    result = articles.edit_article(
        db,
        article,
        editor=member,
        data=articles.ArticleData(
            title=body.title if body.title is not None else article.title or "",
            body_md=body.body if body.body is not None else article.body_md,
            tags_text=" ".join(body.tags)
            if body.tags is not None
            else " ".join(t.name for t in article.tags),
            article_type=body.type or current_type,
        ),
        base_revision=body.base_revision,
        summary=body.summary,
        review_after=_review_after(),
    )
    db.commit()
    return s.ArticleSaved(
        article=_article(result.article), changed=result.changed, merged_with=result.merged_with
    )


# ---------------------------------------------------------------- tags, members, search


def _tag(summary: tag_service.TagSummary) -> s.Tag:
    return s.Tag(
        name=summary.tag.name,
        excerpt=summary.tag.excerpt,
        question_count=summary.questions,
        article_count=summary.articles,
        url=_external(url_for("tags.detail", name=summary.tag.name)),
    )


@api.operation(
    "GET",
    "/tags",
    summary="List tags",
    tag="tags",
    scope="read",
    query=s.TagListQuery,
    response=s.TagList,
    limits=(per_token,),
)
def list_tags(query: s.TagListQuery) -> s.TagList:
    """Tags with their counts, most used (or by name) first, optionally by a name prefix."""
    token_member()
    page = decode_cursor(query.cursor)
    rows, total = tag_service.list_tags(
        get_session(), query=query.prefix, sort=query.sort, page=page, per_page=query.limit
    )
    return s.TagList(
        items=[_tag(row) for row in rows],
        total=total,
        next_cursor=next_cursor(page, query.limit, total),
    )


@api.operation(
    "GET",
    "/tags/<name>",
    summary="Get a tag",
    tag="tags",
    scope="read",
    response=s.Tag,
    limits=(per_token,),
)
def get_tag(name: str) -> s.Tag:
    """A tag (a synonym leads to its tag) with its counts."""
    token_member()
    db = get_session()
    return _tag(tag_service.summary(tag_service.get_tag(db, name)))


@api.operation(
    "GET",
    "/users/<username>",
    summary="Get a member's public profile",
    tag="users",
    scope="read",
    response=s.Member,
    limits=(per_token,),
)
def get_user(username: str) -> s.Member:
    """A member's public profile: reputation and badges."""
    token_member()
    db = get_session()
    user = accounts.get_by_username(db, username)
    return s.Member(
        username=user.username,
        display_name=user.display_name,
        department=user.department,
        job_title=user.job_title,
        bio=user.bio,
        reputation=user.reputation,
        joined_at=user.created_at,
        url=_external(url_for("users.profile", username=user.username)),
        badges=[
            s.Badge(
                key=held.badge.key,
                name=held.badge.name,
                tier=str(held.badge.tier.value),
                count=held.count,
                first_awarded_at=held.first_at,
            )
            for held in badges.badges_of(db, user)
        ],
    )


@api.operation(
    "GET",
    "/search",
    summary="Search",
    tag="search",
    scope="read",
    query=s.SearchQuery,
    response=s.SearchResults,
    limits=(per_token, searching),
)
def search_posts(query: s.SearchQuery) -> s.SearchResults:
    """The search page's query language and ranking, with highlighted snippets. Anonymous
    posts never name their author."""
    db = get_session()
    member = token_member()
    page = decode_cursor(query.cursor)
    found = search.search(
        db, query.q, sort=query.sort, page=page, per_page=query.limit, member_id=member.id
    )
    db.commit()  # a member's zero-result query was recorded
    results = found.results
    return s.SearchResults(
        query=found.text,
        total=results.total,
        approximate=results.approximate,
        items=[
            s.SearchHit(
                id=hit.id,
                kind=hit.kind,
                title=hit.title,
                snippet=hit.snippet,
                url=_external(url) if (url := post_url(hit)) else None,
                tags=list(hit.tags),
                score=hit.post_score,
                answer_count=hit.answer_count,
                accepted=hit.accepted,
                author_username=hit.username if hit.author_id is not None else None,
                created_at=hit.created_at,
            )
            for hit in results.hits
        ],
        suggestion=found.suggestion,
        refused=found.refused,
        next_cursor=next_cursor(page, query.limit, results.total),
    )


# ---------------------------------------------------------------- notifications


@api.operation(
    "GET",
    "/notifications",
    summary="List my notifications",
    tag="notifications",
    scope="read",
    query=s.PageQuery,
    response=s.NotificationList,
    limits=(per_token,),
)
def list_notifications(query: s.PageQuery) -> s.NotificationList:
    """The token's member's notifications, newest first."""
    page = decode_cursor(query.cursor)
    inbox = notifications.inbox(get_session(), token_member(), page=page, per_page=query.limit)
    items = inbox.items if inbox.page == page else []
    return s.NotificationList(
        items=[_notification(n, n.id in inbox.removed) for n in items],
        unread=inbox.unread,
        total=inbox.total,
        next_cursor=next_cursor(page, query.limit, inbox.total),
    )


def _notification(notification: Notification, removed: bool) -> s.Notification:
    return s.Notification(
        id=notification.id,
        kind=notification.kind,
        text=None if removed else notification.text,
        url=None if removed else _notification_url(notification),
        read=notification.read_at is not None,
        created_at=notification.created_at,
    )


@api.operation(
    "POST",
    "/notifications/<int:notification_id>/read",
    summary="Mark a notification read",
    tag="notifications",
    scope="write",
    response=s.Notification,
    limits=(per_token,),
)
def read_notification(notification_id: int) -> s.Notification:
    """Mark one of the member's notifications read."""
    db = get_session()
    member = token_member()
    found = notifications.mark_read(db, member, notification_id)
    db.commit()
    removed = visibility.removed_notifications(db, member, [found])
    return _notification(found, found.id in removed)


@api.operation(
    "POST",
    "/notifications/read-all",
    summary="Mark every notification read",
    tag="notifications",
    scope="write",
    response=s.MarkedRead,
    limits=(per_token,),
)
def read_all_notifications() -> s.MarkedRead:
    """Mark every unread notification of the member read."""
    db = get_session()
    changed = notifications.mark_all_read(db, token_member())
    db.commit()
    return s.MarkedRead(marked=changed)


# ---------------------------------------------------------------- the document and its page


def document() -> dict[str, Any]:
    """The OpenAPI document of this API, for this host."""
    return api.document(_external(bp.url_prefix or ""))


@bp.get("/openapi.json")
def openapi() -> ResponseReturnValue:
    """The OpenAPI 3.1 document, built from the operations' declarations."""
    return flask.jsonify(document())


@bp.get("/docs")
def docs() -> ResponseReturnValue:
    """A readable reference of the API, rendered from the same document (no script)."""
    return render_template("api/docs.html", doc=document(), now=utcnow())


@bp.app_template_filter("api_type")
def api_type(schema: dict[str, Any]) -> str:
    """A JSON Schema as a short type for the reference page ("list of Comment", ...)."""
    if "$ref" in schema:
        return str(schema["$ref"]).rsplit("/", 1)[-1]
    if "anyOf" in schema:
        return " or ".join(api_type(option) for option in schema["anyOf"])
    if "const" in schema:
        return repr(schema["const"])
    if "enum" in schema:
        return "one of " + ", ".join(str(value) for value in schema["enum"])
    kind = schema.get("type", "any")
    if kind == "array":
        return "list of " + api_type(schema.get("items", {}))
    if kind == "object" and "additionalProperties" in schema:
        return "map of " + api_type(schema["additionalProperties"])
    if kind == "string" and schema.get("format"):
        return f"string ({schema['format']})"
    return str(kind)
