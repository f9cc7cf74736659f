"""Extraction through trafilatura's public API alone (its internals untouched) finds the same
articles on the fixture pages as with eventwatch's speed-ups: what happens on a trafilatura
version they were not written for."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

SITES = Path(__file__).parent / "fixtures" / "sites"
SCRIPT = """
import json, sys
from pathlib import Path
from trafilatura import xpaths
from trafilatura.utils import decode_file
from crawlers.extraction import trafilatura_internals
from crawlers.extraction.extract import extract
rewritten = any(
    type(e).__name__ == "RewrittenXPath" for e in xpaths.OVERALL_DISCARD_XPATH
)
found = []
for page in sorted(Path(sys.argv[1]).rglob("*.html")):
    article = extract(decode_file(page.read_bytes()), f"http://x.test/{page.name}")
    found.append(None if article is None else [article.title, article.text, article.language,
        str(article.published_at), article.authors])
print(json.dumps({"active": trafilatura_internals.ACTIVE, "rewritten": rewritten,
    "found": found}))
"""


def _extracted(patches: str) -> dict[str, object]:
    env = {**os.environ, "EVENTWATCH_DEPENDENCY_PATCHES": patches}
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(SITES)], capture_output=True, text=True, env=env
    )
    assert done.returncode == 0, done.stderr
    found: dict[str, object] = json.loads(done.stdout)
    return found


def test_extraction_without_the_patches_finds_the_same_articles() -> None:
    patched, public = _extracted("on"), _extracted("off")
    assert patched["active"] and patched["rewritten"]
    assert not public["active"] and not public["rewritten"]
    found = patched["found"]
    assert isinstance(found, list) and sum(article is not None for article in found) >= 20
    assert public["found"] == found


def test_without_the_patches_the_crawl_runs_scrapy_s_own_downloader() -> None:
    probe = "from crawlers.crawling import settings; print(settings.DOWNLOADER)"
    chosen = {}
    for patches in ("on", "off"):
        env = {**os.environ, "EVENTWATCH_DEPENDENCY_PATCHES": patches}
        done = subprocess.run(
            [sys.executable, "-c", probe], capture_output=True, text=True, env=env
        )
        chosen[patches] = done.stdout.strip()
    assert chosen == {
        "on": "crawlers.crawling.scrapy_internals.HostLimitedDownloader",
        "off": "scrapy.core.downloader.Downloader",
    }
