"""What the REST API takes and gives, declared once: the routes validate input with these
models and serialise output through them, and the OpenAPI document is built from them."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

#: Identifiers fit a 32-bit integer column; larger ones name nothing.
MAX_ID = 2**31 - 1
Id = Annotated[int, Field(ge=1, le=MAX_ID)]
Limit = Annotated[int, Field(ge=1, le=100, description="Items per page (1-100).")]
Cursor = Annotated[
    str | None,
    Field(
        default=None,
        max_length=200,
        description="The `next_cursor` of the previous page; leave out for the first page.",
    ),
]


def _utc(moment: dt.datetime) -> dt.datetime:
    # SQLite gives back naive times, which are UTC.
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.UTC)


#: A moment in time, always with its offset (RFC 3339).
Moment = Annotated[dt.datetime, AfterValidator(_utc)]


class Schema(BaseModel):
    """Base of every API model: unknown fields in a request body are refused."""

    model_config = ConfigDict(extra="forbid")


# ---------------------------------------------------------------- shared pieces


class Problem(BaseModel):
    """An error (RFC 9457 problem details); ``errors`` lists field errors of invalid input.

    A 403 for a missing scope names it in ``missing_scope``.
    """

    model_config = ConfigDict(extra="allow")

    type: str = "about:blank"
    title: str
    status: int
    detail: str | None = None
    errors: dict[str, list[str]] | None = None


class EditConflictProblem(Problem):
    """An article edit whose lines clash with a revision saved meanwhile (nothing saved)."""

    merged: str = Field(description="Both texts merged, with conflict markers.")
    current_revision: int
    fields: list[str]


class Author(Schema):
    """Who wrote something, as pages show it; ``username`` is null for an anonymous asker."""

    username: str | None
    display_name: str


class Comment(Schema):
    """A comment; ``parent_id`` names the comment it replies to."""

    id: int
    parent_id: int | None
    author: Author
    body_html: str
    score: int
    created_at: Moment


# ---------------------------------------------------------------- questions and answers


class QuestionSummary(Schema):
    """A question as lists show it."""

    id: int
    title: str
    url: str
    author: Author
    tags: list[str]
    score: int
    answer_count: int
    view_count: int
    has_accepted_answer: bool
    is_closed: bool
    created_at: Moment
    last_activity_at: Moment


class QuestionList(Schema):
    """One page of questions."""

    items: list[QuestionSummary]
    total: int
    next_cursor: str | None


class Answer(Schema):
    """An answer with its comments."""

    id: int
    question_id: int
    url: str
    author: Author
    body_html: str
    score: int
    is_accepted: bool
    is_deleted: bool
    revision: int
    created_at: Moment
    comments: list[Comment]


class Question(Schema):
    """A question with its answers and every comment."""

    id: int
    title: str
    url: str
    author: Author
    tags: list[str]
    body_md: str
    body_html: str
    score: int
    view_count: int
    revision: int
    accepted_answer_id: int | None
    closed_reason: str | None
    is_deleted: bool
    created_at: Moment
    last_activity_at: Moment
    comments: list[Comment]
    answers: list[Answer]


class QuestionListQuery(Schema):
    """Filters and paging of the question list."""

    tag: str | None = Field(default=None, max_length=35, description="Only this tag's questions.")
    sort: Literal["newest", "active", "top", "top-week", "top-month", "unanswered"] = "newest"
    cursor: Cursor = None
    limit: Limit = 30


class QuestionCreate(Schema):
    """A new question."""

    title: str = Field(max_length=1000)
    body: str = Field(description="Markdown.")
    tags: list[str] = Field(max_length=20)
    anonymous: bool = Field(
        default=False, description="Ask as an anonymous colleague: your name is never shown."
    )


class QuestionEdit(Schema):
    """Changes to a question; fields left out keep their value."""

    title: str | None = Field(default=None, max_length=1000)
    body: str | None = None
    tags: list[str] | None = Field(default=None, max_length=20)
    summary: str = Field(default="", max_length=300, description="What the edit changed.")
    base_revision: Id | None = Field(
        default=None, description="The revision edited; a newer one refuses the edit (422)."
    )


class AnswerCreate(Schema):
    """A new answer."""

    body: str = Field(description="Markdown.")


class AnswerEdit(Schema):
    """A new text for an answer."""

    body: str = Field(description="Markdown.")
    summary: str = Field(default="", max_length=300)
    base_revision: Id | None = None


class Acceptance(Schema):
    """The question's accepted answer after the change."""

    question_id: int
    accepted_answer_id: int | None


class VoteCast(Schema):
    """A vote: 1 up, -1 down."""

    value: Literal[1, -1]


