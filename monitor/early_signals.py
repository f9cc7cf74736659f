"""A reload asked for before the daemon handles its signals itself.

`eventwatch run` reads its config, migrates the database and imports the scheduler before
its own handlers are in place; a SIGHUP meanwhile (a service manager's reload, sent as it
starts) met the default action, and the daemon ended without a word, exit code 129.
"""

from __future__ import annotations

import signal
import threading

HUP = threading.Event()  # a SIGHUP came before the daemon's own handlers


def note_hup() -> None:
    """From now until the daemon's own handler replaces this: a SIGHUP is noted, not fatal."""
    signal.signal(signal.SIGHUP, lambda _signum, _frame: HUP.set())
