"""The web UI in a real browser (Debian's chromium, driven by Playwright) against the real
daemon over crawled fixture sites. Each test takes a screenshot of the page it ends on:
into ``$EVENTWATCH_SCREENSHOTS`` when set (``make screenshots``: docs/screenshots), else a
temporary folder."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from tests.webworld import HOSTILE_TITLE, PASSWORDS, World

CHROMIUM = Path("/usr/bin/chromium")


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    assert CHROMIUM.exists(), "chromium is missing: `make test` installs it (apt-get)"
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM),
                                              args=["--no-sandbox"])  # fmt: skip
        yield launched
        launched.close()


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    chosen = os.environ.get("EVENTWATCH_SCREENSHOTS")
    folder = Path(chosen) if chosen else tmp_path
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def log_in(browser: Browser, world: World, name: str) -> Page:
    page = browser.new_page(viewport={"width": 1280, "height": 860})
    page.goto(world.base + "/events")
    expect(page).to_have_url(re.compile(r"/login\?next="))
    page.fill("input[name=name]", name)
    page.fill("input[name=password]", PASSWORDS[name])
    page.click("button:has-text('Log in')")
    expect(page).to_have_url(re.compile(r"/events$"))
    return page


def snap(page: Page, shots: Path, name: str) -> None:
    path = shots / f"{name}.png"
    page.screenshot(path=str(path), full_page=False)
    assert path.stat().st_size > 10_000


def test_filter_events_open_one_and_mark_it_read(browser: Browser, world: World,
                                                 shots: Path) -> None:  # fmt: skip
    page = log_in(browser, world, "ana")
    snap(page, shots, "events")
    page.select_option("select[name=source]", "storydesk")
    page.click("button:has-text('Filter')")
    expect(page).to_have_url(re.compile("source=storydesk"))
    expect(page.locator("#count")).to_have_text(re.compile(r"^\d+ of \d+$"))
    rows = page.locator("table.events tbody tr")
    assert all("storydesk" in text for text in rows.all_inner_texts())
    page.locator("table.events tbody tr", has_text="storywire").first.locator("a").click()
    expect(page.locator("article.report")).to_have_count(2)
    expect(page.locator("mark").first).to_be_visible()
    expect(page.locator("#state")).to_have_text(re.compile("^unread"))
    page.click("button:has-text('Mark read')")
    expect(page.locator("#state")).to_have_text(re.compile("^read"))
    snap(page, shots, "event")


def test_backtest_a_rule(browser: Browser, world: World, shots: Path) -> None:
    page = log_in(browser, world, "vera")
    page.goto(world.base + "/rules")
    page.fill("input[name=q]", "Dushanbe AND terror*")
    page.click("button:has-text('Backtest')")
    expect(page.locator("#backtest-count")).to_have_text(re.compile(r"^[1-9]\d* matching"))
    expect(page.locator("ol.backtest mark").first).to_have_text(
        re.compile("dushanbe|terror", re.IGNORECASE)
    )
    snap(page, shots, "rules")


def test_retry_a_failed_delivery(browser: Browser, world: World, shots: Path) -> None:
    page = log_in(browser, world, "ana")
    page.goto(world.base + "/deliveries?status=failed")
    row = page.locator("table.deliveries tbody tr").first
    delivery = row.get_attribute("id")
    snap(page, shots, "deliveries")
    row.locator("button:has-text('Retry')").click()
    expect(page.locator(f"#{delivery}")).to_have_count(0)  # no longer among the failed
    page.goto(world.base + "/deliveries")
    expect(page.locator(f"#{delivery} td").nth(4)).to_have_text(re.compile("pending|sent"))


def test_crawl_now_and_see_the_run_appear(browser: Browser, world: World, shots: Path) -> None:
    page = log_in(browser, world, "ana")
    page.goto(world.base + "/sources/feedsite")
    before = page.locator("tr.run").count()
    page.click("button:has-text('Crawl now')")
    expect(page.locator("button:has-text('Crawl requested')")).to_be_visible()
    for _ in range(120):  # the daemon takes the request within seconds
        page.reload()
        if page.locator("tr.run").count() > before:
            break
        page.wait_for_timeout(500)
    assert page.locator("tr.run").count() > before
    snap(page, shots, "source")
    page.goto(world.base + "/sources")
    snap(page, shots, "sources")


def test_a_viewer_sees_no_actions_and_is_refused_one(browser: Browser, world: World) -> None:
    page = log_in(browser, world, "vera")
    page.goto(world.base + "/events/1")
    expect(page.locator("button:has-text('Mark read')")).to_have_count(0)
    csrf = page.locator("input[name=csrf]").first.get_attribute("value")
    answer = page.request.post(world.base + "/events/1/triage",
                               form={"action": "read", "csrf": csrf or ""})  # fmt: skip
    assert answer.status == 403 and "viewer" in answer.text()


def test_a_request_without_the_csrf_token_is_refused(browser: Browser, world: World) -> None:
    page = log_in(browser, world, "ana")
    page.goto(world.base + "/sources")
    # What another site's form would send: the session cookie, but not the token.
    page.evaluate("""() => {
        document.getElementById("page").removeAttribute("hx-headers");
        document.querySelectorAll('input[name=csrf]').forEach(e => e.remove());
    }""")
    page.locator("#source-wpnews button:has-text('Disable')").click()
    expect(page.locator("h1")).to_have_text("403")
    expect(page.locator(".problem")).to_contain_text("CSRF")


def test_a_script_tag_title_is_text_and_never_runs(browser: Browser, world: World,
                                                   shots: Path) -> None:  # fmt: skip
    page = log_in(browser, world, "vera")
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.goto(world.base + "/events")
    expect(page.locator("table.events a", has_text=HOSTILE_TITLE)).to_have_count(1)
    page.locator("table.events a", has_text=HOSTILE_TITLE).click()
    expect(page.locator("h1")).to_have_text(HOSTILE_TITLE)
    assert dialogs == []
    for where in ("/events", "/rules?q=alert"):  # its long run of letters wraps in the window
        page.goto(world.base + where)
        assert page.evaluate("document.documentElement.scrollWidth") <= 1280, where
    page.goto(world.base + "/login")
    snap(page, shots, "login")
