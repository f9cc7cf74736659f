"""The web UI and JSON API as one ASGI app (FastAPI, Jinja2 templates, htmx shipped in
``static/``), served by `eventwatch web` and by the daemon beside /healthz and /metrics."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.exception_handlers import (
    http_exception_handler,
    request_validation_exception_handler,
)
from fastapi.exceptions import RequestValidationError
from fastapi.responses import PlainTextResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.sessions import SessionMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from monitor.config import Config
from monitor.web import actions, api, feeds, pages
from monitor.web.access import Access
from monitor.web.guard import LoginNeeded
from monitor.web.hosts import KnownHosts
from monitor.web.state import SESSION_SECONDS, STATIC, TEMPLATES, WebState
from storage.db import Database

logger = logging.getLogger(__name__)

SECURITY_HEADERS = {
    # No script or style from anywhere but this app; no framing; no leaking of addresses.
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; "
    "frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
}


def templates() -> Jinja2Templates:
    found = Jinja2Templates(directory=str(TEMPLATES))
    found.env.autoescape = True  # every template, whatever its name
    found.env.filters["thousands"] = lambda n: f"{n:,}"
    return found


async def _login_needed(request: Request, _exc: Exception) -> Response:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)


async def _http_error(request: Request, exc: Exception) -> Response:
    """A page's error as a page; the API's as JSON."""
    assert isinstance(exc, StarletteHTTPException)
    if _for_a_script(request):
        return await http_exception_handler(request, exc)
    return _error_page(request, exc.status_code, str(exc.detail), exc.headers)


async def _invalid(request: Request, exc: Exception) -> Response:
    """A path or form value of the wrong kind (an id that is no number, or past any id): the
    API answers 422 with FastAPI's details, a page says which value in one line."""
    assert isinstance(exc, RequestValidationError)
    if _for_a_script(request):
        return await request_validation_exception_handler(request, exc)
    first = exc.errors()[0] if exc.errors() else {}
    where = ".".join(str(part) for part in first.get("loc", ())[1:]) or "request"
    return _error_page(request, 400, f"{where}: {first.get('msg', 'not valid')}")


def _for_a_script(request: Request) -> bool:
    return request.url.path.startswith("/api/") or bool(request.headers.get("authorization"))


def _error_page(
    request: Request, status: int, detail: str, headers: Mapping[str, str] | None = None
) -> Response:
    state: WebState = request.app.state.web
    return state.templates.TemplateResponse(
        request, "error.html", {"who": None, "status": status, "detail": detail,
                                "login_required": state.access.login_required},
        status_code=status, headers=headers,
    )  # fmt: skip


class HeadersAndLog:
    """Security headers on every answer, and one log line per request: its path without
    the query string, which may carry a feed reader's token. Plain ASGI: the per-request
    cost of a ``BaseHTTPMiddleware`` is avoided."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status, started = 500, False
        private = not scope["path"].startswith("/static/")

        async def answer(message: Message) -> None:
            nonlocal status, started
            if message["type"] == "http.response.start":
                status, started = message["status"], True
                headers = MutableHeaders(scope=message)
                headers.update(SECURITY_HEADERS)
                if private:  # no copy of a page or an answer left in a cache after logout
                    headers.setdefault("Cache-Control", "no-store")
            await send(message)

        try:
            await self.app(scope, receive, answer)
        except Exception:  # a fault of ours: logged, and answered here, with the headers
            logger.exception("web: %s failed", scope["method"])
            if not started:
                await PlainTextResponse("Internal Server Error", 500)(scope, receive, answer)
        finally:  # a request that failed is logged too, as the 500 it became
            path = scope["path"]
            quiet = path in ("/healthz", "/metrics") or path.startswith("/static/")
            # the path as sent, escaped: a decoded newline in it would forge a log line
            shown = path.encode("unicode_escape", "backslashreplace").decode("ascii")
            logger.log(logging.DEBUG if quiet else logging.INFO, "web: %s %s %d",
                       scope["method"], shown, status)  # fmt: skip


def create_app(config: Config, db: Database, access: Access) -> FastAPI:
    app = FastAPI(
        title="eventwatch", version="1", openapi_url="/api/v1/openapi.json",
        docs_url=None, redoc_url=None,  # their pages load scripts from a CDN
    )  # fmt: skip
    app.state.web = WebState(config, db, access, templates())
    app.add_middleware(
        SessionMiddleware, secret_key=access.session_secret, session_cookie="eventwatch_session",
        same_site="lax", https_only=access.secure_cookies, max_age=SESSION_SECONDS,
    )  # fmt: skip
    if access.hosts is not None:  # on loopback, as the daemon's listen stays until a restart
        app.add_middleware(KnownHosts, names=lambda: app.state.web.access.hosts)
    app.add_middleware(HeadersAndLog)
    app.add_exception_handler(LoginNeeded, _login_needed)
    # Starlette's own, which FastAPI's extends: routing raises it (no such page, wrong method)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _invalid)
    app.mount("/static", StaticFiles(directory=str(STATIC)), name="static")
    for router in (pages.router, actions.router, api.router, feeds.router):
        app.include_router(router)
    return app
