"""Give the C heap's free memory back to the system, so a daemon's resident size stays flat.

With its live objects flat, the daemon's RSS still crept up over many crawl cycles
(``bench/daemon.py`` watches it): glibc's heap kept what a batch of matched articles or a crawl's
bookkeeping had freed, in holes between blocks still in use, and returns to the system only
what lies at its top. Two glibc settings undo that. ``malloc_trim`` hands back every whole
free page, wherever it lies. A fixed mmap threshold keeps buffers of 128 KiB and more (a long
article, a page of result rows) out of the heap: glibc otherwise raises the threshold to the
largest buffer freed so far, and every later buffer of that size leaves a hole when freed.
Elsewhere than glibc both are no-ops.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
from functools import cache

logger = logging.getLogger(__name__)

M_MMAP_THRESHOLD = -3  # mallopt's parameter number, from glibc's <malloc.h>
MMAP_THRESHOLD_BYTES = 128 * 1024  # glibc's own starting value, kept from rising


@cache
def _glibc() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name)
    except OSError:
        return None
    if not (hasattr(libc, "malloc_trim") and hasattr(libc, "mallopt")):
        return None  # musl, macOS: no such calls, and their allocators behave otherwise
    return libc


def fix_mmap_threshold() -> None:
    """Once, at start: large buffers always get pages of their own, returned when freed."""
    libc = _glibc()
    if libc is not None and not libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES):
        logger.debug("mallopt(M_MMAP_THRESHOLD) refused")


def release_free_memory() -> None:
    """After each job: every whole free page of the heap goes back to the system."""
    libc = _glibc()
    if libc is not None:
        libc.malloc_trim(0)
