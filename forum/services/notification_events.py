"""What happens in the forum that members are notified about.

Each function here is a non-critical subscriber of a domain event (see :func:`subscribe`): it
runs in the action's transaction, inside a SAVEPOINT, so a failure loses the notification
but never the action. Anonymous questions never reveal their author: notifications they
cause store no actor and use neutral wording.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from forum import events
from forum.models import Comment, Post, PostKind, Role, TagFollow, User
from forum.services import follows as post_follows
from forum.services import mentions, visibility
from forum.services.anonymity import is_masked
from forum.services.notifications import notify

ANONYMOUS_ACTOR = "Someone"
ANONYMOUS_ASKER = "The anonymous asker"


def _quoted(title: str | None, limit: int = 120) -> str:
    text = " ".join((title or "").split()) or "untitled"
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return f"“{text}”"


def _root(session: Session, post: Post) -> Post:
    """The question of an answer; any other post is its own root."""
    if post.kind is PostKind.ANSWER and post.parent_id is not None:
        parent = session.get(Post, post.parent_id)
        if parent is not None:
            return parent
    return post


def post_link(session: Session, post: Post) -> tuple[str, dict[str, int | str]]:
    """The endpoint and parameters of the page that shows ``post``."""
    if post.kind is PostKind.ARTICLE:
        return "wiki.detail", {"slug": post.slug or ""}
    root = _root(session, post)
    params: dict[str, int | str] = {"question_id": root.id}
    if root.id != post.id:
        params["_anchor"] = f"post-{post.id}"
    return "questions.detail", params


def _title(session: Session, post: Post) -> str:
    return _quoted(_root(session, post).title)


def _hides_author(session: Session, post: Post, author_id: int | None) -> bool:
    """Whether ``author_id`` wrote anonymously in this post's thread (the anonymous asker)."""
    root = _root(session, post)
    return bool(root.is_anonymous and author_id is not None and author_id == root.author_id)


def _name(user: User, hidden: bool, hidden_label: str = ANONYMOUS_ACTOR) -> str:
    return hidden_label if hidden else user.display_name


def _what(post: Post) -> str:
    return {PostKind.QUESTION: "question", PostKind.ANSWER: "answer"}.get(post.kind, "article")


def _post_mentions(
    session: Session, post: Post, author: User, skip: set[int] | None = None
) -> set[int]:
    """Members newly mentioned in ``post``; returns the ids of those told."""
    if not visibility.is_live(session, post):
        # A moderator's edit of removed content must not send its title to anyone.
        return set()
    hidden = _hides_author(session, post, author.id)
    endpoint, params = post_link(session, post)
    told = mentions.notify_mentioned(
        session,
        body_html=post.body_html,
        subject=mentions.subject_of_post(post.id),
        author=author,
        anonymous=hidden,
        text=f"{_name(author, hidden)} mentioned you in the {_what(post)} {_title(session, post)}",
        endpoint=endpoint,
        params=params,
        skip=skip or set(),
    )
    return {user.id for user in told}


def _tell_followers(
    session: Session,
    post: Post,
    actor: User,
    text: str,
    *,
    skip: set[int],
    anchor: str | None = None,
) -> None:
    """Members following the question or article ``post`` belongs to, except those in ``skip``
    (already told of the same action) and the actor; never about removed content."""
    root = _root(session, post)
    if not visibility.is_live(session, post) or not visibility.is_live(session, root):
        return
    hidden = _hides_author(session, post, actor.id)
    endpoint, params = post_link(session, post)
    if anchor is not None:
        params = {**params, "_anchor": anchor}
    for follower in post_follows.followers(session, root):
        if follower.id in skip or follower.id == actor.id:
            continue
        notify(
            session,
            recipient=follower,
            kind="followed_post",
            text=text,
            endpoint=endpoint,
            params=params,
            actor=None if hidden else actor,
        )


