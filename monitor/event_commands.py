"""`eventwatch events split` and `events merge`: an analyst's corrections of grouping, and
why each report joined its event, for `events list --json`."""

from __future__ import annotations

import argparse
from dataclasses import asdict
from typing import Any

from monitor import opening
from monitor.config import load_config
from monitor.usage import UsageError
from storage.db import Database
from storage.event_edits import EventEditError, join_reasons_by_event, merge_events, split_article


def events_split(args: argparse.Namespace) -> int:
    db = opening.for_writing(load_config(args.config)[1]).db
    try:
        event_id = split_article(db, args.article_id)
    except EventEditError as exc:
        raise UsageError(f"events split: {exc}") from exc
    print(f"article {args.article_id} is now event {event_id}; it will be matched again")
    return 0


def events_merge(args: argparse.Namespace) -> int:
    db = opening.for_writing(load_config(args.config)[1]).db
    try:
        moved = merge_events(db, args.kept, args.other)
    except EventEditError as exc:
        raise UsageError(f"events merge: {exc}") from exc
    print(f"event {args.other}: {moved} reports moved into event {args.kept}")
    return 0


def reports_json(db: Database, event_ids: list[int]) -> dict[int, list[dict[str, Any]]]:
    """Each event's reports with why each joined it, as `events list --json` shows them."""
    found = join_reasons_by_event(db, event_ids)
    return {
        event_id: [
            {key: value for key, value in asdict(reason).items() if key != "detail"}
            for reason in reasons
        ]
        for event_id, reasons in found.items()
    }
