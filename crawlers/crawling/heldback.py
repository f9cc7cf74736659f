"""The pages of a source that wait for their next try after a failure, or were tried and held
no article: read from the database when a crawl meets their links."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from crawlers.crawling.database import crawl_database


def held_back_checker(database: str, source: str) -> Callable[[Sequence[str]], dict[str, str]]:
    """Which of these URLs (normalised) of ``source`` are held back, and why: failed and
    waiting for their next try, or tried and found no article. Storage is imported at the
    first question, which a re-crawl of an unchanged listing never asks."""

    def held_back_of(urls: Sequence[str]) -> dict[str, str]:
        from storage.pagefailures import held_back

        with crawl_database(database).session() as session:
            return held_back(session, source, urls)

    return held_back_of
