"""The article's publication date: the instant, its UTC offset, and the day the page states.

htmldate's fast search reads the page (meta tags, JSON-LD, date-like elements, timestamps in
the markup), with the site's header taken out first, so that its "today" date is never the
article's. A crawler adds what a page-only reader lacks: a date in the URL, the date of the
feed item or sitemap entry that led to the page (:class:`DateHint`), and where the site's
template states its dates, learned over its stored pages (:mod:`crawlers.extraction.date_places`).

In order: the page's published stamp when the crawler's hint or the URL (a saved page's
canonical link when there is no URL) names its day, or the hint when the URL names its day and
the page states none (htmldate is not asked); htmldate's day when another signal names it too
(the page's published stamp, the hint or the URL, whose time and offset it then takes), with
two corrections from the first full date of the text after the heading, where a byline states
it: the page's modified stamp instead of its published one when the text names the modified
day, and the text's day when the stamp is in UTC and the text names the day next to it (the
site's own day). Else the day at the site's learned place; else htmldate's day alone, or the
byline's when that is within ``NEAR_DAYS`` of it or is it with day and month swapped, or the
text's when htmldate took the modified stamp or a meta tag's day the reader never sees; else
the stamp, the hint, the URL; else the text's first full date; else htmldate's extensive
search, but not a bare first of a month (a month or a year alone) nor today. Never a date in
the future, and never the crawl's own day found only above the article. A date seen and not
given is said in a warning.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable
from copy import deepcopy
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from functools import cache

from htmldate import find_date
from lxml import etree
from lxml.html import HtmlElement

from crawlers.extraction.date_parsing import (
    YEAR,
    DateHint,
    modified_stamps,
    parse_date,
    published_stamps,
)
from crawlers.extraction.date_places import date_places, day_at
from crawlers.extraction.mentioned_dates import mentioned_dates

URL_DATE = re.compile(r"/((?:19|20)\d\d)[/-](0[1-9]|1[0-2])[/-](0[1-9]|[12]\d|3[01])(?:/|[-_]|$)")
# Containers before the article's heading that hold the site's header: their dates are the
# site's ("today", the latest issue), never the article's.
CHROME = re.compile(
    r"(?:^|[\s_-])(?:header|top|topbar|nav|navbar|navigation|menu|masthead|toolbar|banner|today)"
    r"(?:[\s_-]|$)",
    re.IGNORECASE,
)
CHROME_TAGS = frozenset(("header", "nav"))
NEAR_DAYS = 10  # a byline's day this near htmldate's lone answer is taken instead
HEAD_CHARS = 3000  # the text's first characters after the heading: where a byline is
MIDNIGHT_HOURS = frozenset((21, 22, 23))  # UTC hours of midnight at UTC+3, +2 and +1


@dataclass(frozen=True, slots=True)
class PageDate:
    instant: datetime  # aware; in the page's own offset when it gave one, else UTC
    day: date  # the calendar day the page states, in its own time zone
    source: str  # meta, jsonld, modified, page, search, text, site, url, feed, sitemap, lastmod
    offset_known: bool

    @property
    def utc(self) -> datetime:
        return self.instant.astimezone(UTC)

    @property
    def offset_minutes(self) -> int | None:
        offset = self.instant.utcoffset()
        if not self.offset_known or offset is None:
            return None
        return int(offset.total_seconds() // 60)


@dataclass(frozen=True, slots=True)
class DateVerdict:
    found: PageDate | None
    warning: str | None = None  # why a date seen was not given
    places: tuple[str, ...] = ()  # where a day two signals confirm is stated (date_places)


def stamp_date(stamp: datetime, source: str) -> PageDate:
    """The page's date from a parsed stamp: naive means no offset was given (read as UTC).
    A UTC stamp at 21:00, 22:00 or 23:00 sharp is a day alone stored as the midnight that
    starts it east of UTC (Moscow, Athens, Berlin): the page's day is the next one."""
    known = stamp.tzinfo is not None
    instant = stamp if known else stamp.replace(tzinfo=UTC)
    day = stamp.date()
    if known and stamp.utcoffset() == timedelta(0) and _local_midnight(stamp.time()):
        day += timedelta(days=1)
    return PageDate(instant, day, source, known)


def _local_midnight(moment: time) -> bool:
    return moment.hour in MIDNIGHT_HOURS and moment.replace(hour=0) == time()


def day_date(day: date, source: str) -> PageDate:
    return PageDate(datetime.combine(day, time(), tzinfo=UTC), day, source, False)


def url_day(url: str) -> date | None:
    """The day a dated URL names (``/2024/03/12/``); None for none, or for a day no
    calendar has (``/2024/02/30/``)."""
    if match := URL_DATE.search(url):
        year, month, day = (int(part) for part in match.groups())
        try:
            return date(year, month, day)
        except ValueError:
            return None
    return None


def _canonical(tree: HtmlElement) -> str:
    """The page's canonical link: its own URL when the crawler has none (a saved page)."""
    link = tree.find('.//link[@rel="canonical"]')
    return (link.get("href") or "") if link is not None else ""


