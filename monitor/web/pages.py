"""The pages: events, one event, sources, one source, rules with a backtest, deliveries.
Each is plain HTML that reads without JavaScript."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from monitor.eventsearch import EventPage, find_events
from monitor.rules import RuleSyntaxError
from monitor.web import charts
from monitor.web.guard import Reader, RowId, State, csrf_token
from monitor.web.highlight import highlight
from monitor.web.views import BadFilter, event_query, page_mark, rule_stats, source_statuses
from storage.event_edits import join_reasons
from storage.eventpages import event_detail
from storage.outbox import list_deliveries
from storage.pagefailures import page_failures
from storage.runs import list_runs
from storage.stats import DELIVERY_STATUSES
from storage.triage import articles_by_day

router = APIRouter(include_in_schema=False)
STATUSES = DELIVERY_STATUSES  # every status a delivery can have, held ones included


def render(request: Request, state: State, name: str, who: Any, **context: Any) -> HTMLResponse:
    return state.templates.TemplateResponse(
        request, name, {"who": who, "csrf": csrf_token(request),
                        "login_required": state.access.login_required, **context},
    )  # fmt: skip


@router.get("/")
def home() -> Response:
    return RedirectResponse("/events", status_code=303)


def _find(state: State, params: dict[str, str]) -> tuple[EventPage | None, str]:
    try:
        query = event_query(params)
        found = find_events(state.db, query.filter, query.text,
                            limit=query.limit, offset=query.offset, after=query.after)  # fmt: skip
        return found, ""
    except (BadFilter, RuleSyntaxError) as exc:
        return None, str(exc)


@router.get("/events", response_class=HTMLResponse)
def events(request: Request, state: State, who: Reader) -> HTMLResponse:
    params = dict(request.query_params)
    page, problem = _find(state, params)
    today = datetime.now(UTC).date()
    days = charts.last_days(30, today)
    by_source = state.cached("articles_by_day", lambda: articles_by_day(state.db, 30))
    chart = charts.stacked_days(
        "new articles per day by source, last 30 days", days, by_source, charts.Box(720, 90, 48)
    )  # fmt: skip
    plain = {k: v for k, v in params.items() if k not in ("offset", "after") and v}
    older = page_mark(page.next_mark) if page else None
    return render(request, state, "events.html", who, page=page, problem=problem, older=older,
                  paged="after" in params or "offset" in params,
                  params=plain, sources=[s.name for s in state.config.sources],
                  rules=[r.name for r in state.config.rules], chart=chart)  # fmt: skip


@router.get("/events/{event_id}", response_class=HTMLResponse)
def event(request: Request, state: State, who: Reader, event_id: RowId) -> Response:
    detail = event_detail(state.db, event_id)
    if detail is None:
        raise HTTPException(404, f"no event {event_id}")
    if detail.merged_into is not None:  # an old alert's link: its story is there now
        return RedirectResponse(f"/events/{detail.merged_into}", status_code=303)
    terms = {m.article_id: m.terms for m in detail.matches}
    everything = tuple(t for m in detail.matches for t in m.terms)
    texts = {
        r.article_id: (highlight(r.title, everything), highlight(r.text, terms.get(
            r.article_id, everything)))
        for r in detail.reports
    }  # fmt: skip
    joined = {r.article_id: r for r in join_reasons(state.db, event_id)}
    return render(request, state, "event.html", who, detail=detail, texts=texts, joined=joined)


@router.get("/sources", response_class=HTMLResponse)
def sources(request: Request, state: State, who: Reader) -> HTMLResponse:
    statuses = source_statuses(state.config, state.db)
    timelines = {
        s.name: charts.run_timeline(f"crawl runs of {s.name}", [
            charts.RunMark(f"{r.started_at:%Y-%m-%d %H:%M}", r.status, r.new_articles, r.errors)
            for r in reversed(list_runs(state.db, s.name, limit=30))
        ])
        for s in statuses
    }  # fmt: skip
    return render(request, state, "sources.html", who, statuses=statuses, timelines=timelines)


@router.get("/sources/{name}", response_class=HTMLResponse)
def source(request: Request, state: State, who: Reader, name: str) -> HTMLResponse:
    if name not in {s.name for s in state.config.sources}:
        raise HTTPException(404, f"no source named {name!r}")
    runs = list_runs(state.db, name, limit=20)
    failures: dict[int, list[Any]] = {}
    for failure in page_failures(state.db, source=name, run_ids=[r.id for r in runs]):
        failures.setdefault(failure.run_id, []).append(failure)
    status = next(s for s in source_statuses(state.config, state.db) if s.name == name)
    return render(request, state, "source.html", who, status=status, runs=runs,
                  failures=failures)  # fmt: skip


@router.get("/rules", response_class=HTMLResponse)
def rules(request: Request, state: State, who: Reader) -> HTMLResponse:
    today = datetime.now(UTC).date()
    stats, by_day = rule_stats(state.config, state.db, today)
    days = charts.last_days(30, today)
    lines = {s.name: charts.sparkline(s.name, days, by_day.get(s.name, {})) for s in stats}
    chart = charts.stacked_days("events matched per day by rule, last 30 days", days, by_day,
                                charts.Box(720, 90, 48))  # fmt: skip
    query = (request.query_params.get("q") or "").strip()
    found, problem = _find(state, {"q": query, "limit": "100"}) if query else (None, "")
    marked = {}
    for event_id, hits in (found.hits if found else {}).items():
        terms = [t for hit in hits for t in hit.terms]
        marked[event_id] = [highlight(s, terms) for hit in hits for s in hit.snippets]
    return render(request, state, "rules.html", who, stats=stats, lines=lines, chart=chart,
                  query=query, found=found, problem=problem, marked=marked)  # fmt: skip


@router.get("/deliveries", response_class=HTMLResponse)
def deliveries(request: Request, state: State, who: Reader) -> HTMLResponse:
    status = request.query_params.get("status") or None
    if status not in (None, *STATUSES):
        raise HTTPException(400, f"status: one of {', '.join(STATUSES)}")
    rows = list_deliveries(state.db, status, limit=500)
    return render(request, state, "deliveries.html", who, rows=rows, status=status,
                  statuses=STATUSES)  # fmt: skip
