"""Places and organisations named in an article, found with the project's gazetteer.

The gazetteer (``crawlers/gazetteer.yaml``) is data analysts can maintain: canonical names with
aliases in several languages. Every alias is folded (case, diacritics, harakat) and looked up
on whole words in one Aho-Corasick pass over the article, so the cost does not grow with the
number of aliases. Where aliases overlap ("OSCE" inside "OSCE PA") the longest wins. Capitalised
acronyms only match capitals, so French "un" is never the UN.
"""

from __future__ import annotations

import bisect
import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from functools import cache, lru_cache
from itertools import accumulate
from pathlib import Path
from typing import Any

import ahocorasick_rs
import yaml

from crawlers.mentioned_dates import MentionedDate, mentioned_dates
from storage.similarity import bmp_class

GAZETTEER = Path(__file__).with_name("gazetteer.yaml")
KINDS = ("places", "organisations")
# A word: a letter or digit, then letters, digits and the marks (accents, harakat) and tatweel
# that belong to it, so a decomposed "é" or a vocalised Arabic word stays one word.
_WORD = re.compile(
    r"[^\W_](?:[^\W_]|[\u0300-\u036f\u0610-\u061a\u064b-\u065f\u0670\u06d6-\u06ed\u0640])*"
)


@dataclass(frozen=True, slots=True)
class Entry:
    """One gazetteer entry: `kind` is "places" or "organisations"."""

    kind: str
    name: str
    country: str | None = None


@dataclass(frozen=True, slots=True)
class Entities:
    """What an article names: canonical place and organisation names in order of first
    mention, and the dates it mentions."""

    places: tuple[str, ...] = ()
    organisations: tuple[str, ...] = ()
    dates: tuple[MentionedDate, ...] = ()


@dataclass(frozen=True, slots=True)
class _Alias:
    entry: Entry
    words: int
    capitals_only: bool


@lru_cache(maxsize=1 << 16)  # words repeat: each distinct one is folded once
def fold_word(word: str) -> str:
    """Casefolded, without accents, harakat or tatweel (compatibility forms unified)."""
    folded = unicodedata.normalize("NFD", unicodedata.normalize("NFKC", word).casefold())
    kept = "".join(c for c in folded if unicodedata.category(c) not in ("Mn", "Me"))
    return unicodedata.normalize("NFC", kept).replace("\u0640", "")


_ASTRAL = re.compile("[\U00010000-\U0010ffff]")


@cache
def _bmp_marks() -> re.Pattern[str]:
    """Every character below U+10000 that :func:`fold_word` drops (Mn, Me), as one class."""
    return bmp_class(lambda ch: unicodedata.category(ch) in ("Mn", "Me"))


def fold_words(words: list[str]) -> list[str]:
    """:func:`fold_word` of each word, the words folded together as one text.

    Each step of the folding works character by character or within a letter's marks, and a
    space between words is never part of either, so folding the words joined by spaces folds
    each. Where that would not give one word per word (a ligature that unfolds into several
    words, a mark beyond the BMP), each word is folded alone. An article's words folded one
    by one, even from a cache, were a third of finding its places and organisations.
    """
    joined = " ".join(words)
    if joined.isascii():
        folded = joined.lower()
    else:
        decomposed = unicodedata.normalize("NFD", unicodedata.normalize("NFKC", joined).casefold())
        if _ASTRAL.search(decomposed):
            return list(map(fold_word, words))
        bare = unicodedata.normalize("NFC", _bmp_marks().sub("", decomposed))
        folded = bare.replace("\u0640", "")
    each = folded.split(" ")
    return each if len(each) == len(words) else list(map(fold_word, words))


def _words(text: str) -> list[re.Match[str]]:
    return list(_WORD.finditer(text))


def _pattern(alias: str) -> tuple[str, int]:
    """The automaton key of an alias and its word count; a trailing * leaves the key open."""
    prefix = alias.endswith("*")
    words = [fold_word(m.group()) for m in _words(alias.removesuffix("*"))]
    if not words:
        raise ValueError(f"gazetteer alias {alias!r} has no letters")
    key = " " + " ".join(words)
    return (key if prefix else key + " "), len(words)


