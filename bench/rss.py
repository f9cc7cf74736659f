"""Resident memory of a process and the peak of its crawl subprocesses, sampled."""

from __future__ import annotations

import threading

import psutil

CRAWL_MODULE = "crawlers.crawl"
# an extraction worker, forked by the fork server (whose command line it keeps) or spawned
WORKER_MARKS = ("multiprocessing.forkserver", "spawn_main")


def rss_mb(pid: int) -> float:
    return psutil.Process(pid).memory_info().rss / 2**20


class CrawlPeak:
    """Samples, every `interval` seconds, the RSS of each crawl subprocess under `pid`, and
    of each extraction worker apart."""

    def __init__(self, pid: int, interval: float = 0.1) -> None:
        self.pid = pid
        self.interval = interval
        self.peak_mb = 0.0
        self.worker_peak_mb = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def __enter__(self) -> CrawlPeak:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _sample(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                children = psutil.Process(self.pid).children(recursive=True)
            except psutil.NoSuchProcess:
                return
            for child in children:
                try:
                    command = " ".join(child.cmdline())
                    if CRAWL_MODULE in command:
                        self.peak_mb = max(self.peak_mb, child.memory_info().rss / 2**20)
                    elif any(mark in command for mark in WORKER_MARKS):
                        rss = child.memory_info().rss / 2**20
                        self.worker_peak_mb = max(self.worker_peak_mb, rss)
                except psutil.Error:
                    continue  # it ended between the listing and the look
