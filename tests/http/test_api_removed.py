"""Removed content stays removed through the REST API: every route that takes a post's id or
slug answers 404 for a deleted question, answer or article, whatever the method."""

from __future__ import annotations

from typing import Any

from flask import Flask
from sqlalchemy.orm import Session

from forum.models import Role
from forum.services import article_life, posts
from tests.factories import make_answer, make_article, make_question, make_user
from tests.http.api_helpers import api_send, assert_problem, make_token

ID_ARGUMENTS = {"question_id", "answer_id", "post_id", "slug"}
TEXT = "Rotate the staging credentials with the vault command, then restart the workers."


def _sample(schema: dict[str, Any], components: dict[str, Any]) -> Any:
    """A value the schema accepts (required properties only), so only the removal refuses it."""
    if "$ref" in schema:
        return _sample(components[schema["$ref"].rsplit("/", 1)[-1]], components)
    for key in ("anyOf", "oneOf", "allOf"):
        if key in schema:
            return _sample(schema[key][0], components)
    if "enum" in schema:
        return schema["enum"][0]
    if "const" in schema:
        return schema["const"]
    kind = schema.get("type")
    if kind == "object":
        props = schema.get("properties", {})
        return {name: _sample(props[name], components) for name in schema.get("required", [])}
    if kind == "array":
        return ["howto"]
    if kind == "integer":
        return max(1, int(schema.get("minimum", 1)))
    if kind == "boolean":
        return False
    return TEXT


def _body(document: dict[str, Any], path: str, method: str) -> Any:
    operation = document["paths"][path][method.lower()]
    content = operation.get("requestBody", {}).get("content", {})
    if "application/json" not in content:
        return None
    return _sample(
        content["application/json"]["schema"], document.get("components", {}).get("schemas", {})
    )


def test_every_api_route_with_a_post_id_answers_404_for_removed_content(
    app: Flask, session: Session
) -> None:
    author = make_user(session, "author")
    moderator = make_user(session, "mod", role=Role.MODERATOR)
    reader = make_user(session, "reader")
    gone_question = make_question(session, author)
    live_question = make_question(session, author)
    gone_answer = make_answer(session, live_question, author)
    article = make_article(session, author)
    session.flush()
    posts.soft_delete(session, actor=moderator, post=gone_question)
    posts.soft_delete(session, actor=moderator, post=gone_answer)
    article_life.delete(session, actor=moderator, article=article)
    session.commit()
    secret = make_token(session, reader)
    values = {
        "question_id": gone_question.id,
        "answer_id": gone_answer.id,
        "post_id": gone_question.id,
        "slug": article.slug,
    }
    document = app.test_client().get("/api/v1/openapi.json").get_json()
    walked = []
    for rule in app.url_map.iter_rules():
        if not rule.endpoint.startswith("api.") or not ID_ARGUMENTS & rule.arguments:
            continue
        path = rule.rule.removeprefix("/api/v1")
        template = "/api/v1" + rule.rule.removeprefix("/api/v1")
        for name in rule.arguments:
            template = template.replace(f"<int:{name}>", "{" + name + "}")
            template = template.replace(f"<{name}>", "{" + name + "}")
            path = path.replace(f"<int:{name}>", str(values[name]))
            path = path.replace(f"<{name}>", str(values[name]))
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            body = _body(document, _document_path(document, template), method)
            assert_problem(api_send(app, method, path, secret, body), 404)
            walked.append((method, rule.endpoint))
    assert len(walked) >= 10, walked


def _document_path(document: dict[str, Any], template: str) -> str:
    """The document's key for a route (it may leave out the /api/v1 prefix)."""
    for key in (template, template.removeprefix("/api/v1")):
        if key in document["paths"]:
            return key
    raise AssertionError(f"{template} is not in the OpenAPI document")
