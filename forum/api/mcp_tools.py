"""What the MCP server offers an assistant: tools and resources over the REST API's answers.

Each tool declares its arguments as a pydantic model (its JSON Schema is the tool's
``inputSchema``) and the scope its token needs. The reading tools answer what the REST API
answers (the same views and serialisers: permissions and anonymity hold the same way); the
drafting tools only keep drafts (``forum.services.drafts``) that the member reviews and
publishes on the pages: an assistant never publishes.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from forum import search
from forum.api import schemas as s
from forum.api.core import ApiProblem
from forum.db import get_session
from forum.models import PostKind, User
from forum.services import drafts, experts, questions
from forum.services.errors import ValidationError
from forum.web import url_for

#: Resources on one page of resources/list (questions first, newest first, then articles).
LISTED_RESOURCES = 25
QUESTION_URI = "forum://questions/{question_id}"
ARTICLE_URI = "forum://articles/{slug}"


class Arguments(BaseModel):
    """Base of the tools' arguments: unknown arguments are refused."""

    model_config = ConfigDict(extra="forbid")


Few = Annotated[int, Field(ge=1, le=20, description="How many to return (1-20).")]


class SearchArgs(Arguments):
    query: str = Field(
        min_length=1,
        max_length=2000,
        description=(
            'The search page\'s query language: words, "exact phrases", -excluded, '
            "tag:python, is:question, is:article, is:answered, user:name, ..."
        ),
    )
    sort: str = Field(default="relevance", pattern="^(relevance|newest|votes)$")
    limit: Few = 10


class QuestionArgs(Arguments):
    question_id: int = Field(ge=1, le=s.MAX_ID, description="The question's id.")


class ArticleArgs(Arguments):
    slug: str = Field(min_length=1, max_length=200, description="The article's slug.")


class SimilarArgs(Arguments):
    title: str = Field(
        min_length=3, max_length=300, description="A question title (or a few words)."
    )
    limit: Few = 5


class ExpertArgs(Arguments):
    topic: str = Field(
        min_length=1,
        max_length=500,
        description="What the expertise is about, in the search query language.",
    )
    limit: Few = 5


class DraftQuestionArgs(Arguments):
    title: str = Field(min_length=1, max_length=drafts.MAX_TITLE)
    body: str = Field(min_length=1, max_length=drafts.MAX_BODY, description="Markdown.")
    tags: list[Annotated[str, Field(min_length=1, max_length=35)]] = Field(
        default_factory=list, max_length=5, description="Tag names (at most 5)."
    )


class DraftAnswerArgs(Arguments):
    question_id: int = Field(ge=1, le=s.MAX_ID, description="The question to answer.")
    body: str = Field(min_length=1, max_length=drafts.MAX_BODY, description="Markdown.")


class ToolRefused(Exception):
    """A tool cannot do this: the text is shown to the assistant as the tool's error."""


@dataclass(frozen=True)
class Tool:
    name: str
    title: str
    description: str
    scope: str
    arguments: type[Arguments]
    run: Callable[[Any, User], dict[str, Any]]
    read_only: bool = True

    def definition(self) -> dict[str, Any]:
        """The tool as tools/list describes it."""
        schema = self.arguments.model_json_schema()
        schema.pop("title", None)
        return {
            "name": self.name,
            "title": self.title,
            "description": self.description,
            "inputSchema": schema,
            "annotations": {
                "readOnlyHint": self.read_only,
                "destructiveHint": False,
                "idempotentHint": self.read_only,
                "openWorldHint": False,
            },
        }


def _api() -> Any:
    # The REST API's views are plain functions returning its response models.
    from forum.blueprints import api

    return api


def _search(args: SearchArgs, _member: User) -> dict[str, Any]:
    query = s.SearchQuery(q=args.query, sort=args.sort, limit=args.limit)  # type: ignore[arg-type]
    result: s.SearchResults = _api().search_posts(query)
    return result.model_dump(mode="json")


def _get_question(args: QuestionArgs, _member: User) -> dict[str, Any]:
    result: s.Question = _api().get_question(args.question_id)
    return result.model_dump(mode="json")


