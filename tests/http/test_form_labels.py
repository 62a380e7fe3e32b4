"""Forms tell the truth: a field is marked optional exactly when its form accepts it empty.

Nothing here lists the forms. The demo site is crawled as a visitor, an admin, a moderator and
a member; every POST form found is parsed, and for each labelled field the label and markup
(``(optional)``, ``required``, ``aria-required``) are checked against what the server does when
the form is posted with that field empty and every other field filled.
"""

from __future__ import annotations

import re
from collections import deque
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from forum import demo
from forum.models import Post, PostKind, Tag
from tests.conftest import CSRF_META, TEST_HASH_METHOD

DEMO_PASSWORD = "demo pass phrase"
#: Pages fetched per person, and pages per address shape (``/questions/N`` is one shape).
MAX_PAGES = 400
PAGES_PER_SHAPE = 2
SKIPPED_TYPES = {"hidden", "submit", "button", "checkbox", "search", "file", "reset", "image"}


@dataclass
class Control:
    """One named form control as the page shows it."""

    tag: str
    name: str
    type: str
    id: str | None
    value: str
    required: bool
    aria_required: str | None
    aria_invalid: bool = False
    options: list[str] = field(default_factory=list)
    checked: bool = False


@dataclass
class Group:
    """A field as a person sees it: a label (or legend) and the control(s) it names."""

    label: str
    name: str
    error_id: str
    controls: list[Control]


@dataclass
class Form:
    """A POST form: its address, controls and labelled fields."""

    action: str
    page: str
    controls: list[Control] = field(default_factory=list)
    labels: dict[str, str] = field(default_factory=dict)
    legends: list[tuple[str, list[Control]]] = field(default_factory=list)

    def groups(self) -> list[Group]:
        """The labelled fields a person fills in."""
        found: list[Group] = []
        in_legend = set()
        for legend, radios in self.legends:
            named = [c for c in radios if c.type == "radio"]
            if named:
                in_legend.update(id(c) for c in named)
                found.append(Group(legend, named[0].name, named[0].name + "-error", named))
        for control in self.controls:
            if control.type in SKIPPED_TYPES or id(control) in in_legend or not control.id:
                continue
            label = self.labels.get(control.id)
            if label is not None:
                found.append(Group(label, control.name, control.id + "-error", [control]))
        return found

    def key(self) -> tuple[str, tuple[str, ...]]:
        """The same form on another page (another question, tag or member) counts once."""
        parts = urlsplit(self.action).path.strip("/").split("/")
        kind = f"{parts[0]}/{len(parts)}/{parts[-1] if len(parts) > 2 else ''}"
        names = {re.sub(r"\d+", "N", c.name) for c in self.controls if c.name}
        return kind, tuple(sorted(names))


