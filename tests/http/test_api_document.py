"""The OpenAPI document is built from the routes, its reference page works under the CSP,
and Schemathesis finds nothing against it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from flask import Flask
from hypothesis import HealthCheck, given, settings
from schemathesis import checks

from forum import aftercommit, create_app
from forum.blueprints.api import bp
from forum.db import get_engine, new_session
from tests.conftest import _truncate_all, base_config
from tests.factories import make_answer, make_article, make_question, make_user
from tests.http.api_helpers import bearer, make_token


@pytest.fixture
def database_url(sqlite_template: Path, tmp_path: Path) -> str:
    """SQLite only: what these tests check does not depend on the database."""
    import shutil

    path = tmp_path / "forum.db"
    shutil.copyfile(sqlite_template, path)
    return f"sqlite:///{path}"


def test_document_lists_every_route_and_is_valid(app: Flask) -> None:
    response = app.test_client().get("/api/v1/openapi.json")
    assert response.status_code == 200
    document = response.get_json()
    assert document["openapi"] == "3.1.0"
    documented = {
        (method.upper(), path) for path, item in document["paths"].items() for method in item
    }
    routed = set()
    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith("api.") and rule.endpoint not in ("api.openapi", "api.docs"):
            path = rule.rule.removeprefix("/api/v1")
            for converter in ("int:", ""):
                path = path.replace("<" + converter, "{")
            path = path.replace(">", "}")
            routed |= {(m, path) for m in rule.methods - {"HEAD", "OPTIONS"}}
    assert documented == routed and len(routed) >= 20
    # Schemathesis loads (and so checks) the document; every reference resolves.
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == len(routed)
    scopes = {op["x-required-scope"] for item in document["paths"].values() for op in item.values()}
    assert scopes == {"read", "write"}
    for item in document["paths"].values():
        for method, op in item.items():
            assert op["x-required-scope"] == ("read" if method == "get" else "write")
            assert "application/problem+json" in op["responses"]["401"]["content"]


def test_reference_page_renders_the_document_without_scripts(app: Flask) -> None:
    response = app.test_client().get("/api/v1/docs")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "GET /questions/{question_id}" in page and "QuestionCreate" in page
    assert "<script>" not in page and " style=" not in page
    assert "script-src 'self'" in response.headers["Content-Security-Policy"] or (
        "default-src 'self'" in response.headers["Content-Security-Policy"]
    )


STATUSES: dict[str, list[int]] = {}
SCHEMATHESIS_CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_schema_conformance,
    checks.response_headers_conformance,
]


@pytest.fixture
def pg_app(pg_database: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Flask]:
    """The app on PostgreSQL with its search backend (as with several app hosts).

    Hundreds of commits in a few seconds make the Whoosh drain meet segment files that are
    still being written (it logs that and catches up later), which is not what this checks.
    """
    _truncate_all(pg_database)
    monkeypatch.setenv("FORUM_INSTANCE_PATH", str(tmp_path / "instance"))
    application = create_app(base_config(tmp_path, pg_database, SEARCH_BACKEND="postgres"))
    yield application
    aftercommit.wait_idle(60)
    get_engine(application).dispose()


@pytest.mark.slow
def test_schemathesis_finds_no_failure(pg_app: Flask) -> None:
    app = pg_app
    session = new_session(app)
    member = make_user(session, "probe", reputation=2000)
    question = make_question(session, member, tags=("python",))
    answer = make_answer(session, question)
    article = make_article(session, member, title="A tip for probes")
    session.commit()
    secret = make_token(session, member)
    # Half the generated identifiers are swapped for existing objects, so that the operations
    # also succeed, not only answer 404.
    known: dict[str, list[Any]] = {
        "question_id": [question.id],
        "answer_id": [answer.id],
        "post_id": [question.id, answer.id, article.id],
        "slug": [article.slug],
        "name": ["python"],
        "username": ["probe"],
    }
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    failures: list[str] = []
    for result in schema.get_all_operations():
        operation = result.ok()

        @given(case=operation.as_strategy())
        @settings(
            max_examples=12,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def run(case: Any) -> None:
            for name, value in (case.path_parameters or {}).items():
                if name in known and hash(str(value)) % 2 == 0:
                    case.path_parameters[name] = known[name][hash(str(value)) % len(known[name])]
            response = case.call(headers=bearer(secret))
            STATUSES.setdefault(case.operation.label, []).append(response.status_code)
            try:
                case.validate_response(response, checks=SCHEMATHESIS_CHECKS)
            except Exception as exc:  # noqa: BLE001 - collected, reported together below
                failures.append(f"{case.operation.label}: {exc}")

        run()
    session.close()
    assert failures == []
    # Not only refusals: the generated requests also reached the services and succeeded.
    succeeded = {label for label, codes in STATUSES.items() if any(c < 300 for c in codes)}
    assert len(succeeded) >= len(STATUSES) // 2, STATUSES
    assert bp.name == "api"
