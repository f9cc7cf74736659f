"""Fold text and split it into words: the one folding behind rules, the gazetteer and
near-duplicate keys, so a word compares alike across case, diacritics and scripts everywhere.

Queries and articles go through the same `fold`, so a rule written as ``geneve`` finds
"Genève", ``терроризм`` finds "ТЕРРОРИЗМ" and ``الإرهاب`` finds the word with or without
harakat. `tokens` keeps each word's offsets in the original text for snippets.

It sits in `storage`, the lowest layer, because all three users must import it: monitor's
rules, crawlers' gazetteer and storage's near-duplicate keys. It is pure text handling and
loads no database code, so extraction workers import it cheaply.
"""

from __future__ import annotations

import bisect
import operator
import re
import unicodedata
from collections.abc import Iterator
from functools import cache, lru_cache
from itertools import accumulate, chain, count, filterfalse
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
        **dict.fromkeys("\u2018\u2019\u201b\u02bb\u02bc\u2032\uff07`", "'"),
        **dict.fromkeys("\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe58\ufe63\uff0d", "-"),
    }
)


class Token(NamedTuple):
    """One folded word and where it stands in the original text (``text[start:end]``)."""

    word: str
    start: int
    end: int


def fold(text: str) -> str:
    """Return `text` in the one form used for matching: NFKC, casefolded, apostrophes and
    dashes made one each, without accents, harakat or tatweel, kana voicing marks kept.

    Every step is one C-level pass over the string, as `Words` folds an article's words in one
    call; the punctuation table (slow for text beyond ASCII) is applied only where needed.
    """
    folded = unicodedata.normalize("NFKC", text).casefold()
    if "ı" in folded:  # Turkish dotless i: "I" and "İ" both fold to "i", so it must too
        folded = folded.replace("ı", "i")
    if _punctuation_found().search(folded):
        folded = folded.translate(_PUNCTUATION)
    decomposed = unicodedata.normalize("NFD", folded)
    kept = _dropped_bmp_marks().sub("", decomposed)
    if _astral().search(kept):  # rare (emoji, old scripts): character by character
        kept = _astral().sub(_kept_astral, kept)
    return unicodedata.normalize("NFC", kept)


def _is_dropped(char: str) -> bool:
    if char == TATWEEL:
        return True
    return unicodedata.category(char) in ("Mn", "Me") and char not in _KEPT_MARKS


def _kept_astral(match: re.Match[str]) -> str:
    return "" if _is_dropped(match.group()) else match.group()


@cache
def _punctuation_found() -> re.Pattern[str]:
    return re.compile(f"[{re.escape(''.join(map(chr, _PUNCTUATION)))}]")


@cache
def _dropped_bmp_marks() -> re.Pattern[str]:
    """What `_is_dropped` drops below U+10000, as one class: astral ranges in a class are
    tried one by one at every character, so those marks are found apart (see `fold`)."""
    codes = [code for code in _marks() if code < 0x10000 and _is_dropped(chr(code))]
    return re.compile(f"[{_ranges(sorted([*codes, ord(TATWEEL)]))}]+")


@cache
def _astral() -> re.Pattern[str]:
    return re.compile("[\\U00010000-\\U0010ffff]")


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
    """The folded words of one run. Articles repeat their words (Zipf), and folding is
    three Unicode normalisations, so each distinct run is folded once."""
    if run.isascii():
        return (run.lower(),)  # NFKC and accents change nothing in ASCII letters and digits
    return tuple(_word_pattern().findall(fold(run)))


def words(text: str) -> list[str]:
    """The folded words of `text`, in order."""
    joined, _ = _latin1_words(text) or _any_words(text)
    return joined.split(" ") if joined else []


class Words:
    """A text's folded words as one string, ``" w1 w2 … wn "``, for an automaton to scan, and
    the way back from offsets in that string to offsets in the original text.

    Built with C-level calls only: the spans of the words are worked out only when a snippet
    needs them.
    """

    def __init__(self, text: str) -> None:
        self.text = text
        words, self._simple = _latin1_words(text) or _any_words(text)
        self.joined = " " + words + " "
        self._starts: list[int] = []
        self._spans: list[tuple[int, int]] = []

    def number(self, offset: int) -> int:
        """The number of the word whose leading space is at `offset` in `joined`."""
        if not self._starts:
            self._locate()
        return bisect.bisect_left(self._starts, offset)

    def span(self, offset: int, count: int) -> tuple[int, int]:
        """Where the `count` words starting at `offset` in `joined` (the space before the
        first) stand in the original text."""
        first = self.number(offset)
        return self._spans[first][0], self._spans[first + count - 1][1]

    def _locate(self) -> None:
        """Work out, once, where each word starts in `joined` and stands in the text."""
        if self._simple:  # word i is run i
            words = self.joined[1:-1].split(" ")
            self._spans = list(map(re.Match.span, _run_matches(self.text)))
        else:  # a run folded into several words, or none: word by word
            found = tokens(self.text)
            words = [token.word for token in found]
            self._spans = [(token.start, token.end) for token in found]
        # The leading space of word i sits after i earlier words and their i spaces.
        self._starts = list(map(operator.add, accumulate(map(len, words), initial=0), count()))


def _latin1_words(text: str) -> tuple[str, bool] | None:
    """The folded words of `text` and whether each run folded into one word, if all its
    letters, digits and marks are Latin-1 (most European text; else None).

    Then one byte table folds the text: no Latin-1 character composes or reorders with its
    neighbours, so each folds as it would alone, and the characters beyond Latin-1, all
    separators then, can be encoded as ``?``, another. A few C-level passes replace finding
    the runs and folding them.
    """
    if _beyond_latin1().search(text):
        return None
    table, expanded = _latin1_folds()
    folded = text.encode("latin-1", "replace").translate(table).decode("latin-1")
    simple = True
    for char, words in expanded.items():
        if char in folded:
            folded = folded.replace(char, words)
            simple = simple and len(words.split()) == 1
    return " ".join(folded.split()), simple


