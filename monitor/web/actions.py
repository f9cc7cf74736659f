"""What analysts do from the pages: triage an event, ask for a crawl, hold a source, retry a
delivery; and logging in and out. Each answers with a redirect back (303), so a plain form
works without JavaScript."""

from __future__ import annotations

import logging
import secrets
from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from monitor.web.access import LoginBusy, safe_next
from monitor.web.guard import Actor, RowId, SignedIn, State, csrf_matches, csrf_token
from storage.outbox import delivery_statuses, requeue
from storage.triage import request_crawl, set_source_held, set_triage

logger = logging.getLogger(__name__)
router = APIRouter(include_in_schema=False)

TRIAGE = {
    "read": {"read": True}, "unread": {"read": False},
    "star": {"starred": True}, "unstar": {"starred": False},
    "dismiss": {"dismissed": True}, "restore": {"dismissed": False},
}  # fmt: skip


def back(target: str | None, default: str) -> Response:
    return RedirectResponse(safe_next(target or default), status_code=303)


@router.post("/events/{event_id}/triage")
def triage(
    state: State, who: Actor, event_id: RowId, action: Annotated[str, Form()],
    back_to: Annotated[str | None, Form()] = None,
) -> Response:  # fmt: skip
    if action not in TRIAGE:
        raise HTTPException(400, f"action: one of {', '.join(TRIAGE)}")
    done_on = set_triage(state.db, event_id, who.name, **TRIAGE[action])
    if done_on is None:
        raise HTTPException(404, f"no event {event_id}")
    logger.info("web: %s set %s on event %d", who.name, action, done_on)
    return back(back_to, f"/events/{done_on}")


def _known(state: State, name: str) -> None:
    if name not in {s.name for s in state.config.sources}:
        raise HTTPException(404, f"no source named {name!r}")


@router.post("/sources/{name}/crawl")
def crawl_now(state: State, who: Actor, name: str,
              back_to: Annotated[str | None, Form()] = None) -> Response:  # fmt: skip
    _known(state, name)
    request_crawl(state.db, name, who.name)
    logger.info("web: %s asked for a crawl of %s", who.name, name)
    return back(back_to, f"/sources/{name}")


@router.post("/sources/{name}/hold")
def hold(state: State, who: Actor, name: str, held: Annotated[bool, Form()],
         back_to: Annotated[str | None, Form()] = None) -> Response:  # fmt: skip
    _known(state, name)
    set_source_held(state.db, name, held, who.name)
    logger.info("web: %s %s source %s", who.name, "held" if held else "released", name)
    return back(back_to, "/sources")


@router.post("/deliveries/{delivery_id}/retry")
def retry(state: State, who: Actor, delivery_id: RowId,
          back_to: Annotated[str | None, Form()] = None) -> Response:  # fmt: skip
    if delivery_id not in delivery_statuses(state.db, [delivery_id]):
        raise HTTPException(404, f"no delivery {delivery_id}")
    if requeue(state.db, [delivery_id]):  # failed ones only (storage.leases.requeue_failed)
        logger.info("web: %s queued delivery %d again", who.name, delivery_id)
    return back(back_to, "/deliveries")


def _login_form(
    request: Request, state: State, next_page: str | None, problem: str = "", status: int = 200,
    headers: dict[str, str] | None = None,
) -> HTMLResponse:  # fmt: skip
    """The login page, with why the last try failed (``problem``)."""
    return state.templates.TemplateResponse(request, "login.html", {
        "who": None, "csrf": csrf_token(request), "problem": problem, "login_required": True,
        "next": safe_next(next_page),
    }, status_code=status, headers=headers)  # fmt: skip


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, state: State) -> HTMLResponse:
    return _login_form(request, state, request.query_params.get("next"))


# A plain def, so FastAPI runs it on a worker thread: argon2 takes a tenth of a second of
# CPU, and on the event loop every failed login held up every page and /healthz.
@router.post("/login", response_model=None)
def login(
    request: Request, state: State, name: Annotated[str, Form()],
    password: Annotated[str, Form()], csrf: Annotated[str, Form()] = "",
    next_page: Annotated[str | None, Form(alias="next")] = None,
) -> Response:  # fmt: skip
    if not csrf_matches(request, csrf):
        raise HTTPException(403, "missing or wrong CSRF token: reload the page and try again")
    try:
        identity = state.access.check_password(name, password)
    except LoginBusy:
        busy = "too many logins at once: try again in a moment"
        return _login_form(request, state, next_page, busy, 429, {"Retry-After": "1"})
    if identity is None:
        logger.warning("web: failed login for %r", name[:64])
        return _login_form(request, state, next_page, "wrong name or password", 401)
    request.session.clear()  # a new session on login: nothing set before carries over
    request.session["user"] = identity.name
    request.session["sid"] = secrets.token_urlsafe(16)
    logger.info("web: %s logged in", identity.name)
    return RedirectResponse(safe_next(next_page), status_code=303)


@router.post("/logout")
def logout(request: Request, state: State, who: SignedIn) -> Response:
    session_id = request.session.get("sid")
    if isinstance(session_id, str):
        state.end_session(session_id)  # a copy of the cookie ends with it
    request.session.clear()
    return RedirectResponse("/login", status_code=303)