def _get_article(args: ArticleArgs, _member: User) -> dict[str, Any]:
    result: s.Article = _api().get_article(args.slug)
    return result.model_dump(mode="json")


def _external(path: str) -> str:
    return str(_api()._external(path))


def _similar(args: SimilarArgs, _member: User) -> dict[str, Any]:
    hits = search.similar(get_session(), args.title, limit=args.limit)
    return {
        "items": [
            {
                "id": hit.id,
                "title": hit.title,
                "url": _external(url_for("questions.detail", question_id=hit.id)),
                "tags": list(hit.tags),
                "score": hit.post_score,
                "answer_count": hit.answer_count,
                "accepted": hit.accepted,
            }
            for hit in hits
        ]
    }


def _experts(args: ExpertArgs, _member: User) -> dict[str, Any]:
    try:
        found = experts.find_experts(get_session(), args.topic, limit=args.limit)
    except ValidationError as exc:
        raise ToolRefused(
            " ".join(exc.errors.get("q", ["The topic is not a valid query."]))
        ) from None
    return {
        "items": [
            {
                "username": expert.user.username,
                "display_name": expert.user.display_name,
                "url": _external(url_for("users.profile", username=expert.user.username)),
                "answers": expert.answers,
                "accepted": expert.accepted,
                "articles": expert.articles,
                "votes": expert.votes,
                "top_tags": expert.top_tags,
            }
            for expert in found
        ]
    }


def _save_draft(
    member: User, kind: PostKind, target_id: int, text: drafts.DraftText
) -> dict[str, Any]:
    db = get_session()
    existing = drafts.find(db, member, kind, target_id)
    if existing is not None and (existing.title, existing.body) != (text.title, text.body):
        raise ToolRefused(
            "The member already has a draft for this form; it was left as it is. Ask them "
            "to send or discard it (their drafts are at "
            f"{_external(url_for('drafts.index'))}) first."
        )
    try:
        draft = drafts.save(db, owner=member, kind=kind, target_id=target_id, text=text)
    except ValidationError as exc:
        raise ToolRefused(
            " ".join(message for messages in exc.errors.values() for message in messages)
        ) from None
    assert draft is not None
    db.commit()
    if kind == PostKind.QUESTION:
        review = url_for("questions.ask")
    else:
        review = url_for("questions.detail", question_id=target_id) + "#answer"
    return {
        "draft_id": draft.id,
        "kind": kind.value,
        "published": False,
        "review_url": _external(review),
        "note": "Saved as a draft only: the member reviews it there and publishes it.",
    }


def _draft_question(args: DraftQuestionArgs, member: User) -> dict[str, Any]:
    text = drafts.DraftText(title=args.title, body=args.body, tags=" ".join(args.tags))
    return _save_draft(member, PostKind.QUESTION, 0, text)


def _draft_answer(args: DraftAnswerArgs, member: User) -> dict[str, Any]:
    question = questions.get(get_session(), args.question_id, viewer=member)
    if question.closed_at is not None:
        raise ToolRefused("This question is closed: it takes no new answers.")
    return _save_draft(member, PostKind.ANSWER, question.id, drafts.DraftText(body=args.body))


