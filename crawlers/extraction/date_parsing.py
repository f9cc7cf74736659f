"""Dates as pages write them, read without ever raising, and the page's published stamps.

A stamp keeps the offset the page gave (``+05:00``, ``CET``): the day the page states is the
day at that offset, and converting to UTC first would put an article of 15 February 01:00
+05:00 on 14 February. A stamp without a zone comes back naive; an offset no place has (beyond
fourteen hours, as in ``2023-11-02T20-59-53Z``) is dropped and the stamp kept as naive.
"""

from __future__ import annotations

import json
import re
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime

from dateutil import parser as dateparser
from lxml.html import HtmlElement

PUBLISHED_NAMES = (
    "article:published_time",
    "og:published_time",
    "datepublished",
    "dc.date.issued",
    "dcterms.created",
    "pubdate",
    "publishdate",
    "publish_date",
    "sailthru.date",
    "parsely-pub-date",
)
# Where a page states that its article was changed after it was published.
MODIFIED_NAMES = ("article:modified_time", "og:updated_time", "datemodified", "dc.date.modified")
YEAR = re.compile(r"(?<!\d)(?:19|20)\d\d")
MAX_OFFSET = timedelta(hours=14)  # the widest offset in use (Kiribati)
FIRST_DEFAULT, SECOND_DEFAULT = datetime(2000, 1, 1), datetime(2001, 2, 28)
ISO_DATE = re.compile(r"\d{4}-\d\d-\d\d(?:[T ]|$)")
RFC_DATE = re.compile(
    r"(?:[A-Z][a-z]{2}, )?\d{1,2} [A-Z][a-z]{2} \d{4} \d\d:\d\d(?::\d\d)? "
    r"(?:\+\d{4}|-(?!0000)\d{4}|GMT|UTC?|Z)$"
)  # "-0000" (the zone unknown) is left to dateutil, which reads it as UTC, as it always has
MAX_LENGTH = 200  # a date is short: longer values are text, and dateutil is slow on them
# Zone abbreviations the watched sites print after a time, as UTC offsets in seconds. dateutil
# knows only UTC and GMT by name, and would read "23:40 MSK" as 23:40 UTC, three hours late,
# which can put the article on the next day. Ambiguous ones (IST, AST, CST, BST) are left out.
ZONES = {
    "WET": 0, "WEST": 3600, "CET": 3600, "CEST": 7200, "EET": 7200,
    "EEST": 10800, "MSK": 10800, "TRT": 10800, "GST": 14400,
    "EST": -18000, "EDT": -14400, "PST": -28800, "PDT": -25200,
}  # fmt: skip
RU_MONTHS = {
    "января": "January", "февраля": "February", "марта": "March", "апреля": "April",
    "мая": "May", "июня": "June", "июля": "July", "августа": "August",
    "сентября": "September", "октября": "October", "ноября": "November", "декабря": "December",
}  # fmt: skip


@dataclass(frozen=True, slots=True)
class DateHint:
    """A date the crawler knows from what led to the page: a feed item or sitemap entry."""

    stamp: datetime  # aware when the entry gave an offset, else naive
    kind: str  # "feed" (published, pubDate), "sitemap" (news:publication_date), "lastmod"


def date_hint(values: Iterator[object] | tuple[object, ...], kind: str) -> DateHint | None:
    """The first of an entry's ``values`` that reads as a date, as a hint of ``kind``."""
    for value in values:
        stamp = parse_date(value) if isinstance(value, str) else None
        if stamp is not None:
            return DateHint(stamp, kind)
    return None


def parse_date(value: str) -> datetime | None:
    """A datetime from a date as pages write it, aware when the page gave a usable zone;
    None when it is not a whole date (a year and a month alone are not), or is before 1990."""
    text = value.strip().replace("\x00", "")
    if len(text) > MAX_LENGTH or not YEAR.search(text):  # no year of 1900-2099: no date
        return None
    parsed = _standard(text)
    if parsed is not None:
        return _checked(parsed)
    text = _english(text)
    if len(text) > MAX_LENGTH:
        return None
    parsed = _parsed(text, FIRST_DEFAULT)
    if parsed is None or parsed.year < 1990:
        return None
    # dateutil fills what the text lacks from a default: a date read alike with two
    # defaults is all in the text, not a guess
    again = _parsed(text, SECOND_DEFAULT)
    if again is None or again.date() != parsed.date():
        return None
    return _checked(parsed)


