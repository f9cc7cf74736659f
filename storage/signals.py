"""Whether two reports tell of one real-world event, from what they say in any language:
the weights and thresholds of cross-language grouping, all in this one module.

The signals (``kind:value`` strings, see crawlers.enrichment.story_signals) are places and
organisations from the gazetteer, dates mentioned, numbers, and people's names compared
across scripts. A false merge silences an alert, which is worse than a duplicate; so the
rules are strict:

- A *veto* comes first. Reports that open on different cities, or whose story happens in
  different countries, or that mention dates with no day in common, are of different events
  whatever else they share: a water conference in Dushanbe the next day, the OSCE's Council
  in Vienna the same day, a CSTO exercise in Kazakhstan the same month.
- Then the shared signals are weighed. A shared date or name is specific; a country is
  background. SAME_EVENT_SCORE needs a city, an organisation and a date and one thing more
  (a number, a name, a second organisation), or a city with a name and numbers; never
  places and organisations alone (the same city, organisation and week are not enough),
  nor a city, an organisation and a day alone (two OSCE meetings in Vienna on one day).
- And at least MIN_KINDS different kinds must agree, so that many numbers alone, or a name
  alone, never suffice.

Candidates are found by an indexed lookup of *anchor keys* (:func:`anchor_keys`): a date
with a place or organisation, a name, a number with a city. A true pair shares one of them;
two reports that share none of them could never reach the score anyway.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta

# What one shared value of each kind weighs, and how many values of a kind count at most.
WEIGHTS = {"city": 2.0, "country": 0.5, "org": 1.5, "date": 2.5, "number": 1.5, "name": 2.0}
MOST_COUNTED = {"city": 1, "country": 1, "org": 2, "date": 2, "number": 3, "name": 2}
SAME_EVENT_SCORE = 7.0  # city 2 + organisation 1.5 + date 2.5 + country 0.5 + 0.5 more
MIN_KINDS = 3  # kinds that must agree, countries aside
PUBLICATION_WINDOW = timedelta(days=3)  # reports of one event are published within days
MAX_ANCHOR_KEYS = 32  # per article: rows of article_signals
MAX_SIGNAL_CANDIDATES = 12  # most anchor keys shared first
_KEY_BITS = 63  # a key fits a signed 64-bit column on every database


@dataclass(frozen=True, slots=True)
class Shared:
    """One signal both reports carry, and what it weighed (0 beyond MOST_COUNTED)."""

    kind: str
    value: str
    weight: float


@dataclass(frozen=True, slots=True)
class Verdict:
    score: float
    shared: tuple[Shared, ...]
    veto: str | None  # why the reports are of different events, if they are

    @property
    def same_event(self) -> bool:
        kinds = {s.kind for s in self.shared if s.weight > 0 and s.kind != "country"}
        return self.veto is None and self.score >= SAME_EVENT_SCORE and len(kinds) >= MIN_KINDS


def by_kind(signals: Iterable[str]) -> dict[str, list[str]]:
    """``kind:value`` strings as lists of values per kind, in their order."""
    found: dict[str, list[str]] = {}
    for signal in signals:
        kind, _, value = signal.partition(":")
        found.setdefault(kind, []).append(value)
    return found


def compare(first: Iterable[str], second: Iterable[str]) -> Verdict:
    """Weigh what two reports share; the veto, if any, says why they cannot be one event."""
    a, b = by_kind(first), by_kind(second)
    veto = _veto(a, b)
    shared: list[Shared] = []
    for kind, weight in WEIGHTS.items():
        common = [v for v in a.get(kind, ()) if v in set(b.get(kind, ()))]
        if kind == "name":  # a name in a cased script against an Arabic word, either way
            common += [v for v in a.get("name", ()) if v in set(b.get("word", ()))]
            common += [v for v in a.get("word", ()) if v in set(b.get("name", ()))]
        days: list[date] = []  # the shared days counted: one range ("12-13 March") counts once
        taken = 0
        for value in dict.fromkeys(common):
            fresh = kind != "date" or not _next_to(value, days)
            counted = weight if fresh and taken < MOST_COUNTED[kind] else 0.0
            if counted:
                taken += 1
                if kind == "date" and (day := _day(value)) is not None:
                    days.append(day)
            shared.append(Shared(kind, value, counted))
    return Verdict(sum(s.weight for s in shared), tuple(shared), veto)


def _day(value: str) -> date | None:
    try:
        return date.fromisoformat(value)
    except ValueError:  # not a day (no producer writes one): counted as itself
        return None


def _next_to(value: str, days: list[date]) -> bool:
    day = _day(value)
    return day is not None and any(abs((day - other).days) == 1 for other in days)


def veto(first: Iterable[str], second: Iterable[str]) -> str | None:
    """Why two reports cannot be one event, whatever else joins them (the same title, most
    of their words), if they cannot."""
    return _veto(by_kind(first), by_kind(second))


def _veto(a: dict[str, list[str]], b: dict[str, list[str]]) -> str | None:
    if a.get("city") and b.get("city") and a["city"][0] != b["city"][0]:
        return f"opens on {a['city'][0]}, not {b['city'][0]}"
    if a.get("where") and b.get("where") and a["where"][0] != b["where"][0]:
        return f"happens in {a['where'][0]}, not {b['where'][0]}"
    if a.get("date") and b.get("date") and not set(a["date"]) & set(b["date"]):
        return "no mentioned day in common"
    return None


def anchor_keys(signals: Iterable[str]) -> list[int]:
    """The lookup keys of a report: a date with each of its first places and organisations,
    each name, each number with its first city."""
    kinds = by_kind(signals)
    anchors = [*kinds.get("city", ())[:2], *kinds.get("org", ())[:3]]
    combined = [f"{day}|{anchor}" for day in kinds.get("date", ())[:4] for anchor in anchors]
    combined += [f"name|{name}" for name in kinds.get("name", ())]
    combined += [f"{n}|{city}" for n in kinds.get("number", ())[:6] for city in anchors[:1]]
    return list(dict.fromkeys(_key(text) for text in combined[:MAX_ANCHOR_KEYS]))


def _key(text: str) -> int:
    digest = hashlib.blake2b(text.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") >> (64 - _KEY_BITS)
