"""What the crawl layer needs to know about a source; built from the config by the monitor."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import urlsplit

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
    memory_limit_mb: int = 1024
    block_private_addresses: bool = False
    extra_settings: dict[str, object] = field(default_factory=dict)

    def domains(self) -> tuple[str, ...]:
        """The domains given and those of the entry URLs (an entry URL is never off-site),
        as ``host:port`` when a URL names a port: only that port of the host is on-site."""
        urls = (*self.start_urls, *self.feeds, *self.sitemaps)
        found = (_domain(u) for u in urls if host_of(u))
        return tuple(dict.fromkeys((*self.allowed_domains, *found)))

    def to_dict(self) -> dict[str, object]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CrawlSource:
        data = dict(data)
        for key in ("start_urls", "feeds", "sitemaps", "follow", "allowed_domains"):
            data[key] = tuple(data.get(key, ()))
        return cls(**data)


def _domain(url: str) -> str:
    port = urlsplit(url).port
    domain = registered_domain(host_of(url))
    if port is None:
        return domain
    return f"[{domain}]:{port}" if ":" in domain else f"{domain}:{port}"
