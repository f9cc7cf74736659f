"""The date's decision rules beyond the confirmed stamp: a page's modified stamp where its
text states that day, htmldate's extensive search as the last resort, and no date, with a
warning, where the evidence is a year alone or the page's dates disagree."""

from __future__ import annotations

import subprocess
import sys
from datetime import date

import pytest
from trafilatura.utils import load_html

from crawlers.dates import page_date
from tests.test_dates import BODY

PUBLISHED = "2024-03-12T09:00:00+01:00"
MODIFIED = "2024-04-02T16:30:00+02:00"


def article(byline: str, head: str = "") -> str:
    return (
        f"<html><head><title>Conference opens</title>{head}</head><body>"
        f"<article><h1>Conference opens</h1><div>{byline}</div>{BODY}"
        "</article></body></html>"
    )


def stamped(byline: str) -> str:
    head = (
        f'<meta property="article:published_time" content="{PUBLISHED}">'
        f'<meta property="article:modified_time" content="{MODIFIED}">'
    )
    return article(byline, head)


def test_the_modified_stamp_is_taken_where_the_text_states_its_day() -> None:
    verdict = page_date(load_html(stamped("Updated on 2 April 2024")))
    assert verdict.found is not None
    assert (verdict.found.day, verdict.found.source) == (date(2024, 4, 2), "modified")
    assert verdict.found.offset_minutes == 120


@pytest.mark.parametrize("byline", ["Published 12 March 2024", "By Staff"])
def test_the_published_stamp_stays_unless_the_text_states_the_modified_day(byline: str) -> None:
    verdict = page_date(load_html(stamped(byline)))
    assert verdict.found is not None
    assert (verdict.found.day, verdict.found.source) == (date(2024, 3, 12), "meta")


def test_the_extensive_search_dates_a_page_the_fast_one_cannot() -> None:
    verdict = page_date(load_html(article("Yayınlanma: 5 Mart 2023")))
    assert verdict.found is not None
    assert (verdict.found.day, verdict.found.source) == (date(2023, 3, 5), "search")


def test_a_year_alone_gives_no_date_and_says_so() -> None:
    verdict = page_date(load_html(article("Jahresbericht 2021")))
    assert verdict.found is None
    assert verdict.warning is not None
    assert "2021-01-01" in verdict.warning


def test_dates_that_disagree_give_no_date_and_say_so() -> None:
    byline = "Yayınlanma: 5 Mart 2023</div><p>The talks began on 7 January 2024.</p><div>"
    verdict = page_date(load_html(article(byline)))
    assert verdict.found is None
    assert verdict.warning is not None
    assert "disagree" in verdict.warning


def test_the_workers_fork_server_loads_the_extensive_search_s_locales() -> None:
    probe = "import sys, crawlers.preload; print('dateparser.languages.loader' in sys.modules)"
    ran = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert ran.stdout.strip() == "True", ran.stderr
