"""Local mirror sites built from real article pages, served on 127.0.0.1.

Each site has an index with pagination, an RSS feed, a sitemap and robots.txt naming it, and
its article pages at dated URLs. The server keeps every response in memory, answers
``If-None-Match`` with 304 as a well-behaved news site does, and logs each request, so the
benchmark can tell which article pages a crawl fetched. New articles can be published while
it runs (the daemon figure needs news to arrive).
"""

from __future__ import annotations

import hashlib
import html
import threading
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

PER_LISTING_PAGE = 20
FEED_ITEMS = 50
ARTICLE_PREFIX = "/news/"
EPOCH = datetime(2025, 1, 1, tzinfo=UTC)


def article_pages(folder: Path | None, fixtures: Path) -> list[Path]:
    """The .html pages of `folder`, else the project's fixture sites less their home pages."""
    if folder is not None and folder.is_dir():
        pages = sorted(folder.rglob("*.html"))
        if pages:
            return pages
    return sorted(p for p in fixtures.rglob("*.html") if p.parent.parent != fixtures)


@dataclass
class Article:
    path: str
    title: str
    published: datetime
    body: bytes


@dataclass
class Site:
    """One mirror site: its articles (newest last) and the navigation pages built from them."""

    name: str
    articles: list[Article] = field(default_factory=list)
    # path → (body, content type, ETag)
    pages: dict[str, tuple[bytes, str, str]] = field(default_factory=dict)
    base_url: str = ""
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, body: bytes, title: str) -> Article:
        number = len(self.articles) + 1
        published = EPOCH + timedelta(hours=number)
        path = f"{ARTICLE_PREFIX}{published:%Y/%m/%d}/{number}-{self.name}-report-{number}.html"
        article = Article(path, title, published, body)
        self.articles.append(article)
        return article

    def rebuild(self) -> None:
        """Recompute the index pages, feed and sitemap (after the base URL or articles change)."""
        pages = {a.path: (a.body, "text/html", _etag(a.body)) for a in self.articles}
        for path, text, kind in self._navigation():
            body = text.encode()
            pages[path] = (body, kind, _etag(body))
        with self.lock:
            self.pages = pages

    def get(self, path: str) -> tuple[bytes, str, str] | None:
        with self.lock:
            return self.pages.get(path.split("?", 1)[0])

    def _navigation(self) -> list[tuple[str, str, str]]:
        newest = self.articles[::-1]
        chunks = [newest[i : i + PER_LISTING_PAGE] for i in range(0, len(newest), PER_LISTING_PAGE)]
        found = [
            (_listing_path(n), self._listing(n, chunk, n < len(chunks)), "text/html")
            for n, chunk in enumerate(chunks or [[]], start=1)
        ]
        robots = f"User-agent: *\nAllow: /\nSitemap: {self.base_url}/sitemap.xml\n"
        found.append(("/robots.txt", robots, "text/plain"))
        found.append(("/feed.xml", self._feed(newest[:FEED_ITEMS]), "application/rss+xml"))
        found.append(("/sitemap.xml", self._sitemap(newest), "application/xml"))
        return found

    def _listing(self, number: int, chunk: list[Article], more: bool) -> str:
        items = "".join(
            f'<li><a href="{a.path}">{html.escape(a.title)}</a> {a.published:%d %B %Y}</li>'
            for a in chunk
        )
        following = (
            f'<a rel="next" href="{_listing_path(number + 1)}">Older news</a>' if more else ""
        )
        return (
            f"<!doctype html><html><head><title>{self.name} news, page {number}</title>"
            f'<link rel="alternate" type="application/rss+xml" href="/feed.xml"></head>'
            f"<body><h1>{self.name} news</h1><ul>{items}</ul>{following}</body></html>"
        )

    def _feed(self, newest: list[Article]) -> str:
        items = "".join(
            f"<item><title>{html.escape(a.title)}</title><link>{self.base_url}{a.path}</link>"
            f"<pubDate>{a.published:%a, %d %b %Y %H:%M:%S} +0000</pubDate></item>"
            for a in newest
        )
        return (
            '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
            f"<title>{self.name}</title><link>{self.base_url}/</link>{items}</channel></rss>"
        )

    def _sitemap(self, newest: list[Article]) -> str:
        urls = "".join(
            f"<url><loc>{self.base_url}{a.path}</loc><lastmod>{a.published:%Y-%m-%d}</lastmod></url>"
            for a in newest
        )
        return (
            '<?xml version="1.0" encoding="utf-8"?>'
            f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{urls}</urlset>'
        )


