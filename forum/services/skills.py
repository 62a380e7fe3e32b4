"""Skills: the tags a member can help with or wants to learn, and their mentoring availability."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

from sqlalchemy import CompoundSelect, Integer, bindparam, delete, literal, select, union_all
from sqlalchemy.orm import Session

from forum.models import BuddyPair, MemberSkill, Tag, User
from forum.services import tags as tag_service
from forum.services.errors import ValidationError

HELP = "help"
LEARN = "learn"
KINDS = (HELP, LEARN)
AVAILABILITY = ("open", "limited", "closed")
AVAILABILITY_LABELS = {
    "open": "Open to mentees",
    "limited": "Limited time for mentees",
    "closed": "Not taking mentees",
}
#: How many tags each list may hold.
MAX_SKILLS = 10


@dataclass
class Skills:
    """A member's stated skills, tag names in alphabetical order."""

    help: list[str] = field(default_factory=list)
    learn: list[str] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        """True when the member has stated nothing."""
        return not self.help and not self.learn


def skills_of(session: Session, user: User) -> Skills:
    """Both lists of a member's skills, in one query."""
    result = Skills()
    rows = session.execute(
        select(MemberSkill.kind, Tag.name)
        .join(Tag, Tag.id == MemberSkill.tag_id)
        .where(MemberSkill.user_id == user.id)
        .order_by(Tag.name)
    )
    for kind, name in rows:
        (result.help if kind == HELP else result.learn).append(str(name))
    return result


@dataclass
class ProfilePrograms:
    """What a profile page shows of the peer-learning programs: skills and the member's buddy."""

    skills: Skills
    availability: str
    buddy_username: str | None = None
    buddy_name: str | None = None


@functools.cache
def _programs_statement() -> CompoundSelect[str, str, str]:
    """A member's stated skills and buddy (built once; the member is a parameter)."""
    member_id = bindparam("member_id", type_=Integer)
    stated = (
        select(MemberSkill.kind, Tag.name, literal("").label("extra"))
        .join(Tag, Tag.id == MemberSkill.tag_id)
        .where(MemberSkill.user_id == member_id)
    )
    buddy = (
        select(literal("buddy"), User.username, User.display_name)
        .join(BuddyPair, BuddyPair.buddy_id == User.id)
        .where(BuddyPair.newcomer_id == member_id)
    )
    return union_all(stated, buddy)


def profile_programs(session: Session, user: User) -> ProfilePrograms:
    """A member's skills and buddy for their profile page, in one query."""
    result = ProfilePrograms(Skills(), AVAILABILITY_LABELS.get(user.mentoring_availability, ""))
    for kind, name, extra in session.execute(_programs_statement(), {"member_id": user.id}):
        if kind == "buddy":
            result.buddy_username, result.buddy_name = str(name), str(extra)
        else:
            (result.skills.help if kind == HELP else result.skills.learn).append(str(name))
    result.skills.help.sort()
    result.skills.learn.sort()
    return result


def _check_names(session: Session, user: User, field_name: str, text: str) -> list[str]:
    """Parsed, validated and synonym-resolved tag names of one list; errors name the field."""
    names = tag_service.parse_tags(text or "")
    problems = tag_service.tag_errors(names, required=False)
    problems = [p for p in problems if not p.startswith("Use at most")]
    if len(names) > MAX_SKILLS:
        problems.append(f"List at most {MAX_SKILLS} tags.")
    if problems:
        raise ValidationError({field_name: problems})
    return tag_service.attachable_names(session, user, names, field=field_name)


def set_skills(
    session: Session,
    user: User,
    *,
    help_text: str,
    learn_text: str,
    availability: str | None = None,
) -> Skills:
    """Replace a member's skills with the typed tag lists (and set availability when given)."""
    errors: dict[str, list[str]] = {}
    lists: dict[str, list[str]] = {}
    for kind, field_name, text in (
        (HELP, "skills_help", help_text),
        (LEARN, "skills_learn", learn_text),
    ):
        try:
            lists[kind] = _check_names(session, user, field_name, text)
        except ValidationError as exc:
            errors.update(exc.errors)
    if availability is not None and availability not in AVAILABILITY:
        errors["mentoring_availability"] = ["Choose open, limited or closed."]
    if errors:
        raise ValidationError(errors)
    both = set(lists[HELP]) & set(lists[LEARN])
    if both:
        raise ValidationError(
            {"skills_learn": ["A tag can't be in both lists: " + ", ".join(sorted(both))]}
        )
    if availability is not None:
        user.mentoring_availability = availability
    tags = {t.name: t for t in tag_service.tags_named(session, lists[HELP] + lists[LEARN])}
    session.flush()
    session.execute(delete(MemberSkill).where(MemberSkill.user_id == user.id))
    for kind in KINDS:
        for name in lists[kind]:
            session.add(MemberSkill(user_id=user.id, tag_id=tags[name].id, kind=kind))
    session.flush()
    return Skills(help=sorted(lists[HELP]), learn=sorted(lists[LEARN]))


def members_who_can_help(session: Session, tag: Tag) -> list[User]:
    """Active members who say they can help with ``tag`` and take mentees, by name."""
    return list(
        session.scalars(
            select(User)
            .join(MemberSkill, MemberSkill.user_id == User.id)
            .where(
                MemberSkill.tag_id == tag.id,
                MemberSkill.kind == HELP,
                User.is_active.is_(True),
                User.mentoring_availability != "closed",
            )
            .order_by(User.display_name)
        )
    )
