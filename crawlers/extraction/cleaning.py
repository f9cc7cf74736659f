"""Residues trafilatura leaves inside the main text, removed line by line.

Each rule removes a whole line only, never part of a sentence (shortcodes aside, which are
cut out), and only when the line is chrome by its shape: an image file name, a stock phrase of
site furniture, a "see also" cross-reference, a call to subscribe, follow or log in, a label
line (category, tags, photo credit, share buttons, copyright), a line of hashtags only, a
byline date or a date standing alone, or a headline that is the whole text of a link to
another page. Rules that look at a line's first
words only apply to short lines: a long line is a paragraph, whatever its first word. The
wording lives in :mod:`crawlers.extraction.furniture`; lines that recur across a site's articles are
:mod:`crawlers.crawling.sitelines`' job.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from lxml.html import HtmlElement

from crawlers.extraction.furniture import (
    CALL_TO_ACTION,
    CROSS_REFERENCE,
    DATELINE,
    HASHTAG,
    LABEL_LINE,
    LIST_SEPARATORS,
    NETWORKS,
    SHARE_LABEL,
    STOCK_LINES,
)

SHORTCODE = re.compile(r"\[/?[a-z][a-z0-9_-]*(?:[ =-][^\]]*)?\]", re.IGNORECASE)
IMAGE_NAME = re.compile(r"^[\w.-]+\.(?:jpe?g|png|gif|webp|svg|bmp|tiff?)$", re.IGNORECASE)
SLUG_WORD = re.compile(r"^[a-z0-9]+(?:[-_][a-z0-9]+)*$")

WEEKDAYS = (
    "monday|tuesday|wednesday|thursday|friday|saturday|sunday|mon|tue|wed|thu|fri|sat|sun|"
    "понедельник|вторник|среда|четверг|пятница|суббота|воскресенье|"
    "lundi|mardi|mercredi|jeudi|vendredi|samedi|dimanche"
)
MONTHS = (
    "january|february|march|april|may|june|july|august|september|october|november|december|"
    "jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec|"
    "января|февраля|марта|апреля|мая|июня|июля|августа|сентября|октября|ноября|декабря|"
    "janvier|février|mars|avril|mai|juin|juillet|août|septembre|octobre|novembre|décembre"
)
DATE_ONLY = re.compile(
    rf"^(?:(?:{WEEKDAYS})\.?,?\s+)?"
    rf"(?:\d{{1,2}}\s+(?:{MONTHS})\.?,?\s+\d{{4}}|(?:{MONTHS})\.?\s+\d{{1,2}},?\s+\d{{4}}"
    r"|\d{1,2}[./-]\d{1,2}[./-]\d{2,4}|\d{4}-\d{2}-\d{2})"
    r"(?:,?\s+\d{1,2}:\d{2}(?::\d{2})?)?\s*(?:г\.?)?$",
    re.IGNORECASE,
)
DATE_START = re.compile(rf"(?:\d|(?:{WEEKDAYS}|{MONTHS})\b)", re.IGNORECASE)
MAX_HEADLINE = 200
MAX_PROMPT = 250  # a longer line is a paragraph of the article, whatever its first words
MAX_LABEL = 160
IN_PAGE = ("#", "mailto:", "tel:", "javascript:")


def page_context(tree: HtmlElement | None) -> tuple[frozenset[str], frozenset[str]]:
    """Link texts and image names of the page: what a residue line can be compared to."""
    if tree is None:
        return frozenset(), frozenset()
    links = set()
    for anchor in tree.iter("a"):
        if (anchor.get("href") or "").strip().lower().startswith(IN_PAGE):
            continue  # a table of contents or an address points into the article itself
        text = _squash(anchor.text_content())
        if text and len(text) <= MAX_HEADLINE:
            links.add(text.casefold())
    images = set()
    for image in tree.iter("img"):
        for attribute in ("src", "alt", "title"):
            value = (image.get(attribute) or "").strip()
            if value:
                stem = value.rsplit("/", 1)[-1].rsplit(".", 1)[0]
                images.update({value.casefold(), stem.casefold()})
    return frozenset(links), frozenset(images)


def clean_lines(
    lines: Iterable[str],
    *,
    title: str = "",
    link_texts: frozenset[str] = frozenset(),
    image_names: frozenset[str] = frozenset(),
) -> list[str]:
    """The text's lines without residues; line order and every other line kept."""
    kept: list[str] = []
    folded_title = _squash(title).casefold()
    for raw in lines:
        line = _squash(SHORTCODE.sub(" ", raw))
        if not line or is_residue(line, link_texts=link_texts, image_names=image_names):
            continue
        if not kept and folded_title and line.casefold() == folded_title:
            continue  # the title repeated as the first line of the text
        kept.append(line)
    return kept


def is_residue(
    line: str,
    *,
    link_texts: frozenset[str] = frozenset(),
    image_names: frozenset[str] = frozenset(),
) -> bool:
    folded = line.casefold()
    bare = folded.rstrip(" .!?؟:…»>›→")
    if bare in STOCK_LINES or DATE_ONLY.match(line):
        return True
    if len(line) <= MAX_PROMPT and (CROSS_REFERENCE.match(line) or CALL_TO_ACTION.match(line)):
        return True
    if len(line) <= MAX_LABEL and (LABEL_LINE.match(line) or _is_dateline(line)):
        return True
    if _is_tag_list(line) or (len(line) <= MAX_LABEL and _is_share_line(line)):
        return True
    if IMAGE_NAME.match(line) or (folded in image_names and SLUG_WORD.match(folded)):
        return True
    return folded in link_texts and len(line) <= MAX_HEADLINE


def _words_of_list(text: str) -> list[str]:
    return [word.strip(".!…»") for word in LIST_SEPARATORS.split(text) if word.strip(".!…»")]


def _is_hashtag(word: str) -> bool:
    return HASHTAG.fullmatch(word) is not None and any(char.isalpha() for char in word)


def _is_tag_list(line: str) -> bool:
    """Two hashtags or more and nothing else: a tag list, or an embedded post's tags, never
    the article's sentence ("#1" or one "#MeToo" alone may be)."""
    if not line.startswith("#"):
        return False
    words = _words_of_list(line)
    return len(words) >= 2 and all(_is_hashtag(word) for word in words)


def _is_share_line(line: str) -> bool:
    label = SHARE_LABEL.match(line)
    if label is None:
        return False
    words = _words_of_list(line[label.end() :])
    return bool(words) and all(w.casefold() in NETWORKS or _is_hashtag(w) for w in words)


def _is_dateline(line: str) -> bool:
    """A byline keyword followed at once by a date ("Posted on 24 December 2024 by …"), not
    a sentence that starts with the same word ("Published figures show …")."""
    match = DATELINE.match(line)
    return match is not None and DATE_START.match(line[match.end() :]) is not None


def _squash(text: str) -> str:
    return " ".join(text.split())
