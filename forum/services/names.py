"""Display names: refuse names that pass for a label the forum shows in a member's place.

Pages, notifications and the moderation log stand in for people with fixed labels
("Anonymous colleague", "Former member", "The moderators", "Someone"). A member called
"Anonymous colleague" (or "Аnonymous colleague" with a Cyrillic А, or with a zero-width space
inside) could answer in an anonymous thread and pass for the asker. Names are compared by a
*skeleton*: NFKC, a map of the common look-alike letters, case folding, accents and everything
but letters and digits dropped.

No maintained confusables library is installed, so :data:`LOOKALIKES` is a small hand-kept
map of the Cyrillic, Greek and Latin letters (and digits) most often used to imitate Latin
ones, after Unicode's confusables.txt; it covers the letters of the labels it protects.
"""

from __future__ import annotations

import unicodedata

#: Labels the forum shows instead of a member; a name may neither be nor contain them.
SYSTEM_LABELS = (
    "Anonymous colleague",
    "Anonymous colleague (asker)",
    "The anonymous asker",
    "Anonymous questions",
    "Former member",
    "The moderators",
    "The command line",
)
#: Single words used as labels: refused as a whole name (they are fine inside one).
SYSTEM_WORDS = ("Someone", "Anonymous", "Moderator", "Moderators", "Moderation", "System")

#: Look-alike letter → the Latin letter it imitates (case-sensitive: Η looks like H, η like n).
LOOKALIKES: dict[str, str] = {
    # Cyrillic capitals
    "А": "A", "В": "B", "С": "C", "Е": "E", "Н": "H", "І": "I", "Ј": "J", "К": "K", "М": "M",
    "О": "O", "Р": "P", "Ѕ": "S", "Т": "T", "Х": "X", "У": "Y", "Ԁ": "D", "Ԛ": "Q", "Ԝ": "W",
    "Ӏ": "l",
    # Cyrillic small letters
    "а": "a", "в": "b", "с": "c", "е": "e", "ё": "e", "һ": "h", "н": "h", "і": "i", "ї": "i",
    "ј": "j", "к": "k", "м": "m", "о": "o", "р": "p", "ѕ": "s", "т": "t", "х": "x", "у": "y",
    "ԁ": "d", "ԛ": "q", "ԝ": "w", "ӏ": "l", "п": "n", "г": "r",
    # Greek capitals
    "Α": "A", "Β": "B", "Ε": "E", "Ζ": "Z", "Η": "H", "Ι": "I", "Κ": "K", "Μ": "M", "Ν": "N",
    "Ο": "O", "Ρ": "P", "Τ": "T", "Υ": "Y", "Χ": "X",
    # Greek small letters
    "α": "a", "β": "b", "γ": "y", "ε": "e", "η": "n", "ι": "i", "κ": "k", "ν": "v", "ο": "o",
    "ρ": "p", "σ": "o", "τ": "t", "υ": "u", "χ": "x", "ω": "w",
    # Armenian
    "օ": "o", "ս": "u", "ո": "n", "հ": "h", "ց": "g", "ք": "p",
    # Latin small capitals (NFKC leaves them alone)
    "ᴀ": "a", "ʙ": "b", "ᴄ": "c", "ᴅ": "d", "ᴇ": "e", "ꜰ": "f", "ɢ": "g", "ʜ": "h",
    "ɪ": "i", "ᴊ": "j", "ᴋ": "k", "ᴍ": "m", "ɴ": "n", "ᴏ": "o", "ᴘ": "p", "ʀ": "r",
    "ꜱ": "s", "ᴛ": "t", "ᴜ": "u", "ᴠ": "v", "ᴡ": "w", "ʏ": "y", "ᴢ": "z",
    # Latin look-alikes and digits
    "ı": "i", "ȷ": "j", "ɑ": "a", "ɡ": "g", "ɩ": "i", "ʟ": "l", "ǀ": "l", "ꓲ": "l",
    "ø": "o", "đ": "d", "ł": "l", "ħ": "h",
    "0": "o", "1": "l", "|": "l", "5": "s", "3": "e", "@": "a", "$": "s",
}  # fmt: skip
#: After case folding, letters that read the same in most fonts are merged into one.
_MERGE = str.maketrans({"i": "l", "j": "l"})

#: Unicode categories never allowed in a name: controls, format characters (bidi overrides,
#: zero-width joiners and spaces), surrogates, private use, unassigned; line separators too.
REFUSED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})


def skeleton(text: str) -> str:
    """What ``text`` looks like, reduced to lower-case Latin letters and digits."""
    text = unicodedata.normalize("NFKC", text)
    text = "".join(LOOKALIKES.get(ch, ch) for ch in text).casefold()
    text = "".join(
        ch for ch in unicodedata.normalize("NFKD", text) if not unicodedata.combining(ch)
    )
    text = "".join(LOOKALIKES.get(ch, ch) for ch in text)
    letters = "".join(ch for ch in text if ch.isascii() and ch.isalnum())
    # "rn" passes for "m", "vv" for "w", and i, j, l and 1 for one another.
    return letters.replace("rn", "m").replace("vv", "w").translate(_MERGE)


_LABELS = tuple(skeleton(label) for label in SYSTEM_LABELS)
_WORDS = frozenset(skeleton(word) for word in SYSTEM_WORDS)


#: Letters and symbols that draw nothing (Hangul fillers, the blank Braille pattern).
INVISIBLE = frozenset("\u115f\u1160\u3164\uffa0\u2800")


def display_name_problems(name: str) -> list[str]:
    """Why ``name`` cannot be a display name (empty when it can); ``name`` is already stripped."""
    if any(unicodedata.category(ch) in REFUSED_CATEGORIES or ch in INVISIBLE for ch in name):
        return ["Use visible characters only (no control, formatting or direction marks)."]
    shape = skeleton(name)
    if shape in _WORDS or any(label in shape for label in _LABELS):
        return ["This name looks like a label the forum uses; please use your own name."]
    return []
