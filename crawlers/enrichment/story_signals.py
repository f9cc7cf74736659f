"""What an article says that does not depend on its language: the signals that let reports
of one real-world event in English, French, Russian and Arabic be grouped (storage.signals
weighs them).

Each signal is a ``kind:value`` string: ``city:Dushanbe``, ``country:Tajikistan``,
``where:Tajikistan`` (the country of the first place named: where the story happens),
``org:OSCE``, ``date:2026-05-16`` (every day a mentioned date covers), ``number:1400`` (a
quantity with its separators dropped) and ``name:rhmn``, a person's surname reduced to its
consonants after transliteration to ASCII (anyascii), so that "Rahmon", "Рахмон" and
"رحمون" give one key. Arabic has no capitals to find names by: each of its words that
could be one is kept, and only a name found in a cased script can match it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from datetime import timedelta
from functools import cache

from anyascii import anyascii

from crawlers.enrichment.entities import gazetteer
from crawlers.extraction.mentioned_dates import MONTHS, MentionedDate, western_digits

MAX_DATES = 6  # the first dates are the story's; later ones are background
MAX_DAYS_PER_DATE = 7  # a longer range ("from May to July") says little about one event
MAX_NUMBERS = 12
MAX_NAMES = 12
MAX_ARABIC_WORDS = 60
MIN_NAME_CONSONANTS = 3  # "Li" or "Shoigu" reduce to too few letters to tell names apart
# Languages that capitalise every noun: a capitalised run there names no one in particular.
NOUNS_CAPITALISED = frozenset(("de", "lb"))
# Digits with thousands grouped by comma, dot, space or a narrow space ("1,400", "1 400"),
# not touching a letter, a colon (times), or other digits.
# The lookahead first lets the engine skip to digits rather than test the lookbehind everywhere.
_NUMBER = re.compile(r"(?=\d)(?<![\w.,:])(?:\d{1,3}(?:[,.\u00a0\u202f ]\d{3})+(?![\w:]|[.,]\d)|"
                     r"\d+(?![\w:]|[.,]\d))")  # fmt: skip
_GROUPING = re.compile(r"[,.\u00a0\u202f ]")
# Runs of two to four capitalised words, Latin or Cyrillic: a person named in full.
_CAPITALISED = r"[A-ZÀ-ÖØ-ÞА-ЯЁ][a-zß-öø-ÿа-яё'’-]+"
_FULL_NAME = re.compile(rf"(?<!\w){_CAPITALISED}(?:\s+{_CAPITALISED}){{1,3}}(?!\w)")
_ARABIC_WORD = re.compile(r"[\u0621-\u064a]{3,}")
# Capitalised words that open or close a run but name no one: titles, bodies, days.
_NOT_NAME_WORDS = """
    minister president council conference assembly parliament committee ministry foreign
    affairs secretary general security union republic nations united prime deputy chairman
    speaker session organisation organization forum summit day news agency office court
    commission government state states house monday tuesday wednesday thursday friday
    saturday sunday permanent national international the a an on in at for and of his her
    ministre président conseil conférence assemblée république unies affaires étrangères
    secrétaire général le la les lundi mardi mercredi jeudi vendredi samedi dimanche совет
    министр президент министерство республики республика собрание ассамблея конференция
    комитет организации наций"""
_NOT_NAMES = frozenset(_NOT_NAME_WORDS.split())
# French writes "ch" where English writes "sh" and Romanian "c" where Russian has "к".
_SOUNDS = (("dzh", "j"), ("dj", "j"), ("zh", "j"), ("kh", "h"), ("tch", "s"), ("sh", "s"),
           ("ch", "s"), ("ts", "s"), ("ph", "f"), ("ou", "u"), ("c", "k"), ("v", "f"),
           ("q", "k"))  # fmt: skip
_VOWELS = re.compile(r"[aeiouyw]+")
_REPEATS = re.compile(r"(.)\1+")


def story_signals(
    title: str,
    text: str,
    places: Iterable[str],
    organisations: Iterable[str],
    dates: Iterable[MentionedDate],
    language: str | None = None,
) -> tuple[str, ...]:
    """The article's signals, each kind in order of first mention; ``language`` (detected)
    says whether capitals can tell names."""
    dates = tuple(dates)
    body = f"{title}\n{text}"
    found = [
        *_place_signals(tuple(places)),
        *(f"org:{name}" for name in organisations),
        *_date_signals(dates),
        *(f"number:{n}" for n in numbers(_without_dates(body, dates))),
        *(f"name:{n}" for n in (names(body) if language not in NOUNS_CAPITALISED else ())),
        *(f"word:{n}" for n in arabic_words(body)),
    ]
    return tuple(dict.fromkeys(found))


def _place_signals(places: tuple[str, ...]) -> Iterator[str]:
    countries = city_countries()
    if places:
        yield f"where:{countries.get(places[0], places[0])}"
    for place in places:
        yield f"city:{place}" if place in countries else f"country:{place}"


@cache
def city_countries() -> dict[str, str]:
    """Each gazetteer city's country."""
    return {a.entry.name: a.entry.country for a in gazetteer().aliases if a.entry.country}


