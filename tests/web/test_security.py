"""The web UI's defences, against the real daemon: page text escaped everywhere, logins that
send nowhere but this site, CSRF and roles on every action, secrets kept out of the log, and
no start on an open address without users."""

from __future__ import annotations

import asyncio
import logging
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
import yaml
from starlette.types import Receive, Scope, Send

from monitor.eventsearch import csv_row
from monitor.web.access import hash_password
from monitor.web.app import HeadersAndLog
from storage.eventpages import EventRow
from tests.receivers import free_port
from tests.test_crawl import source_yaml
from tests.webworld import HOSTILE_TITLE, PASSWORDS, TOKENS, World, wait_until_up

VIEWER = {"Authorization": f"Bearer {TOKENS['viewer']}"}
ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"


def logged_in(world: World, name: str) -> tuple[httpx.Client, str]:
    """A browser-like client logged in as ``name``, and its CSRF token."""
    return login_at(world.base, name)


def login_at(base: str, name: str) -> tuple[httpx.Client, str]:
    client = httpx.Client(base_url=base)
    csrf = _csrf(client.get("/login").text)
    answer = client.post("/login", data={"name": name, "password": PASSWORDS[name],
                                         "csrf": csrf, "next": "/events"})  # fmt: skip
    assert answer.status_code == 303, answer.text
    return client, _csrf(client.get("/events").text)