class PageParser(HTMLParser):
    """Links and POST forms of one page."""

    def __init__(self, page: str) -> None:
        super().__init__(convert_charrefs=True)
        self.page = page
        self.links: list[str] = []
        self.forms: list[Form] = []
        self.form: Form | None = None
        self.text_for: list[str] | None = None
        self.label_for: str | None = None
        self.textarea: Control | None = None
        self.select: Control | None = None
        self.option_value: str | None = None
        self.fieldsets: list[tuple[list[str], list[Control]]] = []
        self.in_legend = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: (v or "") for k, v in attrs}
        if tag == "a" and "href" in a:
            self.links.append(a["href"])
        elif tag == "form":
            if a.get("method", "get").lower() == "post":
                self.form = Form(action=a.get("action") or self.page, page=self.page)
        elif self.form is None:
            return
        elif tag == "fieldset":
            self.fieldsets.append(([], []))
        elif tag == "legend" and self.fieldsets:
            self.in_legend = True
        elif tag == "label" and "for" in a:
            self.label_for = a["for"]
            self.text_for = []
        elif tag in {"input", "textarea", "select", "button"} and (
            a.get("name") or tag == "button" or a.get("type") == "submit"
        ):
            control = Control(
                tag=tag,
                name=a.get("name", ""),
                type=a.get("type", "text" if tag == "input" else "submit").lower()
                if tag in {"input", "button"}
                else tag,
                id=a.get("id"),
                value=a.get("value", ""),
                required="required" in a,
                aria_required=a.get("aria-required"),
                checked="checked" in a,
                aria_invalid=a.get("aria-invalid") == "true",
            )
            self.form.controls.append(control)
            if self.fieldsets:
                self.fieldsets[-1][1].append(control)
            if tag == "textarea":
                self.textarea = control
            elif tag == "select":
                self.select = control
        elif tag == "option" and self.select is not None:
            value = a.get("value", "")
            self.select.options.append(value)
            if "selected" in a or not self.select.value:
                self.select.value = value

    def handle_endtag(self, tag: str) -> None:
        if self.form is None:
            return
        if tag == "form":
            self.forms.append(self.form)
            self.form = None
        elif tag == "label" and self.label_for is not None and self.text_for is not None:
            self.form.labels[self.label_for] = " ".join("".join(self.text_for).split())
            self.label_for = self.text_for = None
        elif tag == "legend":
            self.in_legend = False
        elif tag == "fieldset" and self.fieldsets:
            words, controls = self.fieldsets.pop()
            legend = " ".join("".join(words).split())
            self.form.legends.append((legend, controls))
        elif tag == "textarea":
            self.textarea = None
        elif tag == "select":
            self.select = None

    def handle_data(self, data: str) -> None:
        if self.text_for is not None:
            self.text_for.append(data)
        if self.in_legend and self.fieldsets:
            self.fieldsets[-1][0].append(data)
        if self.textarea is not None:
            self.textarea.value += data


def shape(path: str) -> str:
    """An address with its numbers and slugs blanked: pages of the same kind share a shape."""
    parts = urlsplit(path).path.strip("/").split("/")
    return "/".join(p if not re.search(r"\d|-", p) else "N" for p in parts)


@dataclass
class Filler:
    """Valid values for fields, by name, then by input type."""

    tag: str
    username: str
    article: str
    question: int

    def value(self, control: Control) -> str:
        """A value the form accepts for ``control``."""
        if control.type == "radio" or control.tag == "select":
            return control.value
        by_name = {
            "title": "How do we rotate the staging database password safely?",
            "tags": self.tag,
            "skills_help": self.tag,
            "skills_learn": self.tag,
            "synonym": "a-new-synonym",
            "username": self.username,
            "newcomer": self.username,
            "buddy": self.username,
            "presenter": self.username,
            "email": "someone.new@example.com",
            "display_name": "Someone New",
            "timezone": "Europe/London",
            "link": "https://example.com/call",
            "date": "2031-05-06",
            "time": "10:00",
            "reference": self.article,
            "article": self.article,
            "duplicate_of": str(self.question),
            "department": "Engineering",
        }
        if control.name in by_name:
            return by_name[control.name]
        by_type = {
            "password": "a long pass phrase for tests",
            "number": "8",
            "url": "https://example.com/call",
            "email": "someone.new@example.com",
            "date": "2031-05-06",
            "time": "10:00",
        }
        return by_type.get(
            control.type,
            "Enough words to pass every length check on this forum's text fields, in a sentence.",
        )


def crawl(client: FlaskClient) -> list[Form]:
    """Every distinct POST form reachable from the front page by links."""
    queue: deque[str] = deque(["/"])
    seen: set[str] = {"/"}
    per_shape: dict[str, int] = {}
    forms: dict[tuple[str, tuple[str, ...]], Form] = {}
    fetched = 0
    while queue and fetched < MAX_PAGES:
        path = queue.popleft()
        response = client.get(path)
        fetched += 1
        if response.status_code != 200 or response.mimetype != "text/html":
            continue
        parser = PageParser(path)
        parser.feed(response.get_data(as_text=True))
        for form in parser.forms:
            forms.setdefault(form.key(), form)
        for href in parser.links:
            parts = urlsplit(href)
            if parts.scheme or parts.netloc or not parts.path.startswith("/"):
                continue
            target = parts.path
            if target in seen or target.startswith("/static/") or "." in target.rsplit("/", 1)[-1]:
                continue
            seen.add(target)
            kind = shape(target)
            if per_shape.get(kind, 0) >= PAGES_PER_SHAPE:
                continue
            per_shape[kind] = per_shape.get(kind, 0) + 1
            queue.append(target)
    return list(forms.values())


