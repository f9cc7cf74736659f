"""Site-level boilerplate: a line recurring across a source's articles is stripped, a line of
one article never; end to end with a real crawl of a fixture site whose article container
holds the same notice on every page."""

from __future__ import annotations

import shutil
from collections.abc import Hashable, Iterable
from pathlib import Path

import pytest

from crawlers.crawling.sitelines import MAX_CHARS, SiteLineBook, SiteLines, line_key
from crawlers.urls import normalize_url
from storage.similarity import text_keys
from tests.conftest import FIXTURES
from tests.sitehost import serve
from tests.test_crawl import run_cli, source_yaml, stored, write_config

NOTICE = "Accreditation for the autumn plenary session closes on the last Friday of September."
SHARED_BY_TWO = "The delegation was led by the chair of the standing committee on legal affairs."
FIRST = "/news/2025/03/{}.html"
EARLY = [
    FIRST.format("03/assembly-opens-spring-session"),
    FIRST.format("05/committee-debates-border-cooperation"),
    FIRST.format("07/observers-report-on-elections"),
    FIRST.format("10/youth-parliament-meets"),
]
LATER = {
    FIRST.format("12/model-law-on-archives-adopted"): "The Assembly adopted a model law on public "
    "archives that sets common rules for keeping and opening state records.",
    FIRST.format("14/seminar-on-water-management"): "Participants agreed to exchange data on "
    "river flows every month during the irrigation season.",
}


def article(own: str, *shared: str) -> str:
    return "\n".join([own, *shared])


def test_line_in_three_articles_is_stripped_from_the_third_on() -> None:
    lines = SiteLines()
    lines.learn("a", article("Alpha report.", "Subscribe to the press digest."))
    lines.learn("b", article("Beta report.", "Subscribe to the press digest."))
    assert lines.drop_recurring(article("Gamma.", "Subscribe to the press digest.")) != "Gamma."
    lines.learn("c", article("Gamma.", "Subscribe to the press digest."))
    assert lines.drop_recurring(article("Gamma.", "Subscribe to the press digest.")) == "Gamma."


def test_comparison_ignores_case_spacing_and_edge_punctuation() -> None:
    lines = SiteLines()
    for key, variant in enumerate(
        ["Press office: open daily.", "press office:  open daily", "»Press office: open daily«"]
    ):
        lines.learn(key, article(f"Report number {key}.", variant))
    assert lines.is_boilerplate("PRESS OFFICE: OPEN DAILY!")


@pytest.mark.parametrize(
    ("line", "key"),
    [
        ("  »Press office:\topen daily«_ ", "press office: open daily"),
        ("— Read more —", "read more"),
        ("__init__ call", "init__ call"),  # an underscore is punctuation here, inside a word
        ("«Текст» …", "текст"),
        ("١٢٣!", "١٢٣"),
        ("x", "x"),
        ("... — !", ""),  # nothing but punctuation
        ("", ""),
    ],
)
def test_a_lines_key_drops_case_spacing_and_the_punctuation_at_its_edges(
    line: str, key: str
) -> None:
    assert line_key(line) == key


def test_one_articles_sentence_is_never_stripped_however_often_seen() -> None:
    lines = SiteLines()
    for _ in range(5):
        lines.learn("same-article", article("The minister resigned on Tuesday.", "Own line."))
    lines.learn("other", "Own line.")
    assert lines.drop_recurring("The minister resigned on Tuesday.\nOwn line.") == (
        "The minister resigned on Tuesday.\nOwn line."
    )


def test_one_article_under_several_urls_counts_once() -> None:
    lines = SiteLines()
    text = article("The minister resigned on Tuesday.", "He will stay on until May.")
    for url in ("http://127.0.0.1/a", "http://127.0.0.1/a?print=1", "http://127.0.0.1/amp/a"):
        lines.learn(url, text)
    assert lines.drop_recurring(text) == text


def test_long_recurring_paragraph_is_kept() -> None:
    long_line = "The Assembly " + "meets in plenary twice a year and " * 12
    assert len(long_line) > MAX_CHARS
    lines = SiteLines()
    for key in "abcd":
        lines.learn(key, article(f"Report {key}.", long_line))
    assert lines.drop_recurring(long_line) == long_line


def test_book_learns_each_source_from_its_stored_articles_once() -> None:
    loaded: list[str] = []

    def load(source: str) -> Iterable[tuple[Hashable, str]]:
        loaded.append(source)
        if source == "pam":
            return [
                ("u1", "Report one.\nFooter line of PAM."),
                ("u2", "Report two.\nFooter line of PAM."),
            ]
        return []

    book = SiteLineBook(load)
    assert book.clean("pam", "u3", "News.\nFooter line of PAM.") == "News."
    assert book.clean("pam", "u4", "More news.\nFooter line of PAM.") == "More news."
    assert book.clean("osce", "v1", "News.\nFooter line of PAM.") == "News.\nFooter line of PAM."
    assert loaded == ["pam", "osce"]
    # the page already stored under u1 (a --refresh) is not counted a second time
    fresh = SiteLineBook(load)
    assert fresh.clean("pam", "u1", "Report one, updated.\nFooter line of PAM.") == (
        "Report one, updated.\nFooter line of PAM."
    )


def test_crawl_strips_a_notice_recurring_across_the_sites_articles(tmp_path: Path) -> None:
    root = tmp_path / "noticeboard"
    shutil.copytree(FIXTURES / "sites" / "noticeboard", root)
    with serve(root) as site:
        config = write_config(tmp_path, [source_yaml("noticeboard", site.base_url)])
        first = run_cli(config, "crawl", "noticeboard", "--no-alerts")
        assert first.returncode == 0, first.stderr
        db_url = f"sqlite:///{tmp_path / 'eventwatch.db'}"
        articles = stored(db_url)
        early = [articles[normalize_url(site.base_url + path)] for path in EARLY]
        # learned from the current crawl's pages: only the first two can still carry it
        assert sum(NOTICE in a.text for a in early) <= 2
        assert sum(SHARED_BY_TWO in a.text for a in early) == 2  # two articles: not the site's

        shutil.copy(root / "index-all.html", root / "index.html")  # two new articles appear
        second = run_cli(config, "crawl", "noticeboard", "--no-alerts")
        assert second.returncode == 0, second.stderr
        articles = stored(db_url)
        for path, own_paragraph in LATER.items():
            text = articles[normalize_url(site.base_url + path)].text
            assert own_paragraph in text
            assert NOTICE not in text  # learned from the stored articles plus this page
            # its keys were computed again (in a worker) from the text as stored
            article = articles[normalize_url(site.base_url + path)]
            assert article.content_hash == text_keys(article.title, text).digest
