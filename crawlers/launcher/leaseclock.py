"""The clock a crawl's lease on its source is told on (:mod:`crawlers.crawling.leases`)."""

from __future__ import annotations

import time


def lease_clock() -> float:
    """Seconds on a clock every process of the machine shares, which runs on while a process
    is stopped and, where the system has it (Linux's boot time), while the machine sleeps, as
    the other machines' clocks do."""
    if hasattr(time, "CLOCK_BOOTTIME"):
        return time.clock_gettime(time.CLOCK_BOOTTIME)
    return time.monotonic()
