"""Who is asking, and whether they may: FastAPI dependencies shared by pages, actions and
the API. An action by a logged-in person must carry the session's CSRF token (a form field
``csrf`` or the header ``X-CSRF-Token``); a script with a bearer token carries no cookie, so
no other site can make its browser act for it."""

from __future__ import annotations

import hmac
import secrets
from typing import Annotated

from fastapi import Depends, HTTPException, Path, Request

from monitor.web.access import Identity
from monitor.web.state import WebState
from storage.ids import MAX_ROW_ID


class LoginNeeded(Exception):
    """A page asked for by someone not logged in: they are sent to the login page."""


def web_state(request: Request) -> WebState:
    state: WebState = request.app.state.web
    return state


def csrf_token(request: Request) -> str:
    token = request.session.get("csrf")
    if not isinstance(token, str):
        token = request.session["csrf"] = secrets.token_urlsafe(32)
    return token


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def who(request: Request, state: WebState) -> tuple[Identity | None, bool]:
    """The identity behind a request, and whether it came by token (no cookie)."""
    token = _bearer(request)
    if token is not None:
        return state.access.by_token(token), True
    session_id = request.session.get("sid")
    if isinstance(session_id, str) and state.session_ended(session_id):
        return None, False
    return state.access.by_session(request.session.get("user")), False


def page_reader(request: Request, state: Annotated[WebState, Depends(web_state)]) -> Identity:
    identity, _ = who(request, state)
    if identity is None:
        raise LoginNeeded
    return identity


def api_reader(request: Request, state: Annotated[WebState, Depends(web_state)]) -> Identity:
    identity, _ = who(request, state)
    if identity is None:
        raise HTTPException(401, "a token or a login is needed",
                            headers={"WWW-Authenticate": "Bearer"})  # fmt: skip
    return identity


async def signed_in(request: Request, state: Annotated[WebState, Depends(web_state)]) -> Identity:
    """Anyone known, with a valid CSRF token unless they came with a bearer token: what
    every form needs, logging out included."""
    identity, by_token = who(request, state)
    if identity is None:
        raise HTTPException(401, "a token or a login is needed")
    if not by_token:
        await _check_csrf(request)
    return identity


async def actor(identity: Annotated[Identity, Depends(signed_in)]) -> Identity:
    """Someone who may act (an analyst), as :func:`signed_in` checks them."""
    if not identity.may_act:
        raise HTTPException(403, f"{identity.name} is a {identity.role}: only an analyst may")
    return identity


async def _check_csrf(request: Request) -> None:
    sent = [request.headers.get("x-csrf-token")]
    if "form" in request.headers.get("content-type", ""):
        sent.append(str((await request.form()).get("csrf") or ""))
    if not any(csrf_matches(request, token) for token in sent):
        raise HTTPException(403, "missing or wrong CSRF token: reload the page and try again")


def csrf_matches(request: Request, token: str | None) -> bool:
    """Whether ``token`` is the session's CSRF token (compared in constant time)."""
    expected = request.session.get("csrf")
    if not token or not isinstance(expected, str):
        return False
    return hmac.compare_digest(token.encode(), expected.encode())


Reader = Annotated[Identity, Depends(page_reader)]
ApiReader = Annotated[Identity, Depends(api_reader)]
Actor = Annotated[Identity, Depends(actor)]
SignedIn = Annotated[Identity, Depends(signed_in)]
# Ids in a path: PostgreSQL's are 32-bit; a larger one is refused before any query.
RowId = Annotated[int, Path(ge=1, le=MAX_ROW_ID)]
State = Annotated[WebState, Depends(web_state)]
