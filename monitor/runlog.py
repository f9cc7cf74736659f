"""Crawl runs with their failed pages and link counts: ``eventwatch runs``, the lines under
each run of ``eventwatch crawl`` and the detail of ``eventwatch status SOURCE``."""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterator, Sequence
from dataclasses import asdict
from datetime import datetime
from typing import Any

from monitor.config import load_config
from monitor.usage import known_source
from storage.db import Database
from storage.pagefailures import FailureView, page_failures
from storage.runs import RunSummary, list_runs

FIRST_FAILURES = 3  # named under a run's summary line; `eventwatch runs --failed` has them all


def _when(moment: datetime | None) -> str:
    return f"{moment:%Y-%m-%d %H:%M}Z" if moment else "-"


def failure_line(failure: FailureView) -> str:
    status = f"HTTP {failure.http_status}"
    reason = failure.reason
    if failure.http_status and not reason.startswith(status):
        reason = f"{status}: {reason}"
    tries = f"attempt {failure.attempts}, next try {_when(failure.next_attempt_at)}"
    return f"failed {failure.stage}: {failure.url} — {reason} ({tries})"


def run_failure_lines(db: Database, run: RunSummary, limit: int = FIRST_FAILURES) -> list[str]:
    """The lines printed under a run's summary line: its first failed pages, and how many
    more there are."""
    if not run.errors:
        return []
    failures = page_failures(db, run_ids=[run.id], limit=limit + 1)
    lines = [f"  {failure_line(f)}" for f in failures[:limit]]
    if len(failures) > limit or run.errors > limit:
        lines.append(f"  more in: eventwatch runs {run.source} --failed")
    return lines


def links_lines(links: dict[str, Any] | None, *, by_rule: bool = True) -> list[str]:
    """Links seen, followed and skipped, and with ``by_rule`` how many each rule took."""
    if not links:
        return []
    lines = [
        f"links: {links.get('seen', 0)} seen, {links.get('followed', 0)} followed, "
        f"{links.get('skipped', 0)} skipped; {links.get('tried', 0)} tried for their "
        f"content, {links.get('kept', 0)} kept as articles"
    ]
    if by_rule:
        lines += [f"  {count:>6}  {rule}" for rule, count in links.get("rules", {}).items()]
    return lines


def run_detail_lines(db: Database, run: RunSummary) -> list[str]:
    """A run's failed pages and its links by rule, as `status SOURCE` shows them."""
    failures = page_failures(db, run_ids=[run.id])
    head = f"run {run.id} ({run.status}, {_when(run.started_at)}): {len(failures)} pages failed"
    detail = f" — {run.error}" if run.error else ""
    return [head + detail, *(f"  {failure_line(f)}" for f in failures), *links_lines(run.links)]


def _run_row(run: RunSummary) -> str:
    links = run.links or {}
    counts = f"{links.get('seen', 0)}/{links.get('followed', 0)}/{links.get('skipped', 0)}"
    return (
        f"{run.id:>6}  {run.source:<16} {_when(run.started_at):<17} {run.status:<9} "
        f"{run.pages:>6} {run.new_articles:>5} {run.errors:>6}  {counts if run.links else '-'}"
    )


def _run_json(run: RunSummary, failures: Sequence[FailureView]) -> dict[str, Any]:
    return {**asdict(run), "failures": [asdict(f) for f in failures]}


def _json_default(value: object) -> str:
    return value.isoformat() if isinstance(value, datetime) else str(value)


def run_lines(db: Database, args: argparse.Namespace) -> Iterator[str]:
    """What `eventwatch runs` prints: a row per run, newest first, each with its failures."""
    runs = list_runs(db, args.source, failed=args.failed, limit=args.limit)
    failures = page_failures(db, run_ids=[run.id for run in runs], limit=100_000)
    by_run: dict[int, list[FailureView]] = {}
    for failure in failures:
        by_run.setdefault(failure.run_id, []).append(failure)
    if not args.json:
        yield (
            f"{'run':>6}  {'source':<16} {'started':<17} {'status':<9} {'pages':>6} "
            f"{'new':>5} {'errors':>6}  links seen/followed/skipped"
        )
    for run in runs:
        if args.json:
            yield json.dumps(_run_json(run, by_run.get(run.id, [])), default=_json_default)
            continue
        yield _run_row(run)
        if run.error:
            yield f"        {run.error}"
        yield from (f"        {failure_line(f)}" for f in by_run.get(run.id, []))


def runs(args: argparse.Namespace) -> int:
    """`eventwatch runs`: read-only, it creates and migrates nothing."""
    config = load_config(args.config)[1]
    known_source(config, args.source, "runs")
    from monitor import opening  # here: a crawl prints failure lines without it (and flow)

    ctx = opening.for_reading(config)
    for line in run_lines(ctx.db, args):
        print(line)
    return 0
