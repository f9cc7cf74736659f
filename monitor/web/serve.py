"""Serving the web UI: `eventwatch web` on ``web.listen``, or the daemon on ``daemon.listen``
(with /healthz and /metrics), through uvicorn on a socket bound here, so a taken address is
one clear line."""

from __future__ import annotations

import asyncio
import logging
import signal
import socket
import threading
import time
from contextlib import suppress

import uvicorn
from fastapi import FastAPI

from monitor.config import Config, split_listen
from monitor.web.access import Access
from monitor.web.app import create_app
from storage.db import Database

logger = logging.getLogger(__name__)


class AddressTaken(Exception):
    """The address to listen on cannot be used: one line."""


def bind(host: str, port: int) -> socket.socket:
    """A listening socket; OSError when the address is taken or cannot be had."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # Named TCP, so that asyncio sets TCP_NODELAY on each connection it accepts: without it a
    # response written in parts waited for the browser's delayed ACK on a kept-alive connection.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        sock.listen(128)
    except OSError:
        sock.close()
        raise
    return sock


def web_app(config: Config, db: Database, host: str) -> FastAPI:
    """Raises AccessError when the address needs users and none are configured."""
    return create_app(config, db, Access(config.web, host))


def _server(app: FastAPI) -> uvicorn.Server:
    # Our own access log (monitor.web.app) leaves query strings out; uvicorn's would not.
    return uvicorn.Server(uvicorn.Config(app, access_log=False, log_config=None,
                                         lifespan="off", server_header=False))  # fmt: skip


class WebServer:
    """The app on a socket, in a thread of the daemon."""

    def __init__(self, app: FastAPI, sock: socket.socket) -> None:
        self.app, self.sock = app, sock
        self.server = _server(app)
        self.thread = threading.Thread(target=self._run, name="web", daemon=True)

    def _run(self) -> None:
        asyncio.run(self.server.serve(sockets=[self.sock]))

    def start(self) -> None:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started and self.thread.is_alive() and time.monotonic() < deadline:
            time.sleep(0.02)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)
        self.sock.close()


def serve(config: Config, db: Database) -> int:
    """`eventwatch web`: in the foreground until SIGINT or SIGTERM."""
    host, port = split_listen(config.web.listen)
    app = web_app(config, db, host)
    try:
        sock = bind(host, port)
    except OSError as exc:
        raise AddressTaken(
            f"web.listen {host}:{port} cannot be used ({exc.strerror or exc}); "
            "choose another address or port"
        ) from None
    server = _server(app)
    # A stop asked before uvicorn has its own handlers (it installs them as it starts) is
    # kept for it: the default SIGINT handler's KeyboardInterrupt was lost in its start, and
    # the Ctrl-C with it. uvicorn gives these back as it ends, and raises again to them the
    # signals it took, which then only ask it again to stop.
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda _signum, _frame: setattr(server, "should_exit", True))
    logger.info("web UI at http://%s:%d/", host, port)
    print(f"eventwatch web UI: http://{host}:{port}/", flush=True)
    with suppress(KeyboardInterrupt):
        server.run(sockets=[sock])
    return 0
