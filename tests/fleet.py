"""Many small news sites, each on a loopback address of its own (127.0.1.1, 127.0.1.2, ...).

Each site has a robots.txt naming its sitemap, a sitemap, an RSS feed, a home page that
lists its articles and links its feed, and a few articles; every answer has an ETag and a
matching If-None-Match gets a 304, as a well-behaved site does. :meth:`Fleet.publish` adds
an article to a site while it runs. One asyncio loop on one thread serves them all, so that
thousands of sites cost the machine little beside what is measured.
"""

from __future__ import annotations

import asyncio
import hashlib
import random
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

WORDS = [
    "assembly",
    "delegation",
    "session",
    "parliament",
    "security",
    "cooperation",
    "committee",
    "report",
    "minister",
    "council",
    "regional",
    "conference",
    "treaty",
    "border",
    "dialogue",
    "forum",
    "summit",
    "budget",
    "agreement",
    "resolution",
    "members",
    "speaker",
    "debate",
    "vote",
    "capital",
    "province",
    "agency",
    "statement",
    "observers",
]


def address(index: int) -> str:
    """The loopback address of site ``index`` (0-based): 127.0.1.1 onwards, 250 a block."""
    return f"127.0.{1 + index // 250}.{1 + index % 250}"


@dataclass
class Site:
    index: int
    host: str
    port: int
    articles: list[tuple[str, str, str]] = field(default_factory=list)  # slug, title, text
    published: dict[str, float] = field(default_factory=dict)  # URL -> when it appeared

    @property
    def base(self) -> str:
        return f"http://{self.host}:{self.port}"

    def add_article(self, rng: random.Random) -> str:
        number = len(self.articles) + 1
        slug = f"site{self.index}-story-{number}"
        title = f"Site {self.index} story {number}: {' '.join(rng.sample(WORDS, 4))}"
        paragraphs = [
            " ".join(rng.choice(WORDS) for _ in range(40)) + f" site{self.index}x{number}."
            for _ in range(5)
        ]
        self.articles.append((slug, title, "\n".join(f"<p>{p}</p>" for p in paragraphs)))
        url = f"{self.base}/news/{slug}.html"
        self.published[url] = time.time()
        return url

    def page(self, path: str) -> tuple[bytes, str] | None:
        path = path.split("?", 1)[0]
        if path == "/robots.txt":
            return (
                f"User-agent: *\nAllow: /\nSitemap: {self.base}/sitemap.xml\n".encode(),
                "text/plain",
            )
        if path == "/sitemap.xml":
            return self._sitemap(), "application/xml"
        if path == "/feed.xml":
            return self._feed(), "application/rss+xml"
        if path in ("/", "/index.html"):
            return self._home(), "text/html; charset=utf-8"
        for slug, title, text in self.articles:
            if path == f"/news/{slug}.html":
                return self._article(title, text), "text/html; charset=utf-8"
        return None

    def _links(self) -> list[tuple[str, str]]:
        return [(f"{self.base}/news/{slug}.html", title) for slug, title, _ in self.articles]

    def _sitemap(self) -> bytes:
        """Without the sitemap namespace: Scrapy reads a sitemap's tags by their local names."""
        urls = "".join(f"<url><loc>{url}</loc></url>" for url, _ in self._links())
        return f'<?xml version="1.0" encoding="UTF-8"?><urlset>{urls}</urlset>'.encode()

    def _feed(self) -> bytes:
        items = "".join(
            f"<item><title>{title}</title><link>{url}</link></item>" for url, title in self._links()
        )
        return (
            '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel>'
            f"<title>Site {self.index}</title><link>{self.base}/</link>{items}</channel></rss>"
        ).encode()

    def _home(self) -> bytes:
        links = "".join(f'<li><a href="{url}">{title}</a></li>' for url, title in self._links())
        return (
            f'<html><head><title>Site {self.index}</title><link rel="alternate" '
            f'type="application/rss+xml" href="{self.base}/feed.xml"></head>'
            f"<body><h1>Site {self.index} news</h1><ul>{links}</ul></body></html>"
        ).encode()

    @staticmethod
    def _article(title: str, text: str) -> bytes:
        return (
            f"<html><head><title>{title}</title></head><body><article><h1>{title}</h1>"
            f"{text}</article></body></html>"
        ).encode()