def without_chrome(tree: HtmlElement) -> HtmlElement:
    """A copy of the page without the header-like containers before the article's heading."""
    return _pruned(tree, lambda e: e.tag in CHROME_TAGS or bool(CHROME.search(_label(e))))


def article_part(tree: HtmlElement, *, in_place: bool = False) -> HtmlElement:
    """The page without anything of its body before the article's heading: a copy, or
    ``tree`` itself ``in_place``."""
    return _pruned(tree, lambda _element: True, in_place=in_place)


def _label(element: HtmlElement) -> str:
    return f"{element.get('class', '')} {element.get('id', '')}"


def _heading(tree: HtmlElement) -> HtmlElement | None:
    """The article's heading: the first ``<h1>``, else the one marked as the headline, else
    the first ``<h2>`` (templates that keep ``<h1>`` for the site's name have none)."""
    for path in ("//h1", '//*[@itemprop="headline"]', "//h2"):
        found = tree.xpath(path)
        if found:
            return found[0]
    return None


def _pruned(
    tree: HtmlElement, dropped: Callable[[HtmlElement], bool], *, in_place: bool = False
) -> HtmlElement:
    """``tree`` (a copy of it unless ``in_place``) less the body's elements before the
    article's heading (not its ancestors) that ``dropped`` picks."""
    copied = tree if in_place else deepcopy(tree)
    body = copied.find("body")
    heading = _heading(copied)
    if heading is None or body is None:
        return copied
    around = set(heading.iterancestors())
    picked = []
    for element in body.iter():
        if element is heading:
            break
        if isinstance(element.tag, str) and element not in around and dropped(element):
            picked.append(element)
    for element in picked:
        element.drop_tree()
    return copied


def _htmldate(tree: HtmlElement, latest: date, *, extensive: bool = False) -> date | None:
    """htmldate's search for the original date (fast unless ``extensive``), never after
    ``latest``. The extensive one reads the text with dateparser, whose locales load at its
    first use in a process. They are not loaded ahead: in a crawl few pages get that far, as
    a dated URL or the date of a feed item or sitemap entry comes first."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        found = find_date(
            tree, extensive_search=extensive, original_date=True, max_date=latest.isoformat()
        )
    return date.fromisoformat(found) if found else None


def page_date(
    tree: HtmlElement | None,
    url: str = "",
    hint: DateHint | None = None,
    *,
    site_places: tuple[str, ...] = (),
    now: datetime | None = None,
) -> DateVerdict:
    """The article's date from the page, its URL, the crawler's hint and the places where
    the site states its dates (:mod:`crawlers.extraction.date_places`); see the module."""
    today = (now or datetime.now(UTC)).date()
    latest = today + timedelta(days=1)
    stamps = [] if tree is None else published_stamps(tree)
    stated = next((d for d in (stamp_date(s, o) for s, o in stamps) if d.day <= latest), None)
    hinted = _hint_date(hint, latest)
    own_url = url or ("" if tree is None else _canonical(tree))  # a saved page has no URL
    from_url = url_day(own_url)
    in_url = day_date(from_url, "url") if from_url is not None and from_url <= latest else None
    others = [d for d in (stated, hinted, in_url) if d is not None]
    if tree is None:
        return DateVerdict(others[0] if others else None)
    settled = _settled(stated, hinted, in_url)
    page = article_part(tree) if settled else without_chrome(tree)  # this call's own copy
    fast = None if settled else _htmldate(page, latest)
    article = article_part(page, in_place=True)
    etree.strip_elements(article, "script", "style", with_tail=False)  # no text a reader sees
    byline = cache(lambda: _text_day(article, latest, HEAD_CHARS))  # once, and only if asked
    confirmed = settled or _confirmed(fast, others)
    if confirmed is not None:
        found = _revised(confirmed, stated, tree, byline, latest)
        return DateVerdict(found, places=date_places(article, found.day))
    at_place = day_at(article, site_places) if site_places else None
    if at_place is not None and at_place <= latest:
        return DateVerdict(_with_time(day_date(at_place, "site"), others))
    if fast is not None:
        return _alone(fast, today, article, byline, tree)
    if others:  # a visible place naming the day confirms a stamp or hint
        return DateVerdict(others[0], places=date_places(article, others[0].day))
    named = byline() or _text_day(article, latest)
    if named is not None:
        return DateVerdict(day_date(named, "text"))
    return _searched(_htmldate(without_chrome(tree), latest, extensive=True), today)


def _settled(
    stated: PageDate | None, hinted: PageDate | None, from_url: PageDate | None
) -> PageDate | None:
    """The page's stamp when the crawler's hint or the URL names its day; else the hint when
    the URL names its day and the page has no stamp. Two signals that agree settle the date,
    and htmldate need not read the page."""
    crawler = [d for d in (hinted, from_url) if d is not None]
    if stated is not None:
        return stated if any(d.day == stated.day for d in crawler) else None
    if hinted is not None and from_url is not None and hinted.day == from_url.day:
        return hinted
    return None


def _confirmed(day: date | None, others: list[PageDate]) -> PageDate | None:
    """The day htmldate found, as another signal naming it gives it (time and offset)."""
    return next((o for o in others if day is not None and day in (o.day, o.instant.date())), None)


def _with_time(found: PageDate, others: list[PageDate]) -> PageDate:
    """``found`` with the time and offset of another signal of the same day, if any."""
    return next((replace(o, source=found.source) for o in others if o.day == found.day), found)


def _alone(
    day: date,
    today: date,
    article: HtmlElement,
    byline: Callable[[], date | None],
    tree: HtmlElement,
) -> DateVerdict:
    """htmldate's day, named by nothing else. The crawl's own day must be in the article,
    not in the page's top, where it is the site's "today". A byline naming a day near it is
    the page's own statement: alone, htmldate often takes a neighbouring date (a comment's,
    an update's, a related story's); a day far off is rather one the story is about, unless
    it is htmldate's with day and month read the other way round (``11/01/2023``). When
    htmldate's day is the page's modified stamp, the text's first earlier day is the
    publication's; when it is a day that only a meta tag states and the reader never sees,
    the text's first day comes before it."""
    latest = today + timedelta(days=1)
    if day == today and _htmldate(article, latest) != today:
        return DateVerdict(None, f"date: {today.isoformat()} is today's, above the article")
    named = byline()
    near = named is not None and abs((named - day).days) <= NEAR_DAYS
    if named is not None and named != day and (near or named == _swapped(day)):
        return DateVerdict(day_date(named, "text"))
    updated = any(stamp.date() == day for stamp, _ in modified_stamps(tree))
    in_meta = _in_meta(tree, day)
    if updated or in_meta:
        first = named or _text_day(article, latest)  # the text's first day
        hidden = in_meta and day not in _text_days(without_chrome(tree), latest)
        if first is not None and ((updated and first < day) or hidden):
            return DateVerdict(day_date(first, "text"))
    return DateVerdict(day_date(day, "page"))