TOOLS: dict[str, Tool] = {
    tool.name: tool
    for tool in (
        Tool(
            "search",
            "Search forum",
            "Search questions, answers and articles with the search page's query language and "
            "ranking. Returns titles, links, highlighted snippets, tags and scores.",
            "read",
            SearchArgs,
            _search,
        ),
        Tool(
            "get_question",
            "Read a question",
            "A question with its Markdown body, its answers (the accepted one marked) and "
            "every comment. Anonymous askers are never named.",
            "read",
            QuestionArgs,
            _get_question,
        ),
        Tool(
            "get_article",
            "Read an article",
            "A knowledge-base article (tip or tutorial) by slug, with its Markdown and "
            "rendered HTML.",
            "read",
            ArticleArgs,
            _get_article,
        ),
        Tool(
            "similar_questions",
            "Find similar questions",
            "Questions already asked that resemble a title: check these before drafting a "
            "new question.",
            "read",
            SimilarArgs,
            _similar,
        ),
        Tool(
            "find_experts",
            "Find experts",
            "Members whose answers and articles on a topic helped colleagues most (accepted "
            "and upvoted work weighs most).",
            "read",
            ExpertArgs,
            _experts,
        ),
        Tool(
            "draft_question",
            "Draft a question",
            "Save a question as the member's draft. Nothing is published: the member reviews "
            "the draft on the ask page and posts it. Refused when they already have another "
            "question draft.",
            "write",
            DraftQuestionArgs,
            _draft_question,
            read_only=False,
        ),
        Tool(
            "draft_answer",
            "Draft an answer",
            "Save an answer to a question as the member's draft. Nothing is published: the "
            "member reviews it under the question and posts it.",
            "write",
            DraftAnswerArgs,
            _draft_answer,
            read_only=False,
        ),
    )
}


class BadCursor(ValueError):
    """A resources/list cursor this server did not give."""


def _resource_cursor(kind: str, api_cursor: str | None) -> str:
    raw = json.dumps([kind, api_cursor], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _read_resource_cursor(cursor: str) -> tuple[str, str | None]:
    try:
        kind, api_cursor = json.loads(
            base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        )
    except (binascii.Error, UnicodeDecodeError, ValueError, TypeError):
        raise BadCursor(cursor) from None
    if kind not in ("q", "a") or not (api_cursor is None or isinstance(api_cursor, str)):
        raise BadCursor(cursor)
    return kind, api_cursor


def list_resources(cursor: str | None = None) -> tuple[list[dict[str, Any]], str | None]:
    """One page of resources: every question, newest first, then every article; and the
    cursor of the next page (None on the last). BadCursor for a cursor not given here."""
    per_page = LISTED_RESOURCES
    if cursor is not None and len(cursor) > 200:
        raise BadCursor(cursor)
    kind, api_cursor = _read_resource_cursor(cursor) if cursor else ("q", None)
    api = _api()
    try:
        if kind == "q":
            questions_page: s.QuestionList = api.list_questions(
                s.QuestionListQuery(limit=per_page, cursor=api_cursor)
            )
            found = [
                {
                    "uri": QUESTION_URI.format(question_id=question.id),
                    "name": f"question-{question.id}",
                    "title": question.title,
                    "mimeType": "application/json",
                }
                for question in questions_page.items
            ]
            after = questions_page.next_cursor
            return found, _resource_cursor("q", after) if after else _resource_cursor("a", None)
        articles_page: s.ArticleList = api.list_articles(
            s.ArticleListQuery(limit=per_page, cursor=api_cursor)
        )
    except ApiProblem:
        raise BadCursor(cursor or "") from None
    found = [
        {
            "uri": ARTICLE_URI.format(slug=article.slug),
            "name": f"article-{article.slug}",
            "title": article.title,
            "mimeType": "application/json",
        }
        for article in articles_page.items
    ]
    after = articles_page.next_cursor
    return found, _resource_cursor("a", after) if after else None


def resource_templates() -> list[dict[str, Any]]:
    """The address patterns of questions and articles."""
    return [
        {
            "uriTemplate": QUESTION_URI,
            "name": "question",
            "title": "A question with its answers and comments",
            "mimeType": "application/json",
        },
        {
            "uriTemplate": ARTICLE_URI,
            "name": "article",
            "title": "A knowledge-base article",
            "mimeType": "application/json",
        },
    ]


def read_resource(uri: str, member: User) -> dict[str, Any] | None:
    """The JSON of the question or article ``uri`` names; None for an address of no resource."""
    prefix_q, prefix_a = "forum://questions/", "forum://articles/"
    if uri.startswith(prefix_q) and uri[len(prefix_q) :].isdigit():
        return _get_question(QuestionArgs(question_id=int(uri[len(prefix_q) :])), member)
    if uri.startswith(prefix_a) and 0 < len(uri) - len(prefix_a) <= 200:
        return _get_article(ArticleArgs(slug=uri[len(prefix_a) :]), member)
    return None
