"""`eventwatch`: the command line. Exit codes: 0 done, 1 a source could not be crawled,
2 a usage or config error (then nothing was changed)."""

from __future__ import annotations

import argparse
import gc
import logging
import os
import sys
import threading
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from crawlers.child import CrawlChild

logger = logging.getLogger("eventwatch")


def _iso_date(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an ISO date (2024-12-31)") from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="eventwatch", description=__doc__)
    parser.add_argument(
        "--config", help="config file (default: $EVENTWATCH_CONFIG or ./eventwatch.yaml)"
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress to stderr")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    sub.add_parser("check", help="validate the config and list the sources")
    db = sub.add_parser("db", help="database schema").add_subparsers(
        dest="db_command", required=True
    )
    db.add_parser("upgrade", help="migrate the database to the newest schema")

    crawl = sub.add_parser("crawl", help="crawl sources now, then match and send alerts")
    crawl.add_argument("sources", nargs="*", metavar="SOURCE")
    crawl.add_argument("--all", action="store_true", help="every enabled source")
    crawl.add_argument("--refresh", action="store_true", help="fetch stored articles again")
    crawl.add_argument("--no-alerts", action="store_true", help="skip matching and dispatch")

    events = sub.add_parser("events", help="stored events").add_subparsers(
        dest="events_command", required=True
    )
    listing = events.add_parser("list", help="newest first")
    listing.add_argument("--source")
    listing.add_argument("--since", type=_iso_date, metavar="ISO_DATE")
    listing.add_argument("--limit", type=int, default=50)
    listing.add_argument("--json", action="store_true", help="one JSON object per line")

    extract = sub.add_parser(
        "extract", help="what extraction makes of pages (files, folders, URLs)"
    )
    extract.add_argument("pages", nargs="+", metavar="PATH_OR_URL")
    extract.add_argument("--json", action="store_true", help="one JSON object per page")

    rules = sub.add_parser("rules", help="keyword rules").add_subparsers(
        dest="rules_command", required=True
    )
    rtest = rules.add_parser(
        "test", help="which stored events a query or rule matches; sends nothing"
    )
    rtest.add_argument("query", metavar="QUERY_OR_RULE_NAME")
    rtest.add_argument("--since", type=_iso_date, metavar="ISO_DATE")
    rtest.add_argument("--limit", type=int, default=1000)

    alerts = sub.add_parser("alerts", help="deliveries of alerts").add_subparsers(
        dest="alerts_command", required=True
    )
    alist = alerts.add_parser("list", help="deliveries, newest first")
    alist.add_argument("--status", choices=["pending", "sent", "failed"])
    alist.add_argument("--json", action="store_true")
    alerts.add_parser("send", help="match new articles and send pending alerts now")
    retry = alerts.add_parser("retry", help="queue failed deliveries again")
    retry.add_argument("ids", nargs="*", type=int, metavar="ID")
    retry.add_argument("--failed", action="store_true", help="every failed delivery")

    sub.add_parser("run", help="the daemon: crawl every source on its schedule, send alerts")
    status = sub.add_parser("status", help="each source's last run, next run, counts and health")
    status.add_argument("source", nargs="?", metavar="SOURCE", help="with its last run's failures")

    runs = sub.add_parser("runs", help="crawl runs, newest first, with their failed pages")
    runs.add_argument("source", nargs="?", metavar="SOURCE")
    runs.add_argument("--failed", action="store_true", help="only runs with a failure")
    runs.add_argument("--limit", type=int, default=20)
    runs.add_argument("--json", action="store_true", help="one JSON object per run")

    sources = sub.add_parser("sources", help="sources of the config").add_subparsers(
        dest="sources_command", required=True
    )
    explain = sources.add_parser(
        "explain", help="what a crawl does with each link of a listing page, or a URL, and why"
    )
    explain.add_argument("source", metavar="SOURCE")
    explain.add_argument("url", nargs="?", metavar="URL", help="default: its listing pages")
    explain.add_argument("--listing", action="store_true", help="URL is a listing: its links")
    explain.add_argument("--json", action="store_true", help="one JSON object per link")

    channels = sub.add_parser("channels", help="alert channels").add_subparsers(
        dest="channels_command", required=True
    )
    ctest = channels.add_parser("test", help="send a test message")
    ctest.add_argument("name")
    return parser


HANDLERS = {  # command -> function of monitor.commands; `crawl` is _dispatch's own case
    "check": "check",
    "db": "db_upgrade",
    "events": "events_list",
    "extract": "extract",
    "rules": "rules_test",
    "alerts": "alerts",
    "channels": "channels_test",
    "run": "run_daemon",
    "status": "status",
    "runs": "runs",
    "sources": "sources_explain",
}


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(
        # The daemon's log is its record: one line per crawl, delivery batch and health change.
        level=logging.INFO if args.verbose or args.command == "run" else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    logging.getLogger("apscheduler").setLevel(logging.WARNING)  # a line per job run is noise
    # `crawl` starts its crawl process before importing the rest: the process imports Scrapy
    # on the other core meanwhile, and gets its job once the config is read and runs opened.
    child = CrawlChild() if args.command == "crawl" else None
    try:
        return _dispatch(args, child)
    finally:
        if child is not None:
            child.abandon()  # a usage or config error came before its job


def _dispatch(args: argparse.Namespace, child: CrawlChild | None) -> int:
    from monitor import commands
    from monitor.config import ConfigError

    if not gc.isenabled():  # turned off by script() for the imports, which live as long as
        gc.freeze()  # the process: later collections need not walk them
        gc.enable()

    try:
        if child is not None:
            return commands.crawl(args, child)
        handler: Callable[[argparse.Namespace], int] = getattr(commands, HANDLERS[args.command])
        return handler(args)
    except ConfigError as exc:
        print(f"eventwatch: config error:\n{exc}", file=sys.stderr)
        return 2
    except commands.UsageError as exc:
        print(f"eventwatch: {exc}", file=sys.stderr)
        return 2


def script() -> None:
    """The ``eventwatch`` command. Once its work is committed and no other thread is left,
    it exits without tearing the interpreter down: freeing every module's objects one by one
    would add a fifth of a second to each ``eventwatch crawl``. The collector is off until
    the commands are imported (:func:`_dispatch`): it would only walk their objects again and
    again as they pile up."""
    gc.disable()
    code = main()
    if threading.active_count() > 1:  # someone may still be working: the ordinary way
        sys.exit(code)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    script()