@cache
def _latin1_folds() -> tuple[bytes, dict[str, str]]:
    """A byte table that folds a Latin-1 letter or digit and turns any other byte into a
    space, and the letters and digits that fold into more than one byte: ß, µ, ¼, ½, ¾
    (the table leaves those as they are, and they become their folded words)."""
    table = bytearray(b" " * 256)
    expanded: dict[str, str] = {}
    regular = set(_flat_word_codes())
    for code in regular & set(range(256)):
        folded = fold(chr(code))
        if len(folded) == 1 and ord(folded) < 256 and ord(folded) in regular:
            table[code] = ord(folded)
        else:
            table[code] = code
            expanded[chr(code)] = " ".join(_word_pattern().findall(folded))
    return bytes(table), expanded


@cache
def _beyond_latin1() -> re.Pattern[str]:
    """A letter, digit or mark beyond Latin-1, or an astral character."""
    codes = [code for code in _flat_word_codes() if code > 0xFF]
    return re.compile(f"[{_ranges(codes)}\\U00010000-\\U0010ffff]")


def _any_words(text: str) -> tuple[str, bool]:
    """The folded words of `text` and whether each run folded into one word, in any script:
    ASCII runs are lowered, and the others folded together (see `_fold_runs`)."""
    runs = _runs(text)
    non_ascii = list(dict.fromkeys(filterfalse(str.isascii, runs)))
    if not non_ascii:
        return " ".join(runs).lower(), True
    folded, simple = _fold_runs(non_ascii)
    each = map(folded.get, runs, map(str.lower, runs))
    return " ".join(each if simple else _runs("\n".join(each))), simple


def _fold_runs(runs: list[str]) -> tuple[dict[str, str], bool]:
    """Each of `runs` (distinct, not ASCII) folded, and whether each folded into one word.

    All are folded in one `fold` call, joined by newlines: a newline never composes, changes
    case or is a word character, so each run folds as it would alone, and a text costs a few
    C-level passes instead of a Python call per word.
    """
    if not runs:
        return {}, True
    folded = fold("\n".join(runs))
    return dict(zip(runs, folded.split("\n"), strict=True)), _one_word_per_line(folded)


def _one_word_per_line(folded: str) -> bool:
    """Whether every line of `folded` is one whole word, as `_runs` would find it."""
    if not folded or folded[0] == "\n" or folded[-1] == "\n" or "\n\n" in folded:
        return False
    return not _irregular().search(folded)


def _run_matches(text: str) -> Iterator[re.Match[str]]:
    """The runs of `text`, as `_word_pattern` finds them, with a cheaper pattern where it can.

    The full pattern pays for its alternation and its astral mark ranges at every character.
    Text without Han, kana or astral characters (most text) gets one flat class instead.
    """
    if _slow_path_needed().search(text):
        return _word_pattern().finditer(text)
    return _flat_pattern().finditer(text)  # the astral range is never used here


def _runs(text: str) -> list[str]:
    """What `_run_matches` finds, as strings, without a pass to choose the pattern: the flat
    one takes astral characters in too, so Han, kana and those can only be in the runs it finds
    beyond ASCII, few in most text. (Han or kana punctuation outside the runs changes nothing:
    both patterns leave it out.)"""
    runs = _flat_pattern().findall(text)
    if _slow_path_needed().search("".join(filterfalse(str.isascii, runs))):
        return _word_pattern().findall(text)
    return runs


# The classes below are written out as BMP ranges: such a class costs one table look-up per
# character, where ``\w`` costs several Unicode-database look-ups and each astral range a
# comparison. They run over every article, several times.


@cache
def _slow_path_needed() -> re.Pattern[str]:
    """Han, kana or an astral character: any character outside the other BMP ones."""
    ideographic = _ideographic_codes()
    return re.compile(f"[^{_ranges([code for code in range(0x10000) if code not in ideographic])}]")


@cache
def _flat_pattern() -> re.Pattern[str]:
    """A run of word characters, if the text has none that `_slow_path_needed` finds, and of
    any astral characters (one range costs nothing): see `_runs`."""
    return re.compile(f"[{_ranges(_flat_word_codes())}\\U00010000-\\U0010ffff]+")


@cache
def _irregular() -> re.Pattern[str]:
    """Any character but a newline and the BMP letters, digits and marks other than Han
    and kana: what tells that folding did not keep one word per run."""
    ideographic = _ideographic_codes()
    regular = [code for code in _flat_word_codes() if code not in ideographic]
    return re.compile(f"[^\\n{_ranges(regular)}]")


@cache
def _flat_word_codes() -> list[int]:
    """The BMP code points that `_word_pattern` takes into a run: ``\\w`` (but ``_``, which is
    no letter) and marks."""
    word = f"\\w{_ranges([code for code in _marks() if code < 0x10000])}"
    return [code for code in _bmp_codes(word) if code != ord("_")]


@cache
def _ideographic_codes() -> frozenset[int]:
    return frozenset(_bmp_codes(_IDEOGRAPHIC))


def _bmp_codes(body: str) -> list[int]:
    """The BMP code points in the character class `body`."""
    everything = "".join(map(chr, range(0x10000)))
    spans = (match.span() for match in re.finditer(f"[{body}]+", everything))
    return [code for start, end in spans for code in range(start, end)]


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
