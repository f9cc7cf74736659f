"""Only the names the UI is known by, on loopback: a page elsewhere that points its own name
at 127.0.0.1 (DNS rebinding) would otherwise be the same origin as the UI, and read and act
in it with no login."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlsplit

from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Receive, Scope, Send

LOOPBACK_NAMES = frozenset({"127.0.0.1", "localhost", "::1"})


def known_hosts(listen_host: str, public_url: str | None) -> frozenset[str]:
    """The names a browser may send in ``Host`` to a UI listening on loopback."""
    names = set(LOOPBACK_NAMES) | {listen_host.strip("[]").lower()}
    if public_url:
        names.add((urlsplit(public_url).hostname or "").lower())
    return frozenset(names)


def host_name(header: str) -> str:
    """``Host`` without its port: ``[::1]:8787`` is ``::1``, ``Example.org:80`` ``example.org``."""
    if header.startswith("["):
        return header[1:].partition("]")[0].lower()
    return header.partition(":")[0].lower()


class KnownHosts:
    """Answers 400 to a request for a name not among ``names()``, read at each request, as a
    reload may change them (``web.public_url``); None lets every name in. Plain ASGI, as
    Starlette's TrustedHostMiddleware reads an IPv6 ``Host`` ([::1]:8787) as "[" and would
    refuse it."""

    def __init__(self, app: ASGIApp, names: Callable[[], frozenset[str] | None]) -> None:
        self.app, self.names = app, names

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        names = self.names()
        if scope["type"] == "http" and names is not None:
            header = dict(scope["headers"]).get(b"host", b"").decode("latin-1")
            if host_name(header) not in names:
                answer = PlainTextResponse("unknown host: this UI answers on its own address", 400)
                await answer(scope, receive, send)
                return
        await self.app(scope, receive, send)