class Fleet:
    """``count`` sites with ``articles`` articles each, on a free port of each address."""

    def __init__(self, count: int, articles: int = 3, seed: int = 7) -> None:
        self.rng = random.Random(seed)
        self.lock = threading.Lock()
        self.sites = [Site(i, address(i), 0) for i in range(count)]
        self.articles = articles
        self.requests = 0
        self.loop = asyncio.new_event_loop()
        self.servers: list[asyncio.base_events.Server] = []

    def publish(self, index: int) -> str:
        """A new article on site ``index``; its URL."""
        with self.lock:
            return self.sites[index].add_article(self.rng)

    def start(self) -> None:
        ready = threading.Event()
        threading.Thread(target=self._run, args=(ready,), daemon=True).start()
        ready.wait()

    def stop(self) -> None:
        async def close() -> None:
            for server in self.servers:
                server.close()

        asyncio.run_coroutine_threadsafe(close(), self.loop).result(timeout=10)
        self.loop.call_soon_threadsafe(self.loop.stop)

    def _run(self, ready: threading.Event) -> None:
        asyncio.set_event_loop(self.loop)
        for site in self.sites:
            start = asyncio.start_server(
                lambda r, w, s=site: self._serve(s, r, w), site.host, site.port, backlog=64
            )
            server = self.loop.run_until_complete(start)
            site.port = server.sockets[0].getsockname()[1]  # a free port of that address
            for _ in range(self.articles):
                site.add_article(self.rng)
            self.servers.append(server)
        ready.set()
        self.loop.run_forever()

    async def _serve(
        self, site: Site, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                request_line, *header_lines = head.decode("latin-1").split("\r\n")
                headers = dict(line.split(": ", 1) for line in header_lines if ": " in line)
                etag_asked = {k.lower(): v for k, v in headers.items()}.get("if-none-match")
                writer.write(self._answer(site, request_line.split(" ")[1], etag_asked))
                await writer.drain()
        except (
            asyncio.IncompleteReadError,
            ConnectionError,
            IndexError,
            asyncio.LimitOverrunError,
        ):
            pass
        finally:
            writer.close()

    def _answer(self, site: Site, path: str, etag_asked: str | None) -> bytes:
        with self.lock:
            self.requests += 1
            found = site.page(path)
        if found is None:
            return _response(404, b"not found", "text/plain", None)
        body, kind = found
        etag = '"' + hashlib.sha1(body).hexdigest()[:16] + '"'
        if etag_asked == etag:
            return _response(304, b"", None, etag)
        return _response(200, body, kind, etag)


def _response(status: int, body: bytes, kind: str | None, etag: str | None) -> bytes:
    reason = {200: "OK", 304: "Not Modified", 404: "Not Found"}[status]
    lines = [f"HTTP/1.1 {status} {reason}", f"Content-Length: {len(body)}"]
    if kind:
        lines.append(f"Content-Type: {kind}")
    if etag:
        lines.append(f"ETag: {etag}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


@contextmanager
def serve_fleet(count: int, articles: int = 3) -> Iterator[Fleet]:
    fleet = Fleet(count, articles)
    fleet.start()
    try:
        yield fleet
    finally:
        fleet.stop()


def fleet_sources(fleet: Fleet, every: str, **settings: object) -> list[dict[str, object]]:
    """Config entries for every site of ``fleet``, crawled ``every`` so often, with the
    shipped defaults but ``settings``."""
    return [
        {"name": f"site{site.index}", "start_urls": [f"{site.base}/"],
         "schedule": {"every": every}, **settings}
        for site in fleet.sites
    ]  # fmt: skip
