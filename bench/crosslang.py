"""Cross-language grouping on the labelled reports (tests/fixtures/xlang): each report's page
is extracted as a crawl extracts it and stored in order of publication, then the events are
scored against the labels: pairwise precision and recall, B-cubed F1, and precision on the
hard negatives (pairs of events that must never be merged).

Usage: .venv/bin/python -m bench.crosslang
"""

from __future__ import annotations

import itertools
import sys
import tempfile
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import yaml

from bench.figures import Figure, table
from crawlers.workers.prepared import prepare_page
from storage.articles import NewArticle, store_articles
from storage.db import Database
from storage.migrate import upgrade
from tests.crosslang_sites import REPORTS, Report, load_reports, write_sites

BCUBED_TARGET = 0.9
BASE = "http://xlang.example.org"


@dataclass(frozen=True, slots=True)
class Scores:
    pair_precision: float
    pair_recall: float
    bcubed_f1: float
    hard_negative_precision: float
    false_merges: tuple[tuple[str, ...], ...]


def hard_negatives(folder: Path = REPORTS) -> list[tuple[str, str]]:
    pairs = yaml.safe_load((folder / "hard_negatives.yaml").read_text(encoding="utf-8"))
    return [(first, second) for first, second in pairs]


def group(reports: list[Report], folder: Path, signals: bool = True) -> dict[str, int]:
    """Each report's event id, once every page is extracted and stored (without their
    signals: grouped by text and title alone, as before cross-language grouping)."""
    folder.mkdir(parents=True, exist_ok=True)
    roots = write_sites(folder / "sites", reports)
    url = f"sqlite:///{folder / 'xlang.db'}"
    upgrade(url)
    db = Database(url)
    try:
        events = {}
        for report in sorted(reports, key=lambda r: r.published):
            page = (roots[report.site] / report.path.lstrip("/")).read_text(encoding="utf-8")
            [(_, article_id)] = store_articles(db, [_article(report, page, signals)])
            events[report.id] = article_id
        return _event_ids(db, events)
    finally:
        db.dispose()


def _article(report: Report, page: str, signals: bool) -> NewArticle:
    url = f"{BASE}/{report.site}{report.path}"
    prepared = prepare_page(page.replace("{{BASE}}", f"{BASE}/{report.site}"), url)
    if prepared is None:
        raise RuntimeError(f"no article extracted from report {report.id}")
    found, named = prepared.found, prepared.named
    return NewArticle(
        source=report.site, url=url, canonical_url=found.url, title=found.title,
        text=found.text, published_at=found.published_at, language=found.language,
        places=named.places, organisations=named.organisations,
        dates_mentioned=tuple((d.text, d.start, d.end) for d in named.dates),
        signals=named.signals if signals else (), keys=prepared.keys,
    )  # fmt: skip


def _event_ids(db: Database, articles: dict[str, int]) -> dict[str, int]:
    from sqlalchemy import select

    from storage.models import Article

    with db.session() as session:
        found = session.execute(select(Article.id, Article.event_id))
        rows = {row.id: row.event_id for row in found}
    return {report: rows[article_id] for report, article_id in articles.items()}


def score(reports: list[Report], found: dict[str, int], negatives: list[tuple[str, str]]) -> Scores:
    truth = {r.id: r.event for r in reports}
    same_found = {frozenset(p) for p in itertools.combinations(truth, 2) if _together(found, p)}
    same_truth = {frozenset(p) for p in itertools.combinations(truth, 2) if _together(truth, p)}
    true_pairs = same_found & same_truth
    precision = len(true_pairs) / len(same_found) if same_found else 1.0
    recall = len(true_pairs) / len(same_truth) if same_truth else 1.0
    hard = {frozenset(pair) for pair in negatives}
    hard_found = [p for p in same_found if frozenset(truth[r] for r in p) in hard]
    hard_pairs = [
        p for p in itertools.combinations(truth, 2) if frozenset(truth[r] for r in p) in hard
    ]
    false = tuple(sorted(tuple(sorted(p)) for p in same_found - same_truth))
    return Scores(
        precision, recall, _bcubed_f1(truth, found),
        1.0 - len(hard_found) / len(hard_pairs) if hard_pairs else 1.0, false,
    )  # fmt: skip


def _together(labels: Mapping[str, object], pair: tuple[str, ...]) -> bool:
    first, second = pair
    return labels[first] == labels[second]


def _bcubed_f1(truth: dict[str, str], found: dict[str, int]) -> float:
    clusters: dict[int, set[str]] = defaultdict(set)
    classes: dict[str, set[str]] = defaultdict(set)
    for report in truth:
        clusters[found[report]].add(report)
        classes[truth[report]].add(report)
    precision = recall = 0.0
    for report in truth:
        cluster, label = clusters[found[report]], classes[truth[report]]
        correct = len(cluster & label)
        precision += correct / len(cluster)
        recall += correct / len(label)
    precision, recall = precision / len(truth), recall / len(truth)
    return 2 * precision * recall / (precision + recall)


def crosslang_figures(folder: Path, raw: dict[str, object]) -> list[Figure]:
    reports = load_reports()
    scores = score(reports, group(reports, folder), hard_negatives())
    before = score(reports, group(reports, folder / "before", signals=False), hard_negatives())
    raw.update(crosslang_bcubed_f1_text_only=before.bcubed_f1,
               crosslang_pair_recall_text_only=before.pair_recall)  # fmt: skip
    languages = len({r.site for r in reports})
    raw.update(crosslang_pair_precision=scores.pair_precision,
               crosslang_pair_recall=scores.pair_recall, crosslang_bcubed_f1=scores.bcubed_f1,
               crosslang_hard_negative_precision=scores.hard_negative_precision,
               crosslang_false_merges=[list(p) for p in scores.false_merges])  # fmt: skip
    events = len({r.event for r in reports})
    return [
        Figure(
            f"grouping: {len(reports)} reports of {events} events ({languages} sites), pairs",
            f"precision {scores.pair_precision:.3f}, recall {scores.pair_recall:.3f}",
            f"by text and title alone: recall {before.pair_recall:.3f}",
        ),
        Figure(
            "grouping: B-cubed F1",
            f"{scores.bcubed_f1:.3f}",
            f">= {BCUBED_TARGET} (text and title alone: {before.bcubed_f1:.3f})",
            scores.bcubed_f1 >= BCUBED_TARGET,
        ),
        Figure(
            "grouping: precision on hard negatives",
            f"{scores.hard_negative_precision:.3f}",
            "1.0",
            scores.hard_negative_precision == 1.0,
        ),
    ]


def main() -> int:
    raw: dict[str, object] = {}
    with tempfile.TemporaryDirectory(prefix="eventwatch-xlang-") as work:
        figures = crosslang_figures(Path(work), raw)
    print(table(figures))
    for pair in raw["crosslang_false_merges"]:  # type: ignore[attr-defined]
        print("false merge:", *pair)
    return 0


if __name__ == "__main__":
    sys.exit(main())
