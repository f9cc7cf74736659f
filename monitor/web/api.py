"""The JSON API, ``/api/v1/…``: the lists, filters and actions of the pages, for scripts.
Authenticate with ``Authorization: Bearer TOKEN`` (``web.tokens``); its OpenAPI description
is ``/api/v1/openapi.json``."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, HTTPException, Query, Request
from pydantic import BaseModel, ConfigDict

from monitor.eventsearch import find_events
from monitor.rules import RuleSyntaxError
from monitor.web.guard import Actor, ApiReader, RowId, State
from monitor.web.views import (
    BadFilter,
    delivery_json,
    event_json,
    event_query,
    page_mark,
    rule_stats,
    source_statuses,
)
from storage.event_edits import JoinReason, join_reasons
from storage.eventpages import event_detail
from storage.outbox import delivery_statuses, list_deliveries, requeue
from storage.stats import DeliveryStatus
from storage.triage import request_crawl, set_source_held, set_triage

router = APIRouter(prefix="/api/v1", tags=["v1"])


class Triage(BaseModel):
    model_config = ConfigDict(extra="forbid")
    read: bool | None = None
    starred: bool | None = None
    dismissed: bool | None = None


class Hold(BaseModel):
    model_config = ConfigDict(extra="forbid")
    held: bool


class Backtest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    query: str
    limit: int = 100


def _page(state: State, params: dict[str, str]) -> dict[str, Any]:
    try:
        query = event_query(params)
        page = find_events(state.db, query.filter, query.text,
                           limit=query.limit, offset=query.offset, after=query.after)  # fmt: skip
    except (BadFilter, RuleSyntaxError) as exc:
        raise HTTPException(400, str(exc)) from None
    return {
        "total": page.total, "offset": page.offset, "limit": page.limit,
        "next": page_mark(page.next_mark),
        "looked_at_all": page.looked_at_all,
        "events": [
            {**event_json(row), "terms": sorted({t for h in page.hits.get(row.event_id, [])
                                                 for t in h.terms})}
            for row in page.rows
        ],
    }  # fmt: skip


@router.get("/events", summary="Events, newest activity first, filtered")
def events(
    request: Request, state: State, who: ApiReader,
    q: str = Query("", description="a query in the rule language"),
    source: str | None = None, language: str | None = None, place: str | None = None,
    org: str | None = None, rule: str | None = None,
    first_seen_from: str | None = None, first_seen_to: str | None = None,
    published_from: str | None = None, published_to: str | None = None,
    unread: bool = False, starred: bool = False, dismissed: bool = False,
    offset: int = 0, limit: int = Query(50, le=500, ge=1),
    after: str | None = Query(None, description="the `next` of the page before"),
) -> dict[str, Any]:  # fmt: skip
    return _page(state, dict(request.query_params))


@router.get("/events/{event_id}", summary="One event with all its reports")
def event(state: State, who: ApiReader, event_id: RowId) -> dict[str, Any]:
    detail = event_detail(state.db, event_id)
    if detail is None:
        raise HTTPException(404, f"no event {event_id}")
    joined = {r.article_id: r for r in join_reasons(state.db, event_id)}
    return {
        **event_json(detail.row),
        "merged_into": detail.merged_into,
        "dates_mentioned": list(detail.dates_mentioned),
        "reports": [
            {"article_id": r.article_id, "source": r.source, "url": r.url, "title": r.title,
             "language": r.language, "published_day": r.published_day and
             r.published_day.isoformat(), "first_seen": r.first_seen.isoformat(),
             "text": r.text, "joined": _joined(joined.get(r.article_id))}
            for r in detail.reports
        ],
        "matches": [
            {"rule": m.rule, "article_id": m.article_id, "terms": list(m.terms),
             "snippets": list(m.snippets), "created_at": m.created_at.isoformat()}
            for m in detail.matches
        ],
        "deliveries": [delivery_json(d) for d in detail.deliveries],
    }  # fmt: skip


@router.post("/events/{event_id}/triage", summary="Mark read, star, dismiss")
def triage(state: State, who: Actor, event_id: RowId, body: Triage) -> dict[str, Any]:
    flags = {k: v for k, v in body.model_dump().items() if v is not None}
    done_on = set_triage(state.db, event_id, who.name, **flags)
    if done_on is None:
        raise HTTPException(404, f"no event {event_id}")
    return {"id": done_on, **flags}  # the event it was merged into, for one merged away


@router.get("/sources", summary="Sources with health, schedule, lag and last run")
def sources(state: State, who: ApiReader) -> list[dict[str, Any]]:
    return [
        {"name": s.name, "schedule": s.schedule, "enabled": s.enabled, "held": s.held,
         "crawl_requested": s.crawl_requested, "health": s.health, "articles": s.articles,
         "lag": s.lag, "last_run": None if s.last_run is None else {
             "id": s.last_run.id, "status": s.last_run.status,
             "started_at": s.last_run.started_at.isoformat(),
             "new_articles": s.last_run.new_articles, "errors": s.last_run.errors}}
        for s in source_statuses(state.config, state.db)
    ]  # fmt: skip


def _known(state: State, name: str) -> None:
    if name not in {s.name for s in state.config.sources}:
        raise HTTPException(404, f"no source named {name!r}")


@router.post("/sources/{name}/crawl", summary="Ask the daemon to crawl a source now")
def crawl_now(state: State, who: Actor, name: str) -> dict[str, Any]:
    _known(state, name)
    request_crawl(state.db, name, who.name)
    return {"source": name, "crawl_requested": True}


@router.post("/sources/{name}/hold", summary="Hold a source (no crawls) or release it")
def hold(state: State, who: Actor, name: str, body: Hold) -> dict[str, Any]:
    _known(state, name)
    set_source_held(state.db, name, body.held, who.name)
    return {"source": name, "held": body.held}


@router.get("/rules", summary="Rules with their hits over 7 and 30 days")
def rules(state: State, who: ApiReader) -> list[dict[str, Any]]:
    stats, _ = rule_stats(state.config, state.db, datetime.now(UTC).date())
    return [
        {"name": s.name, "query": s.query, "notify": list(s.notify), "hits_7_days": s.hits_7,
         "hits_30_days": s.hits_30}
        for s in stats
    ]  # fmt: skip


@router.post("/rules/backtest", summary="The stored events a query matches; sends nothing")
def backtest(state: State, who: ApiReader, body: Backtest) -> dict[str, Any]:
    return _page(state, {"q": body.query, "limit": str(min(max(body.limit, 1), 500))})


@router.get("/deliveries", summary="Deliveries, newest first")
def deliveries(
    state: State, who: ApiReader, status: DeliveryStatus | None = None
) -> list[dict[str, Any]]:
    return [delivery_json(row) for row in list_deliveries(state.db, status, limit=500)]


@router.post("/deliveries/{delivery_id}/retry", summary="Queue a failed delivery again")
def retry(state: State, who: Actor, delivery_id: RowId) -> dict[str, Any]:
    statuses = delivery_statuses(state.db, [delivery_id])
    if delivery_id not in statuses:
        raise HTTPException(404, f"no delivery {delivery_id}")
    if statuses[delivery_id] != "failed":  # pending is on its way; held or digested go in a digest
        raise HTTPException(409, f"delivery {delivery_id} is {statuses[delivery_id]}, not failed")
    requeue(state.db, [delivery_id])
    return {"id": delivery_id, "status": "pending"}


def _joined(reason: JoinReason | None) -> dict[str, Any] | None:
    """Why a report joined its event (docs/grouping.md), as ``events list --json`` says it."""
    if reason is None:
        return None
    return {"by": reason.by, "article": reason.article, "score": reason.score,
            "shared": list(reason.shared)}  # fmt: skip
