"""What a crawl process tells the process that started it, line by line on its stdout.

A crawl process lives for many crawls (:mod:`crawlers.crawling.crawl`): each of its runs reports its
verdict, counts and validators when its spider closes, then that it has finished, so its
starter knows the slot is free; a heartbeat line every few seconds says the process is alive.

The crawl process writes to the database only the articles it finds new (and reads the URLs
it checks against those stored). Runs, their counts and verdicts, their pages (failed, had
again, found no article in), and the validators of listing pages, feeds and sitemaps are
recorded by its starter (:mod:`crawlers.launcher.runner`), which has the database open already
and gives the validators with the job. A re-crawl of unchanged sites therefore never loads
SQLAlchemy in the crawl process.

Each report is one JSON object on a line of its own, marked, so that nothing else printed
can pass for one. A line is written as soon as its spider closes: a process killed later
has told what it finished. Imports only the standard library: both sides load it.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

MARK = "eventwatch-report "
# How an ``ok`` verdict begins when Scrapy closed the crawl before its end (a page count):
# the starter then knows the crawl's walk was cut short.
STOPPED_EARLY = "stopped early"

# A listing page's validators as they travel: ETag, Last-Modified, hash of the body.
Validators = tuple[str | None, str | None, str | None]


def send(run_id: int, **fields: Any) -> None:
    sys.stdout.write(MARK + json.dumps({"run": run_id, **fields}) + "\n")
    sys.stdout.flush()


def send_verdict(run_id: int, status: str, error: str | None, counts: Mapping[str, int]) -> None:
    send(run_id, status=status, error=error, counts=dict(counts))


def send_validators(run_id: int, validators: Mapping[str, Validators]) -> None:
    send(run_id, validators={url: list(v) for url, v in validators.items()})


def send_ledger(run_id: int, ledger: Mapping[str, Any]) -> None:
    """The run's pages had, failed and found no article in, and its link counts
    (:meth:`crawlers.crawling.runledger.RunLedger.report`), for the starter to record."""
    send(run_id, ledger=dict(ledger))


def send_finished(run_id: int) -> None:
    """The crawl of ``run_id`` is over: nothing more will be said of it."""
    send(run_id, finished=True)


def send_beat() -> None:
    """The process's event loop still turns (run 0 is the process, not a run)."""
    send(BEAT)


BEAT = 0


@dataclass(slots=True)
class RunReport:
    """What one run's spider reported; no status when it did not close."""

    status: str | None = None
    error: str | None = None
    counts: dict[str, int] = field(default_factory=dict)
    validators: dict[str, Validators] = field(default_factory=dict)
    ledger: dict[str, Any] | None = None  # crawlers.launcher.pagerecord writes it
    finished: bool = False


def read(output: str | None) -> dict[int, RunReport]:
    """The reports in a crawl process's stdout, by run; other lines are ignored, and so is
    a line cut short by a kill while it was written."""
    reports: dict[int, RunReport] = {}
    for line in (output or "").splitlines():
        apply_line(line, reports)
    return reports


def apply_line(line: str, reports: dict[int, RunReport]) -> int | None:
    """Add what one line reports to ``reports``; the run it was about (:data:`BEAT` for a
    heartbeat), or None for a line that is no report or cannot be read whole."""
    if not line.startswith(MARK):
        return None
    try:
        return _apply(json.loads(line[len(MARK) :]), reports)
    except (ValueError, LookupError, TypeError, AttributeError):
        return None


def _apply(data: dict[str, Any], reports: dict[int, RunReport]) -> int:
    """Parse the whole line before any of it counts. A run keeps its first verdict."""
    run_id = int(data["run"])
    if run_id == BEAT:
        return BEAT
    verdict = None
    if "status" in data:
        counts = {str(k): int(v) for k, v in data.get("counts", {}).items()}
        verdict = (str(data["status"]), data.get("error"), counts)
    validators = {url: (v[0], v[1], v[2]) for url, v in data.get("validators", {}).items()}
    finished = bool(data.get("finished", False))
    ledger = data.get("ledger")
    report = reports.setdefault(run_id, RunReport())
    if isinstance(ledger, dict) and report.ledger is None:
        report.ledger = ledger
    if verdict is not None and report.status is None:
        report.status, report.error, report.counts = verdict
    report.validators.update(validators)
    report.finished = report.finished or finished
    return run_id


# Progress of a crawl as it goes, for a display (``eventwatch crawl`` on a terminal): marked
# apart from reports, which the starter records, so that neither passes for the other.
PROGRESS_MARK = "eventwatch-progress "
COUNTED = ("fetched", "stored", "duplicates", "failed", "queued", "done")


@dataclass(frozen=True, slots=True)
class Progress:
    """Where one run stands. ``queued``: article pages asked for so far, ``done``: those
    answered or failed; the total is known once the listings, feeds and sitemaps are read."""

    run: int
    source: str
    fetched: int = 0
    stored: int = 0
    duplicates: int = 0
    failed: int = 0
    queued: int = 0
    done: int = 0
    finished: bool = False


def send_progress(progress: Progress) -> None:
    fields = {name: getattr(progress, name) for name in progress.__slots__}
    sys.stdout.write(PROGRESS_MARK + json.dumps(fields) + "\n")
    sys.stdout.flush()


def read_progress(line: str) -> Progress | None:
    """The progress a line tells, or None for any other line (a log line, a report)."""
    if not line.startswith(PROGRESS_MARK):
        return None
    try:
        data = json.loads(line[len(PROGRESS_MARK) :])
        return Progress(
            run=int(data["run"]),
            source=str(data["source"]),
            finished=bool(data.get("finished")),
            **{name: int(data.get(name, 0)) for name in COUNTED},
        )
    except (ValueError, LookupError, TypeError, AttributeError):
        return None
