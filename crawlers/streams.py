"""Waiting for a crawl process while passing on what it prints, line by line, as it comes.

``subprocess.communicate`` gives the output only at the end; a display of a crawl's progress
(``eventwatch crawl`` on a terminal, ``-v``) needs each line when it is written. Reports
(:mod:`crawlers.report`) are kept for the starter and not passed on. Imports only the
standard library and the report format: the monitor loads it.
"""

from __future__ import annotations

import logging
import subprocess
import threading
from collections.abc import Callable
from typing import IO

from crawlers import report

logger = logging.getLogger(__name__)

DRAIN_SECONDS = 10.0  # after the process ended, for the last lines in its pipes


def communicate_live(
    process: subprocess.Popen[str], job: str, timeout: float, forward: Callable[[str], None]
) -> tuple[str, str, bool]:
    """``process.communicate(job, timeout)``, killing it at the timeout, with each line of its
    stdout (but reports) and stderr given to ``forward``; (stdout, stderr, killed)."""
    out: list[str] = []
    err: list[str] = []
    readers = [
        threading.Thread(target=_pump, args=(process.stdout, out, forward), daemon=True),
        threading.Thread(target=_pump, args=(process.stderr, err, forward), daemon=True),
    ]
    for reader in readers:
        reader.start()
    _give_job(process, job)
    killed = False
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        killed = True
        process.wait()
    for reader in readers:  # an extraction worker still holding a pipe must not hold us
        reader.join(DRAIN_SECONDS)
    return "".join(out), "".join(err), killed


def _give_job(process: subprocess.Popen[str], job: str) -> None:
    if process.stdin is None:
        return
    try:
        process.stdin.write(job)
        process.stdin.close()
    except OSError:  # it ended before reading its job: its exit code tells why
        pass


def _pump(stream: IO[str] | None, kept: list[str], forward: Callable[[str], None]) -> None:
    if stream is None:
        return
    for line in stream:
        kept.append(line)
        if line.startswith(report.MARK):
            continue
        try:
            forward(line.rstrip("\n"))
        except Exception:  # a display that fails must not cost the run its record
            logger.exception("a crawl's output line could not be shown")
