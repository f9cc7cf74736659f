"""One crawl process as the pool sees it: the jobs it holds, what it said, how it ended.

Its stdout is read line by line on a thread of its own, each line handed to the pool's queue
with the process it came from; the end of stdout is the end of the process. Its stderr (the
crawl's log) is read on another thread: the last lines are kept to say why it died, and at
INFO level or below every line is passed on, to the pool's display when it shows progress
(``eventwatch crawl`` on a terminal), else to our own stderr. Imports only the standard
library and psutil.
"""

from __future__ import annotations

import contextlib
import json
import queue
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from typing import TYPE_CHECKING, Any

import psutil

from crawlers.launcher.report import RunReport, apply_line

if TYPE_CHECKING:
    from crawlers.launcher.jobs import CrawlJob

Popen = subprocess.Popen[str]
STDERR_TAIL_LINES = 20
STDERR_TAIL_CHARS = 2000
QUIET_LEVELS = ("WARNING", "ERROR", "CRITICAL")


class CrawlProcess:
    def __init__(
        self,
        popen: Popen,
        events: queue.Queue[tuple[str, Any, Any]],
        options: dict[str, Any],
        extract_workers: int,
    ) -> None:
        self.popen = popen
        self.events = events
        self.jobs: dict[int, CrawlJob] = {}
        self.reports: dict[int, RunReport] = {}
        self.crawls = 0
        self.last_beat = time.monotonic()
        self.retiring = False
        self.solo = False  # runs one crawl, alone (crawlers.launcher.runner)
        self.killed: str | None = None
        self.tail: deque[str] = deque(maxlen=STDERR_TAIL_LINES)
        self.passed_on = bool(options.get("progress"))  # its log goes to the pool's display
        self.echo = options.get("log_level") not in QUIET_LEVELS and not self.passed_on
        # its stdin is written on a thread of its own (send)
        self.outbox: queue.SimpleQueue[str | None] = queue.SimpleQueue()
        threading.Thread(target=self._write_stdin, daemon=True).start()
        self.send({**options, "extract_workers": extract_workers})
        self.stderr_reader = threading.Thread(target=self._read_stderr, daemon=True)
        self.stderr_reader.start()
        threading.Thread(target=self._read_stdout, daemon=True).start()

    @property
    def alive(self) -> bool:
        return self.popen.poll() is None and self.killed is None

    @property
    def serving(self) -> bool:
        """Takes new crawls: alive, and neither recycled nor killed."""
        return self.alive and not self.retiring

    def send(self, message: dict[str, Any]) -> None:
        """Queued for the process's stdin. A process whose loop hangs reads no more, and a
        write to its full pipe would hold the pool's one thread, and with it every crawl,
        for good: the heartbeat check that kills it runs on that thread. A process that is
        gone is told nothing (its end is on its way to the pool)."""
        self.outbox.put(json.dumps(message) + "\n")

    def _write_stdin(self) -> None:
        stdin = self.popen.stdin
        assert stdin is not None
        with contextlib.suppress(OSError, ValueError):
            while (line := self.outbox.get()) is not None:
                stdin.write(line)
                stdin.flush()

    def read(self, line: str) -> int | None:
        """What ``line`` reported (:func:`crawlers.launcher.report.apply_line`)."""
        return apply_line(line, self.reports)

    def retire(self) -> None:
        """Let it finish what it holds, then end."""
        self.retiring = True
        self.send({"op": "drain"})

    def stop(self) -> None:
        """Ask its crawls to stop now (Scrapy closes each, and each reports)."""
        self.retiring = True
        with contextlib.suppress(OSError):
            self.popen.send_signal(signal.SIGTERM)

    def kill(self, why: str) -> None:
        if self.killed is None:
            self.killed = why
        with contextlib.suppress(OSError):
            self.popen.kill()

    def rss_mb(self) -> float:
        try:
            return float(psutil.Process(self.popen.pid).memory_info().rss) / 2**20
        except psutil.Error:
            return 0.0

    def interrupted(self) -> bool:
        """Ended by Ctrl-C: it reached the process in the instant it started, before its first
        line ignored it, and its master, which has it too, is stopping."""
        return self.popen.returncode == -signal.SIGINT

    def end_reason(self) -> str:
        """Why it ended, once it has: as killed, or its exit code and last words."""
        self.outbox.put(None)  # its writer ends
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.popen.wait(timeout=5)
        self.stderr_reader.join(timeout=1)
        if self.killed is not None:
            return f"crawl process killed: {self.killed}"
        tail = "\n".join(self.tail).strip()[-STDERR_TAIL_CHARS:]
        said = f": {tail}" if tail else ""
        return f"crawl process exited {self.popen.returncode}{said}"

    def _read_stdout(self) -> None:
        assert self.popen.stdout is not None
        with contextlib.suppress(OSError, ValueError):
            for line in self.popen.stdout:
                # any line at all shows its loop turns; noted as it comes, not when the pool
                # reads it, which a slow database can hold up past the heartbeat's limit
                self.last_beat = time.monotonic()
                self.events.put(("line", self, line.rstrip("\n")))
        self.events.put(("end", self, None))

    def _read_stderr(self) -> None:
        assert self.popen.stderr is not None
        with contextlib.suppress(OSError, ValueError):
            for line in self.popen.stderr:
                self.tail.append(line.rstrip("\n"))
                if self.passed_on:
                    self.events.put(("said", self, line.rstrip("\n")))
                elif self.echo:
                    sys.stderr.write(line)
