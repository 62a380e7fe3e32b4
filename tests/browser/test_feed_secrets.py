"""Replacing a secret feed address in a real browser: the confirmation box must be ticked,
and the old address stops working."""

from __future__ import annotations

import urllib.error
import urllib.request
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import (
    LiveServer,
    create_member,
    describe_violations,
    log_in,
    run_axe,
)

pytestmark = pytest.mark.browser


def _status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return exc.code


def test_a_new_calendar_address_after_ticking_the_box(live_server: LiveServer, page: Any) -> None:
    live_server.forum(*create_member("fern", "Fern Feeds"))
    log_in(page, live_server, "fern")
    page.goto(live_server.url + "/users/fern")
    page.get_by_role("link", name="Feed addresses").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Feed addresses")
    field = page.get_by_role("textbox", name="Calendar address")
    old = field.input_value()
    assert "/circles/calendar/" in old and _status(old) == 200

    button = page.get_by_role("button", name="Make a new calendar address")
    button.click()  # the box is not ticked: the browser keeps the form from being sent
    expect(field).to_have_value(old)
    page.get_by_label("Yes, my old calendar address should stop working.").check()
    button.click()
    expect(page.get_by_text("New calendar address made.")).to_be_visible()
    new = page.get_by_role("textbox", name="Calendar address").input_value()
    assert new != old and _status(new) == 200
    assert _status(old) == 404
    serious = [v for v in run_axe(page) if v["impact"] in ("serious", "critical")]
    assert serious == [], describe_violations(serious)
