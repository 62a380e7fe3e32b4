"""The service functions behind the ``forum`` command's member lookups and badge backfill."""

from __future__ import annotations

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from forum.models import BadgeAward, Role
from forum.services import accounts, badges
from tests.factories import make_question, make_user


def test_imports_are_credited_to_the_named_member_or_else_the_first_admin(
    session: Session,
) -> None:
    assert accounts.credited_member(session, None) is None
    make_user(session, "plain.member")
    assert accounts.credited_member(session, None) is None
    first_admin = make_user(session, "first.admin", role=Role.ADMIN)
    make_user(session, "second.admin", role=Role.ADMIN)
    named = make_user(session, "named.author")
    assert accounts.credited_member(session, None) is first_admin
    assert accounts.credited_member(session, "Named.Author") is named
    assert accounts.credited_member(session, "nobody") is None


def test_member_ids_are_listed_in_order_and_looked_up_by_username(session: Session) -> None:
    ada = make_user(session, "ada")
    bo = make_user(session, "bo")
    assert accounts.member_ids(session) == sorted([ada.id, bo.id])
    assert accounts.ids_by_username(session, ["ADA", "bo", "ghost"]) == {"ada": ada.id, "bo": bo.id}
    assert accounts.ids_by_username(session, []) == {}


def test_badges_are_backfilled_in_batches_with_progress(session: Session) -> None:
    members = [make_user(session) for _ in range(3)]
    for member in members:
        make_question(session, member)
    session.commit()
    session.execute(delete(BadgeAward))  # as if awarded before badges existed
    session.commit()
    checked: list[int] = []
    awarded = badges.award_in_batches(
        session, [m.id for m in members], batch=2, progress=checked.append
    )
    session.commit()
    assert checked == [2, 1]
    held = session.execute(select(BadgeAward.user_id, func.count()).group_by(BadgeAward.user_id))
    per_member = {int(user_id): int(count) for user_id, count in held}
    assert awarded == sum(per_member.values()) > 0
    assert set(per_member) == {m.id for m in members}
    # Safe to repeat: what is held is not awarded again.
    assert badges.award_in_batches(session, [m.id for m in members]) == 0
