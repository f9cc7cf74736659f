"""`eventwatch events list` and `events show` (newest activity first, as the web UI), and
`events split` and `events merge`: an analyst's corrections of grouping."""

from __future__ import annotations

import argparse
import csv
import json
import sys
from dataclasses import asdict
from typing import Any

from monitor import opening
from monitor.config import load_config
from monitor.eventsearch import CSV_COLUMNS, SCAN_LIMIT, csv_row, find_events
from monitor.rules import RuleSyntaxError
from monitor.usage import UsageError, known_source
from storage.db import Database
from storage.event_edits import EventEditError, join_reasons_by_event, merge_events, split_article
from storage.eventpages import EventDetail, EventFilter, event_detail


def events(args: argparse.Namespace) -> int:
    if args.events_command == "split":
        return events_split(args)
    if args.events_command == "merge":
        return events_merge(args)
    ctx = opening.for_reading(load_config(args.config)[1])
    if args.events_command == "show":
        return _show(ctx.db, args.id, as_json=args.json)
    known_source(ctx.config, args.source, "events list")
    return _list(ctx.db, args)


def _filter(args: argparse.Namespace) -> EventFilter:
    return EventFilter(
        source=args.source,
        published_from=args.since.date() if args.since else None,
        first_seen_from=args.first_seen_since,
        dismissed=True,  # the command line lists everything stored
    )


def _list(db: Database, args: argparse.Namespace) -> int:
    try:
        page = find_events(db, _filter(args), args.query or "", limit=args.limit)
    except RuleSyntaxError as exc:
        raise UsageError(f"events list: --query: {exc}") from None
    if not page.looked_at_all:
        print(f"eventwatch: --query read the newest {SCAN_LIMIT:,} events only: narrow them "
              "with --since, --first-seen-since or --source", file=sys.stderr)  # fmt: skip
    if args.csv:
        writer = csv.writer(sys.stdout)
        writer.writerow(CSV_COLUMNS)
        writer.writerows(csv_row(row) for row in page.rows)
        return 0
    if args.json:
        reports = reports_json(db, [row.event_id for row in page.rows])
        for row in page.rows:
            detail = event_detail(db, row.event_id)
            if detail is not None:
                _emit({**json_fields(detail), "reports": reports.get(row.event_id, [])})
        return 0
    print(f"{'id':>6}  {'day':<10}  {'lang':<5} {'sources':<16} title")
    for row in page.rows:
        day = row.published_day.isoformat() if row.published_day else "no date"
        print(f"{row.event_id:>6}  {day:<10}  {','.join(row.languages) or '-':<5} "
              f"{','.join(row.sources):<16} {row.title}")  # fmt: skip
    print(f"{len(page.rows):,} of {page.total:,} events, newest activity first")
    return 0


def json_fields(detail: EventDetail) -> dict[str, Any]:
    """The `--json` fields of an event (an interface: add, never change), from its first
    report, with its sources and links over every report."""
    row, first = detail.row, detail.reports[0] if detail.reports else None
    return {
        "id": row.event_id, "event_id": row.event_id, "url": row.url,
        "source": row.sources[0] if row.sources else "",
        "sources": list(row.sources), "urls": [r.url for r in detail.reports],
        "title": row.title,
        "published_at": first.published_at if first else None,
        "published_day": row.published_day, "language": first.language if first else None,
        "languages": list(first.languages) if first else [],
        "text": first.text if first else "", "first_seen": row.first_seen,
        "places": list(row.places), "organisations": list(row.organisations),
        "dates_mentioned": list(detail.dates_mentioned),
        "updated_at": row.updated_at, "rules": list(row.rules), "read": row.read,
        "starred": row.starred, "merged_into": detail.merged_into,
    }  # fmt: skip


def _emit(obj: dict[str, Any]) -> None:
    print(json.dumps(obj, ensure_ascii=False, default=_iso))


def _iso(value: object) -> str:
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


def _show(db: Database, event_id: int, *, as_json: bool) -> int:
    detail = event_detail(db, event_id)
    if detail is None:
        raise UsageError(f"events show: no event with id {event_id}")
    if as_json:
        joined = {r["url"]: r for r in reports_json(db, [event_id]).get(event_id, [])}
        _emit(
            {
                **json_fields(detail),
                "reports": [
                    {
                        **joined.get(r.url, {}),
                        "source": r.source,
                        "url": r.url,
                        "title": r.title,
                        "language": r.language,
                        "published_day": r.published_day,
                        "text": r.text,
                    }
                    for r in detail.reports
                ],
            }
        )
        return 0  # fmt: skip
    row = detail.row
    print(f"event {row.event_id}: {row.title}")
    if detail.merged_into is not None:
        print(f"merged into event {detail.merged_into}: its reports are there")
    print(f"first seen {row.first_seen:%Y-%m-%d %H:%M}Z, last report "
          f"{row.updated_at:%Y-%m-%d %H:%M}Z; {'read' if row.read else 'unread'}"
          f"{', starred' if row.starred else ''}")  # fmt: skip
    print(f"places: {', '.join(row.places) or '-'}")
    print(f"organisations: {', '.join(row.organisations) or '-'}")
    print(f"dates mentioned: {'; '.join(d.get('text', '') for d in detail.dates_mentioned) or '-'}")
    for match in detail.matches:
        print(f"rule {match.rule}: {', '.join(match.terms)}")
    for delivery in detail.deliveries:
        print(f"delivery {delivery.id}: {delivery.channel} {delivery.status}"
              f"{' — ' + delivery.last_error if delivery.last_error else ''}")  # fmt: skip
    for number, report in enumerate(detail.reports, 1):
        day = report.published_day.isoformat() if report.published_day else "no date"
        print(f"\n[{number}] {report.source} · {report.language or '?'} · {day}")
        print(f"{report.title}\n{report.url}\n\n{report.text}")
    return 0


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