def _in_meta(tree: HtmlElement, day: date) -> bool:
    """Whether a ``<meta>`` tag of the page states ``day``."""
    for meta in tree.iter("meta"):
        content = meta.get("content") or ""
        if YEAR.search(content) and (stamp := parse_date(content)) and stamp.date() == day:
            return True
    return False


def _swapped(day: date) -> date | None:
    """``day`` with its day and month exchanged, where that is a date."""
    return date(day.year, day.day, day.month) if day.day <= 12 else None


def _hint_date(hint: DateHint | None, latest: date) -> PageDate | None:
    found = None if hint is None else stamp_date(hint.stamp, hint.kind)
    return found if found is not None and found.day <= latest else None


def _revised(
    found: PageDate,
    stated: PageDate | None,
    tree: HtmlElement,
    byline: Callable[[], date | None],
    latest: date,
) -> PageDate:
    """The published stamp as the page states it: its modified stamp instead when the two
    name other days and the byline (the text's first ``HEAD_CHARS``) states the modified day;
    the byline's day when the stamp is in UTC and that is the day next to it (the site's)."""
    if stated is None or found.day != stated.day:
        return found
    named = byline()  # first: most pages have none, or the stamp's day, and end here
    if named is None or named == found.day:
        return found
    later = [m for s, _ in modified_stamps(tree) if (m := stamp_date(s, "modified")).day <= latest]
    if later and later[0].day == named:
        return later[0]
    if found.offset_minutes == 0 and abs((named - found.day).days) == 1:
        return replace(found, day=named)
    return found


def _searched(searched: date | None, today: date) -> DateVerdict:
    """htmldate's extensive search, the last resort: a first of the month is a month or a
    year alone (dateparser fills the day), not a day, and today's is the site's; neither is
    given."""
    if searched is None:
        return DateVerdict(None)
    if searched.day == 1 or searched == today:
        return DateVerdict(None, f"date: {searched.isoformat()} alone is too weak a sign")
    return DateVerdict(day_date(searched, "search"))


def _text_day(article: HtmlElement, latest: date, chars: int | None = None) -> date | None:
    """The first day, year included, that the page's text names from its heading on (where
    a byline would state it), in its first ``chars`` characters or all of it."""
    pieces, size = [], 0
    for piece in article.itertext():  # elements apart: "2024" "Next"
        pieces.append(piece)
        size += len(piece)
        if chars is not None and size > chars:
            break
    text = " ".join(" ".join(pieces).split())
    if chars is not None and len(text) > chars:
        text = text[: text.rfind(" ", 0, chars)]  # whole words
    return _first_day(text, latest)


def _first_day(text: str, latest: date) -> date | None:
    return next(iter(_named_days(text, latest)), None)


def _named_days(text: str, latest: date) -> list[date]:
    named = [m.start for m in mentioned_dates(text) if m.start == m.end and YEAR.search(m.text)]
    return [day for day in named if day <= latest]


def _text_days(tree: HtmlElement, latest: date) -> list[date]:
    """Every day, year included, that the text a reader sees in ``tree`` names, in order."""
    etree.strip_elements(tree, "script", "style", with_tail=False)
    return _named_days(" ".join(" ".join(tree.itertext()).split()), latest)
