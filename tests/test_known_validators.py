"""The validators a crawl starts with: exactly its own site's, found without reading every
other source's."""

from __future__ import annotations

from crawlers.launcher.known_validators import KnownValidators
from crawlers.urls import on_site
from storage.fetchstate import Validators

URLS = [
    "http://example.org/feed.xml",
    "https://www.example.org/sitemap.xml",
    "https://news.example.org/",
    "http://example.org:8080/admin",
    "http://notexample.org/",
    "http://example.org.evil.test/",
    "http://127.0.1.5:8001/",
    "http://127.0.1.5:8002/feed",
    "http://127.0.1.50:8001/",
    "https://xn--80ak6aa92e.xn--p1ai/",
    "ftp://example.org/file",
    "http://[::1]:8001/news",
    "http://[::1/broken",
]
DOMAINS = [
    ("example.org",),
    ("www.example.org",),
    ("news.example.org", "notexample.org"),
    ("example.org:8080",),
    ("127.0.1.5:8001",),
    ("127.0.1.5",),
    ("xn--80ak6aa92e.xn--p1ai",),
    ("[::1]:8001",),
    ("org",),
    ("unknown.test",),
]


def _states(urls: list[str]) -> dict[str, Validators]:
    return {url: Validators(f"e{n}", None, f"h{n}") for n, url in enumerate(urls)}


def _on_site(states: dict[str, Validators], domains: tuple[str, ...]) -> dict[str, Validators]:
    """What a crawl is given: every known page that is on its site, as the crawl would judge."""
    found = {}
    for url, validators in states.items():
        try:
            if on_site(url, domains):
                found[url] = validators
        except ValueError:  # a malformed address: on no site
            pass
    return found


def test_each_site_gets_exactly_the_validators_of_its_own_pages() -> None:
    states = _states(URLS)
    known = KnownValidators(states)
    for domains in DOMAINS:
        assert known.of(domains) == _on_site(states, domains), domains
    assert set(known.of(("example.org",))) == {
        "http://example.org/feed.xml",
        "https://www.example.org/sitemap.xml",
        "https://news.example.org/",
    }


def test_validators_recorded_later_are_found_and_replace_older_ones() -> None:
    known = KnownValidators(_states(URLS[:2]))
    newer = {
        "http://example.org/feed.xml": Validators("e9", "Tue, 12 Mar 2024 10:00:00 GMT", "h9"),
        "http://127.0.1.5:8001/": Validators("e8", None, "h8"),
    }
    known.update(newer)
    assert known.of(("example.org",))["http://example.org/feed.xml"].etag == "e9"
    assert known.of(("127.0.1.5:8001",)) == {
        "http://127.0.1.5:8001/": newer["http://127.0.1.5:8001/"]
    }