def _listing_path(number: int) -> str:
    return "/" if number == 1 else f"/page/{number}/"


def _etag(body: bytes) -> str:
    return '"' + hashlib.blake2b(body, digest_size=12).hexdigest() + '"'


class RequestLog:
    """What the mirror was asked for: (site, path, status) per request, thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: list[tuple[str, str, int]] = []

    def add(self, site: str, path: str, status: int) -> None:
        with self._lock:
            self._entries.append((site, path, status))

    def mark(self) -> int:
        with self._lock:
            return len(self._entries)

    def since(self, mark: int) -> list[tuple[str, str, int]]:
        with self._lock:
            return self._entries[mark:]

    def article_fetches(self, mark: int) -> int:
        """Article pages answered in full (200) since `mark`."""
        return sum(1 for _, p, s in self.since(mark) if p.startswith(ARTICLE_PREFIX) and s == 200)

    def statuses(self, mark: int) -> Counter[int]:
        return Counter(status for _, _, status in self.since(mark))


class MirrorServer:
    """One threaded HTTP/1.1 server per site (sites are distinct hosts to a crawler)."""

    def __init__(self, sites: list[Site]) -> None:
        self.sites = sites
        self.log = RequestLog()
        self._servers: list[ThreadingHTTPServer] = []

    def __enter__(self) -> MirrorServer:
        for site in self.sites:
            server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(site, self.log))
            server.daemon_threads = True
            site.base_url = f"http://127.0.0.1:{server.server_address[1]}"
            site.rebuild()
            threading.Thread(target=server.serve_forever, daemon=True).start()
            self._servers.append(server)
        return self

    def __exit__(self, *_exc: object) -> None:
        for server in self._servers:
            server.shutdown()
            server.server_close()


def _handler(site: Site, log: RequestLog) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as real servers and Scrapy do
        # The headers and the body go out in two writes. With Nagle's algorithm on, the body
        # of a small answer on a kept-alive connection waited for the client's delayed ACK, a
        # wait of this server's making that the re-crawl figure would count.
        disable_nagle_algorithm = True

        def do_GET(self) -> None:
            found = site.get(self.path)
            if found is None:
                self._answer(404, b"not found", "text/plain", None)
                return
            body, kind, etag = found
            if self.headers.get("If-None-Match") == etag:
                self._answer(304, b"", kind, etag)
                return
            self._answer(200, body, kind, etag)

        def _answer(self, status: int, body: bytes, kind: str, etag: str | None) -> None:
            log.add(site.name, self.path, status)
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            if etag:
                self.send_header("ETag", etag)
            self.end_headers()
            if status != 304:
                self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            return  # the request log above is the record

    return Handler


def build_sites(pages: list[Path], count: int, sites: int) -> tuple[list[Site], list[Path]]:
    """`count` article pages spread over `sites` sites, cycling through `pages` (a page
    served twice is a second URL with the same text, as syndicated news is). Returns the
    sites and the page file behind each article, in serving order."""
    built = [Site(f"mirror{n}") for n in range(sites)]
    behind: list[Path] = []
    for number in range(count):
        page = pages[number % len(pages)]
        built[number % sites].add(page.read_bytes(), f"Report {number} from {page.stem}")
        behind.append(page)
    return built, behind


def news_page(title: str, paragraphs: list[str]) -> bytes:
    """A new article in a plain news template, for publishing while the daemon runs."""
    body = "".join(f"<p>{html.escape(p)}</p>" for p in paragraphs)
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        f'<meta property="article:published_time" content="{datetime.now(UTC).isoformat()}">'
        f"</head><body><nav><a href='/'>Home</a></nav><article><h1>{html.escape(title)}</h1>"
        f"{body}</article><footer>Mirror news service</footer></body></html>"
    ).encode()
