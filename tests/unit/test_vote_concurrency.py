"""Fifty members vote on one post at once: the score always equals the sum of the vote rows."""

from __future__ import annotations

import random
import threading
import time
import traceback

from flask import Flask
from sqlalchemy import create_engine, func, select
from sqlalchemy.orm import Session

from forum import aftercommit
from forum.db import make_engine, new_session
from forum.models import Post, User, Vote
from forum.services import votes
from tests.factories import make_question, make_user

MEMBERS = 50
#: Members who also click twice at once from two tabs (two threads with the same sequence).
DOUBLE_CLICKERS = 10
#: Vote sequences: up, down, undo (the same value twice) and switches, mixed.
SEQUENCES = [(1,), (-1,), (1, 1), (-1, -1), (1, -1), (-1, 1), (1, -1, -1), (1, 1, -1)]


def _final(sequence: tuple[int, ...]) -> int:
    state = 0
    for value in sequence:
        state = 0 if state == value else value
    return state


def test_fifty_members_voting_at_once_keep_score_equal_to_rows(
    app: Flask, database_url: str, session: Session
) -> None:
    author = make_user(session, "asker")
    members = [make_user(session, f"voter{n}", reputation=1000) for n in range(MEMBERS)]
    question = make_question(session, author)
    session.commit()
    post_id = question.id
    rng = random.Random(4)
    plan = {m.id: SEQUENCES[rng.randrange(len(SEQUENCES))] for m in members}
    workers = [(m.id, plan[m.id]) for m in members]
    workers += [(m.id, plan[m.id]) for m in members[:DOUBLE_CLICKERS]]
    barrier = threading.Barrier(len(workers))
    errors: list[str] = []
    conflicts: list[int] = []
    # Every vote waits its turn for the write lock (SQLite) or the post row (PostgreSQL);
    # 120 queued transactions with recognition hooks need more than the default 10 s wait.
    # SQLite: an engine per thread. PostgreSQL: one pool with a connection per thread plus
    # spare ones for the after-commit work (badges, search), which runs once a thread's
    # connection is back; the server allows 100 connections in all.
    if database_url.startswith("sqlite"):
        engines = [make_engine(database_url, busy_timeout_ms=120_000) for _ in workers]
    else:
        shared = create_engine(
            database_url, pool_size=len(workers), max_overflow=20, pool_timeout=120
        )
        engines = [shared] * len(workers)

    def run(index: int, user_id: int, sequence: tuple[int, ...]) -> None:
        engine = engines[index]
        try:
            barrier.wait(timeout=30)
            for value in sequence:
                # The app's sessions (listeners, events), on this thread's engine.
                with new_session(app, bind=engine) as db:
                    voter = db.get(User, user_id)
                    assert voter is not None
                    db.commit()  # the vote opens its own transaction, as the view does
                    votes.cast(db, voter=voter, post_id=post_id, value=value)
                    db.commit()
        except BaseException as exc:  # noqa: BLE001 - reported below with the thread's plan
            errors.append("".join(traceback.format_exception(exc)))

    threads = [
        threading.Thread(target=run, args=(i, user_id, seq))
        for i, (user_id, seq) in enumerate(workers)
    ]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    elapsed = time.perf_counter() - started
    assert aftercommit.wait_idle(60)  # merged badge awarding may still use the engine
    for engine in set(engines):
        engine.dispose()
    assert not any(t.is_alive() for t in threads)
    assert errors == [], errors[0]
    assert conflicts == []

    session.expire_all()
    score = session.scalar(select(Post.score).where(Post.id == post_id))
    row_sum = session.scalar(
        select(func.coalesce(func.sum(Vote.value), 0)).where(Vote.post_id == post_id)
    )
    rows_per_member = session.execute(
        select(Vote.user_id, func.count()).where(Vote.post_id == post_id).group_by(Vote.user_id)
    ).all()
    assert score == row_sum
    assert all(count == 1 for _user, count in rows_per_member)
    # Members who clicked from one tab end exactly where their sequence says.
    single = {m.id for m in members[DOUBLE_CLICKERS:]}
    stored = {
        user_id: value
        for user_id, value in session.execute(
            select(Vote.user_id, Vote.value).where(Vote.post_id == post_id)
        )
    }
    for user_id in single:
        assert stored.get(user_id, 0) == _final(plan[user_id])
    print(
        f"\n[{database_url.split(':')[0]}] {len(workers)} voting threads, "
        f"{sum(len(s) for _u, s in workers)} votes in {elapsed:.2f}s: "
        f"final score {score}, sum of vote rows {row_sum}, "
        f"{len(rows_per_member)} vote rows, max rows per member "
        f"{max((c for _u, c in rows_per_member), default=0)}"
    )
