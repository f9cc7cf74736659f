"""Fold text and split it into words, so rules match across case, diacritics and scripts.

Queries and articles go through the same `fold`, so a rule written as ``geneve`` finds
"Genève", ``терроризм`` finds "ТЕРРОРИЗМ" and ``الإرهاب`` finds the word with or without
harakat. `tokens` keeps each word's offsets in the original text for snippets.
"""

from __future__ import annotations

import bisect
import operator
import re
import unicodedata
from collections.abc import Iterator
from functools import cache, lru_cache
from itertools import accumulate, chain, count
from typing import NamedTuple

TATWEEL = "\u0640"
# Kana voicing marks change the word (か/が), so they are kept; other nonspacing marks are
# accents, harakat, niqqud and the like, which writers often leave out.
_KEPT_MARKS = frozenset("\u3099\u309a")
# Scripts written without spaces between words: Han (with extensions) and kana.
_IDEOGRAPHIC = (
    "\u3040-\u30ff\u31f0-\u31ff"  # kana
    "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f"  # Han
)
_PUNCTUATION = str.maketrans(
    {
        **dict.fromkeys("\u2018\u2019\u201b\u02bc\u2032\uff07`", "'"),
        **dict.fromkeys("\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe58\ufe63\uff0d", "-"),
    }
)


class Token(NamedTuple):
    """One folded word and where it stands in the original text (``text[start:end]``)."""

    word: str
    start: int
    end: int


def fold(text: str) -> str:
    """Return `text` in the one form used for matching: NFKC, casefolded, without accents."""
    folded = unicodedata.normalize("NFKC", text).casefold().translate(_PUNCTUATION)
    decomposed = unicodedata.normalize("NFD", folded)
    kept = "".join(char for char in decomposed if not _is_dropped(char))
    return unicodedata.normalize("NFC", kept)


def _is_dropped(char: str) -> bool:
    if char == TATWEEL:
        return True
    return unicodedata.category(char) in ("Mn", "Me") and char not in _KEPT_MARKS


def tokens(text: str) -> list[Token]:
    """Split `text` into folded words: runs of letters and digits, marks kept with their base."""
    found: list[Token] = []
    for run in _run_matches(text):
        # Folding can turn one run into several words ("½" → "1⁄2"); each keeps the run's span.
        start, end = run.span()
        for word in _folded_words(run.group()):
            found.append(Token(word, start, end))
    return found


@lru_cache(maxsize=1 << 14)
def _folded_words(run: str) -> tuple[str, ...]:
    """The folded words of one run. Articles repeat their words (Zipf), and three Unicode
    normalisations per word dominated matching, so each distinct run is folded once."""
    if run.isascii():
        return (run.lower(),)  # NFKC and accents change nothing in ASCII letters and digits
    return tuple(_word_pattern().findall(fold(run)))


@lru_cache(maxsize=1 << 14)
def _folded_run(run: str) -> str:
    return " ".join(_folded_words(run))


class Words:
    """A text's folded words as one string, ``" w1 w2 … wn "``, for an automaton to scan, and
    the way back from offsets in that string to offsets in the original text.

    Built with C-level calls only (findall, a cached fold per distinct run, join): the spans
    of the words are worked out only when a snippet needs them.
    """

    def __init__(self, text: str) -> None:
        self.text = text
        runs = _runs(text)
        folded = list(map(_folded_run, runs))
        simple = "" not in folded  # a run of marks alone folds to nothing
        if not simple:
            folded = [words for words in folded if words]
        self.joined = " " + " ".join(folded) + " "
        self._words = folded if simple and self.joined.count(" ") == len(runs) + 1 else None
        self._starts: list[int] = []
        self._spans: list[tuple[int, int]] = []

    def span(self, offset: int, count: int) -> tuple[int, int]:
        """Where the `count` words starting at `offset` in `joined` (the space before the
        first) stand in the original text."""
        if not self._starts:
            self._locate()
        first = bisect.bisect_left(self._starts, offset)
        return self._spans[first][0], self._spans[first + count - 1][1]

    def _locate(self) -> None:
        """Work out, once, where each word starts in `joined` and stands in the text."""
        words = self._words
        if words is None:  # a run folded into several words, or none: word by word
            found = tokens(self.text)
            words = [token.word for token in found]
            self._spans = [(token.start, token.end) for token in found]
        else:
            self._spans = list(map(re.Match.span, _run_matches(self.text)))
        # The leading space of word i sits after i earlier words and their i spaces.
        self._starts = list(map(operator.add, accumulate(map(len, words), initial=0), count()))


def _run_matches(text: str) -> Iterator[re.Match[str]]:
    """The runs of `text`, as `_word_pattern` finds them, ten times faster where it can.

    The full pattern pays for its alternation and its astral mark ranges at every character.
    Text without Han, kana or astral characters (most text) gets one flat class of word
    characters and BMP marks instead, with ``_`` blanked out (it is ``\\w``, but no letter).
    """
    if _slow_path_needed().search(text):
        return _word_pattern().finditer(text)
    return _flat_pattern().finditer(text.replace("_", " "))


def _runs(text: str) -> list[str]:
    """What `_run_matches` finds, as strings."""
    if _slow_path_needed().search(text):
        return _word_pattern().findall(text)
    return _flat_pattern().findall(text.replace("_", " "))


@cache
def _slow_path_needed() -> re.Pattern[str]:
    return re.compile(f"[{_IDEOGRAPHIC}\U00010000-\U0010ffff]")


@cache
def _flat_pattern() -> re.Pattern[str]:
    return re.compile(f"[\\w{_ranges([code for code in _marks() if code < 0x10000])}]+")


@cache
def _marks() -> list[int]:
    codepoints = chain(range(0x20000), range(0xE0100, 0xE01F0))
    return [code for code in codepoints if unicodedata.category(chr(code)).startswith("M")]


@cache
def _word_pattern() -> re.Pattern[str]:
    """Letters and digits plus combining marks: ``\\w`` alone splits "e\\u0301" and harakat.

    Han and kana are written without spaces, so each of those characters is a word of its own
    and a query such as ``東京`` matches as a phrase of two characters.
    """
    mark = f"[{_ranges(_marks())}]"
    single = f"(?=[^\\W_])[{_IDEOGRAPHIC}]{mark}*"
    return re.compile(f"{single}|(?:(?![{_IDEOGRAPHIC}])[^\\W_]|{mark})+")


def _ranges(codes: list[int]) -> str:
    """Write sorted code points as a regex character-class body of ranges."""
    parts: list[str] = []
    start = previous = codes[0]
    for code in [*codes[1:], -1]:
        if code == previous + 1:
            previous = code
            continue
        parts.append(
            re.escape(chr(start)) + ("" if start == previous else "-" + re.escape(chr(previous)))
        )
        start = previous = code
    return "".join(parts)
