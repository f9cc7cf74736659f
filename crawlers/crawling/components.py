"""eventwatch's own Scrapy components that its promises stand on.

A source's ``scrapy_settings`` may add components of its own and reorder Scrapy's, but it
cannot take one of these out or replace it: each guards a promise a user relies on without
reading the source's settings. Imports only the standard library: the config loads it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

LEASED_HANDLER = "crawlers.crawling.leases.LeasedDownloadHandler"
_NO_SCHEME = "links could read what no web page should (files of this machine, other stores)"

# setting -> component -> (its value, what would go without it)
KEPT: dict[str, dict[str, tuple[int | str | None, str]]] = {
    "DOWNLOADER_MIDDLEWARES": {
        "crawlers.crawling.leases.LeaseMiddleware": (
            10, "a crawl past its lease on the source would go on asking"),
        "crawlers.crawling.middlewares.SiteBoundsMiddleware": (
            40, "links off the site and to refused addresses would be followed"),
    },
    "DOWNLOAD_HANDLERS": {
        "http": (LEASED_HANDLER, "a download could start past the crawl's lease"),
        "https": (LEASED_HANDLER, "a download could start past the crawl's lease"),
        "file": (None, _NO_SCHEME),
        "data": (None, _NO_SCHEME),
        "ftp": (None, _NO_SCHEME),
        "s3": (None, _NO_SCHEME),
    },
    "ITEM_PIPELINES": {
        "crawlers.crawling.pipelines.ExtractPipeline": (100, "no page would be extracted"),
        "crawlers.crawling.pipelines.StorePipeline": (200, "no article would be stored"),
    },
    "EXTENSIONS": {
        "crawlers.crawling.extensions.CrawlRunRecorder": (
            100, "the run's verdict would never be recorded"),
        "crawlers.crawling.progress.CrawlProgress": (
            110, "the crawl's starter would not hear how it goes"),
    },
}  # fmt: skip

# The settings Scrapy reads as mappings of components; one given by a source adds to ours.
COMPONENT_SETTINGS = frozenset({*KEPT, "SPIDER_MIDDLEWARES"})


def kept(setting: str) -> dict[str, int | str | None]:
    """Our components of ``setting`` with their values, for the crawl's settings."""
    return {name: value for name, (value, _) in KEPT[setting].items()}


def as_mapping(given: Any) -> dict[str, Any] | None:
    """A component setting as Scrapy reads it: a mapping, or a mapping written as JSON text;
    None for anything else."""
    if isinstance(given, str):
        try:
            given = json.loads(given)
        except ValueError:
            return None
    return given if isinstance(given, dict) else None


def refusal(settings: Mapping[str, Any]) -> str | None:
    """Why a source's ``scrapy_settings`` cannot be used, in one line; None if it can."""
    for setting in sorted(COMPONENT_SETTINGS & settings.keys()):
        given = as_mapping(settings[setting])
        if given is None:
            return f"{setting}: give a mapping of components to their order"
        for name, (value, without) in KEPT.get(setting, {}).items():
            if name in given and given[name] != value:
                return f"{setting}: {name} is eventwatch's own and stays: without it {without}"
    return None
