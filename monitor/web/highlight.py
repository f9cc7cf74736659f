"""The words a rule matched, marked in a report's text as the page shows it."""

from __future__ import annotations

from collections.abc import Iterable

from markupsafe import Markup, escape

from storage.textfold import Token, tokens

_SCOPES = ("title:", "place:", "org:")


def _term_words(term: str) -> tuple[tuple[str, ...], bool] | None:
    """A matched term as folded words and whether its last word is a prefix; None for a
    name (``place:``, ``org:``), which is not a place in the text."""
    if term.startswith(("place:", "org:")):
        return None
    text = term.removeprefix("title:").strip('"').strip()
    prefix = text.endswith("*")
    words = tuple(token.word for token in tokens(text.removesuffix("*")))
    return (words, prefix) if words else None


def _holds(found: list[Token], at: int, words: tuple[str, ...], prefix: bool) -> bool:
    if at + len(words) > len(found):
        return False
    for number, word in enumerate(words):
        have = found[at + number].word
        last = number == len(words) - 1
        if not (have.startswith(word) if last and prefix else have == word):
            return False
    return True


def spans(text: str, terms: Iterable[str]) -> list[tuple[int, int]]:
    """Where the terms stand in ``text``, in order, never overlapping."""
    wanted = [w for w in map(_term_words, terms) if w is not None]
    found = tokens(text)
    marked: list[tuple[int, int]] = []
    at = 0
    while at < len(found):
        length = next((len(w) for w, p in wanted if _holds(found, at, w, p)), 0)
        if length:
            marked.append((found[at].start, found[at + length - 1].end))
            at += length
        else:
            at += 1
    return marked


def highlight(text: str, terms: Iterable[str]) -> Markup:
    """``text`` escaped, with each term found wrapped in ``<mark>``."""
    pieces: list[str] = []
    last = 0
    for start, end in spans(text, terms):
        pieces += [escape(text[last:start]), Markup("<mark>"), escape(text[start:end])]
        pieces.append(Markup("</mark>"))
        last = end
    pieces.append(escape(text[last:]))
    return Markup("").join(pieces)
