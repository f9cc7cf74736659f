"""A hostile web site on 127.0.0.1: a few good articles among every way a server can misbehave.

Real sockets and threads, no mocks. ``HostileSite`` serves the site; a second server, the
*canary*, must never see a request: it is the target of the XML external entities, of links
and redirects to another port, and (given as ``http_proxy``) of any request to another host,
so ``canary.requests`` lists everything a crawl fetched that it should not have.
Used by tests/test_hostile.py and bench/hostile.py.
"""

from __future__ import annotations

import socket
import struct
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar
from urllib.parse import urlsplit

NEWS = "/news/2024/05"
GZIP_BOMB_SIZE = 2 * 1024**3  # what the bomb decompresses to
HUGE_BODY_SIZE = 300 * 1024**2
CHUNK = 64 * 1024
HANG_SECONDS = 600  # a hung handler waits at most this long, or until the server stops


@dataclass(frozen=True, slots=True)
class GoodArticle:
    path: str
    title: str
    paragraphs: tuple[str, ...]
    charset_header: str = "utf-8"  # what the server claims
    encoding: str = "utf-8"  # what the bytes are


GOOD = (
    GoodArticle(
        f"{NEWS}/02/assembly-adopts-water-resolution.html",
        "Assembly adopts resolution on shared river basins",
        (
            "Delegates from eleven member parliaments voted on Thursday for a resolution that "
            "asks governments to publish river flow data every month and to notify neighbours "
            "before opening the gates of large dams.",
            "The rapporteur said the text grew out of two years of hearings with farmers, "
            "hydrologists and municipal water companies in the lower basins, where summer "
            "shortages have become longer and harder to predict.",
            "A committee will report on how the resolution is applied at the spring session, "
            "and national delegations were asked to name a contact person before the end of "
            "the year.",
        ),
    ),
    GoodArticle(
        f"{NEWS}/03/speakers-meet-on-rail-corridor.html",
        "Speakers of parliament meet on the northern rail corridor",
        (
            "The speakers of four parliaments met in the port city on Friday to discuss the "
            "timetable for the northern rail corridor and the customs checks at its borders.",
            "They agreed that their transport committees will hold a joint hearing in the "
            "autumn, with the railway operators and the freight forwarders' associations "
            "invited to give evidence.",
            "Funding remains the open question: two of the four budgets for next year have not "
            "yet been adopted, and the corridor's second phase depends on both of them.",
        ),
    ),
    GoodArticle(
        f"{NEWS}/04/youth-forum-closes.html",
        "Youth forum closes with a call for digital skills",
        (
            "The third youth forum of the assembly closed on Saturday with a declaration that "
            "asks schools to teach data protection and the basics of programming from the age "
            "of twelve.",
            "More than two hundred students from the member countries took part in workshops "
            "on local government, media literacy and the work of parliamentary committees.",
            "The declaration will be presented to the standing committee in June, together with "
            "a short report on how the forum was organised and what it cost.",
        ),
    ),
    GoodArticle(  # UTF-8 bytes under a header that says Latin-1
        f"{NEWS}/05/delegation-visits-archive.html",
        "Делегация посетила национальный архив",
        (
            "Делегация парламентской ассамблеи в среду посетила национальный архив и "
            "ознакомилась с проектом оцифровки документов начала прошлого века.",
            "Директор архива рассказал, что за три года в открытый доступ выложено более "
            "четырёхсот тысяч страниц, а читальный зал теперь работает и по субботам.",
            "Члены делегации договорились подготовить предложения о совместной выставке к "
            "юбилею ассамблеи в следующем году.",
        ),
        charset_header="iso-8859-1",
    ),
)
FLAKY = GoodArticle(  # answers 503 with Retry-After: 1 once, then the article
    f"{NEWS}/06/budget-hearing-rescheduled.html",
    "Budget hearing rescheduled after a power cut",
    (
        "The budget committee's hearing, interrupted on Monday by a power cut in the building, "
        "will resume on Wednesday morning with the finance minister's answers.",
        "Members had asked about the cost of the new regional offices and about the delay in "
        "paying the grants promised to municipalities last spring.",
        "The chair said the committee would still deliver its opinion on the draft budget "
        "before the plenary vote at the end of the month.",
    ),
)
INVALID_UTF8 = GoodArticle(  # declared UTF-8, with a few bytes that are not
    f"{NEWS}/07/ombudsman-annual-report.html",
    "Ombudsman presents the annual report",
    (
        "The ombudsman presented her annual report to the human rights committee on Tuesday, "
        "saying complaints about access to public services rose by a fifth.",
        "Most complaints concerned waiting times for residence permits and the closure of "
        "local offices, which forced people in rural areas to travel for a whole day.",
        "The committee will hold a follow-up hearing with the ministries concerned before "
        "the summer recess.",
    ),
)
GOOD_ARTICLES = (*GOOD, FLAKY, INVALID_UTF8)

