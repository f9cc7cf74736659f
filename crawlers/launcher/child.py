"""A crawl process, started before its work is known.

Importing Python, Scrapy and SQLAlchemy takes the crawl process about a second; reading the
config and opening the runs takes the caller about as long. Started first, the process does
its imports on the other core while the caller gets ready, then serves the jobs it is sent on
stdin (:mod:`crawlers.crawling.crawl`). A process that never gets a job is killed: it has touched
nothing.

Imported by the command line before anything heavy: this module imports only the standard
library.
"""

from __future__ import annotations

import os
import subprocess
import sys

# -c, not -m: see crawlers.crawling.crawl.run. The collector is off while Scrapy and Twisted are
# imported (their objects are not garbage, and walking them again and again as they pile up
# is wasted work); ``run`` turns it back on. Ctrl-C in a terminal reaches every process of its
# group: the crawl process ignores it from its first line on (as its workers then do), and
# again once Scrapy has started; its master, which catches it, stops the crawls in order. It
# stays in its master's group, so that Ctrl-Z stops it with its master: left running, it
# crawled on past its source's lease.
CRAWL_COMMAND = (
    "import signal; signal.signal(signal.SIGINT, signal.SIG_IGN); "
    "import gc; gc.disable(); from crawlers.crawling.crawl import run; run()"
)


class CrawlChild:
    """A started (or failed to start) crawl process, waiting for its jobs."""

    def __init__(self) -> None:
        self.process: subprocess.Popen[str] | None = None
        self.error: OSError | None = None
        self.taken = False
        try:
            self.process = subprocess.Popen(
                [sys.executable, "-c", CRAWL_COMMAND],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,  # its reports (crawlers.launcher.report)
                stderr=subprocess.PIPE,
                text=True,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )
        except OSError as exc:  # no process (out of memory, no such interpreter): the runs say so
            self.error = exc

    def take(self) -> subprocess.Popen[str] | OSError:
        """The process, for the one caller that gives it jobs; or why there is none."""
        if self.taken:
            raise RuntimeError("a crawl process has one master")
        self.taken = True
        return self.process if self.process is not None else self.error or OSError("no process")

    def abandon(self) -> None:
        """Stop a process nobody gave a job (a usage or config error came first)."""
        if not self.taken and self.process is not None:
            self.taken = True
            self.process.kill()
            self.process.communicate()
