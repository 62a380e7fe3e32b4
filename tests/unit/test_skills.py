"""Skills members state on their profile: parsing, validation, replacement, one-query reading."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import event, func, select
from sqlalchemy.orm import Session

from forum.models import BuddyPair, MemberSkill, Tag
from forum.services import skills
from forum.services.errors import ValidationError
from forum.services.tags import tags_named
from tests.factories import make_user


def test_set_skills_replaces_both_lists_and_availability(session: Session) -> None:
    member = make_user(session, reputation=500)
    tags_named(session, ["python", "sql", "css"])
    skills.set_skills(
        session, member, help_text="python, sql", learn_text="css", availability="limited"
    )
    session.commit()
    assert skills.skills_of(session, member) == skills.Skills(help=["python", "sql"], learn=["css"])
    assert member.mentoring_availability == "limited"

    skills.set_skills(session, member, help_text="sql", learn_text="", availability="closed")
    session.commit()
    assert skills.skills_of(session, member) == skills.Skills(help=["sql"], learn=[])
    assert session.scalar(select(func.count()).select_from(MemberSkill)) == 1


def test_new_tags_are_created_by_members_allowed_to(session: Session) -> None:
    member = make_user(session, reputation=500)
    skills.set_skills(session, member, help_text="rust", learn_text="go")
    session.commit()
    assert set(session.scalars(select(Tag.name))) >= {"rust", "go"}


@pytest.mark.parametrize(
    ("help_text", "learn_text", "availability", "field"),
    [
        ("Not A Tag!", "", None, "skills_help"),
        ("", " ".join(f"t{n}" for n in range(11)), None, "skills_learn"),
        ("python", "python", None, "skills_learn"),
        ("", "", "sometimes", "mentoring_availability"),
    ],
)
def test_bad_skills_are_refused_per_field(
    session: Session, help_text: str, learn_text: str, availability: str | None, field: str
) -> None:
    member = make_user(session, reputation=500)
    tags_named(session, ["python"])
    with pytest.raises(ValidationError) as caught:
        skills.set_skills(
            session, member, help_text=help_text, learn_text=learn_text, availability=availability
        )
    assert field in caught.value.errors


def test_profile_programs_loads_skills_and_buddy_in_one_query(session: Session) -> None:
    member = make_user(session, reputation=500, mentoring_availability="limited")
    buddy = make_user(session, "buddy", display_name="Bo Buddy")
    session.add(BuddyPair(newcomer_id=member.id, buddy_id=buddy.id))
    skills.set_skills(session, member, help_text="a2 a1", learn_text="b1")
    session.commit()
    with selects(session) as statements:
        programs = skills.profile_programs(session, member)
    assert programs.skills == skills.Skills(help=["a1", "a2"], learn=["b1"])
    assert (programs.buddy_username, programs.buddy_name) == ("buddy", "Bo Buddy")
    assert programs.availability == "Limited time for mentees"
    assert len(statements) == 1


@contextmanager
def selects(session: Session) -> Iterator[list[str]]:
    """The SELECT statements run meanwhile."""
    statements: list[str] = []

    def record(*args: object) -> None:
        if str(args[2]).lstrip().upper().startswith("SELECT"):
            statements.append(str(args[2]))

    engine = session.get_bind()
    event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", record)


def test_skills_of_is_one_query(session: Session) -> None:
    member = make_user(session, reputation=500)
    skills.set_skills(session, member, help_text="a1 a2 a3", learn_text="b1 b2")
    session.commit()
    statements: list[str] = []

    def record(*args: object) -> None:
        statements.append(str(args[2]))

    engine = session.get_bind()
    event.listen(engine, "before_cursor_execute", record)
    try:
        result = skills.skills_of(session, member)
    finally:
        event.remove(engine, "before_cursor_execute", record)
    assert result.help == ["a1", "a2", "a3"] and result.learn == ["b1", "b2"]
    assert len([s for s in statements if s.lstrip().upper().startswith("SELECT")]) == 1


def test_members_who_can_help_leaves_out_closed_availability(session: Session) -> None:
    open_member = make_user(session, "openhelper", reputation=500)
    closed = make_user(session, "closedhelper", reputation=500)
    skills.set_skills(session, open_member, help_text="python", learn_text="")
    skills.set_skills(session, closed, help_text="python", learn_text="", availability="closed")
    session.commit()
    python = session.scalar(select(Tag).where(Tag.name == "python"))
    assert python is not None
    assert [u.username for u in skills.members_who_can_help(session, python)] == ["openhelper"]


def test_members_without_the_privilege_use_existing_tags_only(session: Session) -> None:
    newcomer = make_user(session, reputation=1)
    tags_named(session, ["python"])
    with pytest.raises(ValidationError) as caught:
        skills.set_skills(session, newcomer, help_text="", learn_text="python brandnewtag")
    assert caught.value.errors == {
        "skills_learn": [
            "Creating a new tag takes 100 reputation (you have 1): brandnewtag. "
            "Choose existing tags from the tags page."
        ]
    }
    skills.set_skills(session, newcomer, help_text="", learn_text="python")
    assert skills.skills_of(session, newcomer).learn == ["python"]