def post_without(client: FlaskClient, form: Form, group: Group, filler: Filler) -> tuple[int, str]:
    """Post ``form`` as a person would, every field filled except ``group``'s."""
    data: dict[str, Any] = {}
    buttons = [c for c in form.controls if c.type in {"submit", "image"}]
    if buttons and buttons[0].name:  # the button a person clicks is sent with the form
        data[buttons[0].name] = buttons[0].value
    for control in form.controls:
        if control.type in {"submit", "button", "reset", "image", "file"}:
            continue
        if control.type in {"checkbox", "radio"} and not control.checked:
            data.setdefault(control.name, None)
            continue
        if control.type == "hidden":
            data[control.name] = control.value
        else:
            data[control.name] = control.value or filler.value(control)
    for name in [n for n, v in data.items() if v is None]:
        radios = [c for c in form.controls if c.name == name and c.type == "radio"]
        if radios:
            data[name] = radios[0].value
        else:
            del data[name]
    data[group.name] = ""
    response = client.post(form.action, data=data)
    return response.status_code, response.get_data(as_text=True)


def is_refused(status: int, html: str, group: Group) -> bool:
    """Whether the answer refuses the field: the form comes back with it flagged, or a 400."""
    answer = PageParser("")
    answer.feed(html)
    named = [c for f in answer.forms for c in f.controls if c.name == group.name]
    flagged = f'id="{group.error_id}"' in html or any(c.aria_invalid for c in named)
    return status == 400 and (flagged or not named)


@pytest.fixture
def demo_site(app: Flask, session: Session) -> Filler:
    """The demo content, and values its forms accept."""
    demo.load(session, password=DEMO_PASSWORD, hash_method=TEST_HASH_METHOD)
    session.commit()
    tag = session.scalars(select(Tag.name).order_by(Tag.id)).first()
    slug = session.scalars(
        select(Post.slug).where(Post.kind == PostKind.ARTICLE).order_by(Post.id)
    ).first()
    question = session.scalars(
        select(Post.id).where(Post.kind == PostKind.QUESTION).order_by(Post.id)
    ).first()
    assert tag and slug and question
    return Filler(tag=tag, username="priya", article=f"/articles/{slug}", question=question)


def log_in(client: FlaskClient, username: str) -> None:
    """Log in through the login page's own form."""
    page = client.get("/login").get_data(as_text=True)
    token = CSRF_META.search(page)
    assert token
    response = client.post(
        "/login",
        data={"csrf_token": token.group(1), "username": username, "password": DEMO_PASSWORD},
    )
    assert response.status_code == 302, f"{username} could not log in"


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_every_field_is_marked_optional_exactly_when_its_form_accepts_it_empty(
    app: Flask, demo_site: Filler
) -> None:
    problems: list[str] = []
    checked: set[tuple[str, tuple[str, ...], str]] = set()
    total_fields = 0
    for username in (None, "amara", "jonas", "priya"):
        client = app.test_client()
        if username:
            log_in(client, username)
        for form in crawl(client):
            groups = form.groups()
            # Fields marked required first: refusing them changes nothing, so the optional
            # fields' posts (which may succeed) come after.
            groups.sort(key=lambda g: "(optional)" in g.label)
            for group in groups:
                key = (*form.key(), group.name)
                if key in checked:
                    continue
                checked.add(key)
                total_fields += 1
                where = f"{form.page} → {form.action} field {group.name!r} ({group.label!r})"
                optional = "(optional)" in group.label
                for control in group.controls:
                    if control.required == optional:
                        problems.append(f"{where}: label and `required` disagree")
                    if control.required and control.aria_required != "true":
                        problems.append(f"{where}: required without aria-required")
                status, html = post_without(client, form, group, demo_site)
                refused = is_refused(status, html, group)
                if optional and (refused or f'id="{group.error_id}"' in html):
                    problems.append(f"{where}: marked optional, but refused empty")
                if not optional and not refused:
                    problems.append(f"{where}: marked required, but accepted empty ({status})")
    # The crawl reaches the forms people use every day, not a handful.
    assert total_fields >= 60, total_fields
    assert not problems, "\n".join(problems)