class VoteState(Schema):
    """The post's score and the member's vote (0: none) after the change."""

    post_id: int
    score: int
    my_vote: int


class CommentCreate(Schema):
    """A comment on a post, or a reply to one of its comments."""

    body: str = Field(description="Markdown (short).")
    parent_id: Id | None = None


# ---------------------------------------------------------------- articles


class ArticleSummary(Schema):
    """An article as lists show it."""

    slug: str
    title: str
    url: str
    type: Literal["tip", "tutorial"]
    author: Author
    tags: list[str]
    score: int
    created_at: Moment
    updated_at: Moment


class ArticleList(Schema):
    """One page of articles."""

    items: list[ArticleSummary]
    total: int
    next_cursor: str | None


class Article(ArticleSummary):
    """An article with its Markdown and the HTML rendered from it."""

    body_md: str
    body_html: str
    revision: int
    is_locked: bool
    review_by: Moment | None


class ArticleListQuery(Schema):
    """Filters and paging of the article list."""

    tag: str | None = Field(default=None, max_length=35)
    type: Literal["tip", "tutorial"] | None = None
    sort: Literal["newest", "top", "updated"] = "newest"
    cursor: Cursor = None
    limit: Limit = 20


class ArticleCreate(Schema):
    """A new tip or tutorial."""

    title: str = Field(max_length=1000)
    body: str = Field(description="Markdown.")
    tags: list[str] = Field(max_length=20)
    type: Literal["tip", "tutorial"] = "tip"
    summary: str = Field(default="", max_length=300)


class ArticleEdit(Schema):
    """An edit of an article; fields left out keep their value.

    ``base_revision`` is the revision the edit started from: when someone saved since, the
    edit is merged with theirs as in the editor, or refused with 409 when both changed the
    same lines.
    """

    title: str | None = Field(default=None, max_length=1000)
    body: str | None = None
    tags: list[str] | None = Field(default=None, max_length=20)
    type: Literal["tip", "tutorial"] | None = None
    summary: str = Field(default="", max_length=300)
    base_revision: Id


class ArticleSaved(Schema):
    """An article after an edit: whether anything changed and the revision merged with."""

    article: Article
    changed: bool
    merged_with: int | None


# ---------------------------------------------------------------- tags, members, search


class Tag(Schema):
    """A tag with its counts."""

    name: str
    excerpt: str | None
    question_count: int
    article_count: int
    url: str


class TagList(Schema):
    """One page of tags, most used first."""

    items: list[Tag]
    total: int
    next_cursor: str | None


class TagListQuery(Schema):
    """Filters and paging of the tag list."""

    prefix: str | None = Field(default=None, max_length=35)
    sort: Literal["popular", "name"] = "popular"
    cursor: Cursor = None
    limit: Limit = 60


class Badge(Schema):
    """A badge a member holds."""

    key: str
    name: str
    tier: str
    count: int
    first_awarded_at: Moment


class Member(Schema):
    """A member's public profile."""

    username: str
    display_name: str
    department: str | None
    job_title: str | None
    bio: str | None
    reputation: int
    joined_at: Moment
    url: str
    badges: list[Badge]


class SearchHit(Schema):
    """One result; ``snippet`` is escaped HTML whose only markup is ``<mark>``."""

    id: int
    kind: str
    title: str
    snippet: str
    url: str | None
    tags: list[str]
    score: int
    answer_count: int
    accepted: bool
    author_username: str | None = Field(description="Null for anonymous posts.")
    created_at: Moment | None


class SearchResults(Schema):
    """A page of results for the query language of the search page."""

    query: str
    total: int
    approximate: bool
    items: list[SearchHit]
    suggestion: str | None
    refused: str | None = Field(description="Why the query could not be run, if it could not.")
    next_cursor: str | None


class SearchQuery(Schema):
    """A search."""

    q: str = Field(max_length=2000, description="The query language of the search page.")
    sort: Literal["relevance", "newest", "votes"] = "relevance"
    cursor: Cursor = None
    limit: Limit = 20


class Notification(Schema):
    """One notification; ``text`` and ``url`` are null when its post is gone."""

    id: int
    kind: str
    text: str | None
    url: str | None
    read: bool
    created_at: Moment


class NotificationList(Schema):
    """One page of the member's notifications, newest first."""

    items: list[Notification]
    unread: int
    total: int
    next_cursor: str | None


class PageQuery(Schema):
    """Paging only."""

    cursor: Cursor = None
    limit: Limit = 30


class MarkedRead(Schema):
    """How many notifications were marked read."""

    marked: int
