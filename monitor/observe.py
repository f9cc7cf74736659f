"""`/healthz` and `/metrics` (Prometheus) of the daemon, on 127.0.0.1 by default."""

from __future__ import annotations

import json
import logging
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI
from fastapi.responses import Response
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from storage.pagefailures import failing_counts
from storage.runs import latest_runs
from storage.stats import DELIVERY_STATUSES, delivery_counts, failed_messages, reachable

if TYPE_CHECKING:
    from monitor.config import Config
    from monitor.daemon import Daemon
    from monitor.web.access import Access
    from storage.db import Database

logger = logging.getLogger(__name__)

# A database that has refused every write this long is unhealthy, though it still answers
# reads: nothing is stored meanwhile. Shorter refusals (a lock held for a moment) are waited out.
WRITES_REFUSED_SECONDS = 60.0


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.crawls = Counter(
            "eventwatch_crawls", "Crawls by outcome", ["source", "status"], registry=self.registry
        )
        self.pages = Counter(
            "eventwatch_pages_fetched", "Pages fetched", ["source"], registry=self.registry
        )
        self.new = Counter(
            "eventwatch_new_articles", "New articles stored", ["source"], registry=self.registry
        )
        self.errors = Counter(
            "eventwatch_crawl_errors", "Page errors in crawls", ["source"], registry=self.registry
        )
        self.duration = Histogram(
            "eventwatch_crawl_duration_seconds",
            "Crawl wall time",
            ["source"],
            registry=self.registry,
            buckets=(1, 5, 15, 30, 60, 120, 300, 600, 1200, 3600),
        )
        self.lag = Histogram(
            "eventwatch_schedule_lag_seconds",
            "How late crawls start against their schedule",
            registry=self.registry,
            buckets=(0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 900, 1800, 3600),
        )
        self.last_lag = Gauge(
            "eventwatch_source_schedule_lag_seconds",
            "How late the source's last crawl started against its schedule",
            ["source"],
            registry=self.registry,
        )

    def crawl_started(self, source: str, lag: timedelta) -> None:
        seconds = max(0.0, lag.total_seconds())
        self.lag.observe(seconds)
        self.last_lag.labels(source).set(seconds)

    def crawl_finished(
        self, source: str, status: str, seconds: float, pages: int, new: int, errors: int
    ) -> None:
        self.crawls.labels(source, status).inc()
        self.pages.labels(source).inc(pages)
        self.new.labels(source).inc(new)
        self.errors.labels(source).inc(errors)
        self.duration.labels(source).observe(seconds)


class QueueCollector(Collector):
    """Crawls waiting for room in the crawl pool and running, and the oldest wait."""

    def __init__(self, daemon: Daemon) -> None:
        self.daemon = daemon

    def collect(self) -> Iterator[GaugeMetricFamily]:
        waiting, running = self.daemon.due.counts()
        yield GaugeMetricFamily(
            "eventwatch_crawls_waiting", "Due crawls not yet started", value=waiting
        )
        yield GaugeMetricFamily("eventwatch_crawls_running", "Crawls running", value=running)
        oldest = self.daemon.due.oldest()
        wait = (datetime.now(UTC) - oldest).total_seconds() if oldest else 0.0
        yield GaugeMetricFamily(
            "eventwatch_oldest_due_seconds", "How long the oldest due crawl has waited", value=wait
        )


class HealthCollector(Collector):
    """Each scheduled source's health as the daemon judges it now, read at scrape time: every
    scheduled source has a value, including the healthy ones and those judged before a
    restart."""

    def __init__(self, daemon: Daemon) -> None:
        self.daemon = daemon

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily(
            "eventwatch_source_healthy", "1 unless reported down or stale", labels=["source"]
        )
        judged = dict(self.daemon.health.sources)
        for source in sorted(self.daemon.scheduled.copy()):  # a copy: reloads change it
            health = judged.get(source)
            family.add_metric([source], 0 if health and health.state != "ok" else 1)
        yield family


class DeliveryCollector(Collector):
    """Deliveries by status, read from the database at scrape time (the outbox is the truth)."""

    def __init__(self, daemon: Daemon) -> None:
        self.daemon = daemon

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily(
            "eventwatch_deliveries", "Deliveries by status", labels=["status"]
        )
        counts = delivery_counts(self.daemon.ctx.db)
        for status in DELIVERY_STATUSES:
            family.add_metric([status], counts.get(status, 0))
        yield family
        failed = GaugeMetricFamily(
            "eventwatch_messages_failed", "Digests and updates failed for good", labels=["kind"]
        )
        for kind, count in failed_messages(self.daemon.ctx.db).items():
            failed.add_metric([kind], count)
        yield failed