@dataclass
class Gazetteer:
    """Aliases compiled into one automaton, whose keys are `aliases` in order; `names` maps
    each canonical name to its aliases."""

    automaton: ahocorasick_rs.AhoCorasick
    aliases: tuple[_Alias, ...]
    names: dict[tuple[str, str], tuple[str, ...]]

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> Gazetteer:
        keyed: dict[str, _Alias] = {}
        names: dict[tuple[str, str], tuple[str, ...]] = {}
        for kind in KINDS:
            for item in data.get(kind) or []:
                entry = Entry(kind, item["name"], item.get("country"))
                aliases = tuple(dict.fromkeys([entry.name, *item.get("aliases", [])]))
                names[(kind, entry.name)] = aliases
                for alias in aliases:
                    _add_alias(keyed, entry, alias)
        return cls(ahocorasick_rs.AhoCorasick(list(keyed)), tuple(keyed.values()), names)

    def find(self, text: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """Canonical (places, organisations) named in `text`, in order of first mention."""
        found: dict[str, dict[str, None]] = {kind: {} for kind in KINDS}
        entries = _longest_first(self._hits(text))
        for entry in entries:
            found[entry.kind][entry.name] = None
        for entry in entries:
            if entry.country:  # a city brings its country, so place:Tajikistan finds Dushanbe
                found["places"].setdefault(entry.country, None)
        return tuple(found["places"]), tuple(found["organisations"])

    def _hits(self, text: str) -> list[tuple[int, int, Entry]]:
        """(first word, last word, entry) of every alias occurrence."""
        words = _WORD.findall(text)
        if not words:
            return []
        folded = fold_words(words)
        starts = _starts(folded)
        joined = " " + " ".join(folded) + " "
        hits: list[tuple[int, int, Entry]] = []
        spans: list[tuple[int, int]] = []  # where each word is, found only if needed
        found = self.automaton.find_matches_as_indexes(joined, overlapping=True)
        for number, start, _ in found:
            alias = self.aliases[number]
            first = bisect.bisect_left(starts, start)
            last = first + alias.words - 1
            if alias.capitals_only:  # an acronym ("PAM") counts only in capitals
                spans = spans or [m.span() for m in _WORD.finditer(text)]
                if not text[spans[first][0] : spans[last][1]].isupper():
                    continue
            hits.append((first, last, alias.entry))
        return hits


def _starts(folded: list[str]) -> list[int]:
    """Offset of the space before each word in ``" " + " ".join(folded) + " "``."""
    widths = map((1).__add__, map(len, folded))  # each word and the space after it
    return list(accumulate(widths, initial=0))[:-1]


def _add_alias(keyed: dict[str, _Alias], entry: Entry, alias: str) -> None:
    key, count = _pattern(alias)
    capitals = alias.removesuffix("*").isupper()
    existing = keyed.get(key)
    if existing is not None and existing.entry != entry:
        raise ValueError(f"gazetteer alias {alias!r} names both {existing.entry.name!r} "
                         f"and {entry.name!r}")  # fmt: skip
    if existing is not None and not existing.capitals_only:
        return
    keyed[key] = _Alias(entry, count, capitals)


def _longest_first(hits: list[tuple[int, int, Entry]]) -> list[Entry]:
    """Entries of non-overlapping hits, preferring the longest at each position."""
    chosen: list[Entry] = []
    taken_until = -1
    for first, last, entry in sorted(hits, key=lambda h: (h[0], h[0] - h[1])):
        if first > taken_until:
            chosen.append(entry)
            taken_until = last
    return chosen


@cache
def gazetteer(path: Path = GAZETTEER) -> Gazetteer:
    # libyaml's safe loader when PyYAML has it: the same data in a tenth of the time (70 ms)
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    data = yaml.load(path.read_text(encoding="utf-8"), Loader=loader)  # noqa: S506 (safe)
    return Gazetteer.from_data(data)


def find_entities(title: str, text: str, published_at: datetime | None = None) -> Entities:
    """Places, organisations and dates an article names; `published_at` completes dates
    written without a year."""
    places, organisations = find_names(title, text)
    dates = mentioned_dates(text, published_at)
    return Entities(places, organisations, tuple(dates))


def find_names(title: str, text: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The places and organisations an article names, canonical, in order of first mention."""
    return gazetteer().find(f"{title}\n{text}")


def names_for_matching(kind: str, canonical: tuple[str, ...] | list[str]) -> tuple[str, ...]:
    """Every alias of each canonical name, so a rule may name a place in any language."""
    names = gazetteer().names
    found: dict[str, None] = {}
    for name in canonical:
        found.update(dict.fromkeys(names.get((kind, name), (name,))))
    return tuple(found)
