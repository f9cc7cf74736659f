"""The pages of a source that wait for their next try after a failure, or were tried and held
no article: read from the database when a crawl meets their links; and those that failed
often and are due again, which the crawl asks for at its start."""

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


def due_again_checker(database: str, source: str) -> Callable[[], list[str]]:
    """The pages of ``source`` that failed often and whose next try is due: the crawl asks
    for them itself (:func:`storage.pagefailures.due_again`)."""

    def due_again_of() -> list[str]:
        from storage.pagefailures import due_again

        with crawl_database(database).session() as session:
            return due_again(session, source)

    return due_again_of
