"""Display names that pass for the forum's own labels, or hide control characters, are refused."""

from __future__ import annotations

import pytest

from forum.services import comments, notification_events, posts
from forum.services.names import SYSTEM_LABELS, display_name_problems, skeleton

IMITATIONS = [
    "Anonymous colleague",
    "anonymous COLLEAGUE",
    "Anonymous colleague (asker)",
    "Anonymous  colleague",
    "Anonymous colleague 2",
    "Аnоnymоus cоllеаguе",  # Cyrillic а, о, е
    "Anοnymοus cοlleague",  # Greek ο
    "An0nym0us c0lleague",
    "Ａｎｏｎｙｍｏｕｓ ｃｏｌｌｅａｇｕｅ",  # fullwidth
    "Anónymous colléague",  # accents
    "Anonymous.colleague",
    "Former member",
    "FORMER MEMBER",
    "Forrner rnernber",
    "Fοrmer member",
    "The moderators",
    "The mоderators",
    "Someone",
    "SOMEONE",
    "S0me0ne",
    "Ѕomeone",  # Cyrillic Ѕ
    "The anonymous asker",
    "Anonymous",
    "ᴀɴᴏɴʏᴍᴏᴜꜱ ᴄᴏʟʟᴇᴀɢᴜᴇ",  # small capitals
    "𝐀𝐧𝐨𝐧𝐲𝐦𝐨𝐮𝐬 𝐜𝐨𝐥𝐥𝐞𝐚𝐠𝐮𝐞",  # mathematical bold
    "Sօmeօne",  # Armenian օ
    "Førmer member",
]
CONTROLS = [
    "Anonymous\u200bcolleague",  # zero-width space
    "Ada\u202eecalevol",  # right-to-left override
    "Ada\u2066Lovelace\u2069",  # bidi isolates
    "Ada\u200dLovelace",  # zero-width joiner
    "Ada\u0007Lovelace",  # control
    "Ada\tLovelace",
    "Ada\u2028Lovelace",  # line separator
    "Ada\ue000",  # private use
    "Ada\U000e0041",  # tag character
    "Ada\u0378",  # unassigned
    "\u3164",  # a Hangul filler: draws nothing
    "Anonymous\u3164colleague",
    "Ada\u2800",  # the blank Braille pattern
]
FINE = [
    "Ada Lovelace",
    "Grace Hopper",
    "Someone Else",
    "José Ñúñez",
    "Zoë Ωmega",
    "李小龙",
    "Анна Каренина",
    "Former Engineer",
    "Mod Squad",
    "O'Brien-Smith",
]


@pytest.mark.parametrize("name", IMITATIONS)
def test_names_imitating_labels_are_refused(name: str) -> None:
    assert display_name_problems(name) == [
        "This name looks like a label the forum uses; please use your own name."
    ]


@pytest.mark.parametrize("name", CONTROLS)
def test_control_format_and_direction_characters_are_refused(name: str) -> None:
    assert display_name_problems(name) == [
        "Use visible characters only (no control, formatting or direction marks)."
    ]


@pytest.mark.parametrize("name", FINE)
def test_ordinary_names_in_any_script_are_fine(name: str) -> None:
    assert display_name_problems(name) == []


def test_every_label_the_forum_shows_is_protected() -> None:
    shown = {
        posts.ANONYMOUS_LABEL,
        posts.FORMER_MEMBER_LABEL,
        comments.ANONYMOUS_ASKER_LABEL,
        notification_events.ANONYMOUS_ACTOR,
        notification_events.ANONYMOUS_ASKER,
    }
    for label in shown:
        assert display_name_problems(label), label
        assert display_name_problems(label.upper()), label
    assert set(SYSTEM_LABELS) >= shown - {notification_events.ANONYMOUS_ACTOR}


def test_skeleton_maps_lookalikes_to_latin() -> None:
    assert skeleton("Аnоnymоus") == skeleton("anonymous") == "anonymous"
    assert skeleton("rn") == skeleton("m")
