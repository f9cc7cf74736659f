"""eventwatch's benchmark: one table of figures, each beside its reference from the same run.

Usage: .venv/bin/python -m bench.run [--quick] [--pages FOLDER] [--results FOLDER] [--dates DIR]

FOLDER holds real article pages (e.g. ../shared/eval/trafilatura-eval/pages); without it the
project's fixture sites are used. Everything runs on 127.0.0.1 in a temporary folder; the
table is printed and written, with the raw numbers, as JSON under bench/results/.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from bench.alerting import digest_figures, dispatch_figures
from bench.crawling import crawl_figures
from bench.crosslang import crosslang_figures
from bench.daemon import daemon_figures
from bench.dates import date_figures
from bench.figures import Figure, machine, table, write_json
from bench.grouping_cost import grouping_cost_figures
from bench.matching import rule_figures
from bench.mirror import MirrorServer, article_pages, build_sites
from bench.scale import scale_figures
from bench.setup import ROOT, eventwatch, write_config
from bench.storing import storage_figures
from bench.webui import web_figures
from bench.workers import worker_figures


@dataclass(frozen=True, slots=True)
class Mode:
    name: str
    sites: int
    articles: int
    rules: int
    naive_sample: int  # articles the regex loop is timed on (it takes seconds per article)
    cycles: int
    storage_articles: int
    deliveries: int = 10_000  # dispatched to a local webhook (bench.alerting)


FULL = Mode("full", sites=4, articles=1000, rules=10_000, naive_sample=8, cycles=200,
            storage_articles=1_000_000)  # fmt: skip
QUICK = Mode("quick", sites=2, articles=100, rules=10_000, naive_sample=5, cycles=10,
             storage_articles=50_000, deliveries=1000)  # fmt: skip


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="smoke mode (about 2 minutes)")
    parser.add_argument("--pages", type=Path, help="folder of real article pages (.html)")
    parser.add_argument("--results", type=Path, default=ROOT / "bench" / "results")
    parser.add_argument("--dates", type=Path, help="htmldate-dev folder: the dates rows")
    return parser.parse_args(argv)


def run(
    mode: Mode, pages_folder: Path | None, raw: dict[str, object], dates: Path | None = None
) -> list[Figure]:
    pages = article_pages(pages_folder, ROOT / "tests" / "fixtures" / "sites")
    raw.update(page_folder=str(pages_folder), distinct_pages=len(pages))
    sites, behind = build_sites(pages, mode.articles, mode.sites)
    figures: list[Figure] = []
    with (
        tempfile.TemporaryDirectory(prefix="eventwatch-bench-") as work,
        MirrorServer(sites) as mirror,
    ):
        folder = Path(work)
        database = folder / "bench.db"
        config = write_config(folder / "crawl.yaml", database, sites)
        eventwatch(config, "db", "upgrade")
        figures += crawl_figures(config, mirror, behind, raw)
        figures += rule_figures(database, mode.rules, mode.naive_sample, raw)
        figures += daemon_figures(folder, database, mirror, mode.cycles, raw)
        figures += storage_figures(folder / "storage.db", mode.storage_articles, raw)
        figures += grouping_cost_figures(
            folder / "storage.db", mode.storage_articles, raw, filled_by_storage=True
        )
        figures += crosslang_figures(folder / "xlang", raw)
        events = mode.storage_articles * 2 // 3  # two articles in three start an event
        figures += web_figures(folder, folder / "storage.db", events, raw)
        figures += digest_figures(folder, 1000, raw)
        figures += dispatch_figures(folder, mode.deliveries, raw)
    if dates is not None:
        figures += date_figures(dates, raw)
        figures += scale_figures(folder / "scale", mode.name == "quick", raw)
        figures += worker_figures(folder / "workers", mode.name == "quick", raw)
    return figures


def main(argv: list[str] | None = None) -> int:
    args = _arguments(argv)
    mode = QUICK if args.quick else FULL
    raw: dict[str, object] = {}
    started = time.perf_counter()
    figures = run(mode, args.pages, raw, args.dates)
    raw["total_seconds"] = time.perf_counter() - started
    print(f"eventwatch benchmark ({mode.name}), {raw['total_seconds']:.0f} s; {machine()}")
    if args.pages is None:
        print(
            f"pages: the project's {raw['distinct_pages']} fixture pages, far shorter than real "
            "articles; the crawl and re-crawl targets are set for real pages (--pages FOLDER)"
        )
    print(table(figures))
    path = write_json(args.results, mode.name, figures, raw)
    print(f"written: {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
