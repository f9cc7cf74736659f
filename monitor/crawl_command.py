"""The ``crawl`` command. It imports only what a crawl needs: a re-crawl of unchanged sites
takes about as long as this process's imports, so the rules, the channels and the other
commands are loaded only when the crawl goes on to send alerts."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import socket
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from types import FrameType
from typing import TYPE_CHECKING

from crawlers.launcher.child import CrawlChild
from crawlers.launcher.oneshot import crawl_sources
from crawlers.launcher.runner import KILL_GRACE_SECONDS
from monitor.config import Config, load_config
from monitor.crawl_display import crawl_display
from monitor.runlog import run_failure_lines
from monitor.source_leases import LOST, SourceLeases
from monitor.usage import UsageError
from storage.db import Database
from storage.migrate import upgrade
from storage.runs import RunSummary, open_runs
from storage.schedule import lease_of_another

if TYPE_CHECKING:
    from monitor.flow import Context

logger = logging.getLogger(__name__)


def quiet_stdout() -> None:
    """After the reader of stdout went away (``| head``): later writes, and the flush at
    exit, go nowhere instead of raising again."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)


def say_on(line: str) -> None:
    """A line of a command that has more to do than print: a reader gone is no reason to
    stop (a crawl still sends its alerts)."""
    try:
        print(line, flush=True)
    except BrokenPipeError:
        quiet_stdout()


def crawl(args: argparse.Namespace, child: CrawlChild | None = None) -> int:
    _, config = load_config(args.config)
    names = _chosen_sources(args, config)
    upgrade(config.database)
    ctx = None if args.no_alerts else _alerting(config)  # a channel that cannot be built
    db = ctx.db if ctx is not None else Database(config.database)  # stops it before it crawls
    busy = _being_crawled(config, db, names)
    names = [name for name in names if name not in busy]
    level = "INFO" if args.verbose else "WARNING"
    try:
        with (
            _stopped_by(signal.SIGTERM),  # first: a SIGTERM while leases are taken lets them go
            _holding(config, db, names) as leases,
            crawl_display(verbose=args.verbose) as show,
        ):
            held = leases.sources()
            busy |= set(names) - held
            names = [name for name in names if name in held]
            runs = crawl_sources(
                [config.source(name).crawl_source() for name in names],
                db,
                extract_workers=config.daemon.max_parallel_crawls,
                refresh=args.refresh,
                log_level=level,
                child=child,
                on_progress=show,
                on_stopping=_say_stopping,
                # a lease lost meanwhile (None): LOST, and its crawl does not start
                lease_until={name: leases.until(name) or LOST for name in names},
                on_pool=lambda pool: leases.follow(pool.lease),
            )
    except _Stopped as stop:
        print(f"eventwatch: crawl stopped by {stop.name}: its runs are closed `stopped`",
              file=sys.stderr)  # fmt: skip
        return 128 + stop.number
    except KeyboardInterrupt:
        print("eventwatch: crawl interrupted: its runs are closed `stopped`", file=sys.stderr)
        return 128 + signal.SIGINT
    for run in runs:
        say_on(_run_line(run))
        for line in run_failure_lines(db, run):
            say_on(line)
    if ctx is not None:
        send_alerts(ctx)
    return 0 if all(run.status == "ok" for run in runs) and not busy else 1


def _say_stopping() -> None:
    print("eventwatch: stopping the crawls (Ctrl-C again stops them at once)", file=sys.stderr,
          flush=True)  # fmt: skip


def _alerting(config: Config) -> Context:
    from monitor.flow import Context

    return Context(config)


def send_alerts(ctx: Context) -> None:
    """Match what is new, send what is due, and say so in one line (``crawl``, ``alerts
    send``)."""
    from monitor import flow

    queued = flow.match_new_articles(ctx)
    sent = flow.deliver_pending(ctx)
    print(
        f"alerts: {queued} queued, {sent.sent} sent, {sent.retrying} to retry, {sent.failed} failed"
    )


