"""Stopping multiprocessing's fork server: the one use of its internals, for the versions known.

The standard library starts a fork server but offers no way to stop it; it ends when the
process that started it does. A crawl process stops it at its end so that the server, and
the CPU time of the workers it forked, are counted by the process that started the crawl, and
kills it at once when it never forked a worker (it may still be importing extraction). On a
Python whose fork server was not written this way, it is left to end with the crawl process.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
from multiprocessing import forkserver

WRITTEN_FOR = ((3, 11), (3, 12), (3, 13))
logger = logging.getLogger(__name__)


def _server() -> object | None:
    """CPython's fork server object, when this Python has the one this module knows."""
    server = getattr(forkserver, "_forkserver", None)
    known = sys.version_info[:2] in WRITTEN_FOR and hasattr(server, "_stop")
    return server if known else None


def stop_fork_server(*, kill_first: bool) -> None:
    """Stop the fork server and wait for it; ``kill_first`` when it never forked a worker."""
    server = _server()
    if server is None:
        logger.info("the fork server ends with this process (Python %s)", sys.version.split()[0])
        return
    pid = getattr(server, "_forkserver_pid", None)
    if kill_first and pid is not None:
        os.kill(pid, signal.SIGKILL)
    server._stop()  # type: ignore[attr-defined]