def question_asked(session: Session, event: events.QuestionAsked) -> None:
    """A new question: members following its tags, and members it mentions."""
    question, author = event.question, event.author
    # The asker follows their question (anonymous or not: nobody else sees who follows).
    post_follows.add(session, author.id, question)
    endpoint, params = post_link(session, question)
    hidden = question.is_anonymous
    tag_ids = [tag.id for tag in question.tags]
    told: set[int] = set()
    if tag_ids:
        followers = session.scalars(
            select(User)
            .join(TagFollow, TagFollow.user_id == User.id)
            .where(TagFollow.tag_id.in_(tag_ids), User.id != author.id)
            .distinct()
            .order_by(User.id)
        )
        followed = {tag.id: tag.name for tag in question.tags}
        follows = session.execute(
            select(TagFollow.user_id, TagFollow.tag_id).where(TagFollow.tag_id.in_(tag_ids))
        ).all()
        for follower in followers:
            names = sorted(followed[t] for u, t in follows if u == follower.id)
            tags = ", ".join(names[:3])
            sent = notify(
                session,
                recipient=follower,
                kind="followed_tag",
                text=f"New question in {tags}: {_quoted(question.title)}",
                endpoint=endpoint,
                params=params,
                actor=None if hidden else author,
            )
            if sent is not None:
                told.add(follower.id)
    _post_mentions(session, question, author, skip=told)


def post_edited(session: Session, event: events.PostEdited) -> None:
    """An edited question or answer: members newly mentioned in it, and the followers."""
    post, editor = event.post, event.editor
    told = _post_mentions(session, post, editor)
    who = _name(editor, _hides_author(session, post, editor.id), ANONYMOUS_ASKER)
    _tell_followers(
        session,
        post,
        editor,
        f"{who} edited the {_what(post)} {_title(session, post)}",
        skip=told,
    )


def article_saved(session: Session, event: events.ArticleSaved) -> None:
    """A new article: its author and owner follow it. A new or edited article: members newly
    mentioned in it; an edit: the article's followers too."""
    article, editor = event.article, event.editor
    if event.created:
        for member_id in {article.author_id, article.owner_id} - {None}:
            assert member_id is not None
            post_follows.add(session, member_id, article)
    told = _post_mentions(session, article, editor)
    if not event.created:
        _tell_followers(
            session,
            article,
            editor,
            f"{editor.display_name} edited the article {_quoted(article.title)}",
            skip=told,
        )


def answer_posted(session: Session, event: events.AnswerPosted) -> None:
    """A new answer: the question's author, and members it mentions."""
    answer, question, author = event.answer, event.question, event.author
    hidden = _hides_author(session, answer, author.id)
    endpoint, params = post_link(session, answer)
    told: set[int] = set()
    asker = question.author
    if asker is not None and asker.id != author.id:
        sent = notify(
            session,
            recipient=asker,
            kind="answer",
            text=f"{_name(author, hidden)} answered your question {_quoted(question.title)}",
            endpoint=endpoint,
            params=params,
            actor=None if hidden else author,
        )
        if sent is not None:
            told.add(asker.id)
    told |= _post_mentions(session, answer, author, skip=told)
    if asker is not None:
        # The asker heard of it as "answer" (or chose not to): never twice for one answer.
        told.add(asker.id)
    _tell_followers(
        session,
        answer,
        author,
        f"{_name(author, hidden)} answered {_quoted(question.title)}, which you follow",
        skip=told,
    )


def comment_posted(session: Session, event: events.CommentAdded) -> None:
    """A new comment: the post's author (comment), the replied-to comment's author (reply),
    and members it mentions; each member is told once."""
    comment, post, author = event.comment, event.post, event.author
    hidden = _hides_author(session, post, author.id)
    who = _name(author, hidden, ANONYMOUS_ASKER)
    actor = None if hidden else author
    endpoint, params = post_link(session, post)
    params = {**params, "_anchor": f"comment-{comment.id}"}
    title = _title(session, post)
    told: set[int] = {author.id}
    parent = session.get(Comment, comment.parent_id) if comment.parent_id is not None else None
    if parent is not None and parent.author is not None and parent.author_id not in told:
        notify(
            session,
            recipient=parent.author,
            kind="reply",
            text=f"{who} replied to your comment on {title}",
            endpoint=endpoint,
            params=params,
            actor=actor,
        )
        told.add(parent.author.id)
    owner = post.author
    if owner is not None and owner.id not in told:
        # The anonymous asker is told about comments on their question, never named.
        notify(
            session,
            recipient=owner,
            kind="comment",
            text=f"{who} commented on your {_what(post)} {title}",
            endpoint=endpoint,
            params=params,
            actor=actor,
        )
        told.add(owner.id)
    mentioned = mentions.notify_mentioned(
        session,
        body_html=comment.body_html,
        subject=mentions.subject_of_comment(comment.id),
        author=author,
        anonymous=hidden,
        text=f"{who} mentioned you in a comment on {title}",
        endpoint=endpoint,
        params=params,
        skip=told,
    )
    told |= {user.id for user in mentioned}
    _tell_followers(
        session,
        post,
        author,
        f"{who} commented on {title}, which you follow",
        skip=told,
        anchor=f"comment-{comment.id}",
    )