def _chosen_sources(args: argparse.Namespace, config: Config) -> list[str]:
    if args.all == bool(args.sources):
        raise UsageError("crawl: name one or more sources, or give --all")
    if args.all:
        return [s.name for s in config.sources if s.enabled]
    unknown = [name for name in args.sources if name not in {s.name for s in config.sources}]
    if unknown:
        raise UsageError(f"crawl: no source named {', '.join(map(repr, unknown))} in the config")
    return list(dict.fromkeys(args.sources))


def _being_crawled(config: Config, db: Database, names: list[str]) -> set[str]:
    """Of ``names``, the sources another eventwatch (the daemon, a worker, another `crawl`)
    is crawling now, said on stderr: a second crawl of a site at once would double its load
    past its politeness limits. A run left open longer than the longest time limit and the
    kill's grace is one its process died with, and holds nothing."""
    limits = [config.source(name).time_limit for name in names]
    longest = max(limits, default=timedelta(0)) + timedelta(seconds=KILL_GRACE_SECONDS)
    busy = open_runs(db, names, datetime.now(UTC) - longest)
    for name, run_id in busy.items():
        print(f"eventwatch: {name} is being crawled now (run {run_id}): not crawled twice "
              f"at once (a run left open by a process that died holds it {longest} at most)",
              file=sys.stderr)  # fmt: skip
    return set(busy)


@contextmanager
def _holding(config: Config, db: Database, names: list[str]) -> Iterator[SourceLeases]:
    """Leases on the sources, as a worker takes them, renewed while the command lives: the
    daemon and the workers leave a source alone while this crawls it, and the crawl stops
    if its lease runs out (the command stopped with Ctrl-Z, say). A source another process
    holds is said on stderr and left out. A command killed outright holds its sources until
    ``stalled_after``, as a worker does."""
    owner = f"crawl:{socket.gethostname()}:{os.getpid()}"
    daemon = config.daemon
    leases = SourceLeases(
        db, owner, length=daemon.stalled_after, renew_every=daemon.heartbeat_every
    )
    leases.start()  # from the first claim: claiming many sources can take a while
    try:  # whatever ends it (a signal while claiming too), what was claimed is let go
        now = datetime.now(UTC)
        for name in names:
            every = config.source(name).schedule.every  # for workers that have not scheduled
            next_due = now + every if every is not None else now  # it yet: a period on
            leases.claim(name, now, next_due)
        for name in sorted(set(names) - leases.sources()):
            until = lease_of_another(db, name, owner)
            when = f" until {until:%H:%M:%S}Z" if until is not None else ""
            print(f"eventwatch: {name} is being crawled now by another eventwatch{when}: not "
                  "crawled twice at once", file=sys.stderr)  # fmt: skip
        yield leases
    finally:
        leases.stop()
        for name in leases.sources():
            try:
                leases.release(name, None)
            except Exception as exc:  # the lease runs out by itself
                logger.warning("source %s not released: %s", name, exc)


class _Stopped(BaseException):
    """A signal asked the crawl to stop; a BaseException, as KeyboardInterrupt is, so that
    nothing on its way out takes it for an error of its own."""

    def __init__(self, number: int) -> None:
        super().__init__(number)
        self.number = number
        self.name = signal.Signals(number).name


@contextmanager
def _stopped_by(*numbers: int) -> Iterator[None]:
    """While inside, these signals stop the crawl as Ctrl-C does: its crawl process is asked
    to stop and its runs are closed, where the default action (SIGTERM from ``timeout``,
    cron or systemd) had ended the command at once and left them ``running`` for ever."""

    def stop(number: int, _frame: FrameType | None) -> None:
        signal.signal(number, signal.SIG_IGN)  # a second one must not cut the stop short
        raise _Stopped(number)

    before = {number: signal.signal(number, stop) for number in numbers}
    try:
        yield
    finally:
        for number, handler in before.items():
            signal.signal(number, handler)


def _run_line(run: RunSummary) -> str:
    detail = f" — {run.error}" if run.error else ""
    return (
        f"{run.source}: {run.status}: pages fetched {run.pages}, new articles {run.new_articles}, "
        f"duplicates {run.duplicates}, errors {run.errors}{detail}"
    )
