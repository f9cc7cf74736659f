"""`make demo` works offline: its sites are crawled, new articles appear, alerts reach the
SMTP sink and the webhook receiver, and the web UI answers where it says."""

from __future__ import annotations

import re
import subprocess
import sys
import threading
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_demo_crawls_alerts_and_serves_the_ui() -> None:
    demo = subprocess.Popen(
        [sys.executable, "-m", "tests.demo", "--every", "2", "--seconds", "30"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    assert demo.stdout is not None
    first = demo.stdout.readline()
    url = re.search(r"web UI at (http://127\.0\.0\.1:\d+/)", first)
    assert url, first
    answered: list[int] = []

    def ask_ui() -> None:  # while the demo runs
        for _ in range(60):
            try:
                with urllib.request.urlopen(url.group(1) + "events", timeout=2) as page:
                    answered.append(page.status)
                    return
            except OSError:
                threading.Event().wait(0.5)

    asker = threading.Thread(target=ask_ui)
    asker.start()
    rest = demo.stdout.read()
    assert demo.wait(60) == 0
    asker.join()
    assert answered == [200]
    assert "new on storywire: Ministers agree border security plan in Khujand" in rest
    assert "mail to desk@example.org: [eventwatch] border-security:" in rest
    assert "webhook: rule dushanbe-ct:" in rest
