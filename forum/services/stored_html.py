"""Bring HTML saved under an older sanitiser up to the current policy (images, for one).

Rendered HTML is stored once, on save; when the allowlist tightens, rows saved before keep
what was allowed then. :func:`resanitize` runs every stored ``*_html`` column holding an
image through :func:`forum.markdown.sanitize_html` again (it is idempotent on its own output).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import Column, Table, select, update
from sqlalchemy.orm import Session

from forum.db import Base
from forum.markdown import sanitize_html

BATCH = 500


@dataclass
class ResanitizeReport:
    """How many rows each ``table.column`` had rewritten."""

    changed: dict[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        """Rows rewritten in all."""
        return sum(self.changed.values())


def html_columns() -> list[tuple[Table, Column[str], Column[int]]]:
    """Every stored HTML column (``*_html``) with its table's single-column primary key."""
    found = []
    for table in Base.metadata.sorted_tables:
        keys = list(table.primary_key.columns)
        if len(keys) != 1:
            continue
        for column in table.columns:
            if column.name.endswith("_html"):
                found.append((table, column, keys[0]))
    return found


def resanitize(session: Session) -> ResanitizeReport:
    """Re-sanitise stored HTML that holds an image; the caller commits."""
    report = ResanitizeReport()
    for table, column, key in html_columns():
        changed = 0
        last = None
        while True:
            query = select(key, column).where(column.like("%<img%")).order_by(key).limit(BATCH)
            if last is not None:
                query = query.where(key > last)
            rows = session.execute(query).all()
            if not rows:
                break
            for row_key, html in rows:
                cleaned = sanitize_html(html)
                if cleaned != html:
                    values: dict[str, object] = {column.name: cleaned}
                    if "updated_at" in table.c:
                        # A policy change is no edit: the row keeps its time.
                        values["updated_at"] = table.c.updated_at
                    session.execute(update(table).where(key == row_key).values(values))
                    changed += 1
            last = rows[-1][0]
        if changed:
            report.changed[f"{table.name}.{column.name}"] = changed
    return report
