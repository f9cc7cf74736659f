"""What each CLI command does, on top of ``monitor.flow`` and the storage queries."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from datetime import UTC, datetime
from typing import Any

from crawlers.extraction.pagefile import expand, load
from crawlers.urls import is_http_url
from monitor import eventcommands, explain, flow, opening, rules_command, runlog
from monitor.channels import unset_secrets
from monitor.channels.alert import Alert, AlertArticle, DeliveryError
from monitor.config import Config, load_config
from monitor.crawl_command import send_alerts
from monitor.health import SourceHealth
from monitor.health_record import recorded_health
from monitor.rule_checks import operator_warnings
from monitor.schedules import trigger_for
from monitor.usage import UsageError, known_source
from storage.db import shown_url, sqlite_file
from storage.events import page_instant
from storage.leases import requeue_failed
from storage.migrate import HEAD, current_revision, upgrade
from storage.models import Digest, Update
from storage.outbox import delivery_statuses, list_deliveries, requeue
from storage.runs import RunSummary, latest_runs
from storage.stats import DELIVERY_STATUSES, article_counts, delivery_counts, failed_messages

# Outbox messages with no delivery row of their own, which `alerts retry --failed` queues too
FAILED_MESSAGES = (("digests", Digest), ("updates", Update))

# Commands of their own modules, dispatched by name like the rest (monitor.cli.HANDLERS)
runs = runlog.runs
rules_test = rules_command.rules_test
sources_explain = explain.sources_explain
events = eventcommands.events


def _emit(obj: dict[str, Any]) -> None:
    print(json.dumps(obj, ensure_ascii=False, default=_json_default))


def _json_default(value: object) -> str:
    return value.isoformat() if isinstance(value, datetime) else str(value)


def _context(args: argparse.Namespace) -> flow.Context:
    """For a command that writes: config checked first, then the schema brought up to date."""
    return opening.for_writing(load_config(args.config)[1])


def _reading(args: argparse.Namespace) -> flow.Context:
    """For a read-only command: the database as it is; nothing created or migrated."""
    return opening.for_reading(load_config(args.config)[1])


def check(args: argparse.Namespace) -> int:
    """The config, then what it needs from the environment: a channel's secret variable
    unset or empty is an error (exit 1), as it is to `run` and `worker`."""
    path, config = load_config(args.config)
    print(f"{path}: OK — {len(config.sources)} sources, {len(config.rules)} rules, "
          f"{len(config.channels)} channels")  # fmt: skip
    print(f"  database: {_where_database(config.database)}")
    for source in config.sources:
        schedule = str(source.schedule)
        entries = len(source.start_urls) + len(source.feeds) + len(source.sitemaps)
        state = "" if source.enabled else " (disabled)"
        print(f"  {source.name:<20} {schedule:<18} {entries} entry URLs{state}")
    for i, rule in enumerate(config.rules):
        for warning in operator_warnings(rule.name, rule.query):
            print(f"eventwatch: {path}: warning: rules[{i}]: field query: {warning}",
                  file=sys.stderr)  # fmt: skip
    problems = [*_driver_problems(config.database), *_unset_secrets(config)]
    for problem in problems:
        print(f"eventwatch: {path}: {problem}", file=sys.stderr)
    return 1 if problems else 0


def _where_database(url: str) -> str:
    path = sqlite_file(url)
    if path is None:
        return shown_url(url)
    state = "exists" if path.exists() else "not created yet"
    return f"SQLite file {path} ({state})"


def _driver_problems(url: str) -> list[str]:
    from sqlalchemy.engine import make_url

    try:
        make_url(url).get_dialect().import_dbapi()
    except ImportError as exc:
        return [f"database: the driver for {shown_url(url)} is not installed ({exc})"]
    return []


def _unset_secrets(config: Config) -> list[str]:
    problems = unset_secrets(config.channels)  # `run` and `worker` will not start without them
    # the web UI refuses to start without these (monitor.web.access), empty counting as unset
    web = config.web
    wanted = [
        *((f"web.users.{u.name}", "password_hash_env", u.password_hash_env) for u in web.users),
        *((f"web.tokens.{t.name}", "token_env", t.token_env) for t in web.tokens),
        *(
            [("web", "session_secret_env", web.session_secret_env)]
            if web.session_secret_env
            else []
        ),
    ]
    for where, key, variable in wanted:
        if not os.environ.get(variable):
            problems.append(f"{where}: field {key}: environment variable {variable} is not set")
    return problems


def db_upgrade(args: argparse.Namespace) -> int:
    _, config = load_config(args.config)
    before = current_revision(config.database)
    upgrade(config.database)
    where = f"database at {shown_url(config.database)}"
    if before is None:
        print(f"{where} created, at revision {HEAD}")
    elif before != HEAD:
        print(f"{where} upgraded from revision {before} to {HEAD}")
    else:
        print(f"{where} is up to date (revision {HEAD})")
    return 0


def extract(args: argparse.Namespace) -> int:
    from crawlers.extraction.extract import (
        extract as extract_page,  # trafilatura: only this command
    )

    if args.url is not None and (len(args.pages) != 1 or not is_http_url(args.url)):
        raise UsageError("extract --url: give one saved page and the http(s) URL it came from")
    status = 0
    for item in expand(args.pages):
        try:
            html, url = load(item)
            found = extract_page(html, args.url or url)
        except OSError as exc:
            print(f"eventwatch: {item}: {exc}", file=sys.stderr)
            status = 1
            continue
        except Exception as exc:  # a page that breaks extraction: the next pages still go
            print(f"eventwatch: {item}: extraction failed: {exc!r}", file=sys.stderr)
            status = 1
            continue
        _print_extracted(item, args.url or url, found, as_json=args.json)
    return status


def _print_extracted(item: str, url: str, found: Any, *, as_json: bool) -> None:
    fields = {
        "file": item,
        "url": found.display_url if found else url,
        "title": found.title if found else None,
        "published_at": (
            page_instant(found.published_at, found.published_offset_minutes) if found else None
        ),
        "published_day": found.published_day if found else None,
        "date_source": found.date_source if found else None,
        "warnings": list(found.warnings) if found else [],
        "language": found.language if found else None,
        "languages": list(found.languages) if found else [],
        "text": found.text if found else "",
    }
    if as_json:
        _emit(fields)
        return
    for key in ("url", "title", "published_day", "published_at", "languages", "warnings"):
        print(f"{key}: {fields[key]}")
    print(f"\n{fields['text']}\n")


def alerts(args: argparse.Namespace) -> int:
    if args.alerts_command == "list":
        return _alerts_list(_reading(args), as_json=args.json, status=args.status)
    if args.alerts_command == "send":
        send_alerts(_context(args))
        return 0
    if args.failed == bool(args.ids):
        raise UsageError("alerts retry: give delivery IDs or --failed")
    return _alerts_retry(_reading(args), args.ids, every_failed=args.failed)


def _alerts_retry(ctx: flow.Context, ids: list[int], *, every_failed: bool) -> int:
    """Named deliveries must all exist: a mistyped id changes nothing."""
    statuses = delivery_statuses(ctx.db, ids)
    unknown = [str(i) for i in dict.fromkeys(ids) if i not in statuses]
    if unknown:
        raise UsageError(f"alerts retry: no delivery with id {', '.join(unknown)}; nothing queued")
    for delivery_id, state in sorted(statuses.items()):
        if state != "failed":  # pending is queued already; held and digested go in a digest
            print(f"delivery {delivery_id} is {state}, not failed: not queued again",
                  file=sys.stderr)  # fmt: skip
    count = requeue(ctx.db, ids, all_failed=every_failed)
    print(f"{count} deliveries queued again")
    if every_failed:  # a digest or an update failed for good has no delivery of its own
        again = {kind: requeue_failed(ctx.db, model) for kind, model in FAILED_MESSAGES}
        print(f"{again['digests']} digests and {again['updates']} updates queued again")
    return 0


def _alerts_list(ctx: flow.Context, *, as_json: bool, status: str | None) -> int:
    rows = list_deliveries(ctx.db, status, limit=ALERTS_LISTED)
    if as_json:
        for row in rows:
            _emit({k: getattr(row, k) for k in row.__slots__})  # type: ignore[attr-defined]
        return 0
    print(f"{'id':>6}  {'status':<8} {'channel':<14} {'rule':<20} event, attempts, last error")
    for row in rows:
        print(f"{row.id:>6}  {row.status:<8} {row.channel:<14} {row.rule:<20} "
              f"event {row.event_id}"
              f"  attempts {row.attempts}  {row.last_error or ''}")  # fmt: skip
    kind = f"{status} deliveries" if status else "deliveries"
    more = f" (the newest {ALERTS_LISTED:,} only)" if len(rows) == ALERTS_LISTED else ""
    print(f"{len(rows)} {kind}, newest first{more}" if rows else f"no {kind}")
    return 0


ALERTS_LISTED = 1000


def channels_test(args: argparse.Namespace) -> int:
    _, config = load_config(args.config)
    if args.name not in config.channels:
        raise UsageError(f"channels test: no channel named {args.name!r} in the config")
    channel = flow.build_channel(args.name, config.channels[args.name])
    now = datetime.now(UTC)
    alert = Alert(
        delivery_id=f"test-{now:%Y%m%dT%H%M%S}",
        rule="test",
        event_id=0,
        title="eventwatch test message",
        terms=("test",),
        snippets=("This is a test message from eventwatch.",),
        articles=(AlertArticle("eventwatch", "https://example.org/", "Test article", now),),
        created_at=now,
        test=True,
    )
    try:
        channel.send(alert)
    except DeliveryError as exc:
        print(f"{args.name}: test message failed: {exc}", file=sys.stderr)
        return 1
    print(f"{args.name}: test message sent")
    return 0


def run_worker(args: argparse.Namespace) -> int:
    from monitor.worker import run  # the job engine is only loaded by a worker

    return run(args.config, crawl_log_level="INFO" if args.verbose else "WARNING")


def run_daemon(args: argparse.Namespace) -> int:
    from monitor.daemon import run  # the scheduler is only loaded by the daemon

    if not args.verbose:
        logging.getLogger().setLevel(logging.INFO)
    return run(args.config, crawl_log_level="INFO" if args.verbose else "WARNING")


def _next_run(schedule: Any, last_start: datetime | None) -> str:
    now = datetime.now(UTC)
    trigger = trigger_for(schedule)
    when = trigger.get_next_fire_time(last_start, last_start or now)
    return f"{when:%Y-%m-%d %H:%M}Z" if when else "-"


def _health(health: SourceHealth | None) -> str:
    if health is None:
        return "ok"
    if health.state == "down":
        return f"down ({health.failures_in_row} failed in a row)"
    if health.state == "stale" and health.last_new_article is not None:
        return f"stale (no new article since {health.last_new_article:%Y-%m-%d %H:%M}Z)"
    return f"ok ({health.failures_in_row} failed)" if health.failures_in_row else "ok"


def _lag(run: RunSummary | None) -> str:
    """How late the run started against its schedule; '-' for an on-demand crawl."""
    lag = run.lag_seconds if run is not None else None
    return "-" if lag is None else f"{lag:.0f}s"


def status(args: argparse.Namespace) -> int:
    ctx = _reading(args)
    chosen = getattr(args, "source", None)
    known_source(ctx.config, chosen, "status")
    runs = {run.source: run for run in latest_runs(ctx.db)}
    stored = article_counts(ctx.db)
    judged = recorded_health(ctx.db, ctx.config.daemon)
    print(f"{'source':<16} {'last run':<17} {'status':<9} {'next run':<17} {'pages':>6} {'new':>5} "
          f"{'errors':>6} {'articles':>8} {'lag':>5}  health")  # fmt: skip
    for source in (s for s in ctx.config.sources if chosen in (None, s.name)):
        run = runs.get(source.name)
        health = _health(judged.sources.get(source.name))
        last = f"{run.started_at:%Y-%m-%d %H:%M}Z" if run else "never"
        print(f"{source.name:<16} {last:<17} {run.status if run else '-':<9} "
              f"{_next_run(source.schedule, run.started_at if run else None):<17} "
              f"{run.pages if run else 0:>6} {run.new_articles if run else 0:>5} "
              f"{run.errors if run else 0:>6} {stored.get(source.name, 0):>8} "
              f"{_lag(run):>5}  {health}")  # fmt: skip
    for line in runlog.run_detail_lines(ctx.db, runs[chosen]) if chosen in runs else ():
        print(line)
    counts = delivery_counts(ctx.db)
    print("deliveries: " + ", ".join(f"{counts.get(s, 0)} {s}" for s in DELIVERY_STATUSES))
    failed = failed_messages(ctx.db)
    if any(failed.values()):
        print(f"failed for good: {failed['digests']} digests, {failed['updates']} updates "
              "(`eventwatch alerts retry --failed` sends them again)")  # fmt: skip
    return 0


def web(args: argparse.Namespace) -> int:
    from monitor.web.serve import serve  # the web stack is only loaded to serve it

    config = load_config(args.config)[1]
    if args.listen:
        config = config.model_copy(
            update={"web": config.web.model_copy(update={"listen": args.listen})}
        )
    if not args.verbose:
        logging.getLogger().setLevel(logging.INFO)
    return serve(config, opening.for_writing(config).db)


def hash_password(args: argparse.Namespace) -> int:
    from monitor.web.access import hash_password as argon2_hash

    try:
        password = sys.stdin.buffer.readline().decode("utf-8").rstrip("\r\n")
    except UnicodeDecodeError:
        raise UsageError("hash-password: the password is not UTF-8 text") from None
    if not password:
        raise UsageError("hash-password: give the password on stdin (one line)")
    print(argon2_hash(password))
    return 0
