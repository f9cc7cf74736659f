"""The crawl pool: long-lived crawl processes, each running many crawls at once.

A monitoring daemon mostly re-checks sites where nothing changed, and a crawl mostly waits on
a site's politeness delay; so crawls are jobs given to a few long-lived crawl processes
(:mod:`crawlers.crawling.crawl`), each of which runs dozens side by side in one reactor. What a
process per crawl bought is kept: a crawl past its time limit, a process silent past its
heartbeat, or one over its memory cap is killed and replaced, and the other crawls it held
are run again in another; a process is recycled (let finish, then replaced) after a number
of crawls or once it has grown.

Runs are opened here when a crawl is handed to a process and closed here from what the
process reported or, when it reported nothing, from how it ended, so a killed or crashed
crawl still shows. All of this happens on one thread of the pool's own, which alone writes
the runs. Imported by the monitor: this module must not import Scrapy or Twisted.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import queue
import threading
import time
from collections import deque
from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

from crawlers.launcher.child import CrawlChild
from crawlers.launcher.jobs import CrawlJob, PoolSettings
from crawlers.launcher.known_validators import KnownValidators
from crawlers.launcher.pagerecord import record_pages
from crawlers.launcher.process import CrawlProcess, Popen
from crawlers.launcher.report import BEAT, STOPPED_EARLY, RunReport
from crawlers.launcher.sources import CrawlSource
from storage.db import DATABASE_FAILURES, Database
from storage.fetchstate import Validators, fetch_states, save_validators, storable_validators
from storage.runs import (
    RunCounts,
    RunSummary,
    close_run,
    finish_run,
    get_run,
    last_run,
    open_run,
)

logger = logging.getLogger(__name__)

KILL_GRACE_SECONDS = 60.0  # Scrapy closes a crawl at its limit; this is the backstop
STOP_GRACE_SECONDS = 30.0  # a crawl told to stop that has not ended by then: kill
RECYCLE_SHARE = 0.75  # a process past this share of its memory cap takes no new crawls
MAX_TRIES = 3  # a crawl whose process died under it is run again, the last time alone
TICK_SECONDS = 0.5
RUN_COUNTS = [f.name for f in dataclasses.fields(RunCounts)]
T = TypeVar("T")


Done = Callable[[CrawlJob, RunSummary], None]


class CrawlPool:
    """Hands crawl jobs to crawl processes, oldest first; ``on_done`` hears of each one's end
    (on the pool's thread), and so does the job's future."""

    def __init__(
        self,
        db: Database,
        settings: PoolSettings,
        *,
        on_done: Done | None = None,
        child: CrawlChild | None = None,
        on_start: Callable[[Popen], None] | None = None,
        on_line: Callable[[str], None] | None = None,
    ) -> None:
        """``on_line``: given, on the pool's thread, each line the crawls print that is not a
        report: their progress (:func:`crawlers.launcher.report.read_progress`) and log lines."""
        self.db = db
        self.settings = settings
        self.on_done = on_done
        self.on_start = on_start
        self.on_line = on_line
        self.events: queue.Queue[tuple[str, Any, Any]] = queue.Queue()
        self.pending: deque[CrawlJob] = deque()
        self.lock = threading.Lock()  # guards pending and the count of running crawls
        self.running = 0
        self.processes: list[CrawlProcess] = []
        self.child = child
        self.closing = False
        # Set by close() on its caller's thread: a write waiting for the database to come back
        # gives up at once, or the pool's thread, retrying it, would never see the close.
        self.close_asked = threading.Event()
        self.hurried = threading.Event()  # close now: no more waiting on the crawls
        # Set as the pool's thread ends. Python 3.11's Thread.join, cut short by Ctrl-C,
        # marks the thread as ended when it is not: what waits again waits on this.
        self.ended = threading.Event()
        self.known: KnownValidators | None = None  # read from the database once
        self.thread = threading.Thread(target=self._manage, name="crawl-pool", daemon=True)
        self.thread.start()

    # -- the caller's side ---------------------------------------------------------------
    def submit(
        self,
        source: CrawlSource,
        *,
        refresh: bool = False,
        due_at: datetime | None = None,
        lease_until: float | None = None,
    ) -> CrawlJob:
        """``lease_until``: the :func:`lease_clock` time at which the caller's lease on the
        source runs out unless renewed (:meth:`lease`); the crawl fetches nothing past it. A
        job asked of a pool that is closing is cancelled at once, as those it had waiting."""
        job = CrawlJob(source, refresh, due_at, lease_until=lease_until)
        with self.lock:  # a pool closing has drained its pending jobs, or will
            if self.close_asked.is_set():
                job.done.cancel()  # left pending, its caller had waited for ever
                return job
            self.pending.append(job)
        self.events.put(("wake", None, None))
        return job

    def lease(self, source: str, until: float) -> None:
        """The caller's lease on ``source`` runs until ``until`` (:func:`lease_clock`): a
        renewal, or, in the past, a lease lost. Its crawl's process is told."""
        self.events.put(("lease", None, (source, until)))

    def free_slots(self) -> int:
        capacity = self.settings.processes * self.settings.crawls_per_process
        with self.lock:
            return max(0, capacity - self.running - len(self.pending))

    def pids(self) -> list[int]:
        return [p.popen.pid for p in list(self.processes)]

    def use_database(self, db: Database) -> None:
        """Open new runs in ``db`` (a reload moved the config there); the crawls running
        record theirs where they were opened."""
        self.events.put(("database", None, db))

    def close(self, timeout: float, *, stop_crawls: bool = True) -> None:
        """Stop: crawls asked to stop (``stop_crawls``) or let finish, processes killed
        after ``timeout``; crawls not yet started are cancelled."""
        self.close_asked.set()
        self.events.put(("close", None, (timeout, stop_crawls)))
        self.thread.join()

    def close_now(self) -> None:
        """Close, killing the crawls a :meth:`close` is still waiting for (a second Ctrl-C):
        their runs are closed all the same, and further interrupts do not cut that short."""
        self.hurried.set()
        if not self.close_asked.is_set():
            self.close_asked.set()
            self.events.put(("close", None, (0.0, True)))
        while not self.ended.is_set():
            try:
                self.ended.wait()
            except KeyboardInterrupt:
                continue

    # -- the pool's thread ---------------------------------------------------------------
    def _manage(self) -> None:
        try:
            self._serve()
        finally:
            self.ended.set()

    def _serve(self) -> None:
        checked = time.monotonic()
        while True:
            kind, process, data = self._next_event()
            if kind == "close":
                self._guarded(self._shut_down, *data)
                return
            self._guarded(self._handle, kind, process, data)
            self._guarded(self._assign)
            if time.monotonic() - checked >= 1.0:
                checked = time.monotonic()
                self._guarded(self._check)

    def _next_event(self) -> tuple[str, Any, Any]:
        try:
            return self.events.get(timeout=TICK_SECONDS)
        except queue.Empty:
            return "tick", None, None

    def _guarded(self, step: Callable[..., None], *args: Any) -> None:
        """A failure of one step (the database locked past its timeout, a bug) is logged;
        the pool goes on, and what the step did not do is tried again."""
        try:
            step(*args)
        except Exception as exc:
            logger.error("crawl pool: %s failed: %s: %s", step.__name__, type(exc).__name__, exc)
            logger.debug("crawl pool failure", exc_info=True)
            time.sleep(0.1 if isinstance(exc, DATABASE_FAILURES) else 0)

    def _handle(self, kind: str, process: CrawlProcess | None, data: Any) -> None:
        if kind == "database":
            self._move_to(data)
        elif kind == "lease":
            self._lease(*data)
        if process is None:
            return
        if kind == "line":
            self._line(process, data)
        elif kind == "said":
            self._pass_on(data)
        elif kind == "end":
            self._ended(process)

    def _move_to(self, db: Database) -> None:
        """New runs in ``db``. Its run ids are another sequence, which those of the crawls
        still running could meet in the process that holds them: each process is recycled."""
        self.db, self.known = db, None
        for process in self.processes:
            self._retire(process, "the database changed")

    def _lease(self, source: str, until: float) -> None:
        with self.lock:
            waiting = [job for job in self.pending if job.source.name == source]
        for job in waiting:
            job.lease_until = until
        for process in self.processes:
            for job in process.jobs.values():
                if job.source.name == source and job.lease_until is not None:
                    job.lease_until = until
                    process.send({"op": "lease", "run": job.run_id, "until": until})

    def _line(self, process: CrawlProcess, line: str) -> None:
        run_id = process.read(line)
        if run_id is None:
            self._pass_on(line)
        if run_id == BEAT or run_id is None:
            return
        job = process.jobs.get(run_id)
        if job is not None and process.reports[run_id].finished:
            del process.jobs[run_id]
            self._record(job, process.reports.pop(run_id), "crawl ended without closing")

    def _pass_on(self, line: str) -> None:
        if self.on_line is not None:
            try:
                self.on_line(line)
            except Exception:  # a display that fails must not cost the runs their record
                logger.exception("a crawl's line could not be shown")

    # -- handing out jobs ----------------------------------------------------------------
    def _assign(self) -> None:
        """Start what can start, oldest first; a job with no process to take it waits.
        Nothing once the pool is asked to close: its shut-down cancels what waits, and a
        start meeting a locked database held the close up for the database's timeout, again
        at every event, for as long as the lock lasted."""
        if self.close_asked.is_set():
            return
        with self.lock:
            waiting, self.pending = list(self.pending), deque()
        left: list[CrawlJob] = []
        try:
            while waiting:
                job = waiting[0]
                lapsed = job.lapsed()  # once: a job that lapses later is refused by its process
                process = None if lapsed else self._process_for(job)
                if lapsed:
                    why = "not started: the lease on its source ran out while it waited"
                    self._could_not_start(job, why, "stopped")
                elif isinstance(process, OSError):
                    self._could_not_start(job, f"crawl process could not start: {process}")
                elif process is None:
                    left.append(job)
                else:
                    self._start(process, job)
                waiting.pop(0)
        finally:  # a job not yet handed out, whatever went wrong, waits again
            with self.lock:
                self.pending.extendleft(reversed(left + waiting))

    def _process_for(self, job: CrawlJob) -> CrawlProcess | OSError | None:
        """The least busy process with room; a new one when fewer serve than wanted. A
        crawl's last try has a process to itself, one such at a time, so the crawl that
        brought its processes down is the only one to fail for it."""
        if job.tries == MAX_TRIES - 1:
            if any(p.solo for p in self.processes):
                return None
            return self._new_process(solo=True)
        serving = [p for p in self.processes if p.serving and not p.solo]
        roomy = [p for p in serving if len(p.jobs) < self.settings.crawls_per_process]
        if roomy:
            return min(roomy, key=lambda p: len(p.jobs))
        if len(serving) >= self.settings.processes:
            return None
        return self._new_process()

    def _new_process(self, solo: bool = False) -> CrawlProcess | OSError:
        child, self.child = self.child or CrawlChild(), None
        popen = child.take()
        if isinstance(popen, OSError):
            return popen
        options = {"log_level": self.settings.log_level, "progress": self.settings.progress}
        process = CrawlProcess(popen, self.events, options, self.settings.extract_workers)
        process.solo = solo
        self.processes.append(process)
        if self.on_start is not None:
            self.on_start(popen)
        logger.info("crawl process %d started", popen.pid)
        return process

    def _start(self, process: CrawlProcess, job: CrawlJob) -> None:
        source = job.source
        try:
            message = self._message(job)
        except Exception as exc:  # a source the config let through: its crawl fails alone
            self._could_not_start(job, f"crawl could not start: {type(exc).__name__}: {exc}")
            return
        job.db = self.db
        job.run_id = self._durably(open_run, job.db, source.name, due_at=job.due_at)
        job.tries += 1
        job.started = time.monotonic()
        job.deadline = job.started + source.time_limit + _grace(source.time_limit)
        with self.lock:
            self.running += 1
        process.jobs[job.run_id] = job
        process.crawls += 1
        # a process that died meanwhile: its end closes the run
        process.send({"op": "crawl", "run": job.run_id, **message})
        if process.solo:
            process.retire()  # its one crawl, then it ends
        elif process.crawls >= self.settings.max_crawls_per_process:
            self._retire(process, f"{process.crawls} crawls done")

    def _message(self, job: CrawlJob) -> dict[str, Any]:
        """What the crawl process is told of the job, checked to travel as JSON."""
        validators = {} if job.refresh else self._validators_of(job.source)
        message = {
            "database": self.db.url,
            "refresh": job.refresh,
            "source": job.source.to_dict(),
            "validators": {url: list(v) for url, v in validators.items()},
            "walk_all": not job.refresh and self._cut_short(job.source),
            "lease_until": job.lease_until,
        }
        json.dumps(message["source"])  # the one part a user writes (scrapy_settings)
        return message

    def _cut_short(self, source: CrawlSource) -> bool:
        """Whether the source's last crawl ended before the end of its walk (killed, hung,
        stopped, at its time limit or out of page budget; or still open, as the run of a
        process that died with it is): the listing pages it did not reach may hold articles no
        crawl has seen. A database that cannot say: as if it had."""
        try:
            last = last_run(self.db, source.name)
        except DATABASE_FAILURES:
            return True
        if last is None:
            return False
        stopped_early = (last.error or "").startswith(STOPPED_EARLY)
        budget_spent = bool((last.links or {}).get("budget_exhausted"))
        return last.status != "ok" or stopped_early or budget_spent

    def _could_not_start(self, job: CrawlJob, why: str, status: str = "failed") -> None:
        job.db = self.db
        job.run_id = self._durably(open_run, job.db, job.source.name, due_at=job.due_at)
        self._durably(close_run, job.db, job.run_id, status, why)
        self._resolve(job)

    def _validators_of(self, source: CrawlSource) -> dict[str, Validators]:
        """The validators of the source's own site's pages, from what this pool read once
        and has recorded since (another machine's newer ones only cost a full fetch)."""
        if self.known is None:
            self.known = KnownValidators(self._durably(fetch_states, self.db))
        return self.known.of(source.domains())

    # -- ends ----------------------------------------------------------------------------
    def _record(
        self, job: CrawlJob, report: RunReport, missing: str, status: str = "failed"
    ) -> None:
        """Close the job's run from its report; else as ``status``, for the reason
        ``missing``. The job is resolved whatever happens: its source waits for it."""
        try:
            self._record_pages(job, report)
            db = self._db_of(job)
            verdict: tuple[Any, ...] = (close_run, db, job.run_id, status, missing)
            if report.status is not None:
                counts = RunCounts(**{name: report.counts.get(name, 0) for name in RUN_COUNTS})
                verdict = (finish_run, db, job.run_id, report.status, report.error, counts)
            if not self._written(job, "verdict", *verdict):
                why = "its crawl's report could not be recorded (see the log)"
                self._written(job, "closing", close_run, db, job.run_id, "failed", why)
        finally:
            self._resolve(job)

    def _record_pages(self, job: CrawlJob, report: RunReport) -> None:
        """The run's validators and pages, each written on its own: one that cannot be
        written is logged, and costs the run nothing else."""
        db = self._db_of(job)
        if report.validators:
            states = storable_validators(
                {url: Validators(*v) for url, v in report.validators.items()}
            )
            written = self._written(job, "validators", save_validators, db, states)
            if written and self.known is not None and db is self.db:
                self.known.update(states)
        if report.ledger is not None:
            ledger, name = report.ledger, job.source.name
            self._written(job, "pages", record_pages, db, job.run_id, name, ledger)

    def _written(self, job: CrawlJob, what: str, write: Callable[..., Any], *args: Any) -> bool:
        """``write`` of the job's run done (the database waited for, as ever); False, and
        logged, when it failed otherwise: a value the database refuses, or a bug."""
        try:
            self._durably(write, *args)
        except DATABASE_FAILURES:
            raise  # only when stopping (_durably): the next start closes the run
        except Exception as exc:
            logger.error("source=%s run=%d: its %s could not be recorded: %s: %s",
                         job.source.name, job.run_id, what, type(exc).__name__, exc)  # fmt: skip
            return False
        return True

    def _db_of(self, job: CrawlJob) -> Database:
        """Where the job's run is: the pool's database when it was opened."""
        return job.db if job.db is not None else self.db

    def _resolve(self, job: CrawlJob) -> None:
        with self.lock:
            self.running = max(0, self.running - 1) if job.tries else self.running
        summary = self._durably(get_run, self._db_of(job), job.run_id)
        if not job.done.done():
            job.done.set_result(summary)
        if self.on_done is not None:
            try:
                self.on_done(job, summary)
            except Exception:  # the caller's bookkeeping: logged, the pool goes on
                logger.exception("source=%s run=%d: on_done failed", job.source.name, job.run_id)

    def _durably(self, write: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """``write`` done, however long the database takes to come back: a run left open or a
        job left unresolved would hold its source for ever. Given up only when stopping."""
        wait = 1.0
        while True:
            try:
                return write(*args, **kwargs)
            except DATABASE_FAILURES as exc:
                if self.closing or self.close_asked.is_set():
                    raise
                logger.warning("crawl pool: the database refused %s (%s); again in %.0f s",
                               write.__name__, exc, wait)  # fmt: skip
                self.close_asked.wait(wait)
                wait = min(30.0, wait * 2)

    def _ended(self, process: CrawlProcess) -> None:
        """The process is gone: each crawl it still held is closed from what it reported,
        and run again elsewhere when it died under it."""
        if process in self.processes:
            self.processes.remove(process)
        why = process.end_reason()
        # a stop (asked, if not yet begun), or Ctrl-C as it started
        expected = self.closing or self.close_asked.is_set() or process.interrupted()
        if not expected and (process.jobs or not process.retiring):  # nobody asked for it
            logger.warning("crawl process %d ended: %s", process.popen.pid, why)
        else:
            logger.info("crawl process %d ended after %d crawls", process.popen.pid, process.crawls)
        again: list[CrawlJob] = []
        for run_id, job in list(process.jobs.items()):
            report = process.reports.pop(run_id, RunReport())
            if report.status is not None:
                self._record(job, report, why)
            elif job.over_time:
                self._record(job, report, self._over_time(job), "timeout")
            elif job.tries < MAX_TRIES and not expected:
                # the job's last try alone speaks for the source's health
                why_again = f"{why}; crawled again"
                self._durably(close_run, self._db_of(job), job.run_id, "retried", why_again)
                again.append(job)
            else:  # its tries used up, or the pool stopping: stopped, to be crawled again
                self._record(job, report, why, "stopped" if expected else "failed")
        process.jobs.clear()
        with self.lock:  # first in the queue, in the order they were asked for
            self.running -= len(again)
            self.pending.extendleft(reversed(again))

    @staticmethod
    def _over_time(job: CrawlJob) -> str:
        return f"killed: still running past its {job.source.time_limit:.0f} s time limit"

    # -- keeping processes healthy -------------------------------------------------------
    def _check(self) -> None:
        """A crawl past its limit and grace is stopped, and its process killed if even that
        does not end it; a process silent too long is killed; a large one recycled."""
        now = time.monotonic()
        for process in [p for p in self.processes if p.alive]:
            late = [job for job in process.jobs.values() if now > job.deadline]
            for job in late:
                if not job.over_time:
                    job.over_time = True
                    logger.warning("source=%s run=%d stopped at its time limit",
                                   job.source.name, job.run_id)  # fmt: skip
                    process.send({"op": "stop", "run": job.run_id})
            if any(now > job.deadline + STOP_GRACE_SECONDS for job in late):
                process.kill(f"a crawl would not stop ({late[0].source.name})")
            elif now - process.last_beat > self.settings.beat_timeout:
                process.kill(f"hung: no sign of life for {self.settings.beat_timeout:.0f} s")
            else:
                self._check_memory(process)

    def _check_memory(self, process: CrawlProcess) -> None:
        caps = [job.source.memory_limit_mb for job in process.jobs.values()]
        cap = min([self.settings.memory_mb, *caps])
        size = process.rss_mb()
        if size > cap:
            process.kill(f"over its memory cap ({size:.0f} MB > {cap} MB)")
        elif size > cap * RECYCLE_SHARE:
            self._retire(process, f"{size:.0f} MB in use")

    def _retire(self, process: CrawlProcess, why: str) -> None:
        """No more crawls for it; it ends once those it holds are done, and another is
        started when there is work for one."""
        if not process.retiring:
            logger.info("crawl process %d recycled: %s", process.popen.pid, why)
            process.retire()

    # -- stopping ------------------------------------------------------------------------
    def _shut_down(self, timeout: float, stop_crawls: bool) -> None:
        self.closing = True
        with self.lock:
            waiting, self.pending = list(self.pending), deque()
        for job in waiting:
            job.done.cancel()
        for running in self.processes:
            if stop_crawls:
                running.stop()
            else:
                running.retire()
        if self.child is not None:
            self.child.abandon()
        deadline, killed = time.monotonic() + timeout, False
        while self.processes:
            self._guarded(self._handle, *self._next_event())
            if not killed and (time.monotonic() > deadline or self.hurried.is_set()):
                for late in [p for p in self.processes if p.alive]:
                    late.kill("still running when the crawls were stopped")
                killed = True


def _grace(time_limit: float) -> float:
    """Time after the limit before a kill: up to a minute, less for short test limits."""
    return min(KILL_GRACE_SECONDS, max(10.0, time_limit))
