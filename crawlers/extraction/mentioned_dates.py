"""Dates an article mentions ("On September 4-5", "15 April 2021", "4–5 сентября", "le 1er
mars", "am 12. März 2024"), as day ranges analysts can sort and filter.

Not the publication date (that is :mod:`crawlers.extraction.dates`): these are the days the story is
about. A date written without a year takes the year that puts it nearest the article's
publication date, so "January 10" in a December article is next January.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, date, datetime
from typing import NamedTuple, TypeAlias

MAX_DATES = 30
_MONTH_NAMES = {
    1: "january jan janvier janv januar jänner январь января янв يناير كانون_الثاني",
    2: "february feb fevrier février fevr févr februar февраль февраля фев فبراير شباط",
    3: "march mar mars märz maerz март марта مارس آذار",
    4: "april apr avril апрель апреля апр أبريل ابريل نيسان",
    5: "may mai май мая مايو أيار",
    6: "june jun juin juni июнь июня يونيو حزيران",
    7: "july jul juillet juil juli июль июля يوليو تموز",
    8: "august aug août aout август августа авг أغسطس آب",
    9: "september sep sept septembre сентябрь сентября сен سبتمبر أيلول",
    10: "october oct octobre oktober okt октябрь октября окт أكتوبر اكتوبر تشرين_الأول",
    11: "november nov novembre ноябрь ноября ноя نوفمبر تشرين_الثاني",
    12: "december dec décembre decembre déc dezember dez декабрь декабря дек ديسمبر كانون_الأول",
}
MONTHS = {
    name.replace("_", " "): number
    for number, names in _MONTH_NAMES.items()
    for name in names.split()
}
_DAY = r"([0-3]?\d)(?:st|nd|rd|th|er|ᵉʳ|\.)?"  # "12." as German writes it
_UNTIL = r"(?:\s*[-–—]\s*|\s+(?:and|to|through|et|au|и|по|до|إلى)\s+|\s+و\s*)"
_YEAR = r"(?:,?\s+((?:19|20)\d\d)\b)?"


_Trie: TypeAlias = "dict[str, _Trie]"  # a character to the rest; "" marks a word's end


def longest_first(words: Iterable[str]) -> str:
    """An alternation of ``words`` as a trie (``ma(?:i|r(?:ch|s|)|y)``...): where several match,
    the longest is tried first, as in a list sorted longest first, but a word start costs a
    few character tests instead of one per word."""
    root: _Trie = {}
    for word in words:
        node = root
        for char in word:
            node = node.setdefault(char, {})
        node[""] = {}  # a word ends here

    def branch(node: _Trie) -> str:
        options = [re.escape(char) + branch(child) for char, child in sorted(node.items()) if char]
        if "" in node:
            options.append("")  # last: a longer word through this node is tried first
        return options[0] if len(options) == 1 else "(?:" + "|".join(options) + ")"

    return branch(root)


_MONTH = "(" + longest_first(MONTHS) + r")\.?"
# Each pattern looks ahead for the character its match starts with (a digit, a month's first
# letter) before it tries the rest: most positions fail there, cheaply, and the matches are
# the same.
_DAY_FIRST = re.compile(rf"(?=\d)(?<![\w.]){_DAY}(?:{_UNTIL}{_DAY})?\s+{_MONTH}(?!\w){_YEAR}",
                        re.IGNORECASE)  # fmt: skip
_INITIALS = re.escape("".join(sorted({name[0] for name in MONTHS})))
_MONTH_FIRST = re.compile(
    rf"(?<!\w)(?=[{_INITIALS}]){_MONTH}\s+{_DAY}(?:{_UNTIL}{_DAY})?(?![\w:]){_YEAR}",
    re.IGNORECASE,
)
# a date may end a sentence ("on 12.03.2024."), but not run on into a longer number
_NUMERIC = re.compile(r"(?=\d)(?<![\w.])([0-3]?\d)\.([01]?\d)\.((?:19|20)\d\d)(?!\w|\.\d)")
_ISO = re.compile(r"(?=[12])(?<![\w-])((?:19|20)\d\d)-([01]\d)-([0-3]\d)(?![\w-])")


# Arabic-Indic and Persian digits, as Arabic and Persian sites write dates and numbers
_EASTERN_DIGITS = str.maketrans("٠١٢٣٤٥٦٧٨٩۰۱۲۳۴۵۶۷۸۹", "01234567890123456789")
_HAS_EASTERN_DIGITS = re.compile("[٠-٩۰-۹]")


def western_digits(text: str) -> str:
    return text.translate(_EASTERN_DIGITS) if _HAS_EASTERN_DIGITS.search(text) else text


class MentionedDate(NamedTuple):
    """A day or a range of days named in the text, with the words that name it."""

    text: str
    start: date
    end: date


def mentioned_dates(text: str, published_at: datetime | None = None) -> list[MentionedDate]:
    """Every distinct date or day range in `text`, in order of appearance."""
    reference = (published_at or datetime.now(UTC)).date()
    text = western_digits(text)  # "١٢ مارس": the mentions' text has western digits
    found: list[tuple[int, MentionedDate]] = []
    for match in _DAY_FIRST.finditer(text):
        _keep(found, match, (match[1], match[2], match[3], match[4]), reference)
    for match in _MONTH_FIRST.finditer(text):
        if not _overlaps(found, match):
            _keep(found, match, (match[2], match[3], match[1], match[4]), reference)
    for match in _NUMERIC.finditer(text):
        _keep_numeric(found, match, int(match[1]), int(match[2]), int(match[3]))
    for match in _ISO.finditer(text):
        _keep_numeric(found, match, int(match[3]), int(match[2]), int(match[1]))
    seen: set[tuple[date, date]] = set()
    ordered: list[MentionedDate] = []
    for _, mention in sorted(found, key=lambda pair: pair[0]):
        if (mention.start, mention.end) not in seen:
            seen.add((mention.start, mention.end))
            ordered.append(mention)
    return ordered[:MAX_DATES]


def _overlaps(found: list[tuple[int, MentionedDate]], match: re.Match[str]) -> bool:
    return any(at <= match.start() < at + len(d.text) for at, d in found)


def _keep(
    found: list[tuple[int, MentionedDate]],
    match: re.Match[str],
    parts: tuple[str | None, ...],
    reference: date,
) -> None:
    first, last, month_name, year = parts
    name = (month_name or "").casefold()
    if name == "may" and month_name == "may":
        return  # the English verb, not the month
    month = MONTHS[" ".join(name.split())]
    start_day, end_day = int(first or 0), int(last or first or 0)
    try:
        start = _dated(start_day, month, year, reference)
        end = start.replace(day=end_day)
    except ValueError:
        return
    if end >= start:
        found.append((match.start(), MentionedDate(match[0], start, end)))


def _dated(day: int, month: int, year: str | None, reference: date) -> date:
    """The date, with the year nearest `reference` when the text gives none."""
    if year:
        return date(int(year), month, day)
    candidates = []
    for guess in (reference.year - 1, reference.year, reference.year + 1):
        try:
            candidates.append(date(guess, month, day))
        except ValueError:  # 29 February of a common year
            continue
    if not candidates:
        raise ValueError("no such day")
    return min(candidates, key=lambda d: abs((d - reference).days))


def _keep_numeric(
    found: list[tuple[int, MentionedDate]], match: re.Match[str], day: int, month: int, year: int
) -> None:
    try:
        when = date(year, month, day)
    except ValueError:
        return
    found.append((match.start(), MentionedDate(match[0], when, when)))
