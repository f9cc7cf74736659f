"""`eventwatch worker`: one of any number of processes, on any number of machines, that share
one PostgreSQL database's schedule through procrastinate, an existing job engine built on it.

There is no scheduler process to lose. Every worker asks procrastinate for the same periodic
``tick``; procrastinate records each tick's time once (its periodic defers are unique by time),
so one worker runs it. The tick reads each source's next due time from the database
(:mod:`storage.schedule`), asks for a ``crawl`` job per due source and writes the next due
times. A crawl job carries its source's name as both its queueing lock (at most one waits)
and its lock (never two run at once, and they run in order); any worker with room takes it
and hands it to its own crawl pool (:mod:`crawlers.launcher.runner`). Matching and dispatch are jobs
too, under locks of their own. A worker killed outright leaves its jobs "doing"; another
worker's ``stalled`` job puts them back in the queue once the dead one's heartbeat is stale,
and the crawl processes of the dead worker have ended with it (their stdin closed). A crawl also
takes a lease on its source in the database, renewed while its worker lives, and records the
due time it served: a job queued again while its first worker still lives (one whose loop
was too busy to beat) finds the lease and ends, and a due time is crawled to its end once. A
worker that stalls past its lease (stopped, or cut off from the database) fetches nothing more
once the lease has run out (:mod:`monitor.source_leases`): its crawl closes ``stopped``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import threading
import uuid
from concurrent.futures import Future
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import procrastinate
from procrastinate import exceptions as job_errors
from procrastinate.jobs import Status
from sqlalchemy.engine import make_url

from crawlers.launcher.jobs import PoolSettings
from crawlers.launcher.runner import KILL_GRACE_SECONDS, CrawlPool
from monitor import flow
from monitor.config import Config, ConfigError, load_config, refuse_unset_secrets
from monitor.run_history import RunPruner
from monitor.schedules import first_run, trigger_for
from monitor.source_leases import SourceLeases
from storage.migrate import upgrade
from storage.runs import RunSummary, close_abandoned_runs
from storage.schedule import lease_of_another, next_due_times, save_next_due_times
from storage.triage import held_sources, take_crawl_requests

logger = logging.getLogger(__name__)

SCHEDULE_QUEUE = "schedule"
CRAWL_QUEUE = "crawls"
SCHEDULE_SLOTS = 4  # the schedule's own jobs (tick, match, dispatch, stalled, runs) at once
ABANDONED_AFTER = timedelta(hours=1)
# On SIGTERM the crawls are killed after CRAWLS_STOP_SECONDS if they have not closed (a
# download in flight may take Scrapy's 30 s), well within the engine's grace, so that each
# crawl's job still queues it again before the engine gives up on the job.
CRAWLS_STOP_SECONDS = 20.0
SHUTDOWN_GRACE_SECONDS = 35.0
REQUEUE_SECONDS = 5.0  # to queue a stopped crawl again before the engine's grace ends
ENGINE_RESTART_FIRST = 1.0  # seconds; doubled while the engine keeps stopping
ENGINE_RESTART_MAX = 60.0
# What procrastinate's database says when a job's end is recorded for a job another worker
# has run again meanwhile (and, done, deleted)
TAKEN_OVER = 'Job was not found or not in "doing" or "todo" status'


def libpq_url(url: str) -> str:
    """Our SQLAlchemy URL (postgresql+psycopg://…) as the libpq one procrastinate takes."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def cron_every(every: timedelta) -> str:
    """A cron line (seconds last, as procrastinate reads six fields) for about ``every``: the
    nearest period that divides a minute or an hour evenly, never longer than asked."""
    seconds = max(1, int(every.total_seconds()))
    if seconds < 60:
        step = max(d for d in (1, 2, 3, 4, 5, 6, 10, 12, 15, 20, 30) if d <= seconds)
        return f"* * * * * */{step}"
    minutes = max(d for d in (1, 2, 3, 4, 5, 6, 10, 12, 15, 20, 30, 60) if d <= seconds // 60)
    return f"*/{minutes} * * * *" if minutes < 60 else "0 * * * *"


def due_now(config: Config, known: dict[str, datetime], now: datetime) -> tuple[
    list[tuple[str, datetime]], dict[str, datetime]
]:  # fmt: skip
    """The sources due at ``now`` with the time each fell due, and every next due time to
    record; a source new to the schedule is first due within its first period (staggered,
    as the embedded daemon does), and several missed times make one crawl."""
    enabled = [s for s in config.sources if s.enabled]
    due: list[tuple[str, datetime]] = []
    later: dict[str, datetime] = {}
    for index, source in enumerate(enabled):
        trigger = trigger_for(source.schedule)
        next_due = known.get(source.name)
        if next_due is None:
            start = first_run(source.schedule, index, len(enabled), now)
            later[source.name] = start or trigger.get_next_fire_time(None, now) or now
        elif next_due <= now:
            due.append((source.name, next_due))
            following = trigger.get_next_fire_time(next_due, now)
            while following is not None and following <= now:
                following = trigger.get_next_fire_time(following, now)
            later[source.name] = following or now + timedelta(days=365)
    return due, later


def with_web_requests(
    config: Config,
    due: list[tuple[str, datetime]],
    held: set[str],
    asked: list[str],
    now: datetime,
) -> list[tuple[str, datetime]]:
    """The due sources less those held from the web UI, plus those it asked to crawl now
    (sources of the config only)."""
    known = {source.name for source in config.sources}
    kept = [(name, due_at) for name, due_at in due if name not in held]
    waiting = {name for name, _ in kept}
    return kept + [(name, now) for name in dict.fromkeys(asked) if name in known - waiting]


class Worker:
    def __init__(self, config: Config, crawl_log_level: str) -> None:
        self.config = config
        self.ctx = flow.Context(config)
        daemon = config.daemon
        cores = os.cpu_count() or 1
        processes = daemon.crawl_processes or cores
        self.settings = PoolSettings(
            processes=processes,
            crawls_per_process=daemon.crawls_per_process,
            max_crawls_per_process=daemon.crawl_process_max_crawls,
            memory_mb=daemon.crawl_process_memory_mb,
            extract_workers=max(1, (daemon.max_parallel_crawls or cores) // processes),
            log_level=crawl_log_level,
        )
        self.pool = CrawlPool(self.ctx.db, self.settings)
        self.stopping = threading.Event()  # set as it stops: dispatch sends no more
        self.prune_runs = RunPruner()  # the old crawl runs, once a day (runs)
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.leases = SourceLeases(
            self.ctx.db,
            self.owner,
            length=daemon.stalled_after,
            renew_every=daemon.heartbeat_every,
            on_lease=self.pool.lease,
        )
        connector = procrastinate.PsycopgConnector(conninfo=libpq_url(config.database))
        self.app = procrastinate.App(connector=connector)
        self._register()

    # -- jobs ----------------------------------------------------------------------------
    def _register(self) -> None:
        app, daemon = self.app, self.config.daemon
        self.crawl_task = app.task(name="crawl", queue=CRAWL_QUEUE)(self.crawl)
        self.match_task = app.task(
            name="match", queue=SCHEDULE_QUEUE, lock="match", queueing_lock="match"
        )(self.match)
        self.dispatch_task = app.task(
            name="dispatch", queue=SCHEDULE_QUEUE, lock="dispatch", queueing_lock="dispatch"
        )(self.dispatch)
        periodic: dict[
            str, tuple[Any, timedelta, str | None]
        ] = {  # task name: (function, how often, the lock it runs under)
            "tick": (self.tick, daemon.tick_every, "tick"),
            "match-every": (self.match, daemon.match_every, "match"),
            "dispatch-every": (self.dispatch, daemon.dispatch_every, "dispatch"),
            # no lock: a worker killed inside it would leave it "doing", and then no stalled
            # job, which alone could put that one back, would ever run again
            "stalled": (self.stalled, daemon.stalled_after / 3, None),
            "runs": (self.runs, timedelta(minutes=10), "runs"),
        }
        for name, (function, every, lock) in periodic.items():
            task: Any = app.task(
                name=name, queue=SCHEDULE_QUEUE, lock=lock, queueing_lock=lock or name
            )
            app.periodic(cron=cron_every(every), periodic_id=name)(task(function))

    async def tick(self, timestamp: int) -> None:
        """Ask for a crawl of every due source (one tick runs at a time, on one worker)."""
        now = datetime.now(UTC)
        known = await asyncio.to_thread(next_due_times, self.ctx.db)
        due, later = due_now(self.config, known, now)
        held = await asyncio.to_thread(held_sources, self.ctx.db)
        asked = await asyncio.to_thread(take_crawl_requests, self.ctx.db)
        for name, due_at in with_web_requests(self.config, due, held, asked, now):
            await self._crawl_later(name, due_at.isoformat())
        await asyncio.to_thread(save_next_due_times, self.ctx.db, later)

    async def crawl(self, name: str, due_at: str) -> str:
        """Crawl ``name`` for its due time, unless another worker holds it (a job queued again
        while its first worker still lives) or that due time was crawled already."""
        try:
            source = self.config.source(name)
        except KeyError:
            return f"{name}: not in this worker's config"
        due = datetime.fromisoformat(due_at)
        lease = await asyncio.to_thread(self.leases.claim, name, due)
        if lease is None:
            held = await asyncio.to_thread(lease_of_another, self.ctx.db, name, self.owner)
            if held is None:
                return f"{name}: crawled elsewhere"
            await self._crawl_later(name, due_at, held)  # its holder may have died
            return f"{name}: held by another worker until {held:%H:%M:%S}Z; asked again then"
        crawl = self.pool.submit(source.crawl_source(), due_at=due, lease_until=lease).done
        try:
            run = await asyncio.shield(asyncio.wrap_future(crawl))
        except asyncio.CancelledError:
            if crawl.cancelled() and not _cancelled_itself():
                # the pool closed before the crawl began (this worker is stopping): another
                # worker crawls it for this due time, as one stopped midway
                await asyncio.to_thread(self.leases.release, name, None)
                await self._requeue_stopped(name, due_at)
                return "stopped"
            # the engine gave up on this job; the crawl goes on
            crawl.add_done_callback(partial(self._ended_apart, name, due))
            raise
        done = due if run.status in ("ok", "timeout") else None
        await asyncio.to_thread(self.leases.release, name, done)
        if run.status == "stopped":  # this worker stopping, or its lease ran out: another
            await self._requeue_stopped(name, due_at)  # crawls it, or this one on its return
        logger.info(
            "crawl source=%s run=%d status=%s pages=%d new=%d errors=%d",
            name, run.id, run.status, run.pages, run.new_articles, run.errors,
        )  # fmt: skip
        if run.new_articles:
            await self._defer(self.match_task)
        return run.status

    def _ended_apart(self, name: str, due: datetime, crawl: Future[RunSummary]) -> None:
        """A crawl whose job the engine gave up on (its database gone past the engine's
        grace) keeps its source leased until it ends, then lets it go, as its job would have:
        another worker must not crawl the source meanwhile."""
        served = None
        if not crawl.cancelled() and crawl.exception() is None:
            served = due if crawl.result().status in ("ok", "timeout") else None
        try:
            self.leases.release(name, served)
        except Exception as exc:  # the lease runs out by itself
            logger.warning("source %s not released: %s", name, exc)

    async def _requeue_stopped(self, name: str, due_at: str) -> None:
        """Queue a stopped crawl again, within the engine's grace: with the database away,
        the engine's pool waits 30 s for a connection, and the whole stop had then taken
        longer than a service manager waits. Lost so, the crawl waits for its next due time."""
        try:
            await asyncio.wait_for(self._crawl_later(name, due_at), REQUEUE_SECONDS)
        except (TimeoutError, job_errors.ConnectorException) as exc:
            logger.warning("crawl of %s not queued again: %s", name, type(exc).__name__)

    async def _crawl_later(self, name: str, due_at: str, at: datetime | None = None) -> None:
        """The crawl of ``name`` for ``due_at`` queued again (at ``at``, or now): one already
        waiting serves it too."""
        key = f"crawl:{name}"
        with contextlib.suppress(job_errors.AlreadyEnqueued):
            await self.crawl_task.configure(
                lock=key, queueing_lock=key, schedule_at=at
            ).defer_async(name=name, due_at=due_at)

    def match(self, timestamp: int | None = None) -> None:
        if flow.match_new_articles(self.ctx):
            self.dispatch()

    def dispatch(self, timestamp: int | None = None) -> None:
        counts = flow.deliver_pending(self.ctx, stop=self.stopping)
        if counts.sent or counts.retrying or counts.failed:
            logger.info("dispatch sent=%d retrying=%d failed=%d", *_counts(counts))

    async def stalled(self, timestamp: int) -> None:
        """Jobs of workers whose heartbeat stopped go back in the queue; a crawl for which
        another job waits already is ended instead (that one crawls the source)."""
        seconds = self.config.daemon.stalled_after.total_seconds()
        manager = self.app.job_manager
        for job in await manager.get_stalled_jobs(seconds_since_heartbeat=seconds):
            logger.warning("job %s (%s %s) of a worker gone silent: queued again",
                           job.id, job.task_name, job.task_kwargs)  # fmt: skip
            try:
                await manager.retry_job(job)
            except job_errors.UniqueViolation:
                await manager.finish_job(job, status=Status.FAILED, delete_job=False)
            except job_errors.ConnectorException as exc:  # another worker's stalled job put it
                logger.info("job %s already queued again: %s", job.id, exc)  # back meanwhile

    def runs(self, timestamp: int) -> None:
        limits = [s.time_limit for s in self.config.sources]
        margin = max(limits, default=timedelta(0)) + ABANDONED_AFTER
        margin += timedelta(seconds=KILL_GRACE_SECONDS)
        close_abandoned_runs(self.ctx.db, datetime.now(UTC) - margin)
        self.prune_runs(self.ctx.db, self.config.daemon.keep_runs, self.stopping)

    async def _defer(self, task: Any) -> None:
        with contextlib.suppress(job_errors.AlreadyEnqueued):
            await task.defer_async()

    # -- running -------------------------------------------------------------------------
    def serve(self) -> int:
        self.leases.start()
        try:
            return asyncio.run(self._serve())
        finally:  # the crawls still closing stay leased until they have
            self.pool.close(CRAWLS_STOP_SECONDS)
            self.leases.stop()
            self.ctx.db.dispose()

    async def _serve(self) -> int:
        """Run the job engine until SIGTERM or SIGINT. procrastinate stops its worker when
        its listener or heartbeat loses the database (PostgreSQL restarted, say), and the
        process had then ended with nothing left to crawl: the engine is started again, after
        a pause that grows while it keeps failing, and the crawl pool goes on meanwhile."""
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        loop.set_exception_handler(_taken_over_or_default)
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        pause = ENGINE_RESTART_FIRST
        while True:
            engine = asyncio.create_task(self._engine())
            stopping = asyncio.create_task(stop.wait())
            await asyncio.wait({engine, stopping}, return_when=asyncio.FIRST_COMPLETED)
            if stop.is_set():
                await self._stop(engine)
                return 0
            stopping.cancel()
            failure = engine.exception()
            logger.error("the job engine stopped (%s); starting it again in %.0f s",
                         failure or "it lost its database", pause)  # fmt: skip
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), pause)
            if stop.is_set():
                return 0
            pause = min(pause * 2, ENGINE_RESTART_MAX)

    async def _engine(self) -> None:
        """Two of the engine's workers: one takes as many crawls as the pool can run at
        once, the other the schedule's jobs (ticks, matching, dispatch, recovery). Kept apart,
        a backlog of crawls never delays the schedule's work, and no crawl is held here that
        the pool cannot start now while an idle worker elsewhere could run it."""
        daemon = self.config.daemon
        capacity = self.settings.processes * self.settings.crawls_per_process
        common: dict[str, Any] = {
            "listen_notify": True,
            "fetch_job_polling_interval": 1.0,
            "update_heartbeat_interval": daemon.heartbeat_every.total_seconds(),
            "stalled_worker_timeout": daemon.stalled_after.total_seconds(),
            "shutdown_graceful_timeout": SHUTDOWN_GRACE_SECONDS,
            "delete_jobs": "successful",
            "install_signal_handlers": False,
        }
        async with self.app.open_async():
            queues = ((CRAWL_QUEUE, capacity), (SCHEDULE_QUEUE, SCHEDULE_SLOTS))
            workers = [
                asyncio.create_task(self._worker(queue, slots, common)) for queue, slots in queues
            ]
            try:
                done, _ = await asyncio.wait(workers, return_when=asyncio.FIRST_COMPLETED)
            finally:  # one ended (its database lost) or the engine is stopped: both end, and
                for worker in workers:  # the engine is started again whole (see _serve)
                    worker.cancel()
                await asyncio.gather(*workers, return_exceptions=True)
            for worker in done:
                worker.result()  # what ended it, if it failed

    async def _worker(self, queue: str, slots: int, options: dict[str, Any]) -> None:
        name = f"{self.owner}:{queue}"
        await self.app.run_worker_async(queues=[queue], concurrency=slots, name=name, **options)

    async def _stop(self, engine: asyncio.Task[None]) -> None:
        """The crawls are asked to stop first, so that their jobs end within the engine's
        grace, each queueing its crawl again for another worker (see ``crawl``); left to run,
        they had been aborted at the grace's end, their due crawls lost. A dispatch under way
        sends no more once its message is out: the engine's grace does not stop its thread."""
        self.stopping.set()
        closing = asyncio.create_task(asyncio.to_thread(self.pool.close, CRAWLS_STOP_SECONDS))
        engine.cancel()
        try:  # bounded: its goodbye to a database that is away waits on its pool's timeout
            await asyncio.wait_for(engine, SHUTDOWN_GRACE_SECONDS + REQUEUE_SECONDS)
        except (asyncio.CancelledError, TimeoutError):
            pass
        except Exception as exc:  # that goodbye failed: stopped all the same
            logger.warning("the job engine stopped with an error: %s: %s", type(exc).__name__, exc)
        await closing


def _cancelled_itself() -> bool:
    """Whether the running task was asked to stop (the engine giving up on its job), as
    opposed to a future it awaits having been cancelled."""
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0


def _taken_over_or_default(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    """A job run by two workers (one stalled past its heartbeat, its job given to another,
    and woke) has its end recorded by the first to finish; the other's attempt fails in a task
    nobody awaits, which asyncio logged as an error with a traceback. That is the recovery
    working (each crawl stopped at its lease), and one line says so; anything else is
    asyncio's to log."""
    failure = context.get("exception")
    cause = str(getattr(failure, "__cause__", "") or "")
    if isinstance(failure, job_errors.ConnectorException) and TAKEN_OVER in cause:
        logger.warning("a job's end was recorded by another worker that ran it too (one of "
                       "the two had stalled): %s", cause.splitlines()[0])  # fmt: skip
        return
    loop.default_exception_handler(context)


def _counts(counts: flow.DispatchCounts) -> tuple[int, int, int]:
    return counts.sent, counts.retrying, counts.failed


def run(config_path: str | None, crawl_log_level: str = "WARNING") -> int:
    path, config = load_config(config_path)
    refuse_unset_secrets(path, config)
    if make_url(config.database).get_backend_name() != "postgresql":
        raise ConfigError(
            f"{Path(path)}: eventwatch worker shares its schedule through PostgreSQL; "
            f"with {config.database.split(':', 1)[0]}, run `eventwatch run`"
        )
    upgrade(config.database)
    logger.info("eventwatch worker: %d sources", len([s for s in config.sources if s.enabled]))
    return Worker(config, crawl_log_level).serve()