# Each bad article path and what it does; the spider takes them for articles by their URLs.
BAD = {
    f"{NEWS}/10/drip.html": "drip",
    f"{NEWS}/11/hang.html": "hang",
    f"{NEWS}/12/reset.html": "reset",
    f"{NEWS}/12/reset-midway.html": "reset_midway",
    f"{NEWS}/13/huge.html": "huge",
    f"{NEWS}/13/huge-unsized.html": "huge_unsized",
    f"{NEWS}/14/gzip-bomb.html": "gzip_bomb",
    f"{NEWS}/15/empty.html": "empty",
    f"{NEWS}/16/loop-a.html": "loop",
    f"{NEWS}/17/chain.html": "chain",
    f"{NEWS}/18/to-metadata.html": "redirect_metadata",
    f"{NEWS}/18/to-file.html": "redirect_file",
    f"{NEWS}/18/to-other-host.html": "redirect_other_host",
    f"{NEWS}/18/to-other-port.html": "redirect_other_port",
    f"{NEWS}/20/status-500.html": "status_500",
    f"{NEWS}/20/status-502.html": "status_502",
    f"{NEWS}/20/status-503.html": "status_503",
    f"{NEWS}/20/status-503-retry-later.html": "status_503_later",
    f"{NEWS}/20/status-429.html": "status_429",
    f"{NEWS}/20/status-403.html": "status_403",
    f"{NEWS}/21/no-html-element.html": "no_html",
}
HIDDEN = {f"{NEWS}/16/loop-b.html": "loop_back"}  # served, never linked
FEEDS = ("/rss/entity-bomb.xml", "/rss/external-entity.xml", "/rss/local-path.xml")
SITEMAPS = ("/sitemaps/entity-bomb.xml", "/sitemaps/external-entity.xml", "/sitemaps/bomb.xml.gz")


def gzip_bomb(total: int = GZIP_BOMB_SIZE, member: int = 16 * 1024**2) -> bytes:
    """Gzip members of zeros, concatenated: about 2 MB that inflate to ``total`` bytes."""
    deflate = zlib.compressobj(9, zlib.DEFLATED, -15)
    body = deflate.compress(bytes(member)) + deflate.flush()
    header = b"\x1f\x8b\x08\x00" + struct.pack("<I", 0) + b"\x02\xff"
    trailer = struct.pack("<II", zlib.crc32(bytes(member)), member & 0xFFFFFFFF)
    return (header + body + trailer) * (total // member)


def _article_html(article: GoodArticle, day: str) -> str:
    paragraphs = "\n".join(f"<p>{p}</p>" for p in article.paragraphs)
    return (
        f'<!doctype html><html><head><meta charset="{article.charset_header}">'
        f"<title>{article.title}</title>"
        f'<meta property="article:published_time" content="2024-05-{day}T09:00:00+00:00">'
        f"</head><body><nav><a href='/'>Home</a></nav><article><h1>{article.title}</h1>"
        f"<time datetime='2024-05-{day}'>{day} May 2024</time>{paragraphs}</article>"
        f"<footer>Press office of the assembly</footer></body></html>"
    )


def _day(path: str) -> str:
    return path.split("/")[4]


class Canary(ThreadingHTTPServer):
    """A server that must never be asked anything; it logs what it was asked."""

    daemon_threads = True
    block_on_close = False

    def __init__(self) -> None:
        self.requests: list[str] = []
        super().__init__(("127.0.0.1", 0), _CanaryHandler)
        self.base_url = f"http://127.0.0.1:{self.server_address[1]}"


class _CanaryHandler(BaseHTTPRequestHandler):
    server: Canary

    def do_GET(self) -> None:
        self.server.requests.append(f"{self.headers.get('Host')} {self.path}")
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, format: str, *args: object) -> None:
        pass


