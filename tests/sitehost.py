"""A real HTTP server on 127.0.0.1 serving a fixture site folder, with a request log.

Also a command, for a first crawl without the internet (README.md):
``.venv/bin/python -m tests.sitehost tests/fixtures/sites/wpnews --port 8765``.

``{{BASE}}`` in served files becomes the server's base URL. A path in ``answers`` is answered
with that HTTP status and no page, as a broken server would. A folder answers with its
``index.html``; with a query string, with ``index@QUERY.html`` when that file exists.
ETag and Last-Modified are sent and honoured (304), as a well-behaved site does. Files may
change while it runs. Each answer can be held back (``delay``) so that requests overlap;
the most requests open at once is kept.
"""

from __future__ import annotations

import argparse
import hashlib
import mimetypes
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

CONTENT_TYPES = {".html": "text/html", ".xml": "application/xml", ".txt": "text/plain"}


class SiteServer:
    def __init__(self, root: Path, delay: float = 0.0, port: int = 0) -> None:
        self.root = root
        self.name = root.name
        self.delay = delay
        self.requests: list[tuple[str, dict[str, str]]] = []
        self.answers: dict[str, int] = {}  # path -> status, instead of the file
        self.lock = threading.Lock()
        self.open_requests = 0
        self.most_open_requests = 0
        self.httpd = ThreadingHTTPServer(("127.0.0.1", port), _handler(self))
        self.base_url = f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def paths(self) -> list[str]:
        with self.lock:
            return [path for path, _ in self.requests]

    def clear(self) -> None:
        with self.lock:
            self.requests.clear()

    def resolve(self, path: str) -> Path | None:
        parts = urlsplit(path)
        target = (self.root / unquote(parts.path).lstrip("/")).resolve()
        if not target.is_relative_to(self.root.resolve()):
            return None
        if target.is_dir():
            by_query = target / f"index@{unquote(parts.query)}.html"
            target = by_query if parts.query and by_query.is_file() else target / "index.html"
        return target if target.is_file() else None


def _handler(site: SiteServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            with site.lock:
                site.requests.append((self.path, dict(self.headers)))
                site.open_requests += 1
                site.most_open_requests = max(site.most_open_requests, site.open_requests)
            time.sleep(site.delay)
            with site.lock:  # before answering: the client can only ask again after that
                site.open_requests -= 1
            self._answer()

        def _answer(self) -> None:
            if self.path in site.answers:
                self._send(site.answers[self.path], b"server error", "text/plain")
                return
            target = site.resolve(self.path)
            if target is None:
                self._send(404, b"not found", "text/plain")
                return
            body = target.read_bytes().replace(b"{{BASE}}", site.base_url.encode())
            etag = '"' + hashlib.sha1(body).hexdigest() + '"'
            if self.headers.get("If-None-Match") == etag:
                self._send(304, b"", None, etag)
                return
            kind = CONTENT_TYPES.get(target.suffix) or mimetypes.guess_type(target.name)[0]
            self._send(200, body, kind or "application/octet-stream", etag)

        def _send(
            self, status: int, body: bytes, kind: str | None, etag: str | None = None
        ) -> None:
            self.send_response(status)
            if kind:
                self.send_header("Content-Type", kind)
            if etag:
                self.send_header("ETag", etag)
                self.send_header("Last-Modified", formatdate(0, usegmt=True))
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    return Handler


@contextmanager
def serve(root: Path, delay: float = 0.0) -> Iterator[SiteServer]:
    site = SiteServer(root, delay)
    with serving(site.httpd):
        yield site


@contextmanager
def serving(httpd: ThreadingHTTPServer) -> Iterator[None]:
    """``httpd`` answering on a thread of its own until the block ends, then closed."""
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield
    finally:
        httpd.shutdown()
        httpd.server_close()


@contextmanager
def silent_server() -> Iterator[str]:
    """A host that accepts connections and never answers: the base URL of a hung site."""
    import socket

    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(64)  # the kernel completes handshakes; nobody ever reads
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"


class HoldingServer:
    """A host that reads each request and never answers, and sees each connection its
    client gives up: ``asked`` requests read, ``given_up`` connections the client closed."""

    def __init__(self) -> None:
        import socket

        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(64)
        self.base_url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self.asked = 0
        self.given_up = 0
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self.listener.accept()
            except OSError:  # closed
                return
            threading.Thread(target=self._hold, args=(connection,), daemon=True).start()

    def _hold(self, connection: Any) -> None:
        with connection:
            read = b""
            while b"\r\n\r\n" not in read:
                chunk = connection.recv(4096)
                if not chunk:
                    return
                read += chunk
            with self.lock:
                self.asked += 1
            try:
                while connection.recv(4096):  # anything more is read and never answered
                    pass
            except OSError:  # reset: the client aborted the connection
                pass
            with self.lock:
                self.given_up += 1

    def all_given_up(self) -> bool:
        """Whether every request read was given up by its client (within 10 s)."""
        deadline = time.monotonic() + 10
        while self.given_up < self.asked and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.asked >= 1 and self.given_up == self.asked


@contextmanager
def holding_server() -> Iterator[HoldingServer]:
    server = HoldingServer()
    try:
        yield server
    finally:
        server.listener.close()


def main() -> None:
    """Serve one fixture site until Ctrl-C."""
    parser = argparse.ArgumentParser(description="Serve a fixture site on 127.0.0.1.")
    parser.add_argument("folder", type=Path, help="e.g. tests/fixtures/sites/wpnews")
    parser.add_argument("--port", type=int, default=8765)
    args = parser.parse_args()
    if not args.folder.is_dir():
        parser.error(f"{args.folder}: not a folder")
    try:
        site = SiteServer(args.folder, port=args.port)
    except OSError as exc:
        parser.exit(1, f"cannot listen on 127.0.0.1:{args.port}: {exc.strerror}\n")
    print(f"serving {args.folder} at {site.base_url}/ (Ctrl-C stops it)", flush=True)
    try:
        site.httpd.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        site.httpd.server_close()


if __name__ == "__main__":
    main()
