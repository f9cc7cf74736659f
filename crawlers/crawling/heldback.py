"""The pages of a source that wait for their next try after a failure, or were tried and held
no article: read from the database when a crawl meets their links; and those that failed
often and are due again, which the crawl asks for at its start."""

from __future__ import annotations

from collections.abc import Sequence

from crawlers.crawling.database import crawl_database


class HeldBackPages:
    """One source's held-back pages, read from its crawl's database. Storage is imported at
    the first question, which a re-crawl of an unchanged listing never asks."""

    def __init__(self, database: str, source: str) -> None:
        self.database = database
        self.source = source

    def held_back(self, urls: Sequence[str]) -> dict[str, str]:
        """Which of these URLs (normalised) are held back, and why: failed and waiting for
        their next try, or tried and found no article."""
        from storage.pagefailures import held_back

        with crawl_database(self.database).session() as session:
            return held_back(session, self.source, urls)

    def due_again(self) -> list[str]:
        """The pages that failed often and whose next try is due: the crawl asks for them
        itself (:func:`storage.pagefailures.due_again`)."""
        from storage.pagefailures import due_again

        with crawl_database(self.database).session() as session:
            return due_again(session, self.source)
