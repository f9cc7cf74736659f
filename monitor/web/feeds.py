"""Atom feeds (all events, or the events of one rule) and CSV exports of an events query.

A feed reader cannot log in: it may give its token as ``?token=``, which is never logged
(monitor.web.app's access log leaves query strings out)."""

from __future__ import annotations

import csv
import io
import xml.etree.ElementTree as ET
from datetime import UTC, datetime

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import Response

from monitor.eventsearch import CSV_COLUMNS, csv_row, find_events
from monitor.rules import RuleSyntaxError
from monitor.web.guard import State, who
from monitor.web.views import BadFilter, event_query
from storage.eventpages import EventFilter, EventRow

router = APIRouter(include_in_schema=False)
ATOM = "http://www.w3.org/2005/Atom"
FEED_SIZE = 50
CSV_MOST = 10_000


def _reader(request: Request, state: State) -> None:
    identity, _ = who(request, state)
    token = request.query_params.get("token")
    if identity is None and token:
        identity = state.access.by_token(token)
    if identity is None:
        raise HTTPException(401, "a token is needed: ?token= or Authorization: Bearer")


def _base(request: Request, state: State) -> str:
    return (state.access.public_url or str(request.base_url)).rstrip("/")


def _text(parent: ET.Element, tag: str, text: str, **attrs: str) -> ET.Element:
    element = ET.SubElement(parent, f"{{{ATOM}}}{tag}", attrs)
    element.text = text
    return element


def _entry(feed: ET.Element, row: EventRow, base: str) -> None:
    entry = ET.SubElement(feed, f"{{{ATOM}}}entry")
    _text(entry, "id", f"{base}/events/{row.event_id}")
    _text(entry, "title", row.title)
    _text(entry, "updated", row.updated_at.isoformat())
    _text(entry, "published", row.first_seen.isoformat())
    ET.SubElement(entry, f"{{{ATOM}}}link", href=f"{base}/events/{row.event_id}")
    if row.url:
        ET.SubElement(entry, f"{{{ATOM}}}link", rel="related", href=row.url)
    summary = f"Reported by {', '.join(row.sources)}."
    if row.places:
        summary += f" Places: {', '.join(row.places)}."
    if row.rules:
        summary += f" Rules: {', '.join(row.rules)}."
    _text(entry, "summary", summary)


def _feed(request: Request, state: State, title: str, chosen: EventFilter) -> Response:
    _reader(request, state)
    base = _base(request, state)
    rows = find_events(state.db, chosen, limit=FEED_SIZE).rows
    ET.register_namespace("", ATOM)
    feed = ET.Element(f"{{{ATOM}}}feed")
    _text(feed, "id", f"{base}{request.url.path}")
    _text(feed, "title", title)
    newest = max((row.updated_at for row in rows), default=datetime.now(UTC))
    _text(feed, "updated", newest.isoformat())
    ET.SubElement(feed, f"{{{ATOM}}}link", rel="self", href=f"{base}{request.url.path}")
    _text(ET.SubElement(feed, f"{{{ATOM}}}author"), "name", "eventwatch")
    for row in rows:
        _entry(feed, row, base)
    body = ET.tostring(feed, encoding="unicode", xml_declaration=True)
    return Response(body, media_type="application/atom+xml; charset=utf-8")


@router.get("/feeds/events.atom")
def all_events(request: Request, state: State) -> Response:
    return _feed(request, state, "eventwatch: events", EventFilter())


@router.get("/feeds/rules/{rule}.atom")
def rule_events(request: Request, state: State, rule: str) -> Response:
    if rule not in {r.name for r in state.config.rules}:
        raise HTTPException(404, f"no rule named {rule!r}")
    return _feed(request, state, f"eventwatch: rule {rule}", EventFilter(rule=rule))


@router.get("/events.csv")
def events_csv(request: Request, state: State) -> Response:
    _reader(request, state)
    try:
        query = event_query({**request.query_params, "limit": "1", "offset": "0"})
        page = find_events(state.db, query.filter, query.text, limit=CSV_MOST)
    except (BadFilter, RuleSyntaxError) as exc:
        raise HTTPException(400, str(exc)) from None
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    writer.writerows(csv_row(row) for row in page.rows)
    attachment = {"Content-Disposition": 'attachment; filename="events.csv"'}
    return Response(out.getvalue(), media_type="text/csv; charset=utf-8", headers=attachment)
