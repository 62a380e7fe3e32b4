"""Awarding one member's badges reads that member's rows through indexes, never whole tables.

It runs after every post, vote and comment: at 100k posts a table scan here made each commit
take a quarter of a second.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

from sqlalchemy import event

from forum import create_app
from forum.db import get_engine, new_session
from forum.services import badges
from tests.conftest import base_config
from tests.factories import make_answer, make_comment, make_question, make_user

#: "SCAN posts" reads the whole table; "SCAN posts USING INDEX" and "SEARCH" do not.
_FULL_SCAN = re.compile(r"^SCAN (posts|comments|revisions|votes)\b(?! USING (COVERING )?INDEX)")


def test_awarding_one_member_scans_no_table(tmp_path: Path, sqlite_template: Path) -> None:
    # SQLite's plans (the default database); PostgreSQL plans by its own statistics.
    shutil.copyfile(sqlite_template, tmp_path / "forum.db")
    app = create_app(base_config(tmp_path, f"sqlite:///{tmp_path / 'forum.db'}"))
    engine = get_engine(app)
    with new_session(app) as session:
        asker, member = make_user(session, "asker"), make_user(session, "member")
        for n in range(3):
            question = make_question(session, asker, title=f"Question number {n}")
            answer = make_answer(session, question, member)
            make_comment(session, answer, member)
        session.commit()
        member_id = member.id
    statements: list[tuple[str, Any]] = []

    def record(conn: Any, cursor: Any, statement: str, params: Any, *_: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            statements.append((statement, params))

    event.listen(engine, "before_cursor_execute", record)
    try:
        with new_session(app) as session:
            badges.award(session, {member_id})
            session.rollback()
    finally:
        event.remove(engine, "before_cursor_execute", record)
    assert statements
    scans = []
    with engine.connect() as conn:
        for statement, params in statements:
            plan = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", params).all()
            scans += [(row[-1], statement) for row in plan if _FULL_SCAN.match(row[-1])]
    engine.dispose()
    assert scans == []
