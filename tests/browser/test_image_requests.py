"""A real browser loading a same-origin image (markup saved before the image policy) does not
count a question view: only opening the page does."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.browser.conftest import LiveServer, log_in

pytestmark = pytest.mark.browser

_VIEWED = re.compile(r"Viewed (\d+) times?")


def _views(page: Any) -> int:
    match = _VIEWED.search(page.locator("main").inner_text())
    assert match, "no view count on the page"
    return int(match.group(1))


def test_an_image_pointing_at_a_question_counts_no_view(
    demo_server: LiveServer, chromium: Any
) -> None:
    reader_context = chromium.new_context()
    reader = reader_context.new_page()
    log_in(reader, demo_server, "luis")
    reader.goto(demo_server.url + "/questions?tab=newest")
    reader.locator(".question-summary__title a").last.click()
    path = reader.url.split(demo_server.url, 1)[1].split("#")[0]
    first = _views(reader)  # the reader's own view is counted (a page load)

    tracker_context = chromium.new_context()
    tracker = tracker_context.new_page()
    log_in(tracker, demo_server, "olivia")
    tracker.goto(demo_server.url + "/")
    # What a stored post could still hold from before the policy: a same-origin image.
    loaded = tracker.evaluate(
        """(src) => new Promise((done) => {
            const img = new Image();
            img.onload = img.onerror = () => done(true);
            img.src = src;
            document.body.append(img);
        })""",
        path,
    )
    assert loaded is True

    reader.reload()  # within the hour: the reader's repeat view is not counted again
    assert _views(reader) == first
    reader_context.close()
    tracker_context.close()
