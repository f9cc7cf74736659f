"""What ``eventwatch crawl`` shows while it runs, on stderr: on a terminal, a line per source
with its pages fetched, stored and failed and a bar once the number of article pages is known;
with ``-v``, a log line per page. Piped output stays plain: the log lines only, no bars.

The crawl process tells its progress and logs as it goes (:mod:`crawlers.crawling.progress`); the
runner passes each line on (``on_progress``); this only renders them.
"""

from __future__ import annotations

import re
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, TextIO

from crawlers.launcher.report import Progress, read_progress

if TYPE_CHECKING:
    from rich.progress import Progress as Bars
    from rich.progress import TaskID

# Scrapy's log format in the crawl process: "2026-12-06 14:00:00 [logger] LEVEL: message"
LOG_RECORD = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \[[^\]]+\] ([A-Z]+): ")
SHOWN_LEVELS = frozenset({"WARNING", "ERROR", "CRITICAL"})


@contextmanager
def crawl_display(
    *, verbose: bool, stream: TextIO | None = None
) -> Iterator[Callable[[str], None] | None]:
    """The ``on_progress`` of a crawl, or None when there is nothing to show (piped, no -v)."""
    out = stream or sys.stderr
    live = out.isatty()
    if not (live or verbose):
        yield None
        return
    display = CrawlDisplay(out, verbose=verbose, live=live)
    try:
        yield display
    finally:
        display.close()


class CrawlDisplay:
    """Called from the runner's reader threads, one per pipe of the crawl process."""

    def __init__(self, stream: TextIO, *, verbose: bool, live: bool) -> None:
        self.stream = stream
        self.verbose = verbose
        self.lock = threading.Lock()
        self.showing_record = False  # the last log record was shown: so are its next lines
        self.bars = RunBars(stream) if live else None

    def __call__(self, line: str) -> None:
        progress = read_progress(line)
        with self.lock:
            if progress is not None:
                if self.bars is not None:
                    self.bars.show(progress)
            elif self.verbose and self._wanted(line):
                self._print(line)

    def _wanted(self, line: str) -> bool:
        """Lines about a page (they name their source) and warnings; not Scrapy's chatter
        (enabled middlewares, settings, the statistics at the end)."""
        record = LOG_RECORD.match(line)
        if record is not None:
            self.showing_record = record.group(1) in SHOWN_LEVELS or "source=" in line
        return self.showing_record

    def _print(self, line: str) -> None:
        if self.bars is not None:
            self.bars.print(line)
        else:
            self.stream.write(line + "\n")
            self.stream.flush()

    def close(self) -> None:
        if self.bars is not None:
            self.bars.stop()


class RunBars:
    """One rich progress line per crawl run."""

    def __init__(self, stream: TextIO) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            TextColumn,
            TimeElapsedColumn,
        )
        from rich.progress import (
            Progress as Bars,
        )

        self.bars: Bars = Bars(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[counts]}"),
            TimeElapsedColumn(),
            console=Console(file=stream),
        )
        self.tasks: dict[int, TaskID] = {}
        self.bars.start()

    def show(self, progress: Progress) -> None:
        task = self.tasks.get(progress.run)
        if task is None:
            task = self.bars.add_task(progress.source, total=None, counts="")
            self.tasks[progress.run] = task
        total = max(progress.queued, progress.done) or None  # unknown until articles are seen
        done = progress.done
        if progress.finished:
            total = done = total or 0
        counts = (
            f"fetched {progress.fetched}  stored {progress.stored}  "
            f"duplicates {progress.duplicates}  failed {progress.failed}"
        )
        self.bars.update(task, total=total, completed=done, counts=counts)

    def print(self, line: str) -> None:
        self.bars.console.print(line, markup=False, highlight=False, soft_wrap=True)

    def stop(self) -> None:
        self.bars.stop()
