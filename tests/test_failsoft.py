"""One bad field never costs an article: every enrichment step fails soft, with a warning.

A page whose ``pubdate`` has an offset no place has (``2023-11-02T20-59-53Z``, seen on a real
news site) is extracted, listed by ``eventwatch extract`` among other pages, and stored by a
crawl once. Fixture pages mutated in the ways real pages break (bad offsets, impossible dates,
huge values, NUL bytes, broken JSON-LD, invalid canonical URLs, unknown charsets, deep
nesting) are each stored.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import select

import crawlers.extraction.extract as extraction
import crawlers.workers.prepared as preparation
from crawlers.extraction.extract import extract
from crawlers.extraction.pagefile import decode
from crawlers.workers.prepared import prepare_page
from storage.articles import NewArticle, store_article
from storage.db import Database
from storage.models import Article
from tests.conftest import FIXTURES
from tests.sitehost import serve
from tests.test_crawl import run_cli, source_yaml, write_config

PARAGRAPHS = "".join(
    f"<p>{line}</p>"
    for line in (
        "Doctors at the city hospital said on Thursday that a stroke can be treated far "
        "better when patients reach the emergency room within the first four hours.",
        "The hospital opened a stroke unit last year and has since treated more than six "
        "hundred patients, most of them brought in by ambulance from the district.",
        "Its director urged families to learn the warning signs: a drooping face, a weak "
        "arm and slurred speech, and to call an ambulance at once when they appear.",
    )
)
PUBDATE_PAGE = (
    '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
    "<title>Know the signs of a stroke</title>"
    '<meta name="pubdate" content="2023-11-02T20-59-53Z"></head><body>'
    f"<article><h1>Know the signs of a stroke</h1>{PARAGRAPHS}</article></body></html>"
)


def test_a_pubdate_with_an_offset_no_place_has_keeps_the_article_and_its_day() -> None:
    found = extract(PUBDATE_PAGE, "http://127.0.0.1/health/stroke")
    assert found is not None
    assert "stroke unit" in found.text
    assert found.published_day is not None
    assert found.published_day.isoformat() == "2023-11-02"
    assert found.published_offset_minutes is None  # the offset given was no real one


def test_extract_over_a_folder_reads_every_page_past_a_bad_date(tmp_path: Path) -> None:
    (tmp_path / "a-stroke.html").write_text(PUBDATE_PAGE, encoding="utf-8")
    (tmp_path / "b-other.html").write_text(PUBDATE_PAGE.replace("stroke", "flu"), encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "monitor.cli", "extract", str(tmp_path), "--json"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    pages = [json.loads(line) for line in result.stdout.splitlines()]
    assert [Path(p["file"]).name for p in pages] == ["a-stroke.html", "b-other.html"]
    assert all(p["published_day"] == "2023-11-02" for p in pages)
    assert all(p["warnings"] == [] for p in pages)


def test_a_crawl_stores_the_pubdate_page_once_and_never_fetches_it_again(
    tmp_path: Path,
) -> None:
    root = tmp_path / "health"
    (root / "news").mkdir(parents=True)
    (root / "index.html").write_text(
        '<html><body><h1>Health</h1><a href="/news/stroke.html">Know the signs of a stroke'
        "</a></body></html>",
        encoding="utf-8",
    )
    (root / "news" / "stroke.html").write_text(PUBDATE_PAGE, encoding="utf-8")
    with serve(root) as site:
        config = write_config(tmp_path, [source_yaml("health", site.base_url)])
        first = run_cli(config, "crawl", "health", "--no-alerts")
        assert first.returncode == 0, first.stderr
        assert "new articles 1" in first.stdout
        assert "errors 0" in first.stdout
        site.clear()
        second = run_cli(config, "crawl", "health", "--no-alerts")
    assert "new articles 0" in second.stdout
    assert "/news/stroke.html" not in site.paths()
    db = Database(f"sqlite:///{tmp_path / 'eventwatch.db'}")
    with db.session() as session:
        (article,) = session.scalars(select(Article)).all()
        assert article.published_day is not None
        assert article.published_day.isoformat() == "2023-11-02"
    db.dispose()


def _raises(*_args: object, **_kwargs: object) -> object:
    raise ValueError("offset must be a timedelta strictly between -timedelta(hours=24) and ...")


@pytest.mark.parametrize(
    ("module", "name", "step"),
    [
        (extraction, "page_date", "date"),
        (extraction, "page_metadata", "metadata"),
        (extraction, "detect_languages", "languages"),
        (extraction, "_own_url", "canonical URL"),
        (preparation, "find_names", "names"),
        (preparation, "mentioned_dates", "mentioned dates"),
        (preparation, "text_keys", "near-duplicate keys"),
    ],
)
def test_a_step_that_raises_costs_its_field_and_is_recorded_as_a_warning(
    monkeypatch: pytest.MonkeyPatch, db: Database, module: object, name: str, step: str
) -> None:
    monkeypatch.setattr(module, name, _raises)
    prepared = prepare_page(PUBDATE_PAGE, "http://127.0.0.1/health/stroke")
    assert prepared is not None
    warnings = [w for w in prepared.found.warnings if w.startswith(f"{step}: ValueError")]
    assert warnings, prepared.found.warnings
    outcome, article_id = store_article(db, _article(prepared))
    assert outcome == "new"
    with db.session() as session:
        stored = session.get_one(Article, article_id)
        assert any(w.startswith(f"{step}: ValueError") for w in stored.warnings)
        assert "stroke unit" in stored.text


def _article(prepared: preparation.PreparedPage) -> NewArticle:
    found = prepared.found
    return NewArticle(
        source="mutations",
        url=found.url,
        canonical_url=found.url,
        title=found.title,
        text=found.text,
        published_at=found.published_at,
        published_offset_minutes=found.published_offset_minutes,
        published_day=found.published_day,
        date_source=found.date_source,
        languages=found.languages,
        places=prepared.named.places,
        organisations=prepared.named.organisations,
        dates_mentioned=tuple((d.text, d.start, d.end) for d in prepared.named.dates),
        keys=prepared.keys,
        warnings=found.warnings,
    )


# --- mutations of the fixture pages ---------------------------------------------------------


def _in_head(snippet: str) -> Callable[[str], str]:
    def mutate(html: str) -> str:
        at = html.lower().find("<head>")
        if at < 0:
            return snippet + html
        return html[: at + 6] + snippet + html[at + 6 :]

    return mutate


def _nul_bytes(html: str) -> str:
    return html.replace("<p>", "<p>\x00", 3).replace("<title>", "<title>\x00")


def _deeply_nested(html: str) -> str:
    at = html.lower().find("<body>")
    return html[: at + 6] + "<div>" * 1000 + html[at + 6 :]  # libxml2's default stops at 256


MUTATIONS: dict[str, Callable[[str], str]] = {
    "bad UTC offsets": _in_head(
        '<meta name="pubdate" content="2023-11-02T20-59-53Z">'
        '<meta property="article:published_time" content="2024-05-01T10:00:00+99:99">'
    ),
    "impossible dates": _in_head(
        '<meta property="article:published_time" content="2024-02-30T25:61:00Z">'
        '<script type="application/ld+json">{"datePublished": "2024-13-45"}</script>'
    ),
    "huge values": _in_head(
        f'<meta property="article:published_time" content="{"9" * 100_000}">'
        '<meta name="date" content="99999999-01-01">'
        f"<title>{'Very long title ' * 5000}</title>"
    ),
    "NUL bytes": _nul_bytes,
    "broken JSON-LD": _in_head(
        '<script type="application/ld+json">{"@graph": [{"datePublished": </script>'
        f'<script type="application/ld+json">{"[" * 100_000}</script>'
        '<script type="application/ld+json">{"@graph": {"author": {"name": [1, 2]}}}</script>'
    ),
    "invalid canonical and og:url": _in_head(
        '<link rel="canonical" href="http://[::1">'
        '<meta property="og:url" content="javascript:alert(1)">'
    ),
    "unknown charset": _in_head('<meta charset="x-no-such-charset-42">'),
    "very deep nesting": _deeply_nested,
}
PAGES = [
    "wpnews/2024/12/24/dushanbe-conference-on-countering-terrorism-opens/index.html",
    "parliament/index.php/news/123-forum-and-un-counter-terrorism-office-hold-virtual-meeting/index.html",
    "feedsite/news/2025/03/05/ipa-cis-seminar-on-cyber-threats.html",
]


@pytest.mark.parametrize("mutation", sorted(MUTATIONS))
@pytest.mark.parametrize("page", PAGES)
def test_every_mutation_of_a_fixture_page_is_stored(db: Database, page: str, mutation: str) -> None:
    body = MUTATIONS[mutation]((FIXTURES / "sites" / page).read_text(encoding="utf-8"))
    html = decode(body.encode("utf-8", "surrogatepass"), "text/html; charset=x-bogus")
    prepared = prepare_page(html, f"http://127.0.0.1/{page}")
    assert prepared is not None, f"{mutation}: no article"
    outcome, article_id = store_article(db, _article(prepared))
    assert outcome == "new"
    with db.session() as session:
        stored = session.get_one(Article, article_id)
        assert len(stored.text) >= 200
        assert "\x00" not in stored.text + stored.title
