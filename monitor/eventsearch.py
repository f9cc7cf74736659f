"""Finding events for people: the storage filters, then a query in the rule language run
over every report of each candidate event, newest activity first. Shared by the web UI, its
API, its feeds and `events list`.

A query cannot be answered by an index, so it is run over the newest ``SCAN_LIMIT``
candidate events at most; a page then says it looked no further.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from crawlers.enrichment.entities import names_for_matching
from monitor.rules import Hit, RuleSet, RuleSpec
from storage.db import Database
from storage.eventpages import (
    EventFilter,
    EventRow,
    PageMark,
    Report,
    count_events,
    event_ids,
    event_mark,
    event_rows,
    report_texts,
)

SCAN_LIMIT = 5000
_CHUNK = 250


@dataclass(frozen=True, slots=True)
class EventPage:
    rows: list[EventRow]
    total: int  # events that pass the filters (and the query, among those looked at)
    offset: int
    limit: int
    looked_at_all: bool = True  # False: a query stopped at SCAN_LIMIT candidates
    hits: dict[int, list[Hit]] = field(default_factory=dict)  # event → what the query found
    next_mark: PageMark | None = None  # where the next page starts; None: this is the last


def _mark(rows: list[EventRow], more: bool) -> PageMark | None:
    return (rows[-1].updated_at, rows[-1].event_id) if more and rows else None


def compile_query(query: str) -> RuleSet:
    """Raises RuleSyntaxError with the column of the problem."""
    return RuleSet.compile([RuleSpec("query", query)])


def find_events(
    db: Database,
    chosen: EventFilter,
    query: str = "",
    *,
    limit: int = 50,
    offset: int = 0,
    after: PageMark | None = None,
) -> EventPage:
    """A page of the events, ``offset`` events after the top of the list or after the mark
    ``after`` (:data:`storage.eventpages.PageMark`)."""
    if not query.strip():
        ids = event_ids(db, chosen, limit + 1, offset, after)
        rows = event_rows(db, ids[:limit])
        total = count_events(db, chosen)
        return EventPage(rows, total, offset, limit, next_mark=_mark(rows, len(ids) > limit))
    ruleset = compile_query(query)
    matched: dict[int, list[Hit]] = {}
    scanned, last = 0, None
    while scanned < SCAN_LIMIT:
        ids = event_ids(db, chosen, min(_CHUNK, SCAN_LIMIT - scanned), scanned, after)
        scanned += len(ids)
        last = ids[-1] if ids else last
        matched.update(_matching(db, ruleset, ids))
        if len(ids) < _CHUNK:
            break
    ordered = list(matched)  # scanned newest activity first, chunk after chunk
    chosen_ids = ordered[offset : offset + limit]
    left_out = scanned == SCAN_LIMIT and bool(event_ids(db, chosen, 1, scanned, after))
    rows = event_rows(db, chosen_ids)
    more = offset + limit < len(ordered)
    # a page that ends at the scan's limit: the next one scans on from the last event read
    at_limit = left_out and not more and last is not None
    mark = event_mark(db, last) if at_limit and last is not None else _mark(rows, more)
    return EventPage(
        rows, len(ordered), offset, limit,
        looked_at_all=not left_out, hits={i: matched[i] for i in chosen_ids}, next_mark=mark,
    )  # fmt: skip


def _matching(db: Database, ruleset: RuleSet, ids: list[int]) -> dict[int, list[Hit]]:
    """Of ``ids``, in their order, the events the rules find something in."""
    texts = report_texts(db, ids)
    rows = {row.event_id: row for row in event_rows(db, ids)}
    found: dict[int, list[Hit]] = {}
    for event_id in ids:
        row = rows.get(event_id)
        if row is None:
            continue
        hits = event_hits(ruleset, texts.get(event_id, []), (row.places, row.organisations))
        if hits:
            found[event_id] = hits
    return found


def event_hits(
    ruleset: RuleSet,
    reports: list[Report],
    names: tuple[tuple[str, ...], tuple[str, ...]],
    own: Path | None = None,
) -> list[Hit]:
    """What the rules find in any report of an event, with the names all its reports carry
    (in every alias; ``own``: the user's gazetteer)."""
    places = names_for_matching("places", names[0], own)
    organisations = names_for_matching("organisations", names[1], own)
    for report in reports:
        hits = ruleset.match(
            title=report.title, text=report.text, source=report.source,
            places=places, organisations=organisations,
        )  # fmt: skip
        if hits:
            return hits
    return []


CSV_COLUMNS = (
    "id", "title", "url", "published_day", "first_seen", "updated_at", "sources", "languages",
    "places", "organisations", "rules", "read", "starred",
)  # fmt: skip


def csv_row(row: EventRow) -> list[str]:
    """An event as a CSV row of ``CSV_COLUMNS``; lists joined with "; "."""
    return [
        str(row.event_id), as_text(row.title), as_text(row.url),
        row.published_day.isoformat() if row.published_day else "",
        row.first_seen.isoformat(), row.updated_at.isoformat(), as_text("; ".join(row.sources)),
        "; ".join(row.languages), as_text("; ".join(row.places)),
        as_text("; ".join(row.organisations)), as_text("; ".join(row.rules)),
        "yes" if row.read else "no", "yes" if row.starred else "no",
    ]  # fmt: skip


# A spreadsheet opens a cell that starts with one of these as a formula: a crawled title
# such as =HYPERLINK("http://…?"&A1) would run in the analyst's spreadsheet.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def as_text(cell: str) -> str:
    """A cell of crawled text that a spreadsheet shows as text, never runs (OWASP's advice:
    a leading apostrophe)."""
    return "'" + cell if cell.startswith(FORMULA_STARTS) else cell
