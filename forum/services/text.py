"""Checks shared by every single-line text a member writes (names, titles, places, links)."""

from __future__ import annotations

import re

# C0 and C1 control characters (line breaks, tabs, NUL, ESC...) and the Unicode line and
# paragraph separators: in a header, a calendar feed, a file name or an e-mail they end a line
# or corrupt it, so single-line values never hold them.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")

SINGLE_LINE_MESSAGE = "Use a single line without tabs, line breaks or other control characters."


def has_control_characters(value: str | None) -> bool:
    """True when ``value`` holds a control character or a line separator."""
    return bool(value) and _CONTROL.search(value or "") is not None


def single_line_errors(value: str | None) -> list[str]:
    """The message for a single-line value that is not one, else no messages."""
    return [SINGLE_LINE_MESSAGE] if has_control_characters(value) else []