class HostileSite(ThreadingHTTPServer):
    """The site; ``requests`` logs (Host header, path) of everything asked of it."""

    daemon_threads = True
    block_on_close = False

    def __init__(self, canary: Canary, leak_file: Path) -> None:
        self.canary = canary
        self.leak_file = leak_file  # the file:// external entity points here
        self.local_feed = leak_file.with_name("local-feed.xml")  # a feed body names this path
        self.requests: list[tuple[str, str]] = []
        self.stopping = threading.Event()
        self.flaky_since: float | None = None
        self.lock = threading.Lock()
        self.bomb = gzip_bomb()
        super().__init__(("127.0.0.1", 0), _SiteHandler)
        self.base_url = f"http://127.0.0.1:{self.server_address[1]}"
        leak_file.write_text(canary.base_url + "/leaked-through-file-entity", encoding="utf-8")
        self.local_feed.write_text(
            '<rss version="2.0"><channel><item><title>Local</title>'
            f"<link>{self.base_url}{NEWS}/23/read-from-a-local-file.html</link>"
            "</item></channel></rss>",
            encoding="utf-8",
        )

    def paths(self) -> list[str]:
        with self.lock:
            return [path for _, path in self.requests]


class _SiteHandler(BaseHTTPRequestHandler):
    server: HostileSite
    protocol_version = "HTTP/1.1"
    ROUTES: ClassVar[dict[str, Callable[[_SiteHandler], None]]] = {}

    def do_GET(self) -> None:
        with self.server.lock:
            self.server.requests.append((self.headers.get("Host", ""), self.path))
        path = urlsplit(self.path).path
        try:
            self._route(path)
        except (BrokenPipeError, ConnectionResetError, TimeoutError):
            self.close_connection = True  # the crawler hung up: that is its right

    def _route(self, path: str) -> None:
        good = {a.path: a for a in GOOD_ARTICLES}
        if path in good:
            self._good(good[path])
        elif path in BAD or path in HIDDEN:
            getattr(self, "_" + (BAD.get(path) or HIDDEN[path]))()
        elif path in PAGES:
            PAGES[path](self)
        else:
            self._send(404, b"not found", "text/plain")

    def _send(self, status: int, body: bytes, kind: str, **headers: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers.items():
            self.send_header(name.replace("_", "-"), value)
        self.end_headers()
        self.wfile.write(body)

    def _html(self, text: str) -> None:
        self._send(200, text.encode(), "text/html; charset=utf-8")

    def _good(self, article: GoodArticle) -> None:
        if article is FLAKY and self._busy():
            self._send(503, b"busy", "text/plain", Retry_After="1")
            return
        body = _article_html(article, _day(article.path)).encode(article.encoding)
        if article is INVALID_UTF8:
            body = body.replace(b"rose by", b"rose \xff\xfe by").replace(b"</h1>", b"\xc3</h1>")
        self._send(200, body, f"text/html; charset={article.charset_header}")

    def _busy(self) -> bool:
        """Busy for the first second after it was first asked: a retry that does not
        wait for Retry-After finds it still busy."""
        with self.server.lock:
            since = self.server.flaky_since = self.server.flaky_since or time.monotonic()
        return time.monotonic() - since < 1.0

    def handle(self) -> None:
        try:
            super().handle()
        except (ConnectionError, TimeoutError, ValueError):
            self.close_connection = True  # the crawler hung up or we reset: both expected

    def finish(self) -> None:
        with suppress(ConnectionError, ValueError, OSError):
            super().finish()

    # --- slow and broken connections -------------------------------------------------------

    def _drip(self) -> None:
        head = b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 500\r\n\r\n"
        for byte in head + b"<p>" + b"x" * 497:
            if self.server.stopping.wait(1.0):
                return
            self.wfile.write(bytes([byte]))
            self.wfile.flush()

    def _hang(self) -> None:
        self.server.stopping.wait(HANG_SECONDS)
        self.close_connection = True

    def _reset(self) -> None:
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.connection.close()
        self.close_connection = True

    def _reset_midway(self) -> None:
        self.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n")
        self.wfile.write(b"Content-Length: 100000\r\n\r\n<html><body><p>Half a page")
        self.wfile.flush()
        self._reset()

    # --- too much data -----------------------------------------------------------------------

    def _stream(self, total: int) -> None:
        chunk = b"<p>" + b"a" * (CHUNK - 7) + b"</p>"
        sent = 0
        while sent < total and not self.server.stopping.is_set():
            self.wfile.write(chunk[: total - sent])
            sent += len(chunk)

    def _huge(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(HUGE_BODY_SIZE))
        self.end_headers()
        self._stream(HUGE_BODY_SIZE)

    def _huge_unsized(self) -> None:  # no Content-Length: only counting the bytes stops it
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        self._stream(HUGE_BODY_SIZE)

    def _gzip_bomb(self) -> None:
        self._send(200, self.server.bomb, "text/html", Content_Encoding="gzip")

    def _empty(self) -> None:
        self._send(200, b"", "text/html; charset=utf-8")

    def _no_html(self) -> None:
        text = "<title>Fragment</title><h1>Only a fragment</h1><p>No html element at all.</p>"
        self._send(200, text.encode(), "text/html; charset=utf-8")

    # --- redirects and status codes -------------------------------------------------------------

    def _redirect(self, location: str) -> None:
        self._send(302, b"", "text/plain", Location=location)

    def _loop(self) -> None:
        self._redirect(f"{NEWS}/16/loop-b.html")

    def _loop_back(self) -> None:
        self._redirect(f"{NEWS}/16/loop-a.html")

    def _chain(self) -> None:
        hop = int(urlsplit(self.path).query.partition("=")[2] or 0)
        self._redirect(f"{NEWS}/17/chain.html?hop={hop + 1}")

    def _redirect_metadata(self) -> None:
        self._redirect("http://169.254.169.254/latest/meta-data/")

    def _redirect_file(self) -> None:
        self._redirect("file:///etc/passwd")

    def _redirect_other_host(self) -> None:
        port = self.server.server_address[1]
        self._redirect(f"http://localhost:{port}{NEWS}/02/assembly-adopts-water-resolution.html")

    def _redirect_other_port(self) -> None:
        self._redirect(self.server.canary.base_url + f"{NEWS}/18/other-port.html")

    def _status(self, status: int, **headers: str) -> None:
        self._send(status, f"status {status}".encode(), "text/plain", **headers)

    def _status_500(self) -> None:
        self._status(500)

    def _status_502(self) -> None:
        self._status(502)

    def _status_503(self) -> None:
        self._status(503)

    def _status_503_later(self) -> None:
        self._status(503, Retry_After="3600")

    def _status_429(self) -> None:
        self._status(429, Retry_After=formatdate(time.time() + 7200, usegmt=True))

    def _status_403(self) -> None:
        self._status(403)

    def log_message(self, format: str, *args: object) -> None:
        pass


def _home(handler: _SiteHandler) -> None:
    site, canary = handler.server, handler.server.canary
    port = site.server_address[1]
    forbidden = (
        f"http://localhost:{port}{NEWS}/22/other-host-article.html",
        f"http://169.254.169.254{NEWS}/22/metadata-article.html",
        f"http://example.org{NEWS}/22/elsewhere-article.html",
        f"{canary.base_url}{NEWS}/22/other-port-article.html",
        "file:///etc/passwd",
        f"ftp://127.0.0.1:{port}{NEWS}/22/ftp-article.html",
        "javascript:alert(document.cookie)",
        f"/private{NEWS}/22/robots-forbidden-article.html",
    )
    links = [a.path for a in GOOD_ARTICLES] + list(BAD) + list(forbidden)
    items = "\n".join(f'<li><a href="{href}">Story {i}</a></li>' for i, href in enumerate(links))
    handler._html(
        "<!doctype html><html><head><title>Assembly news</title></head><body>"
        f"<h1>Latest news</h1><ul>{items}</ul></body></html>"
    )


def _robots(handler: _SiteHandler) -> None:
    handler._send(200, b"User-agent: *\nDisallow: /private/\n", "text/plain")


LAUGHS = "".join(f'<!ENTITY lol{i} "{("&lol" + str(i - 1) + ";") * 10}">' for i in range(1, 10))
BOMB_DOCTYPE = f'<!DOCTYPE {{root}} [<!ENTITY lol0 "lol">{LAUGHS}]>'


def _external_doctype(site: HostileSite, root: str) -> str:
    canary = site.canary.base_url
    return (
        f'<!DOCTYPE {root} SYSTEM "{canary}/external-dtd.dtd" ['
        f'<!ENTITY fromfile SYSTEM "file://{site.leak_file}">'
        f'<!ENTITY fromhttp SYSTEM "{canary}/external-entity">]>'
    )


def _feed(handler: _SiteHandler, doctype: str, bad_link: str) -> None:
    good = GOOD[0].path if "lol" in doctype else GOOD[1].path
    body = (
        f'<?xml version="1.0" encoding="utf-8"?>{doctype}<rss version="2.0"><channel>'
        f"<title>News &lol9;</title><link>/</link>"
        f"<item><title>Good</title><link>{good}</link></item>"
        f"<item><title>Bad</title><link>{bad_link}</link></item>"
        f"<item><title>Bad too</title><link>&fromhttp;</link></item>"
        "</channel></rss>"
    )
    handler._send(200, body.encode(), "application/rss+xml")


def _feed_bomb(handler: _SiteHandler) -> None:
    _feed(handler, BOMB_DOCTYPE.format(root="rss"), "&lol9;")


def _feed_external(handler: _SiteHandler) -> None:
    _feed(handler, _external_doctype(handler.server, "rss"), "&fromfile;")


def _feed_local_path(handler: _SiteHandler) -> None:
    """A body that is a local path: a parser that opens it reads our disk, not the web."""
    handler._send(200, str(handler.server.local_feed).encode(), "application/rss+xml")


def _sitemap(handler: _SiteHandler, doctype: str, bad_loc: str) -> None:
    good = handler.server.base_url + GOOD[2].path
    body = (
        f'<?xml version="1.0" encoding="utf-8"?>{doctype}'
        "<urlset>"  # a sitemap parses without its namespace
        f"<url><loc>{good}</loc></url><url><loc>{bad_loc}</loc></url>"
        "<url><loc>&fromhttp;</loc></url></urlset>"
    )
    handler._send(200, body.encode(), "application/xml")


def _sitemap_bomb(handler: _SiteHandler) -> None:
    _sitemap(handler, BOMB_DOCTYPE.format(root="urlset"), "&lol9;")


def _sitemap_external(handler: _SiteHandler) -> None:
    _sitemap(handler, _external_doctype(handler.server, "urlset"), "&fromfile;")


def _sitemap_gzip_bomb(handler: _SiteHandler) -> None:
    handler._send(200, handler.server.bomb, "application/x-gzip")


PAGES: dict[str, Callable[[_SiteHandler], None]] = {
    "/": _home,
    "/robots.txt": _robots,
    FEEDS[0]: _feed_bomb,
    FEEDS[1]: _feed_external,
    FEEDS[2]: _feed_local_path,
    SITEMAPS[0]: _sitemap_bomb,
    SITEMAPS[1]: _sitemap_external,
    SITEMAPS[2]: _sitemap_gzip_bomb,
}


@contextmanager
def serve_hostile(tmp_dir: Path) -> Iterator[HostileSite]:
    """Start the canary and the site, each on its own thread; stop both on exit."""
    canary = Canary()
    site = HostileSite(canary, tmp_dir / "leak.txt")
    threads = [threading.Thread(target=s.serve_forever, daemon=True) for s in (canary, site)]
    for thread in threads:
        thread.start()
    try:
        yield site
    finally:
        site.stopping.set()
        for server in (site, canary):
            server.shutdown()
            server.server_close()
