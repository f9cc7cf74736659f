"""Generated keyword rules for the matching benchmark: terms, phrases, prefixes and boolean
queries drawn from the words of real articles, so many rules have a chance to fire."""

from __future__ import annotations

import random
import re
from collections import Counter
from collections.abc import Iterable

from monitor.rules import RuleSpec

_WORD = re.compile(r"[^\W\d_]{3,}")
_COMMON = 300  # the most frequent words are skipped: nobody alerts on "the" or "said"


def vocabulary(texts: Iterable[str], size: int = 20_000) -> list[str]:
    """Words of the articles, most frequent first, minus the very commonest."""
    counts = Counter(word.lower() for text in texts for word in _WORD.findall(text))
    ranked = [word for word, _ in counts.most_common(size + _COMMON)]
    return ranked[_COMMON:] or ranked


def rules(words: list[str], count: int, seed: int = 6) -> list[RuleSpec]:
    """`count` rules: a quarter single terms, a quarter phrases, half boolean queries."""
    pick = random.Random(seed)
    makers = (_single, _phrase, _boolean, _boolean)
    return [RuleSpec(f"rule-{n}", makers[n % len(makers)](pick, words)) for n in range(count)]


def _word(pick: random.Random, words: list[str]) -> str:
    # A fifth from the 2,000 most frequent words (topics that do get written about), the rest
    # from the long tail (names and places), as real alert rules are.
    top = min(len(words), 2_000)
    return words[pick.randrange(top)] if pick.random() < 0.2 else pick.choice(words)


def _single(pick: random.Random, words: list[str]) -> str:
    word = _word(pick, words)
    # A prefix stands for a stem and its endings (terror* for terrorism, terrorists).
    stem = word[: max(5, len(word) - 3)]
    return f"{stem}*" if pick.random() < 0.2 and len(word) > 6 else word


def _phrase(pick: random.Random, words: list[str]) -> str:
    return '"' + " ".join(_word(pick, words) for _ in range(pick.choice((2, 2, 3)))) + '"'


def _boolean(pick: random.Random, words: list[str]) -> str:
    first, second, third, fourth = (_single(pick, words) for _ in range(4))
    shapes = (
        f"{first} AND ({second} OR {third})",
        f"({first} OR {_phrase(pick, words)}) AND NOT {fourth}",
        f"title:{first} OR ({second} {third})",
        f"{first} {second} NOT ({third} OR {fourth})",
    )
    return pick.choice(shapes)
