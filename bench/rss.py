"""Resident memory of a process and the peak of its crawl subprocesses, sampled; and the CPU
time of each process of a crawl, by what it does."""

from __future__ import annotations

import threading
import time

import psutil

from crawlers.launcher.child import CRAWL_COMMAND

CLI_MODULE = "monitor.cli"
# an extraction worker, forked by the fork server (whose command line it keeps) or spawned
WORKER_MARKS = ("multiprocessing.forkserver", "spawn_main")


def rss_mb(pid: int) -> float:
    return psutil.Process(pid).memory_info().rss / 2**20


class CrawlPeak:
    """Samples, every `interval` seconds, the RSS of each crawl subprocess under `pid`, and
    of each extraction worker apart; and the CPU time of every process under `pid`, last seen
    (what a process spends after its last sample, at most `interval`, is not counted).

    The processes under `pid` are listed again every `rescan` seconds only: listing them reads
    every process on the machine, and doing so at every sample would take CPU from the crawl
    being measured (the extraction limit it is compared with runs unobserved).
    """

    def __init__(self, pid: int, interval: float = 0.1, rescan: float = 0.5) -> None:
        self.pid = pid
        self.interval = interval
        self.rescan = rescan
        self.peak_mb = 0.0
        self.worker_peak_mb = 0.0
        self._cpu: dict[int, tuple[str, float]] = {}  # pid -> (role, CPU seconds)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def __enter__(self) -> CrawlPeak:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def cpu_seconds(self) -> dict[str, float]:
        """CPU seconds by role: "CLI", "crawl process", "fork server", "workers", "other"."""
        by_role: dict[str, float] = {}
        for role, seconds in self._cpu.values():
            by_role[role] = by_role.get(role, 0.0) + seconds
        return by_role

    def _sample(self) -> None:
        children: list[psutil.Process] = []
        listed = float("-inf")
        while not self._stop.wait(self.interval):
            if time.monotonic() - listed >= self.rescan:
                try:
                    children = psutil.Process(self.pid).children(recursive=True)
                except psutil.NoSuchProcess:
                    return
                listed = time.monotonic()
            for child in children:
                try:
                    known = self._cpu.get(child.pid)
                    role = known[0] if known else _role(child)
                    times = child.cpu_times()
                    self._cpu[child.pid] = (role, times.user + times.system)
                    if role == "crawl process":
                        self.peak_mb = max(self.peak_mb, child.memory_info().rss / 2**20)
                    elif role in ("workers", "fork server"):
                        rss = child.memory_info().rss / 2**20
                        self.worker_peak_mb = max(self.worker_peak_mb, rss)
                except psutil.Error:
                    continue  # it ended between the listing and the look


def _role(process: psutil.Process) -> str:
    command = " ".join(process.cmdline())
    if CRAWL_COMMAND in command:
        return "crawl process"
    if CLI_MODULE in command:
        return "CLI"
    if any(mark in command for mark in WORKER_MARKS):
        parent = process.parent()
        above = " ".join(parent.cmdline()) if parent else ""
        return "workers" if any(mark in above for mark in WORKER_MARKS) else "fork server"
    return "other"
