"""Pages from disk or from one URL, decoded as a browser would, for `eventwatch extract`."""

from __future__ import annotations

import urllib.request
from collections.abc import Iterator
from pathlib import Path

from w3lib.encoding import html_to_unicode

from crawlers.urls import is_http_url

MAX_BYTES = 20 * 1024 * 1024
PAGE_SUFFIXES = (".html", ".htm", ".xhtml", "")


def decode(body: bytes, content_type: str | None = None) -> str:
    """Charset from the header, a BOM or the page's meta tag; invalid bytes replaced."""
    _, text = html_to_unicode(content_type, body)
    return text


def fetch(url: str, timeout: float = 30.0) -> str:
    if not is_http_url(url):
        raise ValueError(f"not an http(s) URL: {url}")
    request = urllib.request.Request(url, headers={"User-Agent": "eventwatch-extract/0.1"})  # noqa: S310
    with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 (checked above)
        return decode(response.read(MAX_BYTES), response.headers.get("Content-Type"))


def expand(paths: list[str]) -> Iterator[str]:
    """Files and URLs as given; a folder stands for the pages in it and its subfolders, sorted."""
    for item in paths:
        path = Path(item)
        if not is_http_url(item) and path.is_dir():
            yield from (
                str(p)
                for p in sorted(path.rglob("*"))
                if p.is_file() and p.suffix.lower() in PAGE_SUFFIXES and not p.name.startswith(".")
            )
        else:
            yield item


def load(path_or_url: str) -> tuple[str, str]:
    """(html, url) of a page: a URL is fetched, a file is read and given a file:// URL."""
    if is_http_url(path_or_url):
        return fetch(path_or_url), path_or_url
    path = Path(path_or_url)
    with path.open("rb") as handle:
        body = handle.read(MAX_BYTES)
    return decode(body), path.resolve().as_uri()
