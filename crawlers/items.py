"""What flows through the pipelines: a fetched page, then the article made of it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(slots=True)
class PageItem:
    """An article candidate as fetched; the extract pipeline turns it into an article."""

    source: str
    url: str
    html: str
    redirects: tuple[str, ...] = ()  # the URLs that redirected here, first one as linked
