"""The header at desktop widths, and every page reachable from the navigation: it fits a phone
and axe-core finds no serious or critical violation, in light and dark."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import (
    PHONE,
    LiveServer,
    describe_violations,
    log_in,
    run_axe,
    sideways_overflow,
)

pytestmark = pytest.mark.browser

ADMIN = "amara"  # the widest header: the staff pages too


def _navigation_pages(page: Any, server: LiveServer) -> list[str]:
    """Every page the header links to (the programme and staff menus included), and the
    pages below them that are known to be wide: a circle session and the audit log."""
    page.goto(server.url + "/")
    header = page.locator("header.site-header")
    paths = {
        href.removeprefix(server.url)
        for href in header.locator("a[href^='/']").evaluate_all(
            "links => links.map(a => a.getAttribute('href'))"
        )
    }
    page.goto(server.url + "/circles")
    session = page.locator("main a[href^='/circles/sessions/']").first.get_attribute("href")
    assert session
    paths |= {str(session), "/moderation/audit", "/admin/users", "/search?q=postgresql"}
    return sorted(paths)


@pytest.fixture(scope="module")
def pages(demo_server: LiveServer, chromium: Any) -> list[str]:
    context = chromium.new_context()
    page = context.new_page()
    log_in(page, demo_server, ADMIN)
    found = _navigation_pages(page, demo_server)
    context.close()
    assert {"/questions", "/mentoring", "/gaps", "/admin/users", "/admin/departments"} <= set(found)
    return found


def _header_rows(page: Any) -> int:
    """How many rows the header's items take (1 when nothing wraps)."""
    tops = page.locator(".site-header__inner > :visible").evaluate_all(
        "items => items.map(el => { const r = el.getBoundingClientRect();"
        " return Math.round(r.top + r.height / 2); })"
    )
    rows: list[int] = []
    for top in sorted(tops):
        if not rows or top - rows[-1] > 12:
            rows.append(top)
    return len(rows)


@pytest.mark.parametrize("width", [1280, 1024])
def test_header_keeps_one_row_and_room_to_search(
    demo_server: LiveServer, chromium: Any, width: int
) -> None:
    context = chromium.new_context(viewport={"width": width, "height": 800})
    page = context.new_page()
    page.set_default_timeout(10_000)
    log_in(page, demo_server, ADMIN)
    page.goto(demo_server.url + "/questions")
    header = page.locator("header.site-header")
    search = header.get_by_role("searchbox", name="Search forum")
    box = search.bounding_box()
    print(f"\n{width}px: search {box['width']:.0f}px, {_header_rows(page)} row(s)")
    assert _header_rows(page) == 1
    assert box["width"] >= (240 if width == 1280 else 160)
    assert sideways_overflow(page) <= 0

    # The programme pages are one menu; it opens from the keyboard and closes on Escape.
    mentoring = header.get_by_role("link", name="Mentoring")
    expect(mentoring).to_be_hidden()
    programmes = header.locator("summary", has_text="Programmes")
    programmes.focus()
    page.keyboard.press("Enter")
    expect(mentoring).to_be_visible()
    page.keyboard.press("Tab")
    assert mentoring.evaluate("el => el === document.activeElement")
    page.keyboard.press("Escape")
    expect(mentoring).to_be_hidden()
    assert programmes.evaluate("el => el === document.activeElement")
    # Opening the account menu (with the staff pages) closes the programme menu.
    programmes.click()
    header.locator(".account-menu > summary").click()
    expect(mentoring).to_be_hidden()
    header.get_by_role("link", name="Departments").click()
    assert page.get_by_role("heading", level=1).inner_text() == "Departments"
    context.close()


def test_the_programme_menu_works_without_javascript(
    demo_server: LiveServer, chromium: Any
) -> None:
    context = chromium.new_context(
        viewport={"width": 1280, "height": 800}, java_script_enabled=False
    )
    page = context.new_page()
    page.set_default_timeout(10_000)
    page.goto(demo_server.url + "/")
    header = page.locator("header.site-header")
    header.locator("summary", has_text="Programmes").click()
    header.get_by_role("link", name="Circles").click()
    assert page.get_by_role("heading", level=1).inner_text() == "Learning circles"
    # The current page's group is marked.
    expect(header.locator(".nav-group__toggle--current")).to_have_text("Programmes")
    context.close()


def test_no_page_scrolls_sideways_on_a_phone(
    demo_server: LiveServer, chromium: Any, pages: list[str]
) -> None:
    context = chromium.new_context(viewport=PHONE, java_script_enabled=False)
    page = context.new_page()
    page.set_default_timeout(10_000)
    log_in(page, demo_server, ADMIN)
    overflowing = {}
    for path in pages:
        response = page.goto(demo_server.url + path)
        assert response is not None and response.status == 200, path
        if (overflow := sideways_overflow(page)) > 0:
            overflowing[path] = overflow
    context.close()
    assert overflowing == {}


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_navigation_pages_have_no_serious_accessibility_violations(
    demo_server: LiveServer, chromium: Any, pages: list[str], scheme: str
) -> None:
    context = chromium.new_context(viewport={"width": 1280, "height": 800}, color_scheme=scheme)
    page = context.new_page()
    page.set_default_timeout(10_000)
    log_in(page, demo_server, ADMIN)
    found: dict[str, list[str]] = {}
    for path in pages:
        page.goto(demo_server.url + path)
        serious = [v for v in run_axe(page) if v["impact"] in ("serious", "critical")]
        if serious:
            found[path] = describe_violations(serious)
    # And with each of the header's menus open, so their links are checked too.
    page.goto(demo_server.url + "/")
    for number, summary in enumerate(page.locator("header .nav-group > summary").all()):
        summary.click()
        serious = [v for v in run_axe(page) if v["impact"] in ("serious", "critical")]
        if serious:
            found[f"/ with menu {number} open"] = describe_violations(serious)
    context.close()
    assert found == {}
