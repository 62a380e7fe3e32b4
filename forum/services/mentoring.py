"""Mentoring and buddies: suggesting mentors, the request → pairing → feedback lifecycle, buddies.

Mentors are suggested per tag a member wants to learn, ranked by what colleagues have shown in
that tag (answer score, accepted answers, tutorials others found helpful) plus whether they say
they can help. Members who closed their availability are never suggested.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from sqlalchemy import and_, distinct, false, func, or_, select, true
from sqlalchemy.orm import Session, aliased, joinedload, selectinload

from forum.db import utcnow
from forum.markdown import MarkdownTooLarge, render_markdown
from forum.models import (
    ArticleFeedback,
    ArticleType,
    BuddyPair,
    CheckIn,
    MemberSkill,
    Mentorship,
    MentorshipGoal,
    Post,
    PostKind,
    Tag,
    User,
    post_tags,
)
from forum.models.articles import helpful_by_someone_else
from forum.services import notifications
from forum.services import skills as skill_service
from forum.services import tags as tag_service
from forum.services.errors import Conflict, Forbidden, NotFound, ValidationError

REQUESTED, DECLINED, ACTIVE, ENDED = "requested", "declined", "active", "ended"
MAX_GOAL = 2000
MAX_GOAL_ITEM = 300
MAX_NOTE = 20_000
MAX_FEEDBACK = 2000

# Weights of the evidence behind a suggestion; stating a skill counts less than showing it.
ACCEPTED_WEIGHT = 5
TUTORIAL_WEIGHT = 3
STATED_WEIGHT = 2


# --- suggestions ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Suggestion:
    """A possible mentor for one tag and the evidence behind the suggestion."""

    user: User
    tag: str
    strength: int
    answers: int = 0
    answer_score: int = 0
    accepted: int = 0
    tutorials: int = 0
    says_help: bool = False

    @property
    def why(self) -> str:
        """Why this member is suggested, in plain words."""
        parts: list[str] = []
        if self.accepted:
            parts.append(f"{_plural(self.accepted, 'accepted answer')} in {self.tag}")
        if self.answer_score > 0:
            parts.append(f"answer score {self.answer_score} in {self.tag}")
        elif self.answers and not self.accepted:
            parts.append(f"{_plural(self.answers, 'answer')} in {self.tag}")
        if self.tutorials:
            parts.append(f"{_plural(self.tutorials, 'helpful tutorial')} in {self.tag}")
        if self.says_help:
            parts.append("says they can help")
        if self.user.mentoring_availability == "limited":
            parts.append("limited availability")
        return "; ".join(parts)


@dataclass
class TagSuggestions:
    """The suggested mentors for one tag a member wants to learn."""

    tag: str
    mentors: list[Suggestion]


def _plural(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


@dataclass
class _Evidence:
    answers: int = 0
    answer_score: int = 0
    accepted: int = 0
    tutorials: int = 0
    says_help: bool = False

    @property
    def strength(self) -> int:
        shown = (
            max(self.answer_score, 0)
            + self.answers
            + ACCEPTED_WEIGHT * self.accepted
            + TUTORIAL_WEIGHT * self.tutorials
        )
        return shown + (STATED_WEIGHT if self.says_help else 0)


def _evidence(session: Session, tag_ids: list[int]) -> dict[tuple[int, int], _Evidence]:
    """(member id, tag id) → what they have shown or said in each of the tags."""
    found: dict[tuple[int, int], _Evidence] = defaultdict(_Evidence)
    question = aliased(Post)
    accepted = and_(
        question.accepted_answer_id == Post.id,
        or_(question.author_id.is_(None), question.author_id != Post.author_id),
    )
    answers = session.execute(
        select(
            Post.author_id,
            post_tags.c.tag_id,
            func.count(Post.id),
            func.coalesce(func.sum(Post.score), 0),
            func.count(Post.id).filter(accepted),
        )
        .join(question, Post.parent_id == question.id)
        .join(post_tags, post_tags.c.post_id == question.id)
        .where(
            Post.kind == PostKind.ANSWER,
            Post.deleted_at.is_(None),
            Post.is_anonymous == false(),
            Post.author_id.is_not(None),
            question.deleted_at.is_(None),
            post_tags.c.tag_id.in_(tag_ids),
        )
        .group_by(Post.author_id, post_tags.c.tag_id)
    )
    for uid, tid, n, score, n_accepted in answers:
        item = found[(int(uid), int(tid))]
        item.answers, item.answer_score, item.accepted = int(n), int(score), int(n_accepted)
    tutorials = session.execute(
        select(Post.author_id, post_tags.c.tag_id, func.count(distinct(Post.id)))
        .join(post_tags, post_tags.c.post_id == Post.id)
        .join(ArticleFeedback, ArticleFeedback.article_id == Post.id)
        .where(
            Post.kind == PostKind.ARTICLE,
            Post.article_type == ArticleType.TUTORIAL,
            Post.deleted_at.is_(None),
            Post.author_id.is_not(None),
            helpful_by_someone_else(Post.author_id),
            post_tags.c.tag_id.in_(tag_ids),
        )
        .group_by(Post.author_id, post_tags.c.tag_id)
    )
    for uid, tid, n in tutorials:
        found[(int(uid), int(tid))].tutorials = int(n)
    stated = session.execute(
        select(MemberSkill.user_id, MemberSkill.tag_id).where(
            MemberSkill.kind == skill_service.HELP, MemberSkill.tag_id.in_(tag_ids)
        )
    )
    for uid, tid in stated:
        found[(int(uid), int(tid))].says_help = True
    return found


def suggest_for_tags(
    session: Session, user: User, tags: list[Tag], *, per_tag: int = 5
) -> list[TagSuggestions]:
    """Suggested mentors per tag, strongest first; closed availability and ``user`` left out."""
    if not tags:
        return []
    evidence = _evidence(session, [t.id for t in tags])
    candidates = {uid for uid, _tid in evidence if uid != user.id}
    members = (
        {
            m.id: m
            for m in session.scalars(
                select(User).where(
                    User.id.in_(sorted(candidates)),
                    User.is_active == true(),
                    User.mentoring_availability != "closed",
                )
            )
        }
        if candidates
        else {}
    )
    result: list[TagSuggestions] = []
    for tag in tags:
        rows = [
            Suggestion(
                user=members[uid],
                tag=tag.name,
                strength=item.strength,
                answers=item.answers,
                answer_score=item.answer_score,
                accepted=item.accepted,
                tutorials=item.tutorials,
                says_help=item.says_help,
            )
            for (uid, tid), item in evidence.items()
            if tid == tag.id and uid in members and item.strength > 0
        ]
        rows.sort(key=lambda s: (-s.strength, s.user.display_name.lower(), s.user.id))
        result.append(TagSuggestions(tag.name, rows[:per_tag]))
    return result


def suggestions(session: Session, user: User, *, per_tag: int = 5) -> list[TagSuggestions]:
    """Suggested mentors for every tag the member wants to learn."""
    tags = list(
        session.scalars(
            select(Tag)
            .join(MemberSkill, MemberSkill.tag_id == Tag.id)
            .where(MemberSkill.user_id == user.id, MemberSkill.kind == skill_service.LEARN)
            .order_by(Tag.name)
        )
    )
    return suggest_for_tags(session, user, tags, per_tag=per_tag)


# --- the lifecycle ----------------------------------------------------------------------------


def _notify(
    session: Session, recipient: User, actor: User, text: str, mentorship: Mentorship
) -> None:
    notifications.notify(
        session,
        recipient=recipient,
        kind="mentoring",
        text=text,
        endpoint="mentoring.detail",
        params={"mentorship_id": mentorship.id},
        actor=actor,
    )


def request_mentor(
    session: Session, *, mentee: User, mentor_id: int, goal: str, tag_name: str | None = None
) -> Mentorship:
    """Ask a colleague to mentor you toward a goal; they accept or decline."""
    mentor = session.get(User, mentor_id)
    if mentor is None or not mentor.is_active:
        raise NotFound("There is no such member.")
    goal = (goal or "").strip()
    errors: dict[str, list[str]] = {}
    if mentor.id == mentee.id:
        errors["mentor"] = ["You can't be your own mentor: choose a colleague."]
    elif mentor.mentoring_availability == "closed":
        errors["mentor"] = [f"{mentor.display_name} isn't taking mentees right now."]
    if not goal:
        errors["goal"] = ["Say what you would like to learn."]
    elif len(goal) > MAX_GOAL:
        errors["goal"] = [f"Keep the goal under {MAX_GOAL} characters."]
    tag: Tag | None = None
    if tag_name:
        # The tag policy: a synonym is its tag; a mentorship never creates one.
        try:
            tag = tag_service.get_tag(session, tag_name)
        except NotFound:
            errors["tag"] = [f"There is no tag called {tag_name!r}."]
    if errors:
        raise ValidationError(errors)
    open_already = session.scalar(
        select(Mentorship.id).where(
            Mentorship.mentor_id == mentor.id,
            Mentorship.mentee_id == mentee.id,
            Mentorship.status.in_((REQUESTED, ACTIVE)),
        )
    )
    if open_already is not None:
        raise ValidationError(
            {"mentor": [f"You already have an open request or pairing with {mentor.display_name}."]}
        )
    mentorship = Mentorship(
        mentor_id=mentor.id, mentee_id=mentee.id, tag=tag, goal=goal, status=REQUESTED
    )
    session.add(mentorship)
    session.flush()
    _notify(
        session,
        mentor,
        mentee,
        f"{mentee.display_name} asked you to be their mentor"
        + (f" in {tag.name}" if tag is not None else ""),
        mentorship,
    )
    return mentorship


def get_mentorship(session: Session, mentorship_id: int, *, viewer: User) -> Mentorship:
    """A mentorship its mentor, its mentee or a moderator may see; others get Forbidden."""
    mentorship = session.scalar(
        select(Mentorship)
        .where(Mentorship.id == mentorship_id)
        .options(
            joinedload(Mentorship.mentor),
            joinedload(Mentorship.mentee),
            joinedload(Mentorship.tag),
            selectinload(Mentorship.goals),
            selectinload(Mentorship.checkins).joinedload(CheckIn.author),
        )
    )
    if mentorship is None:
        raise NotFound("There is no such mentorship.")
    if not mentorship.involves(viewer) and not viewer.is_moderator:
        raise Forbidden("Only the mentor and the mentee can see this mentorship.")
    return mentorship


def _participant(mentorship: Mentorship, actor: User) -> None:
    if not mentorship.involves(actor):
        raise Forbidden("Only the mentor and the mentee can change this mentorship.")


def respond(
    session: Session, mentorship: Mentorship, *, actor: User, accept: bool, note: str = ""
) -> None:
    """The mentor accepts (the pairing becomes active) or declines a request."""
    if actor.id != mentorship.mentor_id:
        raise Forbidden("Only the requested mentor can answer this request.")
    if mentorship.status != REQUESTED:
        raise Conflict("This request has already been answered.")
    note = (note or "").strip()
    if len(note) > MAX_FEEDBACK:
        raise ValidationError({"note": [f"Keep the note under {MAX_FEEDBACK} characters."]})
    mentorship.status = ACTIVE if accept else DECLINED
    mentorship.response_note = note
    mentorship.responded_at = utcnow()
    if accept:
        session.add(MentorshipGoal(mentorship=mentorship, text=mentorship.goal[:MAX_GOAL_ITEM]))
    session.flush()
    verb = "accepted" if accept else "declined"
    _notify(
        session,
        mentorship.mentee,
        actor,
        f"{actor.display_name} {verb} your mentoring request",
        mentorship,
    )


def _require_active(mentorship: Mentorship) -> None:
    if mentorship.status != ACTIVE:
        raise Conflict("This mentorship is not active.")


def add_goal(session: Session, mentorship: Mentorship, *, actor: User, text: str) -> MentorshipGoal:
    """Add a shared goal to an active pairing."""
    _participant(mentorship, actor)
    _require_active(mentorship)
    text = (text or "").strip()
    if not text:
        raise ValidationError({"text": ["Write the goal."]})
    if len(text) > MAX_GOAL_ITEM:
        raise ValidationError({"text": [f"Keep a goal under {MAX_GOAL_ITEM} characters."]})
    goal = MentorshipGoal(mentorship=mentorship, text=text)
    session.add(goal)
    session.flush()
    return goal


def set_goal_done(
    session: Session, mentorship: Mentorship, goal_id: int, *, actor: User, done: bool
) -> MentorshipGoal:
    """Mark a shared goal reached (or not yet)."""
    _participant(mentorship, actor)
    _require_active(mentorship)
    goal = session.get(MentorshipGoal, goal_id)
    if goal is None or goal.mentorship_id != mentorship.id:
        raise NotFound("There is no such goal.")
    goal.done = done
    session.flush()
    return goal


def add_checkin(session: Session, mentorship: Mentorship, *, actor: User, body_md: str) -> CheckIn:
    """Record a check-in note (Markdown, rendered once here) on an active pairing."""
    _participant(mentorship, actor)
    _require_active(mentorship)
    body_md = (body_md or "").strip()
    if not body_md:
        raise ValidationError({"body": ["Write what you talked about."]})
    if len(body_md) > MAX_NOTE:
        raise ValidationError({"body": [f"Keep a check-in under {MAX_NOTE} characters."]})
    try:
        body_html = render_markdown(body_md)
    except MarkdownTooLarge as exc:
        raise ValidationError({"body": [str(exc)]}) from None
    checkin = CheckIn(
        mentorship=mentorship, author_id=actor.id, body_md=body_md, body_html=body_html
    )
    session.add(checkin)
    session.flush()
    other = mentorship.mentee if actor.id == mentorship.mentor_id else mentorship.mentor
    _notify(session, other, actor, f"{actor.display_name} added a check-in note", mentorship)
    return checkin


def end(
    session: Session, mentorship: Mentorship, *, actor: User, rating: int, feedback: str
) -> None:
    """End an active pairing with the actor's feedback, or add one's feedback to an ended one."""
    _participant(mentorship, actor)
    errors: dict[str, list[str]] = {}
    if not 1 <= rating <= 5:
        errors["rating"] = ["Rate from 1 to 5."]
    feedback = (feedback or "").strip()
    if len(feedback) > MAX_FEEDBACK:
        errors["feedback"] = [f"Keep the feedback under {MAX_FEEDBACK} characters."]
    if errors:
        raise ValidationError(errors)
    as_mentor = actor.id == mentorship.mentor_id
    given = mentorship.mentor_rating if as_mentor else mentorship.mentee_rating
    if mentorship.status == ENDED and given is not None:
        raise Conflict("You have already left your feedback.")
    if mentorship.status not in (ACTIVE, ENDED):
        raise Conflict("Only an active mentorship can be ended.")
    if as_mentor:
        mentorship.mentor_rating, mentorship.mentor_feedback = rating, feedback
    else:
        mentorship.mentee_rating, mentorship.mentee_feedback = rating, feedback
    if mentorship.status == ACTIVE:
        mentorship.status = ENDED
        mentorship.ended_at = utcnow()
        mentorship.ended_by_id = actor.id
        other = mentorship.mentee if as_mentor else mentorship.mentor
        _notify(
            session,
            other,
            actor,
            f"{actor.display_name} ended your mentorship; add your feedback",
            mentorship,
        )
    session.flush()


def feedback_due(mentorship: Mentorship, user: User) -> bool:
    """True when ``user`` may still leave feedback (ended, and theirs missing)."""
    if mentorship.status != ENDED or not mentorship.involves(user):
        return False
    mine = mentorship.mentor_rating if user.id == mentorship.mentor_id else mentorship.mentee_rating
    return mine is None


# --- buddies ----------------------------------------------------------------------------------


def can_pair(user: User | None) -> bool:
    """Admins and people partners pair new members with buddies."""
    return user is not None and (user.is_admin or bool(user.people_partner))


def set_people_partner(session: Session, *, actor: User, user: User, value: bool) -> None:
    """Let (or stop) a member pair new members with buddies; admins only."""
    if not actor.is_admin:
        raise Forbidden("Only admins choose people partners.")
    user.people_partner = value
    session.flush()


def _member(session: Session, username: str, field_name: str) -> User:
    name = (username or "").strip().lower().lstrip("@")
    user = session.scalar(select(User).where(User.username == name)) if name else None
    if user is None or not user.is_active:
        raise ValidationError({field_name: [f"There is no member called {username!r}."]})
    return user


def assign_buddy(
    session: Session, *, actor: User, newcomer_username: str, buddy_username: str
) -> BuddyPair:
    """Pair a new member with a buddy (replacing an earlier buddy); both are notified."""
    if not can_pair(actor):
        raise Forbidden("Only admins and people partners pair buddies.")
    errors: dict[str, list[str]] = {}
    newcomer = buddy = None
    try:
        newcomer = _member(session, newcomer_username, "newcomer")
    except ValidationError as exc:
        errors.update(exc.errors)
    try:
        buddy = _member(session, buddy_username, "buddy")
    except ValidationError as exc:
        errors.update(exc.errors)
    if newcomer is not None and buddy is not None and newcomer.id == buddy.id:
        errors["buddy"] = ["A new member can't be their own buddy."]
    if errors:
        raise ValidationError(errors)
    assert newcomer is not None and buddy is not None
    pair = session.scalar(select(BuddyPair).where(BuddyPair.newcomer_id == newcomer.id))
    if pair is not None and pair.buddy_id == buddy.id:
        raise ValidationError({"buddy": [f"{buddy.display_name} is already their buddy."]})
    if pair is None:
        pair = BuddyPair(newcomer_id=newcomer.id, buddy_id=buddy.id, paired_by_id=actor.id)
        session.add(pair)
    else:
        pair.buddy_id = buddy.id
        pair.paired_by_id = actor.id
        pair.created_at = utcnow()
    session.flush()
    for recipient, text in (
        (newcomer, f"{buddy.display_name} is your buddy: ask them anything while you settle in"),
        (buddy, f"You are {newcomer.display_name}'s buddy: say hello"),
    ):
        notifications.notify(
            session,
            recipient=recipient,
            kind="buddy",
            text=text,
            endpoint="mentoring.index",
            params={},
            actor=actor,
        )
    return pair


def remove_buddy(session: Session, *, actor: User, pair_id: int) -> None:
    """End a buddy pairing; admins and people partners only."""
    if not can_pair(actor):
        raise Forbidden("Only admins and people partners pair buddies.")
    pair = session.get(BuddyPair, pair_id)
    if pair is None:
        raise NotFound("There is no such buddy pair.")
    session.delete(pair)
    session.flush()


def buddy_pairs(session: Session) -> list[BuddyPair]:
    """Every buddy pair, newest first."""
    return list(
        session.scalars(
            select(BuddyPair)
            .options(joinedload(BuddyPair.newcomer), joinedload(BuddyPair.buddy))
            .order_by(BuddyPair.created_at.desc(), BuddyPair.id.desc())
        )
    )


def buddy_of(session: Session, user: User) -> User | None:
    """The buddy of a new member, if they have one."""
    return session.scalar(
        select(User)
        .join(BuddyPair, BuddyPair.buddy_id == User.id)
        .where(BuddyPair.newcomer_id == user.id)
    )


# --- the page ---------------------------------------------------------------------------------


@dataclass
class Overview:
    """What /mentoring shows a member."""

    incoming: list[Mentorship] = field(default_factory=list)
    outgoing: list[Mentorship] = field(default_factory=list)
    active: list[Mentorship] = field(default_factory=list)
    past: list[Mentorship] = field(default_factory=list)
    suggestions: list[TagSuggestions] = field(default_factory=list)
    buddy: User | None = None
    newcomers: list[User] = field(default_factory=list)


def overview(session: Session, user: User) -> Overview:
    """A member's requests, pairings, suggested mentors and buddies."""
    result = Overview()
    rows = session.scalars(
        select(Mentorship)
        .where(or_(Mentorship.mentor_id == user.id, Mentorship.mentee_id == user.id))
        .options(
            joinedload(Mentorship.mentor), joinedload(Mentorship.mentee), joinedload(Mentorship.tag)
        )
        .order_by(Mentorship.created_at.desc(), Mentorship.id.desc())
    )
    for m in rows:
        if m.status == REQUESTED:
            (result.incoming if m.mentor_id == user.id else result.outgoing).append(m)
        elif m.status == ACTIVE:
            result.active.append(m)
        else:
            result.past.append(m)
    result.suggestions = suggestions(session, user)
    result.buddy = buddy_of(session, user)
    result.newcomers = list(
        session.scalars(
            select(User)
            .join(BuddyPair, BuddyPair.newcomer_id == User.id)
            .where(BuddyPair.buddy_id == user.id)
            .order_by(User.display_name)
        )
    )
    return result
