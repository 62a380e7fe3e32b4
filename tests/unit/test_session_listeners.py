"""Each app's session factory gets the search, badge and after-commit listeners exactly once,
however many factories came and went before it in the process."""

from __future__ import annotations

import gc
import weakref
from pathlib import Path

from sqlalchemy.orm import sessionmaker

from forum import aftercommit
from forum.search import outbox
from forum.services import badges


def _listeners(factory: sessionmaker, name: str) -> list[object]:  # type: ignore[type-arg]
    session = factory()
    try:
        return list(getattr(session.dispatch, name))
    finally:
        session.close()


def test_a_new_factory_in_the_place_of_a_collected_one_still_gets_its_listeners() -> None:
    # A factory's session class often takes the address of the previous, collected one:
    # a guard that knows listeners by id() would take the new factory for the old one. A few
    # rounds suffice (a full collection each: costly late in a long run, whose heap is large).
    for _ in range(10):
        factory: sessionmaker = sessionmaker()  # type: ignore[type-arg]
        outbox.follow(factory)
        badges.follow_commits(factory)
        after_flush = _listeners(factory, "after_flush")
        assert outbox._after_flush in after_flush
        assert badges._note_changes in after_flush
        assert aftercommit._run_jobs in _listeners(factory, "after_transaction_end")
        del factory
        gc.collect()


def test_following_twice_attaches_once() -> None:
    factory: sessionmaker = sessionmaker()  # type: ignore[type-arg]
    for _ in range(2):
        outbox.follow(factory)
        badges.follow_commits(factory)
        aftercommit.attach(factory)
    after_flush = _listeners(factory, "after_flush")
    assert after_flush.count(outbox._after_flush) == 1
    assert after_flush.count(badges._note_changes) == 1
    assert _listeners(factory, "after_transaction_end").count(aftercommit._run_jobs) == 1


def test_a_dropped_app_is_freed_with_its_listeners(tmp_path: Path) -> None:
    # SQLAlchemy keeps a factory's listeners as long as its session class, which the app holds:
    # one listener holding the app kept every app alive, a few MB each over a whole run.
    from forum import create_app
    from forum.db import get_engine
    from tests.conftest import base_config

    app = create_app(base_config(tmp_path, f"sqlite:///{tmp_path / 'forum.db'}"))
    app.test_client().get("/healthz")
    get_engine(app).dispose()
    gone = weakref.ref(app)
    del app
    gc.collect()
    assert gone() is None
