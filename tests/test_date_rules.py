"""The date's decision rules beyond the confirmed stamp: a page's modified stamp where its
text states that day, the text's day beside a UTC stamp, htmldate's extensive search as the
last resort, and no date, with a warning, where the evidence is a year alone."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from trafilatura.utils import load_html

from crawlers.extraction.dates import page_date
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


def test_a_day_the_text_names_comes_before_the_extensive_search() -> None:
    byline = "Yayınlanma: 5 Mart 2023</div><p>The talks began on 7 January 2024.</p><div>"
    verdict = page_date(load_html(article(byline)))
    assert verdict.found is not None
    assert (verdict.found.day, verdict.found.source) == (date(2024, 1, 7), "text")


@pytest.mark.parametrize(("named", "day"), [("19 January 2020", 19), ("21 January 2020", 21)])
def test_a_utc_stamp_takes_the_day_next_to_it_that_the_text_names(named: str, day: int) -> None:
    head = '<meta property="article:published_time" content="2020-01-20T02:10:00+00:00">'
    verdict = page_date(load_html(article(f"Posted {named}", head)))
    assert verdict.found is not None
    assert verdict.found.day == date(2020, 1, day)
    assert verdict.found.utc == datetime(2020, 1, 20, 2, 10, tzinfo=UTC)  # the instant stays


@pytest.mark.parametrize(
    ("stamp", "named"),
    [
        ("2020-01-20T02:10:00+01:00", "19 January 2020"),  # the page's own zone: its day
        ("2020-01-20T02:10:00+00:00", "18 January 2020"),  # two days off: another date
    ],
)
def test_a_stamp_s_day_stays_unless_utc_and_next_to_the_text_s(stamp: str, named: str) -> None:
    head = f'<meta property="article:published_time" content="{stamp}">'
    verdict = page_date(load_html(article(f"Posted {named}", head)))
    assert verdict.found is not None
    assert verdict.found.day == date(2020, 1, 20)


def test_a_byline_after_a_long_script_is_still_read() -> None:
    script = "<script>var words = '" + "word " * 1000 + "';</script>"
    verdict = page_date(load_html(stamped(f"{script}Updated on 2 April 2024")))
    assert verdict.found is not None
    assert (verdict.found.day, verdict.found.source) == (date(2024, 4, 2), "modified")


def unstamped(byline: str, comment_day: str) -> str:
    """A page whose only date element is a reader's comment: htmldate's lone answer."""
    comment = f'<div class="comments"><time datetime="{comment_day}">{comment_day}</time></div>'
    return article(byline).replace("</article>", f"{comment}</article>")


@pytest.mark.parametrize(
    ("byline", "day", "source"),
    [
        ("Posted 5 March 2024", date(2024, 3, 5), "text"),  # near: the page's own statement
        ("About the flood of 2 June 2023", date(2024, 3, 9), "page"),  # far: the story's day
    ],
)
def test_a_byline_near_htmldate_s_lone_day_is_taken(byline: str, day: date, source: str) -> None:
    verdict = page_date(load_html(unstamped(byline, "2024-03-09")))
    assert verdict.found is not None
    assert (verdict.found.day, verdict.found.source) == (day, source)


@pytest.mark.parametrize(
    ("stamp", "day"),
    [
        ("2021-11-04T23:00Z", 5),  # Berlin's midnight of the 5th, stored in UTC
        ("2021-11-04T21:00:00+00:00", 5),  # Moscow's
        ("2021-11-04T23:17:00Z", 4),  # a time of day: the UTC day stands
        ("2021-11-04T23:00:00+01:00", 4),  # an offset of its own: its day stands
    ],
)
def test_a_utc_stamp_at_a_midnight_east_of_utc_is_the_next_day(stamp: str, day: int) -> None:
    head = f'<meta property="article:published_time" content="{stamp}">'
    verdict = page_date(load_html(article("By Staff", head)))
    assert verdict.found is not None
    assert verdict.found.day == date(2021, 11, day)
    assert verdict.found.instant.date() == date(2021, 11, 4)  # the instant stays


def test_a_saved_page_s_canonical_link_is_its_url() -> None:
    head = '<link rel="canonical" href="https://news.test/2024/03/12/conference-opens/">'
    verdict = page_date(
        load_html(
            unstamped("Posted 14 March 2024", "2024-03-12").replace("</head>", f"{head}</head>")
        )
    )
    assert verdict.found is not None
    assert (verdict.found.day, verdict.found.source) == (date(2024, 3, 12), "url")


def test_a_byline_naming_htmldate_s_day_with_day_and_month_swapped_is_taken() -> None:
    verdict = page_date(load_html(unstamped("Posted 1 November 2023", "2023-01-11")))
    assert verdict.found is not None
    assert (verdict.found.day, verdict.found.source) == (date(2023, 11, 1), "text")


@pytest.mark.parametrize(
    ("head", "byline", "day", "source"),
    [
        # htmldate takes an update stamp: the text's earlier day is the publication's
        (
            '<meta property="og:updated_time" content="2020-06-02T11:57:06+02:00">',
            "Published 31 March 2020, updated 2 June 2020",
            date(2020, 3, 31),
            "text",
        ),
        # a date only a meta tag states, and the reader sees another: the one seen
        (
            '<meta name="date" content="2021-12-20T11:02:44+01:00">',
            "Posted 27 January 2022",
            date(2022, 1, 27),
            "text",
        ),
        # the meta tag's day is also the one the reader sees: it stands
        (
            '<meta name="date" content="2021-12-20T11:02:44+01:00">',
            "Posted 20 December 2021",
            date(2021, 12, 20),
            "page",
        ),
    ],
)
def test_a_day_the_reader_sees_comes_before_a_hidden_or_updated_one(
    head: str, byline: str, day: date, source: str
) -> None:
    verdict = page_date(load_html(article(byline, head)))
    assert verdict.found is not None
    assert (verdict.found.day, verdict.found.source) == (day, source)


def test_a_month_alone_from_the_extensive_search_gives_no_date() -> None:
    verdict = page_date(load_html(article("Stand: 03/2020")))
    assert verdict.found is None
    assert verdict.warning is not None
    assert "2020-03-01" in verdict.warning
