"""The MCP server at /mcp: a session through the official SDK's client against a live server,
and the transport's refusals (no token, cookies, scopes, other sites' pages)."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx2
import pytest
from flask import Flask
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.serving import make_server

from forum.api import mcp_tools
from forum.models import Draft
from tests.conftest import Browser
from tests.factories import make_article, make_question, make_user
from tests.http.api_helpers import bearer, make_token

HEADERS = {"Accept": "application/json, text/event-stream"}


@pytest.fixture
def live_url(app: Flask) -> Iterator[str]:
    """The app served on a loopback port by a thread."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/mcp"
    finally:
        server.shutdown()
        thread.join(5)


async def _session(url: str, secret: str) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    async with httpx2.AsyncClient(headers=bearer(secret), timeout=30) as http:
        async with Client(streamable_http_client(url, http_client=http)) as client:
            seen["server"] = client.server_info.name if client.server_info else None
            seen["tools"] = {tool.name: tool for tool in (await client.list_tools()).tools}
            seen["search"] = await client.call_tool("search", {"query": "rotate vpn keys"})
            question_id = seen["search"].structured_content["items"][0]["id"]
            seen["draft"] = await client.call_tool(
                "draft_answer", {"question_id": question_id, "body": "Run `vpn rotate` first."}
            )
            seen["resource"] = await client.read_resource(f"forum://questions/{question_id}")
    return seen


def test_sdk_client_session(app: Flask, session: Session, live_url: str) -> None:
    shy = make_user(session, "shy", display_name="Shy Person")
    member = make_user(session, "ada")
    question = make_question(
        session, shy, title="How do I rotate the VPN keys safely?", anonymous=True
    )
    session.commit()
    secret = make_token(session, member, name="assistant")

    # A thread of its own runs the client's event loop: the browser tests' Playwright keeps one
    # running in this thread for the whole session, and asyncio.run() refuses to nest.
    with ThreadPoolExecutor(max_workers=1) as pool:
        seen = pool.submit(asyncio.run, _session(live_url, secret)).result(timeout=120)

    assert seen["server"] == "forum"
    assert set(seen["tools"]) == {
        "search",
        "get_question",
        "get_article",
        "similar_questions",
        "find_experts",
        "draft_question",
        "draft_answer",
    }
    schema = seen["tools"]["draft_answer"].input_schema
    assert set(schema["required"]) == {"question_id", "body"}
    found = seen["search"]
    assert not found.is_error
    hit = found.structured_content["items"][0]
    assert hit["id"] == question.id and hit["author_username"] is None
    drafted = seen["draft"]
    assert not drafted.is_error, drafted.content
    assert drafted.structured_content["published"] is False
    assert drafted.structured_content["review_url"].endswith(f"/questions/{question.id}#answer")
    draft = session.scalars(select(Draft)).one()
    assert (draft.user_id, draft.kind, draft.target_id) == (member.id, "answer", question.id)
    assert draft.body == "Run `vpn rotate` first."
    # Nothing was published, and the anonymous asker is not named anywhere.
    session.refresh(question)
    assert question.answer_count == 0
    read = json.loads(seen["resource"].contents[0].text)
    assert read["author"] == {"username": None, "display_name": "Anonymous colleague"}
    everything = json.dumps([found.structured_content, read])
    assert "shy" not in everything.lower()


