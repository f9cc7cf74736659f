"""What the crawl layer needs to know about a source; built from the config by the monitor."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field

from crawlers.urls import host_of, registered_domain


@dataclass(frozen=True, slots=True)
class CrawlSource:
    name: str
    start_urls: tuple[str, ...] = ()
    feeds: tuple[str, ...] = ()
    sitemaps: tuple[str, ...] = ()
    follow: tuple[str, ...] = ()
    allowed_domains: tuple[str, ...] = ()
    max_pages: int = 500
    max_listing_pages: int = 3
    time_limit: float = 900.0
    max_page_bytes: int = 10 * 1024 * 1024
    per_host_concurrency: int = 2
    download_delay: float = 0.5
    extra_settings: dict[str, object] = field(default_factory=dict)

    def domains(self) -> tuple[str, ...]:
        """The source's own domains: given, else those of its URLs."""
        if self.allowed_domains:
            return self.allowed_domains
        urls = (*self.start_urls, *self.feeds, *self.sitemaps)
        return tuple(dict.fromkeys(registered_domain(host_of(u)) for u in urls if host_of(u)))

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> CrawlSource:
        data = json.loads(text)
        for key in ("start_urls", "feeds", "sitemaps", "follow", "allowed_domains"):
            data[key] = tuple(data.get(key, ()))
        return cls(**data)
