"""The search query language, parsed here and handed to a backend as a small tree."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field

MAX_QUERY_LENGTH = 500
MAX_DEPTH = 4
MAX_CLAUSES = 24
MIN_PREFIX = 3

KINDS = {"question", "answer", "article"}
ARTICLE_TYPES = {"tip", "tutorial"}
STATUSES = {"answered", "unanswered", "accepted"}

# Things only a regular expression would contain; a trailing "?" on a question is fine.
_REGEX_HINT = re.compile(
    r"(^|\s)/\S.*/(\s|$)|\\[dwsbDWSB.()]|\.[*+]|\[[^\]]*\]|\{\d*,?\d*\}|\||(^|\s)\^|\w\$(\s|$)"
)
_WORD = re.compile(r"[^\W_]+(?:[+#.'-][^\W_]+)*[+#]*", re.UNICODE)
_DATE = re.compile(r"^(>=|<=|>|<|=)?(\d{4}-\d{2}-\d{2})$")
_NUMBER = re.compile(r"^(>=|<=|>|<|=)?(-?\d{1,9})$")
#: What a username can look like (registration's rule, and imported ``site.123-2`` names).
_USERNAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")


class QueryRefused(ValueError):
    """The query cannot be run; the message tells the person why, in plain words."""


@dataclass(frozen=True)
class Word:
    """One word; ``prefix`` when it ended with a ``*``."""

    text: str
    prefix: bool = False


@dataclass(frozen=True)
class Phrase:
    """Words that must appear together, in order."""

    words: tuple[str, ...]


@dataclass(frozen=True)
class Any_:
    """At least one of the parts (``a OR b``)."""

    parts: tuple[Node, ...]


@dataclass(frozen=True)
class All:
    """Every part (a parenthesised group)."""

    parts: tuple[Node, ...]


Node = Word | Phrase | Any_ | All


@dataclass(frozen=True)
class Range:
    """A comparison such as ``>=3`` or ``>2025-01-01``."""

    op: str
    value: int | dt.date


@dataclass
class Query:
    """A parsed query: free-text clauses (all ranked first, any kept) and exact filters."""

    clauses: list[Node] = field(default_factory=list)
    excluded: list[Node] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    excluded_tags: list[str] = field(default_factory=list)
    users: list[str] = field(default_factory=list)
    kinds: set[str] = field(default_factory=set)
    article_types: set[str] = field(default_factory=set)
    statuses: set[str] = field(default_factory=set)
    score: list[Range] = field(default_factory=list)
    created: list[Range] = field(default_factory=list)

    @property
    def has_filters(self) -> bool:
        """Whether anything besides free text narrows the results."""
        return bool(
            self.tags
            or self.excluded_tags
            or self.users
            or self.kinds
            or self.article_types
            or self.statuses
            or self.score
            or self.created
        )

    @property
    def is_empty(self) -> bool:
        """Nothing to search for (only stop words, symbols, or nothing at all)."""
        return not self.clauses and not self.has_filters

    def words(self) -> list[str]:
        """Every positive word, for highlighting and spelling suggestions."""
        out: list[str] = []

        def walk(node: Node) -> None:
            if isinstance(node, Word):
                out.append(node.text)
            elif isinstance(node, Phrase):
                out.extend(node.words)
            else:
                for part in node.parts:
                    walk(part)

        for clause in self.clauses:
            walk(clause)
        return out


def _tokenise(text: str) -> list[str]:
    """Split into tokens: quoted phrases, parentheses, and runs of other characters."""
    tokens: list[str] = []
    i = 0
    n = len(text)
    while i < n:
        ch = text[i]
        if ch.isspace():
            i += 1
        elif ch in "()":
            tokens.append(ch)
            i += 1
        elif ch == '"' or (ch == "-" and i + 1 < n and text[i + 1] == '"'):
            start = i
            i = text.find('"', i + (2 if ch == "-" else 1))
            i = n if i < 0 else i + 1
            tokens.append(text[start:i])
        else:
            start = i
            while i < n and not text[i].isspace() and text[i] not in '()"':
                i += 1
            tokens.append(text[start:i])
    return tokens


def _words_of(text: str) -> list[str]:
    return [m.group(0).lower() for m in _WORD.finditer(text)]


def _range(raw: str, pattern: re.Pattern[str], name: str, example: str) -> Range:
    match = pattern.match(raw)
    if not match:
        raise QueryRefused(f"{name}: expects a comparison such as {example}.")
    op = match.group(1) or "="
    value_text = match.group(2)
    if name == "created":
        try:
            value: int | dt.date = dt.date.fromisoformat(value_text)
        except ValueError:
            raise QueryRefused(f"created: {value_text} is not a date (YYYY-MM-DD).") from None
    else:
        value = int(value_text)
    return Range(op, value)


class _Parser:
    def __init__(self, tokens: list[str], query: Query) -> None:
        self.tokens = tokens
        self.pos = 0
        self.query = query
        self.count = 0

    def parse_sequence(self, depth: int, closing: bool) -> list[Node]:
        """Parse terms until the end (or a closing parenthesis), joining ``OR`` runs."""
        items: list[Node] = []
        pending_or = False
        while self.pos < len(self.tokens):
            token = self.tokens[self.pos]
            if token == ")":
                if closing:
                    self.pos += 1
                    break
                self.pos += 1  # a stray closing parenthesis means nothing
                continue
            if token == "OR":
                self.pos += 1
                pending_or = bool(items)
                continue
            node = self.parse_term(depth)
            if node is None:
                continue
            self.count += 1
            if self.count > MAX_CLAUSES:
                raise QueryRefused(
                    f"The query has more than {MAX_CLAUSES} terms; remove some and try again."
                )
            if pending_or and items:
                previous = items.pop()
                left = previous.parts if isinstance(previous, Any_) else (previous,)
                items.append(Any_((*left, node)))
            else:
                items.append(node)
            pending_or = False
        return items

    def parse_term(self, depth: int) -> Node | None:
        token = self.tokens[self.pos]
        self.pos += 1
        if token == "(":
            if depth + 1 > MAX_DEPTH:
                raise QueryRefused(
                    f"The query nests parentheses more than {MAX_DEPTH} deep; simplify it."
                )
            parts = self.parse_sequence(depth + 1, closing=True)
            if not parts:
                return None
            return parts[0] if len(parts) == 1 else All(tuple(parts))
        negated = token.startswith("-") and len(token) > 1
        body = token[1:] if negated else token
        if body.startswith('"'):
            words = _words_of(body.strip('"'))
            if not words:
                return None
            node: Node = Word(words[0]) if len(words) == 1 else Phrase(tuple(words))
            if negated:
                self.query.excluded.append(node)
                return None
            return node
        if ":" in body and self._operator(body, negated):
            return None
        if "*" in body:
            star = body.index("*")
            if star != len(body) - 1 or body.count("*") > 1:
                raise QueryRefused(
                    "Wildcards are allowed only at the end of a word (e.g. kube*), not at the start"
                    " or in the middle."
                )
            stem = _words_of(body[:-1])
            if len(stem) != 1 or len(stem[0]) < MIN_PREFIX:
                raise QueryRefused(
                    f"A wildcard needs at least {MIN_PREFIX} letters before the * (e.g. kube*)."
                )
            node = Word(stem[0], prefix=True)
        else:
            words = _words_of(body)
            if not words:
                return None
            node = Word(words[0]) if len(words) == 1 else Phrase(tuple(words))
        if negated:
            self.query.excluded.append(node)
            return None
        return node

    def _operator(self, body: str, negated: bool) -> bool:
        name, _, value = body.partition(":")
        name = name.lower()
        value = value.strip()
        q = self.query
        if name == "tag":
            tag = value.lower()
            if not tag:
                raise QueryRefused("tag: needs a tag name, e.g. tag:python.")
            (q.excluded_tags if negated else q.tags).append(tag)
        elif name == "user":
            username = value.lower().removeprefix("@")
            # Anonymous posts and former members' posts have no username: an empty (or any
            # non-username) value must never select exactly them.
            if negated or not _USERNAME.match(username):
                raise QueryRefused("user: needs a username, e.g. user:amara.")
            q.users.append(username)
        elif name == "is":
            what = value.lower()
            if what in KINDS:
                q.kinds.add(what)
            elif what in ARTICLE_TYPES:
                q.article_types.add(what)
            elif what in STATUSES:
                q.statuses.add(what)
            else:
                choices = "question, answer, article, tip, tutorial, answered, unanswered, accepted"
                raise QueryRefused(f"is: accepts {choices}.")
        elif name == "score":
            q.score.append(_range(value, _NUMBER, "score", "score:>=3"))
        elif name == "created":
            q.created.append(_range(value, _DATE, "created", "created:>2025-01-01"))
        else:
            return False  # "c++:" or "http://..." are just words
        return True


def parse(text: str) -> Query:
    """Parse ``text`` into a Query; raise QueryRefused with a readable reason."""
    if len(text) > MAX_QUERY_LENGTH:
        raise QueryRefused(
            f"The query is longer than {MAX_QUERY_LENGTH} characters; shorten it to the key words."
        )
    if text.count("(") > MAX_DEPTH * 4:
        raise QueryRefused(f"The query nests parentheses more than {MAX_DEPTH} deep; simplify it.")
    stripped = " ".join(t for t in _tokenise(text) if not t.startswith(('"', '-"')))
    if _REGEX_HINT.search(stripped):
        raise QueryRefused(
            'Regular expressions are not supported; search for plain words, "a phrase"'
            " or a trailing * (e.g. kube*)."
        )
    if stripped.startswith("*") or " *" in stripped:
        raise QueryRefused(
            "Wildcards are allowed only at the end of a word (e.g. kube*), not at the start."
        )
    query = Query()
    parser = _Parser(_tokenise(text), query)
    query.clauses = parser.parse_sequence(0, closing=False)
    return query