def comment_edited(session: Session, event: events.CommentEdited) -> None:
    """An edited comment: members newly mentioned in it."""
    comment, editor = event.comment, event.editor
    post = session.get(Post, comment.post_id)
    if post is None:
        return
    hidden = _hides_author(session, post, editor.id)
    endpoint, params = post_link(session, post)
    mentions.notify_mentioned(
        session,
        body_html=comment.body_html,
        subject=mentions.subject_of_comment(comment.id),
        author=editor,
        anonymous=hidden,
        text=f"{_name(editor, hidden, ANONYMOUS_ASKER)} mentioned you in a comment on "
        f"{_title(session, post)}",
        endpoint=endpoint,
        params={**params, "_anchor": f"comment-{comment.id}"},
    )


def answer_accepted(session: Session, event: events.AnswerAccepted) -> None:
    """The asker accepted an answer: its author."""
    question, answer, acceptor = event.question, event.new_answer, event.acceptor
    if answer is None or answer.author is None:
        return
    hidden = question.is_anonymous
    endpoint, params = post_link(session, answer)
    notify(
        session,
        recipient=answer.author,
        kind="accepted",
        text=f"{_name(acceptor, hidden)} accepted your answer to {_quoted(question.title)}",
        endpoint=endpoint,
        params=params,
        actor=None if hidden else acceptor,
    )


def badge_awarded(session: Session, event: events.BadgeAwarded) -> None:
    """A member earned a badge."""
    member = session.get(User, event.user_id)
    if member is None:
        return
    notify(
        session,
        recipient=member,
        kind="badge",
        text=f"You earned the badge {_quoted(event.badge_name)}",
        endpoint="badges.detail",
        params={"key": event.badge_key},
    )


def member_warned(session: Session, event: events.MemberWarned) -> None:
    """The moderators warned a member: that member, on behalf of the moderators as a group."""
    notify(
        session,
        recipient=event.recipient,
        kind="moderation",
        text=f"A note from the moderators about your {event.subject}: {event.text}",
        endpoint=event.endpoint,
        params=event.params,
        # Not one person's opinion: no actor.
        actor=None,
    )


def content_flagged(session: Session, event: events.ContentFlagged) -> None:
    """A new flag: every moderator and admin but the flagger, without naming the flagger."""
    moderators = session.scalars(
        select(User)
        .where(
            User.role.in_((Role.MODERATOR, Role.ADMIN)),
            User.is_active.is_(True),
            User.id != event.reporter_id,
        )
        .order_by(User.id)
    )
    for moderator in moderators:
        notify(
            session,
            recipient=moderator,
            kind="flag",
            text=f"New flag ({event.reason}) on the {event.subject} {_quoted(event.title)}",
            endpoint="moderation.queue",
            params={"_anchor": f"flag-{event.flag_id}"},
        )


def flags_resolved(session: Session, event: events.FlagsResolved) -> None:
    """Flags were resolved: each flagger hears the outcome (from the moderators as a group)."""
    verdict = {
        "helpful": "marked helpful: the moderators acted on it",
        "declined": "declined: the moderators found no action needed",
    }[event.outcome]
    # Removed content is not named again.
    what = f"the {event.subject} " + (_quoted(event.title) if event.title else "(since removed)")
    for reporter_id in sorted(set(event.reporter_ids)):
        reporter = session.get(User, reporter_id)
        if reporter is None:
            continue
        notify(
            session,
            recipient=reporter,
            kind="flag_outcome",
            text=f"Your flag on {what} was {verdict}",
            endpoint="moderation.my_flags",
            params={},
        )


