"""Places and organisations named in an article, found with the project's gazetteer.

The gazetteer (``crawlers/enrichment/gazetteer.yaml``) is data analysts can maintain:
canonical names with aliases in several languages. Every alias is folded as rules fold words
(storage.textfold) and looked up on whole words in one Aho-Corasick pass over the article, so the
cost does not grow with the number of aliases. Where aliases overlap ("OSCE" inside "OSCE PA") the
longest wins. Capitalised acronyms only match capitals, so French "un" is never the UN.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

import ahocorasick_rs
import yaml

from crawlers.extraction.mentioned_dates import MentionedDate, mentioned_dates
from storage.textfold import Words, tokens

GAZETTEER = Path(__file__).with_name("gazetteer.yaml")
KINDS = ("places", "organisations")


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
    signals: tuple[
        str, ...
    ] = ()  # what it says in any language (crawlers.enrichment.story_signals)


@dataclass(frozen=True, slots=True)
class _Alias:
    entry: Entry
    words: int
    capitals_only: bool


def _pattern(alias: str) -> tuple[str, int]:
    """The automaton key of an alias and its word count; a trailing * leaves the key open."""
    prefix = alias.endswith("*")
    words = [token.word for token in tokens(alias.removesuffix("*"))]
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

    def known(self, kind: str) -> dict[str, str]:
        """Every name of `kind` a rule may give, folded (words joined by spaces), with the
        canonical name it stands for; for places, the countries that cities name too."""
        found: dict[str, str] = {}
        for (entry_kind, name), aliases in self.names.items():
            if entry_kind == kind:
                for alias in aliases:
                    found.setdefault(_folded(alias), name)
        if kind == "places":
            for country in {known.entry.country for known in self.aliases}:
                if country:
                    found.setdefault(_folded(country), country)
        return found

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
        words = Words(text)
        hits: list[tuple[int, int, Entry]] = []
        found = self.automaton.find_matches_as_indexes(words.joined, overlapping=True)
        for number, start, _ in found:
            alias = self.aliases[number]
            if alias.capitals_only:  # an acronym ("PAM") counts only in capitals
                begin, end = words.span(start, alias.words)
                if not text[begin:end].isupper():
                    continue
            first = words.number(start)
            hits.append((first, first + alias.words - 1, alias.entry))
        return hits


def _folded(name: str) -> str:
    return " ".join(token.word for token in tokens(name.removesuffix("*")))


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


def read_gazetteer(path: Path) -> Any:
    """The data of a gazetteer file (the shipped one or a user's), unchecked."""
    # libyaml's safe loader when PyYAML has it: the same data, loaded far faster
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    return yaml.load(path.read_text(encoding="utf-8"), Loader=loader)  # noqa: S506 (safe)


def merged(shipped: dict[str, Any], own: dict[str, Any]) -> dict[str, Any]:
    """The shipped entries with a user's own: an entry of the same kind and name replaces the
    shipped one whole, and the others are added."""
    data: dict[str, Any] = {}
    for kind in KINDS:
        entries = {item["name"]: item for item in shipped.get(kind) or []}
        entries.update({item["name"]: item for item in own.get(kind) or []})
        data[kind] = list(entries.values())
    return data


@cache
def gazetteer(path: Path = GAZETTEER, own: Path | None = None) -> Gazetteer:
    """The shipped gazetteer, with the entries of the user's file ``own`` if given."""
    data = read_gazetteer(path)
    if own is not None:
        data = merged(data, read_gazetteer(own) or {})
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


def names_for_matching(
    kind: str, canonical: tuple[str, ...] | list[str], own: Path | None = None
) -> tuple[str, ...]:
    """Every alias of each canonical name, so a rule may name a place in any language."""
    names = gazetteer(GAZETTEER, own).names
    found: dict[str, None] = {}
    for name in canonical:
        found.update(dict.fromkeys(names.get((kind, name), (name,))))
    return tuple(found)
