"""The real pages of ../shared/eval (trafilatura-eval and htmldate-dev) stored as one site:
which events hold more than one report, grouped by text and title alone (as before
cross-language grouping) and with the signals, and why each report joined.

Each page is extracted as a crawl extracts it (crawlers.prepared.prepare_page, at the URL
the corpus gives it), once, and the same articles are stored into two databases in the
same order. Pages that are exact copies shared by the two sets declare one canonical URL:
they are one article, not two reports.

Usage: .venv/bin/python -m bench.eval_events EVAL_FOLDER   (e.g. ../shared/eval)
"""

from __future__ import annotations

import json
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

from sqlalchemy import select

from crawlers.pagefile import decode
from crawlers.prepared import prepare_page
from storage.articles import NewArticle, store_articles
from storage.db import Database
from storage.event_edits import JoinReason, join_reasons_by_event
from storage.migrate import upgrade
from storage.models import Article

BATCH = 50  # articles per transaction, as a crawl's store pipeline batches them


def corpus_pages(folder: Path) -> list[tuple[str, Path]]:
    """(URL, page file) of both sets, in a stable order."""
    pages = []
    trafilatura = folder / "trafilatura-eval"
    for url, meta in sorted(json.loads((trafilatura / "evaldata.json").read_text()).items()):
        pages.append((url, trafilatura / "pages" / meta["file"]))
    htmldate = folder / "htmldate-dev"
    for name, meta in sorted(json.loads((htmldate / "truth.json").read_text()).items()):
        pages.append((meta["url"], htmldate / "pages" / name))
    return [(url, path) for url, path in pages if path.is_file()]


def extracted(pages: list[tuple[str, Path]]) -> list[NewArticle]:
    articles = []
    for url, path in pages:
        try:
            prepared = prepare_page(decode(path.read_bytes()), url)
        except Exception as exc:  # a page that breaks extraction is left out, as a crawl does
            print(f"extraction failed: {path.name}: {exc!r}", file=sys.stderr)
            continue
        if prepared is None:
            continue
        found, named = prepared.found, prepared.named
        articles.append(NewArticle(
            source="eval", url=url, canonical_url=found.url, display_url=found.display_url,
            title=found.title, text=found.text, published_at=found.published_at,
            published_day=found.published_day, language=found.language,
            places=named.places, organisations=named.organisations,
            dates_mentioned=tuple((d.text, d.start, d.end) for d in named.dates),
            signals=named.signals, keys=prepared.keys,
        ))  # fmt: skip
    return articles


def multi_report_events(database: Path, articles: list[NewArticle]) -> list[list[str]]:
    """Store the articles; each event of more than one report as lines to print."""
    url = f"sqlite:///{database}"
    upgrade(url)
    db = Database(url)
    try:
        for start in range(0, len(articles), BATCH):
            store_articles(db, articles[start : start + BATCH])
        with db.session() as session:
            ids = list(session.scalars(select(Article.event_id).distinct()))
        found = join_reasons_by_event(db, ids)
    finally:
        db.dispose()
    shown = []
    for reasons in sorted(found.values(), key=lambda r: r[0].article_id):
        if len(reasons) > 1:
            shown.append([_line(reason) for reason in reasons])
    return shown


def _line(reason: JoinReason) -> str:
    shared = ", ".join(f"{s['kind']}:{s['value']}" for s in reason.shared)
    line = f"{reason.by:<14} {reason.title[:60]!r} {reason.url}"
    return line + (f" [{shared}]" if shared else "")


def main(argv: list[str] | None = None) -> int:
    folder = Path((argv or sys.argv[1:])[0])
    pages = corpus_pages(folder)
    articles = extracted(pages)
    print(f"{len(pages)} pages, {len(articles)} articles extracted")
    with tempfile.TemporaryDirectory(prefix="eventwatch-eval-events-") as work:
        text_only = [replace(article, signals=()) for article in articles]
        for name, stored in (("before (text and title alone)", text_only), ("after", articles)):
            events = multi_report_events(Path(work) / f"{name.split()[0]}.db", stored)
            print(f"\n{name}: {len(events)} events of more than one report")
            for number, lines in enumerate(events, 1):
                print(f"{number:>3}. " + "\n     ".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
