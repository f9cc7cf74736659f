"""Fold text and split it into words, so rules match across case, diacritics and scripts.

Queries and articles go through the same `fold`, so a rule written as ``geneve`` finds
"Genève", ``терроризм`` finds "ТЕРРОРИЗМ" and ``الإرهاب`` finds the word with or without
harakat. `tokens` keeps each word's offsets in the original text for snippets.
"""

from __future__ import annotations

import re
import unicodedata
from functools import cache
from itertools import chain
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
    words = _word_pattern()
    found: list[Token] = []
    for run in words.finditer(text):
        # Folding can turn one run into several words ("½" → "1⁄2"); each keeps the run's span.
        found.extend(
            Token(word, run.start(), run.end()) for word in words.findall(fold(run.group()))
        )
    return found


@cache
def _word_pattern() -> re.Pattern[str]:
    """Letters and digits plus combining marks: ``\\w`` alone splits "e\\u0301" and harakat.

    Han and kana are written without spaces, so each of those characters is a word of its own
    and a query such as ``東京`` matches as a phrase of two characters.
    """
    codepoints = chain(range(0x20000), range(0xE0100, 0xE01F0))
    marks = [code for code in codepoints if unicodedata.category(chr(code)).startswith("M")]
    mark = f"[{_ranges(marks)}]"
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
