"""Snippets: the text around what a rule found, cut between words, one per stretch of text."""

from __future__ import annotations

import re
from collections.abc import Iterable

SNIPPET_CONTEXT = 80
_SPACE = re.compile(r"\s")
_THROUGH_LAST_SPACE = re.compile(r".*\s", re.DOTALL)
_UNEVEN_SPACE = re.compile(r"\s\s|[^\S ]")


def snippet(text: str, start: int, end: int, context: int = SNIPPET_CONTEXT) -> str:
    """`text[start:end]` with up to `context` characters each side, cut between words."""
    left = max(0, start - context)
    if left > 0 and not text[left - 1].isspace():
        space = _SPACE.search(text, left, start)
        left = space.end() if space else left
    right = min(len(text), end + context)
    if right < len(text) and not text[right].isspace():
        through_last_space = _THROUGH_LAST_SPACE.match(text, end, right)
        right = through_last_space.end() - 1 if through_last_space else right
    body = text[left:right]
    # Most snippets hold single spaces only: then trimming the ends is all normalising does.
    body = " ".join(body.split()) if _UNEVEN_SPACE.search(body) else body.strip()
    return ("…" if left > 0 else "") + body + ("…" if right < len(text) else "")


def merged_spans(
    spans: Iterable[tuple[int, int]], context: int = SNIPPET_CONTEXT
) -> list[tuple[int, int]]:
    """`spans` in text order, those whose snippets would overlap joined into one: two terms
    of one sentence give one snippet, not two that repeat it."""
    joined: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if joined and start - context <= joined[-1][1] + context:
            joined[-1] = (joined[-1][0], max(joined[-1][1], end))
        else:
            joined.append((start, end))
    return joined