class PageFailureCollector(Collector):
    """Pages failing now, by source and stage (fetch, extract, store), read from the
    database at scrape time: a page that is had again leaves the count."""

    def __init__(self, daemon: Daemon) -> None:
        self.daemon = daemon

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily(
            "eventwatch_failing_pages",
            "Pages that failed at their last try, by source and stage",
            labels=["source", "stage"],
        )
        for (source, stage), count in sorted(failing_counts(self.daemon.ctx.db).items()):
            family.add_metric([source, stage], count)
        yield family


def database_problem(db: Database) -> str | None:
    """What makes the database unusable though it may answer: its SQLite file gone from
    under it, or every write refused for a while."""
    return db.file_problem() or db.write_trouble(WRITES_REFUSED_SECONDS)


def health_report(daemon: Daemon) -> tuple[int, dict[str, Any]]:
    scheduler_alive = daemon.scheduler.running and not daemon.stopping.is_set()
    answers = reachable(daemon.ctx.db)
    problem = database_problem(daemon.ctx.db)
    db_ok = answers and problem is None
    sources: dict[str, Any] = {}
    for run in latest_runs(daemon.ctx.db) if answers else []:
        sources[run.source] = {
            "last_run": run.status,
            "finished_at": run.finished_at,
            "new_articles": run.new_articles,
        }
    for job in daemon.scheduler.get_jobs():
        if job.id.startswith("crawl:"):
            entry = sources.setdefault(job.id.removeprefix("crawl:"), {})
            entry["next_run"] = job.next_run_time
    ok = scheduler_alive and db_ok
    body = {
        "status": "ok" if ok else "unhealthy",
        "scheduler": scheduler_alive,
        "database": db_ok,
        "sources": sources,
    }
    if problem is not None:
        body["database_problem"] = problem
    return (200 if ok else 503), body


class ListenError(Exception):
    """``daemon.listen`` is taken, most often by a daemon already running: one line."""


def _taken(listen: str, exc: OSError) -> ListenError:
    """Who holds the address: a daemon answering /healthz there is eventwatch's."""
    url = f"http://{listen}/healthz"
    try:
        with urllib.request.urlopen(url, timeout=3) as answer:
            body = answer.read()
    except urllib.error.HTTPError as unhealthy:  # a daemon in trouble answers 503
        body = unhealthy.read()
    except OSError:
        body = b""
    if b'"scheduler"' in body:
        return ListenError(
            f"an eventwatch daemon is already running (it answers at {url}); "
            "stop it first, or give this one another daemon.listen"
        )
    return ListenError(
        f"daemon.listen {listen} cannot be used ({exc.strerror or exc}): "
        "another program holds it; choose another address or port"
    )


class ObservabilityServer:
    """``daemon.listen``: the web UI and its API (monitor.web), with /healthz and /metrics
    beside them, served from a thread of the daemon."""

    def __init__(self, listen: str, daemon: Daemon) -> None:
        from monitor.config import split_listen
        from monitor.web.serve import WebServer, bind, web_app

        host, port = split_listen(listen)
        self.host = host
        app = web_app(daemon.ctx.config, daemon.ctx.db, host)  # AccessError: no users
        try:
            sock = bind(host, port)
        except OSError as exc:
            raise _taken(f"{host}:{port}", exc) from exc
        _observe_routes(app, daemon)
        daemon.metrics.registry.register(DeliveryCollector(daemon))
        daemon.metrics.registry.register(QueueCollector(daemon))
        daemon.metrics.registry.register(HealthCollector(daemon))
        daemon.metrics.registry.register(PageFailureCollector(daemon))
        self.app = app
        self.server = WebServer(app, sock)
        self.address = sock.getsockname()[:2]

    def access_for(self, config: Config) -> Access:
        """Who may do what under ``config``: a user or token removed, or a role changed,
        holds from the reload on. Raises AccessError (a password's or token's variable unset, say),
        and the reload is rejected. The cookies stay signed with the secret they started with,
        whose variable is not read again."""
        from monitor.web.access import Access

        return Access(config.web, self.host, self.app.state.web.access.session_secret)

    def reconfigure(self, config: Config, db: Database, access: Access) -> None:
        """After a reload: the pages read the new config (and database) and its users."""
        web = self.app.state.web
        web.config, web.db, web.access = config, db, access

    def start(self) -> None:
        self.server.start()
        logger.info("serving the web UI, /healthz and /metrics on %s:%d", *self.address)

    def stop(self) -> None:
        self.server.stop()


def _observe_routes(app: FastAPI, daemon: Daemon) -> None:
    def healthz() -> Response:
        status, body = health_report(daemon)
        return Response(json.dumps(body, default=str), status, media_type="application/json")

    def metrics() -> Response:
        return Response(
            generate_latest(daemon.metrics.registry), media_type="text/plain; version=0.0.4"
        )

    app.add_api_route("/healthz", healthz, include_in_schema=False)
    app.add_api_route("/metrics", metrics, include_in_schema=False)
