"""`eventwatch run`: every source on its schedule, match and dispatch every few seconds.

One APScheduler job per source says when it is due; due sources wait in a queue, oldest
first (:mod:`monitor.due`), and start as the crawl pool has room: a few long-lived crawl
processes, each running many crawls side by side (:mod:`crawlers.launcher.runner`). SIGHUP reloads
the config (a bad one is rejected and the old one kept); SIGTERM/SIGINT stop new crawls, ask
running ones to stop, and kill those that outlive the bound.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager, suppress
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import FrameType

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.base import JobLookupError
from apscheduler.schedulers.background import BackgroundScheduler

from crawlers.launcher.jobs import CrawlJob, PoolSettings
from crawlers.launcher.runner import KILL_GRACE_SECONDS, CrawlPool
from monitor import early_signals, flow, heap
from monitor.channels import DeliveryError
from monitor.channels.alert import Alert
from monitor.config import (
    Config,
    ConfigError,
    Schedule,
    SourceConfig,
    load_config,
    refuse_unset_secrets,
)
from monitor.due import DueQueue
from monitor.health import HealthTracker, Transition, health_alert
from monitor.health_notices import HealthNotices
from monitor.health_record import recorded_health
from monitor.observe import Metrics, ObservabilityServer, database_problem
from monitor.run_history import RunPruner
from monitor.schedules import first_run, trigger_for
from monitor.single_daemon import only_daemon
from storage.db import DATABASE_FAILURES, same_database
from storage.migrate import upgrade
from storage.runs import RunSummary, close_abandoned_runs, last_run
from storage.schedule import leased_elsewhere
from storage.triage import held_sources, take_crawl_requests

logger = logging.getLogger(__name__)

SHUTDOWN_BOUND_SECONDS = 30.0
NOTICES_STOP_SECONDS = 5.0  # health notices still queued at a stop: sent if quick, else lost
MISFIRE_GRACE_SECONDS = 300
DAEMON_OWNER = "daemon"  # takes no leases: every live lease it finds is another process's
RUNS_EVERY = timedelta(minutes=10)  # how often runs left open are looked for (and at start)
ABANDONED_AFTER = timedelta(hours=1)  # past the longest time limit and the kill's grace
REQUESTS_EVERY = timedelta(seconds=2)  # how often crawls asked for from the web UI are looked for
FILE_CHECK_SECONDS = 10.0  # how often the database is checked (its file, its writes)


# Read once, when the daemon starts: its listening socket and its crawl pool.
RESTART_ONLY = (
    "listen",
    "max_parallel_crawls",
    "crawl_processes",
    "crawls_per_process",
    "crawl_process_max_crawls",
    "crawl_process_memory_mb",
)

# The web UI's session cookies are signed and flagged as it started; its users, tokens and
# roles follow a reload.
WEB_RESTART_ONLY = ("session_secret_env", "secure_cookies")


def restart_only_changes(before: Config, after: Config) -> list[str]:
    """The daemon settings that differ and that a reload cannot apply, as the file names
    them."""
    changed = [
        f"daemon.{name}"
        for name in RESTART_ONLY
        if getattr(before.daemon, name) != getattr(after.daemon, name)
    ]
    return changed + [
        f"web.{name}"
        for name in WEB_RESTART_ONLY
        if getattr(before.web, name) != getattr(after.web, name)
    ]


@contextmanager
def _cycle(job: str) -> Iterator[None]:
    """One job run: a failure (database locked or full, a bug) is one log line, and the job
    simply runs again at its next cycle; every write is a whole transaction, so nothing is half
    done."""
    try:
        yield
    except Exception as exc:
        logger.error("%s failed, will retry next cycle: %s: %s", job, type(exc).__name__, exc)
        logger.debug("%s failure", job, exc_info=True)
    finally:
        heap.release_free_memory()


class Daemon:
    def __init__(self, config_path: Path, config: Config, crawl_log_level: str = "WARNING") -> None:
        self.config_path = config_path
        self.crawl_log_level = crawl_log_level
        self.ctx = flow.Context(config)
        self.started_with = config  # what a reload cannot change stays as this says
        self.health = HealthTracker(config.daemon.health_failures, config.daemon.health_min_quiet)
        self.metrics = Metrics()
        self.notices = HealthNotices(self.send_health)
        self.due = DueQueue()
        self.pool: CrawlPool | None = None
        self.stopping = threading.Event()
        self.prune_runs = RunPruner()  # the old crawl runs, once a day (runs_job)
        self.reload_requested = threading.Event()
        self.signalled: list[int] = []  # by the signal handler, read by the main loop
        self.soon: set[str] = set()  # periodic jobs to run now (see _run_soon)
        self.soon_lock = threading.Lock()
        self.scheduler = BackgroundScheduler(
            executors={"default": ThreadPoolExecutor(4)},
            job_defaults={
                "coalesce": True,
                "max_instances": 1,
                "misfire_grace_time": MISFIRE_GRACE_SECONDS,
            },
            timezone=UTC,
        )
        self.server: ObservabilityServer | None = None
        self.scheduled: dict[str, Schedule] = {}
        self.held: set[str] = set()  # sources held from the web UI (requests_job)
        self.database_checked = 0.0  # time.monotonic() of the last look at the database
        self.database_trouble: str | None = None  # what that look found
        # the one-daemon lock on the database in use (monitor.single_daemon), moved on by a
        # reload to another database
        self.database_lock = ExitStack()

    # -- jobs ---------------------------------------------------------------------------
    def crawl_job(self, name: str) -> None:
        """The schedule's say: ``name`` is due now; it starts when the pool has room. A
        source held from the web UI (as ``requests_job`` last read) is skipped."""
        if not self.stopping.is_set() and name not in self.held:
            self.due.add(name, datetime.now(UTC))

    def requests_job(self) -> None:
        """What the web UI asked: crawls now join the due queue; held sources are noted."""
        with _cycle("requests"):
            self.held = held_sources(self.ctx.db)
            known = {source.name for source in self.ctx.config.sources}
            for name in take_crawl_requests(self.ctx.db):
                if name in known and not self.stopping.is_set():
                    logger.info("crawl source=%s requested from the web UI", name)
                    self.due.add(name, datetime.now(UTC))

    def _start_due(self) -> None:
        """Hand the oldest due sources to the pool, as many as it has room for."""
        if self.pool is None:
            return
        taken = self.due.take(self.pool.free_slots())
        elsewhere = self._leased_elsewhere([name for name, _ in taken])
        for name, due_at in taken:
            try:
                source = self.ctx.config.source(name)
            except KeyError:  # removed by a reload since it fell due
                self.due.done(name)
                continue
            if name in elsewhere:  # asked again once the lease runs out, as a worker does:
                self.due.done(name)  # the other crawl may end short of this due time
                self._due_again(name, due_at, elsewhere[name])
                continue
            self.metrics.crawl_started(name, datetime.now(UTC) - due_at)
            self.pool.submit(source.crawl_source(), due_at=due_at)

    def _due_again(self, name: str, due_at: datetime, held_until: datetime) -> None:
        logger.info("crawl source=%s waits: another eventwatch crawls it (held until %s)",
                    name, f"{held_until:%H:%M:%S}Z")  # fmt: skip
        self.scheduler.add_job(
            self._fall_due,
            "date",
            run_date=held_until + timedelta(seconds=1),
            args=[name, due_at],
            id=f"held:{name}",
            replace_existing=True,
        )

    def _fall_due(self, name: str, due_at: datetime) -> None:
        if not self.stopping.is_set() and name in self.scheduled and name not in self.held:
            self.due.add(name, due_at)

    def _leased_elsewhere(self, names: list[str]) -> dict[str, datetime]:
        """The sources an ``eventwatch crawl`` (or a worker) holds now. A database that
        cannot say: none; the crawls' own writes wait for it anyway."""
        try:
            return leased_elsewhere(self.ctx.db, names, DAEMON_OWNER)
        except Exception as exc:  # the main loop must go on
            logger.warning("leases not read: %s: %s", type(exc).__name__, exc)
            return {}

    def _crawled(self, job: CrawlJob, run: RunSummary) -> None:
        """On the pool's thread, as each crawl ends."""
        name = job.source.name
        self.due.done(name)
        duration = time.monotonic() - job.started
        self.metrics.crawl_finished(
            name, run.status, duration, run.pages, run.new_articles, run.errors
        )
        logger.info(
            "crawl source=%s run=%d status=%s pages=%d new=%d duplicates=%d errors=%d seconds=%.1f",
            name, run.id, run.status, run.pages, run.new_articles, run.duplicates, run.errors,
            duration,
        )  # fmt: skip
        if run.new_articles:
            self._run_soon("match")  # alerts leave now, not at the next match interval
        if run.status != "ok":
            logger.warning("crawl source=%s run=%d %s: %s", name, run.id, run.status, run.error)
        if run.status == "stopped":  # the daemon is stopping: no word on the source's health
            return
        changes = self.health.record(
            name, run.status == "ok", run.new_articles, datetime.now(UTC), run.error
        )
        for change in changes:
            self._report_health(change)

    def match_job(self) -> None:
        with _cycle("match"):
            queued = flow.match_new_articles(self.ctx)
            if queued:
                logger.info("match queued=%d", queued)
                self._run_soon("dispatch")

    def dispatch_job(self) -> None:
        with _cycle("dispatch"):
            self._dispatch()

    def _dispatch(self) -> None:
        counts = flow.deliver_pending(self.ctx, stop=self.stopping)
        if counts.sent or counts.retrying or counts.failed:
            logger.info(
                "dispatch sent=%d retrying=%d failed=%d",
                counts.sent,
                counts.retrying,
                counts.failed,
            )

    def _run_soon(self, job_id: str) -> None:
        """Ask the main loop to bring a periodic job forward.

        Not done here: a job thread must never call into the scheduler, whose shutdown holds
        its locks while it waits for the job threads to end."""
        with self.soon_lock:
            self.soon.add(job_id)

    def _bring_forward(self) -> None:
        with self.soon_lock:
            wanted, self.soon = self.soon, set()
        for job_id in sorted(wanted):  # "dispatch" before "match": order does not matter
            with suppress(JobLookupError):  # not scheduled (yet, or any more)
                self.scheduler.modify_job(job_id, next_run_time=datetime.now(UTC))

    def _report_health(self, change: Transition) -> None:
        """Logged always; sent to the health channels once per change, best effort."""
        logger.warning("health source=%s state=%s %s", change.source, change.state, change.detail)
        if self.ctx.config.daemon.health_notify:
            self.notices.put(health_alert(change, datetime.now(UTC)), change.source)

    def send_health(self, alert: Alert, only: Sequence[str] | None) -> list[str]:
        """On the notices' thread: to each health channel of the config of the moment (of
        ``only``, when given); the channels that failed, to be tried again."""
        ctx = self.ctx
        failed: list[str] = []
        for name in ctx.config.daemon.health_notify:
            if only is not None and name not in only:
                continue
            try:
                ctx.channels[name].send(alert)
            except DeliveryError as exc:
                logger.error("health notice to channel %s failed: %s", name, exc)
                failed.append(name)
            except KeyError as exc:
                logger.error("health notice to channel %s failed: %s", name, exc)
        return failed

    # -- scheduling ---------------------------------------------------------------------
    def schedule_sources(self, config: Config) -> None:
        wanted = [s for s in config.sources if s.enabled]
        for name in set(self.scheduled) - {s.name for s in wanted}:
            self.scheduler.remove_job(f"crawl:{name}")
            with suppress(JobLookupError):  # waiting for another's lease
                self.scheduler.remove_job(f"held:{name}")
            self.due.drop(name)
            del self.scheduled[name]
            logger.info("source %s removed from the schedule", name)
        now = datetime.now(UTC)
        for index, source in enumerate(wanted):
            if self.scheduled.get(source.name) != source.schedule:
                self._schedule(source, index, len(wanted), now)

    def _schedule(self, source: SourceConfig, index: int, count: int, now: datetime) -> None:
        last = self._last_start(source) if source.schedule.cron is not None else None
        start = first_run(source.schedule, index, count, now, last)
        extra = {"next_run_time": start} if start is not None else {}
        self.scheduler.add_job(
            self.crawl_job, trigger_for(source.schedule), id=f"crawl:{source.name}",
            args=[source.name], name=f"crawl {source.name}",
            replace_existing=True, **extra,
        )  # fmt: skip
        self.scheduled[source.name] = source.schedule
        logger.info("source %s scheduled (%s)", source.name, source.schedule)

    def _last_start(self, source: SourceConfig) -> datetime | None:
        """When the source's newest crawl began; None if never, or if the database cannot
        say (the cron line's own times then stand)."""
        try:
            run = last_run(self.ctx.db, source.name)
        except DATABASE_FAILURES as exc:
            logger.warning("source %s: its last crawl not read: %s", source.name, exc)
            return None
        return None if run is None else run.started_at

    def runs_job(self) -> None:
        """Close the crawl runs left open by a process that died (this daemon, killed with
        SIGKILL): a crawl is killed at its time limit and a grace, so a run still open an hour
        after the longest of them has no process behind it."""
        with _cycle("runs"):
            limits = [source.time_limit for source in self.ctx.config.sources]
            longest = max(limits, default=timedelta(0))
            margin = longest + timedelta(seconds=KILL_GRACE_SECONDS) + ABANDONED_AFTER
            closed = close_abandoned_runs(self.ctx.db, datetime.now(UTC) - margin)
            if closed:
                logger.warning("closed %d crawl runs left open by a process that ended", closed)
            self.prune_runs(self.ctx.db, self.ctx.config.daemon.keep_runs, self.stopping)

    def _periodic(self, config: Config) -> None:
        for job_id, func, every in (
            ("match", self.match_job, config.daemon.match_every),
            ("dispatch", self.dispatch_job, config.daemon.dispatch_every),
            ("runs", self.runs_job, RUNS_EVERY),
            ("requests", self.requests_job, REQUESTS_EVERY),
        ):
            self.scheduler.add_job(
                func, "interval", seconds=every.total_seconds(), id=job_id,
                replace_existing=True, next_run_time=datetime.now(UTC),
            )  # fmt: skip

    # -- signals ------------------------------------------------------------------------
    def reload(self) -> None:
        # the lock on another database, let go unless the reload is applied
        with ExitStack() as held:
            try:
                path, config = load_config(self.config_path)
                refuse_unset_secrets(path, config)
                moved = not same_database(config.database, self.ctx.config.database)
                if moved:  # one daemon on it, as at start
                    held.enter_context(only_daemon(config.database))
                upgrade(config.database)
                ctx = flow.Context(config, self.ctx.db)
                access = self.server.access_for(config) if self.server is not None else None
            except ConfigError as exc:
                logger.error("reload rejected, keeping the running config:\n%s", exc)
                return
            except Exception as exc:  # its database out of reach, say: it goes on as it was
                logger.error("reload rejected, keeping the running config: %s: %s",
                             type(exc).__name__, exc)  # fmt: skip
                return
            if moved:  # the old database's lock goes
                self.database_lock.close()
                self.database_lock = held.pop_all()
        previous, self.ctx = self.ctx, ctx
        if ctx.db is not previous.db:  # another database: crawls still on the old one go on,
            previous.db.dispose()  # through connections of their own, returned as they end
            if self.pool is not None:
                self.pool.use_database(ctx.db)
        self.health.failure_threshold = config.daemon.health_failures
        self.health.min_quiet = config.daemon.health_min_quiet
        try:
            self.schedule_sources(config)
            self._periodic(config)
            if self.server is not None and access is not None:
                self.server.reconfigure(config, ctx.db, access)
        except Exception as exc:  # a fault of ours: the daemon goes on, and says so
            logger.error("reload applied in part: %s: %s", type(exc).__name__, exc)
            logger.debug("reload failure", exc_info=True)
            return
        logger.info("config reloaded: %d sources, %d rules", len(config.sources), len(config.rules))
        if kept := restart_only_changes(self.started_with, config):
            logger.warning("%s changed: they take effect when the daemon restarts", ", ".join(kept))

    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        # Only noted here: an Event's set() takes a lock that the main thread may hold at that
        # instant (inside its own wait), and would then wait on itself for ever.
        self.signalled.append(signum)

    def _stop_signalled(self) -> bool:
        """Act on the signals noted since the last look; True once asked to stop."""
        time.sleep(0.2)
        while self.signalled:
            if self.signalled.pop(0) == signal.SIGHUP:
                self.reload_requested.set()
            else:
                self.stopping.set()
        return self.stopping.is_set()

    def stop(self) -> None:
        """No new crawls; ask running ones to stop; kill what outlives the bound."""
        logger.info("stopping: no new crawls, waiting for running ones")
        self.scheduler.pause()
        if self.pool is not None:
            self.pool.close(SHUTDOWN_BOUND_SECONDS)
        self.scheduler.shutdown(wait=True)
        if self.server is not None:
            self.server.stop()
        self.notices.close(NOTICES_STOP_SECONDS)
        self._watch_database(at_once=True)  # the last chance to say it
        self.ctx.db.dispose()
        logger.info("stopped")

    def _pool_settings(self) -> PoolSettings:
        daemon = self.ctx.config.daemon
        cores = os.cpu_count() or 1
        processes = daemon.crawl_processes or cores
        return PoolSettings(
            processes=processes,
            crawls_per_process=daemon.crawls_per_process,
            max_crawls_per_process=daemon.crawl_process_max_crawls,
            memory_mb=daemon.crawl_process_memory_mb,
            extract_workers=max(1, (daemon.max_parallel_crawls or cores) // processes),
            log_level=self.crawl_log_level,
        )

    def serve_forever(self) -> int:
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(sig, self._on_signal)
        if early_signals.HUP.is_set():  # the config may have changed since it was read
            self.reload()
        heap.fix_mmap_threshold()
        config = self.ctx.config
        if config.daemon.listen:
            self.server = ObservabilityServer(config.daemon.listen, self)
            self.server.start()
        self.health = recorded_health(self.ctx.db, config.daemon)
        self.pool = CrawlPool(self.ctx.db, self._pool_settings(), on_done=self._crawled)
        self.schedule_sources(config)
        self._periodic(config)
        self.scheduler.start()
        logger.info("eventwatch running: %d sources", len([s for s in config.sources if s.enabled]))
        while not self._stop_signalled():
            if self.reload_requested.is_set():
                self.reload_requested.clear()
                self.reload()
            self._bring_forward()
            self._start_due()
            self._watch_database()
        self.stop()
        return 0

    def _watch_database(self, *, at_once: bool = False) -> None:
        """Say in the log, once, when the SQLite file in use is no longer the one at its path
        (deleted, moved or replaced: the daemon wrote on to it unseen, and what it stored
        was lost at its next start), or when the database has refused every write for a
        while (nothing is stored). /healthz says it too."""
        now = time.monotonic()
        if not at_once and now < self.database_checked + FILE_CHECK_SECONDS:
            return
        self.database_checked = now
        problem = database_problem(self.ctx.db)
        if problem is not None and self.database_trouble is None:
            logger.error("%s", problem)
        elif problem is None and self.database_trouble is not None:
            logger.info("the database is usable again")
        self.database_trouble = problem


def run(config_path: str | None, crawl_log_level: str = "WARNING") -> int:
    """``crawl_log_level``: of the crawl processes, whose log joins ours at INFO (``-v``)."""
    early_signals.note_hup()  # if the command line has not already
    path, config = load_config(config_path)
    refuse_unset_secrets(path, config)
    with ExitStack() as lock:
        lock.enter_context(only_daemon(config.database))
        upgrade(config.database)
        daemon = Daemon(path, config, crawl_log_level)
        daemon.database_lock = lock
        try:
            return daemon.serve_forever()
        finally:
            daemon.database_lock.close()  # the database it ended on: a reload may have moved it