def _checked(parsed: datetime) -> datetime | None:
    if parsed.year < 1990:
        return None
    return parsed if _usable_offset(parsed) else parsed.replace(tzinfo=None)


def _standard(text: str) -> datetime | None:
    """A date in one of the two formats most stamps, feeds and sitemaps use, ISO 8601 and
    RFC 2822 with a numeric offset, read by the standard library; None for any other text,
    which dateutil reads (and much more slowly)."""
    try:
        if ISO_DATE.match(text):
            return datetime.fromisoformat(text)
        if RFC_DATE.match(text):
            return parsedate_to_datetime(text)
    except (ValueError, TypeError):
        pass
    return None


def _parsed(text: str, default: datetime) -> datetime | None:
    try:
        with warnings.catch_warnings():  # another zone name: read as no zone
            warnings.simplefilter("ignore", dateparser.UnknownTimezoneWarning)
            return dateparser.parse(
                text,
                default=default,
                dayfirst=not re.match(r"^\d{4}", text),
                fuzzy=True,
                tzinfos=ZONES,
            )
    except (ValueError, OverflowError, TypeError, LookupError):
        return None


def _usable_offset(parsed: datetime) -> bool:
    """Whether ``parsed`` has a zone, and one that exists."""
    try:
        offset = parsed.utcoffset()
    except ValueError:  # beyond a day: datetime refuses it
        return False
    return offset is not None and abs(offset) <= MAX_OFFSET


def _english(text: str) -> str:
    for russian, english in RU_MONTHS.items():
        text = re.sub(rf"\b{russian}\b", english, text, flags=re.IGNORECASE)
    return re.sub(r"\s*г\.?$", "", text)


def published_stamps(tree: HtmlElement) -> list[tuple[datetime, str]]:
    """The page's publication stamps, meta tags first, then JSON-LD ``datePublished``."""
    return _stamps(tree, PUBLISHED_NAMES, "datePublished")


def modified_stamps(tree: HtmlElement) -> list[tuple[datetime, str]]:
    """The page's stamps of a later change, meta tags first, then JSON-LD ``dateModified``."""
    return _stamps(tree, MODIFIED_NAMES, "dateModified")


def _stamps(tree: HtmlElement, names: tuple[str, ...], key: str) -> list[tuple[datetime, str]]:
    found = [(parse_date(v), "meta") for v in _meta_values(tree, names)]
    found += [(parse_date(v), "jsonld") for v in _jsonld_values(tree, key)]
    return [(stamp, origin) for stamp, origin in found if stamp is not None]


def _meta_values(tree: HtmlElement, names: tuple[str, ...]) -> Iterator[str]:
    metas: dict[str, str] = {}
    for meta in tree.iter("meta"):
        key = (meta.get("property") or meta.get("name") or meta.get("itemprop") or "").lower()
        content = meta.get("content")
        if key in names and content:
            metas.setdefault(key, content)
    for name in names:
        if name in metas:
            yield metas[name]


def _jsonld_values(tree: HtmlElement, key: str) -> Iterator[str]:
    for script in tree.xpath('//script[@type="application/ld+json"]/text()'):
        try:
            data = json.loads(script)
        except (ValueError, RecursionError):
            continue
        yield from _walk_jsonld(data, key, depth=0)


def _walk_jsonld(data: object, key: str, depth: int) -> Iterator[str]:
    if depth > 8:  # the article is near the top; a deeper walk is a hostile page's
        return
    if isinstance(data, list):
        for item in data:
            yield from _walk_jsonld(item, key, depth + 1)
    elif isinstance(data, dict):
        value = data.get(key)
        if isinstance(value, str):
            yield value
        for inner in ("@graph", "mainEntity", "mainEntityOfPage"):
            if inner in data:
                yield from _walk_jsonld(data[inner], key, depth + 1)
