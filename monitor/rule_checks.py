"""Rules that say what they mean: a query that parses but cannot do what its writer meant is
named in one line, with what to write instead.

Three slips a new user makes: ``and`` in lower case (read as a word to find), a place or
organisation the gazetteer does not know (``place:Narnia`` can never match), and a mistyped
rule name given to ``rules test`` (run as a query that finds nothing).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from pathlib import Path

from crawlers.enrichment.entities import GAZETTEER, gazetteer
from monitor.rules import (
    RuleSyntaxError,
    Term,
    field_lookalikes,
    operator_lookalikes,
    parse_query,
    query_terms,
)

GAZETTEER_KINDS = {"place": "places", "org": "organisations"}
_RULE_NAME = re.compile(r"[\w.-]+")


def operator_warnings(rule: str, query: str) -> list[str]:
    """One line per lower-case ``and``/``or``/``not``, which the parser reads as a word, and
    per ``name:`` that is no field (``text:Dushanbe``), read as the words "text dushanbe"."""
    return [
        f"rule {rule!r}: position {column}: {word!r} is read as a word to find; "
        f"write {word.upper()} to combine terms"
        for column, word in operator_lookalikes(query)
    ] + [
        f"rule {rule!r}: position {column}: {name}: is no field, and is read as a word to "
        f"find; the fields are {', '.join(f + ':' for f in FIELDS)}"
        for column, name in field_lookalikes(query)
    ]


FIELDS = ("title", "place", "org")


def unknown_names(rule: str, query: str, own: Path | None = None) -> list[str]:
    """One line per ``place:``/``org:`` name the gazetteer (with the user's ``own`` file)
    does not know: such a term can never match. A query that does not parse gives none
    (its syntax error is reported on its own)."""
    try:
        tree = parse_query(query, rule)
    except RuleSyntaxError:
        return []
    problems = []
    for term in query_terms(tree):
        if term.entity is None:
            continue
        known = gazetteer(GAZETTEER, own).known(GAZETTEER_KINDS[term.entity])
        if " ".join(term.words) not in known:
            problems.append(
                f"rule {rule!r}: position {term.position}: {term.text} is not in the "
                f"gazetteer, so it can never match{_suggestion(term, known)}"
            )
    return problems


def _suggestion(term: Term, known: dict[str, str]) -> str:
    close = difflib.get_close_matches(" ".join(term.words), list(known), n=1, cutoff=0.8)
    if not close:
        return "; add it to a gazetteer of your own (config key gazetteer)"
    name = known[close[0]]
    shown = f'"{name}"' if " " in name else name
    return f" (did you mean {term.entity}:{shown}?)"


def unknown_rule(query: str, rule_names: Iterable[str]) -> str | None:
    """``no rule named …; did you mean …?`` when `query` is no rule's name but looks like a
    mistyped one: a single word close to a rule's name."""
    names = list(rule_names)
    if query in names or not _RULE_NAME.fullmatch(query):
        return None
    close = difflib.get_close_matches(query, names, n=1, cutoff=0.75)
    if not close:
        return None
    return (
        f"no rule named {query!r}; did you mean {close[0]!r}? To test the word itself, "
        f'quote it: "{query}"'
    )
