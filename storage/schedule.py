"""The shared schedule: when each source is next due, kept in the database so that any
worker, on any machine, can tell which crawls to ask for (monitor.worker)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from sqlalchemy import select

from storage.db import Database
from storage.models import ScheduleState


def next_due_times(db: Database) -> dict[str, datetime]:
    with db.session() as session:
        rows = session.execute(select(ScheduleState.source, ScheduleState.next_due_at)).all()
        return {source: due for source, due in rows}


def save_next_due_times(db: Database, times: Mapping[str, datetime]) -> None:
    with db.session() as session:
        for source, due in times.items():
            state = session.get(ScheduleState, source) or ScheduleState(source=source)
            state.next_due_at = due
            session.add(state)
