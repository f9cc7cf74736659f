"""Everything about a page that needs only the page: the work an extraction worker does.

The crawl process keeps what needs the crawl's state: the source's recurring lines
(:mod:`crawlers.sitelines`) and storing. When stripping those lines changes the text, the
parts that depend on it are computed again there; on most pages it changes nothing.
trafilatura is imported with the first page prepared, not with this module: a crawl process
whose workers extract only reads what they send back.
"""

from __future__ import annotations

from dataclasses import dataclass

from crawlers.entities import Entities, find_entities
from crawlers.extracted import Extracted
from storage.similarity import TextKeys, text_keys


@dataclass(frozen=True, slots=True)
class PreparedPage:
    found: Extracted
    named: Entities  # of found.title and found.text
    keys: TextKeys  # likewise


def prepare_page(html: str, url: str) -> PreparedPage | None:
    """The article on the page with its entities and comparison keys; None if no article."""
    from crawlers.extract import extract

    found = extract(html, url)
    if found is None:
        return None
    named = find_entities(found.title, found.text, found.published_at)
    return PreparedPage(found, named, text_keys(found.title, found.text))
