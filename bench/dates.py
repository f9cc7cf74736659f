"""Publication dates: eventwatch against htmldate, side by side on the same pages, same run.

Usage: .venv/bin/python -m bench.dates --pages FOLDER [--limit N] [--wrong] [--every-page EVAL]

FOLDER holds ``truth.json`` ({file: {"url", "date": "YYYY-MM-DD"}}) and ``pages/`` (e.g.
../shared/eval/htmldate-dev; the pages stay there, never in the project). htmldate's own
metric: a date on the right day is a true positive, on another day a false positive, no date
a false negative; accuracy is tp over all pages. Each page is read without its URL, as
htmldate's benchmark reads it; eventwatch is measured a second time with the URL, which a
crawler always has. Exceptions are counted apart (a page that raised gives no date).
``--every-page ../shared/eval`` also runs every page of both corpora through extraction as a
crawl's worker does, and counts the pages that raised (there should be none).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from htmldate import find_date
from trafilatura.utils import load_html

from bench.figures import Figure
from crawlers.extraction.dates import page_date
from crawlers.extraction.pagefile import decode

DateFinder = Callable[[str, str], str | None]  # (html, url) -> "YYYY-MM-DD" or None


@dataclass
class Score:
    tp: int = 0
    fp: int = 0
    fn: int = 0
    exceptions: int = 0
    seconds: float = 0.0
    wrong: list[str] = field(default_factory=list)

    def add(self, found: str | None, truth: str, name: str) -> None:
        if found is None:
            self.fn += 1
        elif found == truth:
            self.tp += 1
        else:
            self.fp += 1
            self.wrong.append(f"{name}: {found} (truth {truth})")

    @property
    def pages(self) -> int:
        return self.tp + self.fp + self.fn

    @property
    def accuracy(self) -> float:
        return self.tp / self.pages if self.pages else 0.0

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0

    def counts(self) -> dict[str, float]:
        return {"tp": self.tp, "fp": self.fp, "fn": self.fn, "exceptions": self.exceptions}

    def row(self, label: str) -> str:
        coverage = (self.tp + self.fp) / self.pages if self.pages else 0.0
        per_page = 1000 * self.seconds / self.pages if self.pages else 0.0
        return (
            f"| {label:<34} | {self.accuracy:.3f} | {self.precision:.3f} | {coverage:.3f} "
            f"| {self.exceptions:>4} | {per_page:6.1f} |"
        )


def _eventwatch(with_url: bool) -> DateFinder:
    def finder(html: str, url: str) -> str | None:
        verdict = page_date(load_html(html), url if with_url else "")
        return verdict.found.day.isoformat() if verdict.found else None

    return finder


def _htmldate(extensive: bool) -> DateFinder:
    def finder(html: str, url: str) -> str | None:
        found = find_date(html, extensive_search=extensive, original_date=True)
        return found or None

    return finder


PAGE_ONLY, HTMLDATE = "eventwatch (page only, no URL)", "htmldate 1.11 extensive"
FINDERS: dict[str, DateFinder] = {
    PAGE_ONLY: _eventwatch(with_url=False),
    "eventwatch (with URL)": _eventwatch(with_url=True),
    HTMLDATE: _htmldate(extensive=True),
    "htmldate 1.11 fast": _htmldate(extensive=False),
}


def _run_one(finder: DateFinder, html: str, url: str, score: Score) -> str | None:
    started = time.perf_counter()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return finder(html, url)
    except Exception:  # counted: the point is that a page never raises
        score.exceptions += 1
        return None
    finally:
        score.seconds += time.perf_counter() - started


def measure(folder: Path, limit: int | None) -> dict[str, Score]:
    truth = json.loads((folder / "truth.json").read_text(encoding="utf-8"))
    scores = {label: Score() for label in FINDERS}
    for name, expected in list(truth.items())[:limit]:
        html = decode((folder / "pages" / name).read_bytes())
        for label, finder in FINDERS.items():
            found = _run_one(finder, html, expected["url"], scores[label])
            scores[label].add(found, expected["date"], name)
    return scores


def table(scores: dict[str, Score]) -> str:
    lines = [
        "| method                             | accuracy | precision | coverage | exceptions "
        "| ms/page |",
        "|---|---|---|---|---|---|",
    ]
    lines += [score.row(label) for label, score in scores.items()]
    return "\n".join(lines)


def robustness(folder: Path) -> tuple[int, int, list[str]]:
    """Every page under ``folder``'s ``pages`` folders through what a crawl's worker does
    (:func:`crawlers.workers.prepared.prepare_page`): (pages, articles, the pages that raised)."""
    from crawlers.workers.prepared import prepare_page

    pages = articles = 0
    raised: list[str] = []
    for path in sorted(folder.glob("*/pages/*")):
        pages += 1
        try:
            found = prepare_page(decode(path.read_bytes()), path.resolve().as_uri())
        except Exception as exc:  # counted: the point is that none raises
            raised.append(f"{path.name}: {exc!r}")
            continue
        articles += found is not None
    return pages, articles, raised


TARGET_ACCURACY, TARGET_PRECISION = 0.93, 0.95  # issue 26, pages read without their URL


def date_figures(folder: Path, raw: dict[str, object]) -> list[Figure]:
    """The dates rows of ``make bench``: eventwatch page-only against htmldate's extensive
    search, and the targets."""
    scores = measure(folder, None)
    raw["dates"] = {label: score.counts() for label, score in scores.items()}
    ours, theirs = scores[PAGE_ONLY], scores[HTMLDATE]
    return [
        Figure(
            "dates: accuracy, page only",
            f"{ours.accuracy:.3f}",
            f"htmldate {theirs.accuracy:.3f}; target >= {TARGET_ACCURACY}",
            ours.accuracy >= TARGET_ACCURACY,
        ),
        Figure(
            "dates: precision, page only",
            f"{ours.precision:.3f}",
            f"htmldate {theirs.precision:.3f}; target >= {TARGET_PRECISION}",
            ours.precision >= TARGET_PRECISION,
        ),
        Figure("dates: exceptions", str(ours.exceptions), "0", ours.exceptions == 0),
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.dates", description=__doc__)
    parser.add_argument("--pages", type=Path, help="htmldate-dev folder")
    parser.add_argument(
        "--every-page", type=Path, metavar="EVAL", help="extract every page of ../shared/eval"
    )
    parser.add_argument("--limit", type=int, help="only the first N pages")
    parser.add_argument("--wrong", action="store_true", help="list eventwatch's wrong dates")
    args = parser.parse_args(argv)
    if args.every_page:
        pages, articles, raised = robustness(args.every_page)
        print(f"{pages} pages, {articles} articles, {len(raised)} exceptions", *raised, sep="\n")
    if not args.pages:
        return 0
    scores = measure(args.pages, args.limit)
    print(table(scores))
    if args.wrong:
        for label in list(FINDERS)[:2]:
            print(f"\n{label}:", *scores[label].wrong, sep="\n  ")
    return 0


if __name__ == "__main__":
    sys.exit(main())
