"""The ten key pages on demo content: accessibility (axe-core), light and dark, phone, weight.

``FORUM_SCREENSHOTS=1`` (``make screenshots``) also saves them into docs/screenshots/.
"""

from __future__ import annotations

import re
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import (
    DESKTOP,
    PHONE,
    LiveServer,
    describe_violations,
    log_in,
    run_axe,
    save_screenshot,
    sideways_overflow,
)

pytestmark = pytest.mark.browser

MEMBER = "luis"
ADMIN = "amara"
#: The few pages docs/screenshots/ keeps (FORUM_SCREENSHOTS=1), per viewport and colour scheme.
SHOTS = {
    "desktop-light": {"home", "question", "search"},
    "desktop-dark": {"article"},
    "phone-light": {"question"},
}


@pytest.fixture(scope="module")
def demo(demo_server: LiveServer) -> LiveServer:
    """The shared server with the demo content."""
    return demo_server


@pytest.fixture(scope="module")
def key_pages(demo: LiveServer, chromium: Any) -> dict[str, str]:
    """Name -> path of the ten key pages (the question and article are the demo's first)."""
    context = chromium.new_context()
    page = context.new_page()
    page.goto(demo.url + "/questions?tab=top")
    question = page.locator(".question-summary__title a").first.get_attribute("href")
    page.goto(demo.url + "/articles?type=tutorial")
    article = page.locator("a.article-item__title").first.get_attribute("href")
    context.close()
    assert question and article
    return {
        "home": "/",
        "questions": "/questions",
        "question": question,
        "ask": "/questions/ask",
        "article": article,
        "article-edit": article + "/edit",
        "search": "/search?q=postgresql",
        "profile": "/users/amara",
        "tags": "/tags",
        "login": "/login",
    }


def _context(chromium: Any, demo: LiveServer, scheme: str, viewport: dict[str, int]) -> Any:
    context = chromium.new_context(viewport=viewport, color_scheme=scheme)
    page = context.new_page()
    page.set_default_timeout(10_000)
    log_in(page, demo, MEMBER)
    return context, page


def _visit(page: Any, demo: LiveServer, name: str, path: str) -> None:
    if name == "login":
        # The login page as a visitor sees it: same context, logged out first.
        header = page.locator("header.site-header")
        header.locator(".account-menu > summary").click()
        header.get_by_role("button", name="Log out").click()
        page.wait_for_load_state("load")
    response = page.goto(demo.url + path)
    assert response is not None and response.status == 200, (name, path)


@pytest.fixture(params=["light", "dark"])
def scheme(request: pytest.FixtureRequest) -> Iterator[str]:
    yield str(request.param)


def test_key_pages_have_no_serious_accessibility_violations(
    demo: LiveServer, chromium: Any, key_pages: dict[str, str], scheme: str
) -> None:
    context, page = _context(chromium, demo, scheme, DESKTOP)
    found: dict[str, list[str]] = {}
    summary: list[str] = []
    for name, path in key_pages.items():
        _visit(page, demo, name, path)
        assert page.evaluate("matchMedia('(prefers-color-scheme: dark)').matches") == (
            scheme == "dark"
        )
        violations = run_axe(page)
        by_impact: dict[str, list[str]] = {}
        for v in violations:
            by_impact.setdefault(v["impact"], []).append(f"{v['id']}×{len(v['nodes'])}")
        summary.append(f"{name}: {by_impact or 'none'}")
        serious = [v for v in violations if v["impact"] in ("serious", "critical")]
        if serious:
            found[name] = describe_violations(serious)
        if name in SHOTS["desktop-" + scheme]:
            save_screenshot(page, f"{name}-desktop-{scheme}")
        if name == "question":
            # Relative times, with the exact time on hover.
            moment = page.locator("main time[datetime]").first
            assert re.fullmatch(r"just now|\d+ \w+ ago", moment.inner_text())
            assert re.fullmatch(r"\d\d \w{3} \d{4}, \d\d:\d\d UTC", moment.get_attribute("title"))
        if name == "home":
            # On a wide screen the whole navigation shows; there is no menu button to open.
            header = page.locator("header.site-header")
            expect(header.get_by_role("link", name="Questions")).to_be_visible()
            expect(header.locator(".site-menu__toggle")).to_be_hidden()
    context.close()
    print(f"\naxe ({scheme}):\n  " + "\n  ".join(summary))
    assert found == {}