def _csrf(page: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', page)
    assert found, page
    return found.group(1)


def hostile_event(world: World) -> int:
    found = httpx.get(world.base + "/api/v1/events", headers=VIEWER, params={"q": "alert"})
    (event,) = [e for e in found.json()["events"] if e["title"] == HOSTILE_TITLE]
    return int(event["id"])


@pytest.mark.parametrize("page", ["/events", "/events/{id}", "/rules?q=alert", "/events.csv"])
def test_a_title_that_is_a_script_tag_is_shown_as_text(world: World, page: str) -> None:
    body = httpx.get(world.base + page.format(id=hostile_event(world)), headers=VIEWER).text
    assert HOSTILE_TITLE not in body if page != "/events.csv" else HOSTILE_TITLE in body
    if page != "/events.csv":
        assert ESCAPED in body


def test_the_feed_carries_the_title_as_escaped_text(world: World) -> None:
    body = httpx.get(world.base + "/feeds/events.atom", headers=VIEWER).text
    assert HOSTILE_TITLE not in body and ESCAPED in body


@pytest.mark.parametrize(
    "target", ["https://evil.example/", "//evil.example/", "/\\evil.example", "javascript:x"]
)
def test_login_never_redirects_off_the_site(world: World, target: str) -> None:
    client = httpx.Client(base_url=world.base)
    csrf = _csrf(client.get("/login", params={"next": target}).text)
    answer = client.post("/login", data={"name": "ana", "password": PASSWORDS["ana"],
                                         "csrf": csrf, "next": target})  # fmt: skip
    assert answer.status_code == 303 and answer.headers["location"] == "/events"


def test_login_returns_to_the_page_asked_for_on_this_site(world: World) -> None:
    first = httpx.get(world.base + "/sources")
    assert first.status_code == 303 and first.headers["location"] == "/login?next=%2Fsources"
    client = httpx.Client(base_url=world.base)
    csrf = _csrf(client.get("/login", params={"next": "/sources"}).text)
    answer = client.post("/login", data={"name": "vera", "password": PASSWORDS["vera"],
                                         "csrf": csrf, "next": "/sources"})  # fmt: skip
    assert answer.headers["location"] == "/sources"
    assert client.get("/sources").status_code == 200


def test_a_wrong_password_is_refused_and_never_logged(world: World) -> None:
    client = httpx.Client(base_url=world.base)
    csrf = _csrf(client.get("/login").text)
    wrong = client.post("/login", data={"name": "ana", "password": "guess-Zq81",
                                        "csrf": csrf})  # fmt: skip
    assert wrong.status_code == 401 and "wrong name or password" in wrong.text
    assert client.get("/events").status_code == 303
    assert "guess-Zq81" not in world.log.read_text()


def test_a_flood_of_logins_is_answered_at_once_past_the_few_checked(world: World) -> None:
    """Each password check takes argon2's 64 MiB and a tenth of a second: forty wrong logins
    at once, no account needed, had grown the daemon by gigabytes and kept /healthz waiting.
    Past two checks at once, a login is answered 429 at once; one after the flood works."""
    clients = [httpx.Client(base_url=world.base) for _ in range(24)]
    tokens = [_csrf(client.get("/login").text) for client in clients]
    start = threading.Barrier(len(clients))

    def wrong_login(client: httpx.Client, csrf: str) -> int:
        start.wait()
        answer = client.post("/login", data={"name": "ana", "password": "guess-Zq81",
                                             "csrf": csrf})  # fmt: skip
        return answer.status_code

    with ThreadPoolExecutor(len(clients)) as pool:
        codes = Counter(pool.map(wrong_login, clients, tokens))
    assert set(codes) == {401, 429} and codes[401] >= 2, codes
    client, _ = logged_in(world, "ana")
    assert client.get("/events").status_code == 200


def test_an_action_without_the_csrf_token_is_refused(world: World) -> None:
    client, csrf = logged_in(world, "ana")
    event = hostile_event(world)
    refused = client.post(f"/events/{event}/triage", data={"action": "star"})
    assert refused.status_code == 403 and "CSRF" in refused.text
    forged = client.post(f"/events/{event}/triage", data={"action": "star", "csrf": "x" * 43})
    assert forged.status_code == 403
    assert client.post("/api/v1/sources/wpnews/hold", json={"held": True}).status_code == 403
    done = client.post(f"/events/{event}/triage", data={"action": "star", "csrf": csrf})
    assert done.status_code == 303
    assert httpx.get(f"{world.base}/api/v1/events/{event}", headers=VIEWER).json()["starred"]


def test_a_viewer_reads_but_is_refused_every_action(world: World) -> None:
    client, csrf = logged_in(world, "vera")
    assert client.get("/deliveries").status_code == 200
    for path, data in (
        ("/events/1/triage", {"action": "read"}), ("/sources/wpnews/crawl", {}),
        ("/sources/wpnews/hold", {"held": "true"}), ("/deliveries/1/retry", {}),
    ):  # fmt: skip
        assert client.post(path, data={**data, "csrf": csrf}).status_code == 403, path


def test_a_viewer_may_log_out(world: World) -> None:
    client, csrf = logged_in(world, "vera")
    out = client.post("/logout", data={"csrf": csrf})
    assert (out.status_code, out.headers["location"]) == (303, "/login")
    assert client.get("/events").status_code == 303  # the session is gone


def test_a_copy_of_the_session_cookie_ends_with_the_logout(world: World) -> None:
    """The session lives in its signed cookie: a copy kept working for 12 hours after its
    owner logged out."""
    client, csrf = logged_in(world, "ana")
    kept = httpx.Client(base_url=world.base, cookies=dict(client.cookies))
    assert kept.get("/events").status_code == 200
    assert client.post("/logout", data={"csrf": csrf}).status_code == 303
    assert kept.get("/events").status_code == 303  # to the login page
    assert kept.post("/events/1/triage", data={"action": "read", "csrf": csrf}).status_code == 401
    other, _ = logged_in(world, "ana")  # a session of its own, on again
    assert other.get("/events").status_code == 200


@pytest.mark.parametrize(
    "path",
    ["/events?limit=²", "/events?offset=²", "/api/v1/events?limit=²",
     "/events/2147483648", "/api/v1/events/99999999999999999999"],
)  # fmt: skip
def test_a_number_out_of_reach_is_a_clear_refusal_never_a_server_error(
    world: World, path: str
) -> None:
    answer = httpx.get(world.base + path, headers=VIEWER)
    if path.startswith("/events?"):  # the page says what is wrong with its filter
        assert answer.status_code == 200 and "is not a whole number" in answer.text
    else:
        assert answer.status_code in (400, 422), answer.text
    client, csrf = logged_in(world, "ana")
    for action in ("/events/99999999999999999999/triage", "/deliveries/2147483648/retry"):
        answer = client.post(action, data={"action": "read", "csrf": csrf})
        assert answer.status_code == 400 and "<html" in answer.text  # a page, for a browser
    for page in ("/events/2147483648", "/events/abc"):
        answer = client.get(page)
        assert answer.status_code == 400 and "event_id:" in answer.text, page


def test_a_token_in_the_query_string_never_reaches_the_log(world: World) -> None:
    token = TOKENS["viewer"]
    answer = httpx.get(world.base + "/feeds/events.atom", params={"token": token})
    assert answer.status_code == 200
    httpx.get(world.base + "/api/v1/events", params={"token": token, "q": "x"})
    httpx.get(world.base + "/events", params={"token": token})
    time.sleep(0.5)  # the daemon's log is written by another process
    log = world.log.read_text()
    assert "GET /feeds/events.atom 200" in log
    assert token not in log and TOKENS["analyst"] not in log


def test_answers_carry_the_security_headers_and_a_secure_session_cookie(world: World) -> None:
    answer = httpx.get(world.base + "/login")
    assert "default-src 'self'" in answer.headers["content-security-policy"]
    assert answer.headers["x-frame-options"] == "DENY"
    assert answer.headers["cache-control"] == "no-store"  # nothing left in a cache at logout
    assert httpx.get(world.base + "/api/v1/events", headers=VIEWER).headers["cache-control"] == (
        "no-store"
    )
    cookie = answer.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie


def _web_config(tmp_path: Path, listen: str) -> Path:
    config = {
        "database": f"sqlite:///{tmp_path / 'eventwatch.db'}",
        "sources": [source_yaml("desk", "http://127.0.0.1:9")],
        "web": {"listen": listen},
    }
    path = tmp_path / "eventwatch.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


def test_an_open_address_without_users_refuses_to_start(tmp_path: Path) -> None:
    config = _web_config(tmp_path, f"0.0.0.0:{free_port()}")
    result = subprocess.run([sys.executable, "-m", "monitor.cli", "--config", str(config), "web"],
                            capture_output=True, text=True, timeout=60)  # fmt: skip
    assert result.returncode == 2
    assert "needs users" in result.stderr and "Traceback" not in result.stderr


def test_on_loopback_without_users_no_login_is_needed_but_csrf_still_is(tmp_path: Path) -> None:
    port = free_port()
    config = _web_config(tmp_path, f"127.0.0.1:{port}")
    web = subprocess.Popen([sys.executable, "-m", "monitor.cli", "--config", str(config), "web"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        base = f"http://127.0.0.1:{port}"
        wait_until_up_page(base)
        client = httpx.Client(base_url=base)
        assert client.get("/events").status_code == 200
        assert client.post("/sources/desk/crawl", data={}).status_code == 403
        csrf = _csrf(client.get("/sources").text)
        assert client.post("/sources/desk/crawl", data={"csrf": csrf}).status_code == 303
    finally:
        web.terminate()
        web.wait(30)


def wait_until_up_page(base: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            httpx.get(base + "/login", timeout=2)
            return
        except httpx.TransportError:
            time.sleep(0.2)
    wait_until_up(base, 0)


def test_a_reload_takes_a_removed_token_and_a_changed_role_at_once(tmp_path: Path) -> None:
    """SIGHUP swapped the pages' config but kept the users and tokens read at start: a
    revoked token still asked for crawls and a demoted analyst still triaged."""
    port = free_port()
    config = _web_config(tmp_path, "127.0.0.1:0")
    settings = yaml.safe_load(config.read_text(encoding="utf-8"))
    settings["daemon"] = {"listen": f"127.0.0.1:{port}"}
    settings["web"] = {
        "users": [{"name": "ana", "role": "analyst", "password_hash_env": "EW_HASH_ANA"}],
        "tokens": [{"name": "script", "role": "analyst", "token_env": "EW_TOKEN_ANALYST"}],
    }
    config.write_text(yaml.safe_dump(settings), encoding="utf-8")
    env = {**os.environ, "EW_HASH_ANA": hash_password(PASSWORDS["ana"]),
           "EW_TOKEN_ANALYST": TOKENS["analyst"]}  # fmt: skip
    daemon = subprocess.Popen(
        [sys.executable, "-m", "monitor.cli", "--config", str(config), "run"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    base, script = f"http://127.0.0.1:{port}", {"Authorization": f"Bearer {TOKENS['analyst']}"}
    try:
        wait_until_up_page(base)
        client, csrf = login_at(base, "ana")
        assert httpx.post(base + "/api/v1/sources/desk/hold", headers=script,
                          json={"held": False}).status_code == 200  # fmt: skip
        settings["web"]["tokens"] = []
        settings["web"]["users"][0]["role"] = "viewer"
        config.write_text(yaml.safe_dump(settings), encoding="utf-8")
        daemon.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 60
        while (
            time.monotonic() < deadline
            and httpx.get(base + "/api/v1/sources", headers=script).status_code != 401
        ):
            time.sleep(0.2)
        assert httpx.get(base + "/api/v1/sources", headers=script).status_code == 401
        answer = client.post("/sources/desk/hold", data={"held": "true", "csrf": csrf})
        assert answer.status_code == 403  # ana reads on, as a viewer now
        assert client.get("/events").status_code == 200
    finally:
        daemon.send_signal(signal.SIGTERM)
        _, errors = daemon.communicate(timeout=60)
    assert "config reloaded" in errors


@pytest.mark.parametrize("title", ['=HYPERLINK("http://127.0.0.1/?leak="&A1,"Open")', "+1+1",
                                   "-2+3", "@SUM(A1)", "\tcmd", "\rcmd"])  # fmt: skip
def test_a_csv_cell_of_crawled_text_never_starts_a_formula(title: str) -> None:
    """A crawled title that starts with "=" ran as a formula in the analyst's spreadsheet."""
    moment = datetime(2026, 12, 7, tzinfo=UTC)
    row = EventRow(7, title, "http://127.0.0.1/a", moment, moment, None, ("=src",), ("en",),
                   ("-Place",), ("@Org",), ("+rule",))  # fmt: skip
    cells = csv_row(row)
    assert cells[1] == "'" + title
    assert [cells[6], cells[8], cells[9], cells[10]] == ["'=src", "'-Place", "'@Org", "'+rule"]
    assert csv_row(EventRow(7, "Summit on 3 March", "http://127.0.0.1/a", moment, moment, None,
                            (), (), (), (), ()))[1] == "Summit on 3 March"  # fmt: skip


def test_a_csrf_token_that_is_not_ascii_is_refused_not_a_server_error(world: World) -> None:
    client, _ = logged_in(world, "ana")
    answer = client.post("/logout", headers={"X-CSRF-Token": "\u00e9".encode("latin-1")})
    assert answer.status_code == 403
    answer = client.post("/logout", data={"csrf": "é"})
    assert answer.status_code == 403


def test_an_offset_of_thousands_of_digits_is_the_last_page_not_a_server_error(
    world: World,
) -> None:
    """Python refuses to read a number of more than 4,300 digits (a ValueError, once a 500).
    The page reads such a number as past every bound; the API refuses it as no integer."""
    huge = "9" * 4301
    pages = {
        name: httpx.get(world.base + "/events", headers=VIEWER, params={key: value})
        for name, key, value in (("offset", "offset", huge), ("limit", "limit", huge),
                                 ("most", "limit", "500"))
    }  # fmt: skip
    assert all(page.status_code == 200 for page in pages.values())
    rows = {name: page.text.count('<tr class="') for name, page in pages.items()}
    assert rows["offset"] == 0 and rows["limit"] == rows["most"] > 0
    api = httpx.get(world.base + "/api/v1/events", headers=VIEWER, params={"offset": huge})
    assert api.status_code == 422


def test_a_newline_in_the_path_cannot_forge_a_log_line(world: World) -> None:
    forged = "2026-12-07 11:40:00,000 INFO monitor.web.actions: web: ana logged in"
    httpx.get(world.base + "/nothing%0a" + forged.replace(" ", "%20"), headers=VIEWER)
    time.sleep(0.5)  # the daemon's log is written by another process
    lines = world.log.read_text().splitlines()
    assert not any(line.startswith(forged) for line in lines)
    assert any("/nothing\\n2026-12-07" in line for line in lines)


def test_a_fault_of_ours_is_a_500_with_the_headers_and_a_log_line(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def broken(scope: Scope, receive: Receive, send: Send) -> None:
        raise RuntimeError("a fault of ours")

    async def ask() -> httpx.Response:
        transport = httpx.ASGITransport(app=HeadersAndLog(broken))
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
            return await client.get("/events")

    with caplog.at_level(logging.INFO, logger="monitor.web.app"):
        answer = asyncio.run(ask())
    assert answer.status_code == 500
    assert answer.headers["x-frame-options"] == "DENY"
    assert "web: GET /events 500" in caplog.text and "a fault of ours" in caplog.text


@pytest.mark.parametrize("host", ["rebind.attacker.example", "rebind.attacker.example:80",
                                  "127.0.0.1.attacker.example", ""])  # fmt: skip
def test_on_loopback_a_request_for_another_name_is_refused(world: World, host: str) -> None:
    """A page whose name points at 127.0.0.1 (DNS rebinding) is the same origin as the UI in
    the browser: with no login on loopback, it could read and act there."""
    answer = httpx.get(world.base + "/api/v1/events", headers={**VIEWER, "Host": host})
    assert answer.status_code == 400 and "unknown host" in answer.text
    assert answer.headers["x-frame-options"] == "DENY"


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "LOCALHOST", "[::1]"])
def test_on_loopback_its_own_names_are_served(world: World, host: str) -> None:
    port = world.base.rsplit(":", 1)[1]
    answer = httpx.get(world.base + "/api/v1/events", headers={**VIEWER, "Host": f"{host}:{port}"})
    assert answer.status_code == 200


def test_a_page_that_is_not_there_is_a_page_the_api_json(world: World) -> None:
    """Routing's own errors (no such path, wrong method) came back as JSON to a browser."""
    client, _ = logged_in(world, "vera")
    for answer in (client.get("/nothing-here"), client.get("/logout")):
        assert answer.status_code in (404, 405)
        assert answer.headers["content-type"].startswith("text/html") and "<html" in answer.text
    answer = httpx.get(world.base + "/api/v1/nothing-here", headers=VIEWER)
    assert answer.status_code == 404 and answer.json() == {"detail": "Not Found"}