def _rpc(method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": 1, "method": method, "params": params or {}}


def _call(app: Flask, secret: str | None, message: dict[str, Any], **headers: str) -> Any:
    sent = {**HEADERS, **headers, **(bearer(secret) if secret else {})}
    return app.test_client().post("/mcp", json=message, headers=sent)


def test_refuses_requests_without_a_usable_token(
    app: Flask, session: Session, browser: Browser
) -> None:
    make_user(session, "ben")
    session.commit()
    refused = _call(app, None, _rpc("tools/list"))
    assert refused.status_code == 401
    assert refused.headers["WWW-Authenticate"].startswith("Bearer")
    assert _call(app, "fpat_unknown", _rpc("tools/list")).status_code == 401
    # A logged-in browser's cookie is no authority here (and no CSRF token is asked for).
    browser.login("ben")
    assert browser.client.post("/mcp", json=_rpc("tools/list")).status_code == 401
    assert app.test_client().get("/mcp").status_code == 405


def test_scopes_origin_and_protocol_errors(app: Flask, session: Session) -> None:
    member = make_user(session, "cy")
    question = make_question(session, member)
    session.commit()
    reader = make_token(session, member, scopes=("read",))
    drafted = _call(
        app,
        reader,
        _rpc(
            "tools/call",
            {"name": "draft_answer", "arguments": {"question_id": question.id, "body": "x"}},
        ),
    ).get_json()
    assert drafted["result"]["isError"] is True
    assert "'write' scope" in drafted["result"]["content"][0]["text"]
    assert session.scalars(select(Draft)).first() is None
    writer = make_token(session, member, scopes=("write",))
    search = _call(app, writer, _rpc("tools/call", {"name": "search", "arguments": {"query": "x"}}))
    assert search.get_json()["result"]["isError"] is True
    read = _call(app, writer, _rpc("resources/read", {"uri": f"forum://questions/{question.id}"}))
    assert "error" in read.get_json()
    # A page of another site may not drive the server.
    other = _call(app, reader, _rpc("ping"), Origin="https://evil.example")
    assert other.status_code == 403
    assert _call(app, reader, _rpc("nope")).get_json()["error"]["code"] == -32601
    bad = _call(app, reader, _rpc("tools/call", {"name": "get_question", "arguments": {}}))
    assert bad.get_json()["result"]["isError"] is True
    missing = _call(
        app, reader, _rpc("tools/call", {"name": "get_question", "arguments": {"question_id": 999}})
    )
    assert missing.get_json()["result"]["isError"] is True
    note = {"jsonrpc": "2.0", "method": "notifications/initialized"}
    assert _call(app, reader, note).status_code == 202
    old = _call(app, reader, _rpc("ping"), **{"MCP-Protocol-Version": "1999-01-01"})
    assert old.status_code == 400


@pytest.fixture
def app_config(app_config: dict[str, Any]) -> dict[str, Any]:
    """A members-only site: tokens still open the server."""
    return {**app_config, "PUBLIC_READ": False}


def test_works_on_a_members_only_site(app: Flask, session: Session) -> None:
    member = make_user(session, "dee")
    session.commit()
    secret = make_token(session, member)
    listed = _call(app, secret, _rpc("tools/list"))
    assert listed.status_code == 200
    assert len(listed.get_json()["result"]["tools"]) == 7
    # The REST API takes the same tokens on a members-only site.
    assert app.test_client().get("/api/v1/tags", headers=bearer(secret)).status_code == 200
    assert _call(app, None, _rpc("tools/list")).status_code == 401


# --- the transport's details --------------------------------------------------------------------


async def _resources(url: str, secret: str) -> tuple[list[list[str]], list[str]]:
    pages: list[list[str]] = []
    async with httpx2.AsyncClient(headers=bearer(secret), timeout=30) as http:
        async with Client(streamable_http_client(url, http_client=http)) as client:
            cursor: str | None = None
            for _ in range(10):
                page = await client.list_resources(cursor=cursor, cache_mode="bypass")
                pages.append([str(resource.uri) for resource in page.resources])
                cursor = page.next_cursor
                if cursor is None:
                    break
            templates = await client.list_resource_templates()
    return pages, [template.uri_template for template in templates.resource_templates]


def test_resources_are_listed_page_by_page_through_the_sdk(
    app: Flask, session: Session, live_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(mcp_tools, "LISTED_RESOURCES", 2)
    member = make_user(session, "eve")
    asked = [
        make_question(session, member, title=f"Which printer is on floor {n} now?")
        for n in range(3)
    ]
    article = make_article(session, member, title="Printing on every floor")
    session.commit()
    secret = make_token(session, member)
    with ThreadPoolExecutor(max_workers=1) as pool:
        pages, templates = pool.submit(asyncio.run, _resources(live_url, secret)).result(
            timeout=120
        )
    newest_first = [f"forum://questions/{q.id}" for q in reversed(asked)]
    assert pages == [newest_first[:2], newest_first[2:], [f"forum://articles/{article.slug}"]]
    assert templates == ["forum://questions/{question_id}", "forum://articles/{slug}"]
    # A cursor this server did not give is an invalid-params error.
    reader = make_token(session, member, name="raw")
    for method in ("resources/list", "tools/list", "resources/templates/list"):
        bad = _call(app, reader, _rpc(method, {"cursor": "bm90IG91cnM"})).get_json()
        assert bad["error"]["code"] == -32602, method


def _events(response: Any) -> list[dict[str, Any]]:
    """The JSON-RPC messages of a server-sent event stream."""
    assert response.mimetype == "text/event-stream"
    found = []
    for block in response.get_data(as_text=True).split("\n\n"):
        if block.strip():
            lines = block.split("\n")
            assert lines[0] == "event: message"
            found.append(json.loads(lines[1].removeprefix("data: ")))
    return found


def test_accept_origin_and_version_headers(app: Flask, session: Session) -> None:
    member = make_user(session, "fin")
    session.commit()
    secret = make_token(session, member)
    client = app.test_client()
    assert client.get("/mcp").headers["Allow"] == "POST"
    assert client.delete("/mcp", headers=bearer(secret)).status_code == 405
    # JSON when the client accepts it (or says nothing); an event stream when only that.
    both = _call(app, secret, _rpc("ping"))
    assert both.mimetype == "application/json" and both.get_json()["result"] == {}
    bare = client.post("/mcp", json=_rpc("ping"), headers=bearer(secret))
    assert bare.status_code == 200 and bare.mimetype == "application/json"
    streamed = _call(app, secret, _rpc("tools/list"), Accept="text/event-stream")
    [event] = _events(streamed)
    assert event["id"] == 1 and len(event["result"]["tools"]) == 7
    refused = _call(app, secret, _rpc("ping"), Accept="text/html")
    assert refused.status_code == 406 and refused.get_json()["error"]["code"] == -32600
    # Another site's page is refused (DNS rebinding); this site's own pages are not.
    foreign = _call(app, secret, _rpc("ping"), Origin="http://attacker.example")
    assert foreign.status_code == 403
    assert foreign.get_json()["id"] is None and "error" in foreign.get_json()
    assert _call(app, secret, _rpc("ping"), Origin="null").status_code == 403
    assert _call(app, secret, _rpc("ping"), Origin="http://localhost").status_code == 200
    # A protocol revision this server speaks, or 400.
    for version in ("2025-03-26", "2025-06-18", "2025-11-25"):
        ok = _call(app, secret, _rpc("ping"), **{"MCP-Protocol-Version": version})
        assert ok.status_code == 200, version
    assert (
        _call(app, secret, _rpc("ping"), **{"MCP-Protocol-Version": "2024-11-05"}).status_code
        == 400
    )
    # Malformed messages.
    assert _call(app, secret, {"id": 1, "method": "ping"}).status_code == 400
    assert _call(app, secret, {"jsonrpc": "2.0", "id": 1, "method": 7}).status_code == 400
    garbled = client.post(
        "/mcp",
        data="{not json",
        content_type="application/json",
        headers={**HEADERS, **bearer(secret)},
    )
    assert garbled.status_code == 400 and garbled.get_json()["error"]["code"] == -32700


def test_notifications_responses_and_batches(app: Flask, session: Session) -> None:
    member = make_user(session, "gil")
    session.commit()
    secret = make_token(session, member)
    note = {"jsonrpc": "2.0", "method": "notifications/initialized"}
    reply = {"jsonrpc": "2.0", "id": 9, "result": {}}
    for message in (note, reply):
        answered = _call(app, secret, message)
        assert answered.status_code == 202 and answered.get_data() == b""
    # The 2025-03-26 revision's batches: the requests' answers, in order; 202 for none.
    batch = [_rpc("ping") | {"id": "a"}, note, _rpc("tools/list") | {"id": "b"}, {"oops": 1}]
    answers = _call(app, secret, batch)
    assert answers.status_code == 200
    [first, second, third] = answers.get_json()
    assert (first["id"], second["id"], third["id"]) == ("a", "b", None)
    assert len(second["result"]["tools"]) == 7 and third["error"]["code"] == -32600
    streamed = _events(_call(app, secret, batch[:3], Accept="text/event-stream"))
    assert [event["id"] for event in streamed] == ["a", "b"]
    assert _call(app, secret, [note, reply]).status_code == 202
    assert _call(app, secret, []).status_code == 400
    assert _call(app, secret, [note] * 21).status_code == 400
    later = _call(app, secret, batch[:3], **{"MCP-Protocol-Version": "2025-06-18"})
    assert later.status_code == 400
