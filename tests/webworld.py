"""A real eventwatch for the web tests: fixture sites on 127.0.0.1 (several outlets and
languages, one story reported by two of them, a page whose title is a script tag), crawled
by the real command, then the real daemon serving the web UI on a free port, with users,
tokens, and a webhook receiver that refuses the first alerts (so three deliveries have
failed: one a dispatch pass)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import yaml

from monitor.web.access import hash_password
from tests.conftest import FIXTURES
from tests.receivers import WebhookReceiver, free_port
from tests.sitehost import SiteServer, serve
from tests.test_crawl import run_cli, source_yaml

SITES = ("storywire", "storydesk", "wpnews", "feedsite", "cyrillic")
# A script tag, then a run of 240 letters with nowhere to break a line (a pasted token, say)
HOSTILE_TITLE = "<script>alert(1)</script> " + "Zqxv" * 60
PASSWORDS = {"vera": "viewer-password-1", "ana": "analyst-password-1"}
TOKENS = {"viewer": "viewer-token-3f9a2c", "analyst": "analyst-token-8d1e7b"}
HOSTILE_PAGE = """<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">
<title>&lt;script&gt;alert(1)&lt;/script&gt; {RUN}</title>
<meta property="article:published_time" content="2025-09-03T08:00:00Z"></head><body>
<main><div class="story"><h1>&lt;script&gt;alert(1)&lt;/script&gt; {RUN}</h1>
<p>A reader sent this headline to the agency to see whether the web interface would run it as
a script. It should be shown as plain text on every page where the title appears.</p>
<p>The rest of this report is ordinary prose about a water-sharing meeting between the
ministries of two neighbouring states, held on Wednesday in a mountain town near the border.</p>
<p>Officials agreed to publish river flow figures every week during the irrigation season and
to meet again before the winter, when the reservoirs are refilled for the next spring.</p>
</div></main></body></html>""".replace("{RUN}", "Zqxv" * 60)


@dataclass
class World:
    base: str  # the daemon's web UI
    config: Path
    db_url: str
    log: Path  # the daemon's stderr
    env: dict[str, str]
    sites: dict[str, SiteServer]
    hook: WebhookReceiver


def _environment() -> dict[str, str]:
    env = {f"EW_HASH_{name.upper()}": hash_password(pw) for name, pw in PASSWORDS.items()}
    env |= {f"EW_TOKEN_{role.upper()}": token for role, token in TOKENS.items()}
    return {**os.environ, **env, "EW_SESSION": "a-session-secret-for-tests"}


def _config(tmp: Path, sites: dict[str, SiteServer], hook: str, listen: str) -> Path:
    config = {
        "database": f"sqlite:///{tmp / 'eventwatch.db'}",
        "sources": [source_yaml(name, site.base_url) for name, site in sites.items()],
        "rules": [
            {"name": "dushanbe-ct", "query": "Dushanbe AND terror*", "notify": ["soc"]},
            {"name": "water", "query": "water OR reservoir*"},
        ],
        "channels": {"soc": {"type": "webhook", "url": hook}},
        "delivery": {"max_attempts": 1, "backoff_initial": "1s", "backoff_max": "1s"},
        "daemon": {"listen": listen, "match_every": "1s", "dispatch_every": "1s",
                   "max_parallel_crawls": 1, "crawl_processes": 1},
        "web": {
            "users": [{"name": "vera", "role": "viewer", "password_hash_env": "EW_HASH_VERA"},
                      {"name": "ana", "role": "analyst", "password_hash_env": "EW_HASH_ANA"}],
            "tokens": [{"name": "reader", "role": "viewer", "token_env": "EW_TOKEN_VIEWER"},
                       {"name": "script", "role": "analyst", "token_env": "EW_TOKEN_ANALYST"}],
            "session_secret_env": "EW_SESSION",
        },
    }  # fmt: skip
    path = tmp / "eventwatch.yaml"
    path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    return path


def _copy_sites(tmp: Path) -> None:
    for name in SITES:
        shutil.copytree(FIXTURES / "sites" / name, tmp / name)
    page = tmp / "storywire" / "news" / "2025" / "09" / "03" / "reader-test.html"
    page.parent.mkdir(parents=True)
    page.write_text(HOSTILE_PAGE, encoding="utf-8")
    index = tmp / "storywire" / "index.html"
    link = '<li><a href="{{BASE}}/news/2025/09/03/reader-test.html">A reader test</a></li>'
    index.write_text(index.read_text("utf-8").replace("<ul>", "<ul>" + link, 1), "utf-8")


def wait_until_up(base: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(base + "/healthz", timeout=2):
                return
        except OSError:
            time.sleep(0.2)
    raise AssertionError(f"the daemon did not answer at {base}")


@contextmanager
def running_world(tmp: Path) -> Iterator[World]:
    _copy_sites(tmp)
    with ExitStack() as stack:
        sites = {name: stack.enter_context(serve(tmp / name)) for name in SITES}
        hook = stack.enter_context(WebhookReceiver())
        hook.respond_with([500] * 100)  # every alert of the first crawl fails
        port = free_port()
        config = _config(tmp, sites, hook.url, f"127.0.0.1:{port}")
        env = _environment()
        crawled = subprocess.run(
            [sys.executable, "-m", "monitor.cli", "--config", str(config), "crawl", "--all"],
            env=env, capture_output=True, text=True, timeout=240,
        )  # fmt: skip
        assert "storywire: ok" in crawled.stdout, crawled.stdout + crawled.stderr
        for _ in range(2):  # a channel that fails is tried once a pass: two passes more
            subprocess.run(
                [sys.executable, "-m", "monitor.cli", "--config", str(config), "alerts", "send"],
                env=env, capture_output=True, text=True, timeout=60, check=True,
            )  # fmt: skip
        hook.respond_with([])  # from now on, alerts go through
        log = tmp / "daemon.log"
        with log.open("w") as errors:
            daemon = subprocess.Popen(
                [sys.executable, "-m", "monitor.cli", "--config", str(config), "run"],
                env=env, stdout=subprocess.DEVNULL, stderr=errors,
            )  # fmt: skip
        try:
            base = f"http://127.0.0.1:{port}"
            wait_until_up(base)
            yield World(base, config, f"sqlite:///{tmp / 'eventwatch.db'}", log, env, sites, hook)
        finally:
            daemon.terminate()
            daemon.wait(60)


__all__ = ["HOSTILE_TITLE", "PASSWORDS", "TOKENS", "World", "run_cli", "running_world"]