def _date_signals(dates: tuple[MentionedDate, ...]) -> Iterator[str]:
    for mention in dates[:MAX_DATES]:
        if (mention.end - mention.start).days < MAX_DAYS_PER_DATE:
            for offset in range((mention.end - mention.start).days + 1):
                yield f"date:{(mention.start + timedelta(days=offset)).isoformat()}"


def _without_dates(text: str, dates: tuple[MentionedDate, ...]) -> str:
    text = western_digits(text)  # as the mentions were read
    for mention in dates:  # each distinct date is kept once, with the words of its first
        text = text.replace(mention.text.rstrip(". "), " ")  # mention: "23 июня." or not
    return text


def numbers(text: str) -> list[str]:
    """Quantities of 10 or more, separators dropped; years (1900-2099) are dates, not counts."""
    found: dict[str, None] = {}
    for match in _NUMBER.finditer(western_digits(text)):
        digits = _GROUPING.sub("", match[0])
        if len(digits) > 12 or int(digits) < 10:
            continue
        if len(digits) == 4 and 1900 <= int(digits) < 2100 and digits == match[0]:
            continue
        found[str(int(digits))] = None
        if len(found) == MAX_NUMBERS:
            break
    return list(found)


def names(text: str) -> list[str]:
    """Keys of the surnames of people named in full in a cased script (Latin, Cyrillic)."""
    found: dict[str, None] = {}
    for run in _FULL_NAME.finditer(text):
        words = run[0].split()
        while words and words[-1].casefold() in _NOT_NAMES:
            words.pop()
        titled = bool(words) and words[0].casefold() in _NOT_NAMES  # "President Rahmon"
        while words and words[0].casefold() in _NOT_NAMES:
            words.pop(0)
        if len(words) >= 2 or (titled and words):
            _add_name(found, words[-1], MAX_NAMES)
    return list(found)


def arabic_words(text: str) -> list[str]:
    """Keys of the Arabic words that could be names: compared with names found in a cased
    script only, never with each other (two Arabic texts share common words)."""
    found: dict[str, None] = {}
    for word in _ARABIC_WORD.findall(text):
        # "al-": a noun, seldom a surname; a month (مارس keys as Morris) never one
        if not word.startswith("ال") and word not in MONTHS:
            _add_name(found, word, MAX_ARABIC_WORDS)
    return list(found)


def _add_name(found: dict[str, None], word: str, limit: int) -> None:
    key = name_key(word)
    if len(found) < limit and len(key) >= MIN_NAME_CONSONANTS and key not in _place_keys():
        found[key] = None


def name_key(word: str) -> str:
    """A word's consonants after transliteration, with spellings of one sound made one."""
    latin = re.sub(r"[^a-z]", "", anyascii(word).casefold())
    for spelling, sound in _SOUNDS:
        latin = latin.replace(spelling, sound)
    return _REPEATS.sub(r"\1", _VOWELS.sub("", latin))


@cache
def _place_keys() -> frozenset[str]:
    """Name keys of every word of the gazetteer's aliases: a place is never a person, and
    "Cooperation" or "Assembly" in an organisation's name are no one's surname."""
    return frozenset(
        name_key(word)
        for aliases in gazetteer().names.values()
        for alias in aliases
        for word in re.split(r"[\W\d_]+", alias)
        if word
    )
