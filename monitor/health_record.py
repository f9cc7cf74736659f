"""Each source's health as the database records it, judged the way the daemon judges it."""

from __future__ import annotations

from datetime import UTC, datetime

from monitor.config import DaemonConfig
from monitor.health import HealthTracker
from storage.db import Database
from storage.runs import failures_in_row, source_rhythms


def recorded_health(db: Database, daemon: DaemonConfig) -> HealthTracker:
    """The verdicts the daemon held at each source's last crawl: what a restarted daemon
    resumes from, and what `status` and the web UI show without asking a running one."""
    tracker = HealthTracker(daemon.health_failures, daemon.health_min_quiet)
    tracker.resume(failures_in_row(db), datetime.now(UTC), source_rhythms(db))
    return tracker
