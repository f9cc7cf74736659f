"""The real pages of ../shared/eval (trafilatura-eval and htmldate-dev) crawled as one site
on the benchmark's mirror: which events hold more than one report, with the signals (after)
and by text and title alone (before), and why each report joined.

"Before" comes from the same crawl: the signals are tried last, only for an article that
shares no text or title with a stored one, so the events of text and title alone are the
groups linked by the other reasons (same text, near duplicate, same title).

Usage: .venv/bin/python -m bench.eval_events EVAL_FOLDER   (e.g. ../shared/eval)
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from sqlalchemy import select

from bench.mirror import MirrorServer, article_pages, build_sites
from bench.setup import ROOT, eventwatch, write_config
from storage.db import Database
from storage.event_edits import JoinReason, join_reasons_by_event
from storage.models import Article

TEXT_REASONS = ("same text", "near duplicate", "same title")


def crawl(folder: Path, work: Path) -> dict[int, list[JoinReason]]:
    """Every page of ``folder`` on one mirror site, crawled once: each event's reports."""
    pages = article_pages(folder, ROOT / "tests" / "fixtures" / "sites")
    sites, _ = build_sites(pages, len(pages), 1)
    database = work / "eval.db"
    with MirrorServer(sites):
        config = write_config(work / "crawl.yaml", database, sites)
        eventwatch(config, "db", "upgrade")
        seconds, output = eventwatch(config, "crawl", "--all", "--no-alerts", timeout=3600)
    print(f"{len(pages)} pages crawled in {seconds:.0f} s: {output.strip().splitlines()[-1]}")
    db = Database(f"sqlite:///{database}")
    try:
        with db.session() as session:
            ids = list(session.scalars(select(Article.event_id).distinct()))
        return join_reasons_by_event(db, ids)
    finally:
        db.dispose()


def text_only(events: dict[int, list[JoinReason]]) -> list[list[JoinReason]]:
    """The events as text and title alone would have made them."""
    group: dict[int, int] = {}  # article -> the first article of its group
    for reasons in events.values():
        for reason in reasons:
            first = group.get(reason.article or 0) if reason.by in TEXT_REASONS else None
            group[reason.article_id] = first or reason.article_id
    found: dict[int, list[JoinReason]] = {}
    for reasons in events.values():
        for reason in reasons:
            found.setdefault(group[reason.article_id], []).append(reason)
    return list(found.values())


def _show(title: str, events: list[list[JoinReason]]) -> None:
    several = sorted((e for e in events if len(e) > 1), key=lambda e: e[0].article_id)
    print(f"\n{title}: {len(several)} events of more than one report")
    for number, reasons in enumerate(several, 1):
        print(f"{number:>3}. " + "\n     ".join(_line(reason) for reason in reasons))


def _line(reason: JoinReason) -> str:
    shared = ", ".join(f"{s['kind']}:{s['value']}" for s in reason.shared)
    line = f"{reason.by:<14} {reason.title[:60]!r} {reason.url.rsplit('/', 1)[-1]}"
    return line + (f" [{shared}]" if shared else "")


def main(argv: list[str] | None = None) -> int:
    folder = Path((argv or sys.argv[1:])[0])
    with tempfile.TemporaryDirectory(prefix="eventwatch-eval-events-") as work:
        events = crawl(folder, Path(work))
    _show("before (text and title alone)", text_only(events))
    _show("after (with the signals)", list(events.values()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