def test_phone_layout_fits_and_the_menu_works_without_javascript(
    demo: LiveServer, chromium: Any, key_pages: dict[str, str]
) -> None:
    context = chromium.new_context(viewport=PHONE, java_script_enabled=False)
    page = context.new_page()
    page.set_default_timeout(10_000)
    log_in(page, demo, ADMIN)  # the widest header: admin and moderation links
    overflowing = {}
    for name, path in key_pages.items():
        _visit(page, demo, name, path)
        overflow = sideways_overflow(page)
        if overflow > 0:
            overflowing[name] = overflow
        if name in SHOTS["phone-light"]:
            save_screenshot(page, f"{name}-phone-light")
    assert overflowing == {}

    # The navigation is folded into a menu that opens and works without scripts.
    page.goto(demo.url + "/")
    header = page.locator("header.site-header")
    questions = header.get_by_role("link", name="Questions")
    expect(questions).to_be_hidden()
    header.locator("summary", has_text="Menu").click()
    expect(questions).to_be_visible()
    box = header.get_by_role("navigation", name="Main").bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]
    save_screenshot(page, "menu-phone-light")
    questions.click()
    assert page.get_by_role("heading", level=1).inner_text() == "Questions"

    # Forms are usable: every field fits the screen and the form can be sent.
    page.goto(demo.url + "/login")
    for field in page.locator("main input:visible, main button:visible").all():
        box = field.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"], field
    log_in(page, demo, MEMBER)
    page.goto(demo.url + "/questions/ask")
    for field in page.locator("main input:visible, main textarea:visible").all():
        box = field.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"], field
    assert sideways_overflow(page) <= 0
    context.close()


def test_question_page_weight(demo: LiveServer, chromium: Any, key_pages: dict[str, str]) -> None:
    """HTML + CSS + JS of a question page as a first-time visitor transfers them."""
    context = chromium.new_context()
    page = context.new_page()
    finished: list[Any] = []
    page.on("requestfinished", lambda request: finished.append(request))
    page.goto(demo.url + key_pages["question"])
    page.wait_for_load_state("networkidle")
    weight: dict[str, int] = {}
    for request in finished:
        kind = request.resource_type
        if kind not in ("document", "stylesheet", "script"):
            continue
        sizes = request.sizes()
        weight[kind] = (
            weight.get(kind, 0) + sizes["responseBodySize"] + sizes["responseHeadersSize"]
        )
    # Cross-check the body bytes against what the server sends.
    with urllib.request.urlopen(demo.url + key_pages["question"]) as response:
        assert abs(len(response.read()) - weight["document"]) < 4096
    context.close()
    total = sum(weight.values())
    print(f"\nquestion page weight: {total} bytes {weight}")
    assert set(weight) == {"document", "stylesheet", "script"}
    assert total < 100_000


def test_phone_menu_closes_on_escape_and_outside_taps(demo: LiveServer, page: Any) -> None:
    page.set_viewport_size(PHONE)
    page.goto(demo.url + "/")
    menu = page.locator("header.site-header details.site-menu")
    toggle = menu.locator("summary")
    toggle.click()
    assert menu.get_attribute("open") is not None
    page.keyboard.press("Escape")
    assert menu.get_attribute("open") is None
    assert toggle.evaluate("el => el === document.activeElement")
    toggle.click()
    page.mouse.click(8, PHONE["height"] - 40)  # outside the open menu
    assert menu.get_attribute("open") is None
