"""Residues trafilatura leaves inside the main text, removed line by line.

Each rule removes a whole line only, never part of a sentence, and only when the line is
chrome by its shape: a shortcode, an image file name, a stock phrase of site furniture, a
date standing alone, or a headline that is the whole text of a link elsewhere on the page.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from lxml.html import HtmlElement

SHORTCODE = re.compile(r"\[/?[a-z][a-z0-9_-]*(?:[ =-][^\]]*)?\]", re.IGNORECASE)
IMAGE_NAME = re.compile(r"^[\w.-]+\.(?:jpe?g|png|gif|webp|svg|bmp|tiff?)$", re.IGNORECASE)
SLUG_WORD = re.compile(r"^[a-z0-9]+(?:[-_][a-z0-9]+)*$")

# Site furniture in the languages of the sources; compared after case folding, trailing
# punctuation removed.
STOCK_LINES = frozenset(
    line.casefold()
    for line in (
        "Comments are closed",
        "Comments are off",
        "Leave a reply",
        "Leave a comment",
        "You must be logged in to post a comment",
        "Log in to comment",
        "Please log in",
        "All news",
        "All articles",
        "More news",
        "Read more",
        "Read also",
        "Related news",
        "Related articles",
        "Related posts",
        "Share",
        "Share this",
        "Share this article",
        "Print",
        "Print this page",
        "Main menu",
        "Menu",
        "Back to top",
        "Tags",
        "Toutes les actualités",
        "Lire aussi",
        "Lire la suite",
        "Partager",
        "Imprimer",
        "Все новости",
        "Читайте также",
        "Читать далее",
        "Поделиться",
        "Авторизуйтесь, пожалуйста",
        "Авторизуйтесь",
        "Войти",
        "Версия для печати",
        "Комментарии закрыты",
        "جميع الأخبار",
        "اقرأ أيضا",
        "اقرأ المزيد",
        "شارك",
    )
)

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
MAX_HEADLINE = 200


def page_context(tree: HtmlElement | None) -> tuple[frozenset[str], frozenset[str]]:
    """Link texts and image names of the page: what a residue line can be compared to."""
    if tree is None:
        return frozenset(), frozenset()
    links = set()
    for anchor in tree.iter("a"):
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
    bare = folded.rstrip(" .!:…»>›→")
    if bare in STOCK_LINES or DATE_ONLY.match(line):
        return True
    if IMAGE_NAME.match(line) or (folded in image_names and SLUG_WORD.match(folded)):
        return True
    return folded in link_texts and len(line) <= MAX_HEADLINE


def _squash(text: str) -> str:
    return " ".join(text.split())