def suggested_edit_reviewed(session: Session, event: events.SuggestedEditReviewed) -> None:
    """The proposer of a suggested edit hears whether it was approved, and the reviewer's note."""
    suggestion = event.suggestion
    proposer = session.get(User, suggestion.proposer_id)
    if proposer is None:
        return
    endpoint, params = post_link(session, suggestion.post)
    text = f"Your suggested edit of {_title(session, suggestion.post)} was " + (
        "approved" if event.approved else "rejected"
    )
    if suggestion.review_comment:
        text += f": {suggestion.review_comment}"
    notify(
        session,
        recipient=proposer,
        kind="suggested_edit",
        text=text,
        endpoint=endpoint,
        params=params,
        # The hidden asker reviewing in their own anonymous thread is not named.
        actor=None if is_masked(session, suggestion.post, event.reviewer.id) else event.reviewer,
    )


def author_revealed(session: Session, event: events.AuthorRevealed) -> None:
    """A moderator looked up who asked an anonymous question: its author, told neither who
    nor why (both are in the audit log)."""
    question = event.question
    if question.author is None:
        return
    endpoint, params = post_link(session, question)
    notify(
        session,
        recipient=question.author,
        kind="moderation",
        text=f"A moderator looked up that you asked {_quoted(question.title)}. Your name stays "
        "hidden from everyone else; the reason is recorded in the moderators' audit log.",
        endpoint=endpoint,
        params=params,
        actor=None,
    )


def bounty_started(session: Session, event: events.BountyStarted) -> None:
    """A bounty on a question: its asker (unless they offered it), with the offerer named."""
    question, bounty, offerer = event.question, event.bounty, event.offerer
    if question.author is None:
        return
    endpoint, params = post_link(session, question)
    notify(
        session,
        recipient=question.author,
        kind="bounty",
        text=f"{offerer.display_name} offered a +{bounty.amount} bounty on your question "
        f"{_quoted(question.title)}",
        endpoint=endpoint,
        params=params,
        actor=offerer,
    )


def bounty_awarded(session: Session, event: events.BountyAwarded) -> None:
    """A bounty was awarded: the answer's author, and the asker when someone else offered it.

    An automatic award names nobody.
    """
    question, bounty, answer = event.question, event.bounty, event.answer
    offerer = bounty.offerer
    hidden = offerer is None or event.automatic
    endpoint, params = post_link(session, answer)
    amount = bounty.awarded_amount
    if answer.author is not None:
        how = "automatically (half of it, as the top-voted new answer)" if event.automatic else ""
        who = "" if hidden or offerer is None else f" by {offerer.display_name}"
        notify(
            session,
            recipient=answer.author,
            kind="bounty",
            text=f"Your answer to {_quoted(question.title)} was awarded a +{amount} bounty"
            f"{who}{' ' + how if how else ''}",
            endpoint=endpoint,
            params=params,
            actor=None if hidden else offerer,
        )
    asker = question.author
    if asker is not None and asker.id not in (bounty.offerer_id, answer.author_id):
        notify(
            session,
            recipient=asker,
            kind="bounty",
            text=f"The bounty on your question {_quoted(question.title)} was awarded (+{amount})",
            endpoint=endpoint,
            params=params,
            actor=None if hidden else offerer,
        )


def subscribe(bus: events.EventBus) -> None:
    """Tell members what happened (non-critical: a failure never fails the action)."""
    bus.subscribe(events.QuestionAsked, question_asked, critical=False)
    bus.subscribe(events.AnswerPosted, answer_posted, critical=False)
    bus.subscribe(events.PostEdited, post_edited, critical=False)
    bus.subscribe(events.ArticleSaved, article_saved, critical=False)
    bus.subscribe(events.CommentAdded, comment_posted, critical=False)
    bus.subscribe(events.CommentEdited, comment_edited, critical=False)
    bus.subscribe(events.AnswerAccepted, answer_accepted, critical=False)
    bus.subscribe(events.BadgeAwarded, badge_awarded, critical=False)
    bus.subscribe(events.MemberWarned, member_warned, critical=False)
    bus.subscribe(events.ContentFlagged, content_flagged, critical=False)
    bus.subscribe(events.FlagsResolved, flags_resolved, critical=False)
    bus.subscribe(events.AuthorRevealed, author_revealed, critical=False)
    bus.subscribe(events.BountyStarted, bounty_started, critical=False)
    bus.subscribe(events.BountyAwarded, bounty_awarded, critical=False)
    bus.subscribe(events.SuggestedEditReviewed, suggested_edit_reviewed, critical=False)
