"""`eventwatch`: the command line. Exit codes: 0 done, 1 a source could not be crawled,
2 a usage or config error (then nothing was changed)."""

from __future__ import annotations

import argparse
import gc
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from functools import partial
from typing import Any

from crawlers.launcher.child import CrawlChild
from storage.ids import MAX_ROW_ID

logger = logging.getLogger("eventwatch")

MAX_LIMIT = 1_000_000


def _whole(text: str, what: str, largest: int) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if not 1 <= value <= largest:
        raise argparse.ArgumentTypeError(f"{text!r} is not {what} (a whole number from 1)")
    return value


def _row_id(text: str) -> int:
    return _whole(text, "an ID", MAX_ROW_ID)


def _limit(text: str) -> int:
    return _whole(text, f"a limit up to {MAX_LIMIT:,}", MAX_LIMIT)


def _listen(text: str) -> str:
    from monitor.config import split_listen

    try:
        split_listen(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


def _iso_date(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an ISO date (2024-12-31)") from None
    value = value if value.tzinfo else value.replace(tzinfo=UTC)
    # a day from which a time-zone offset or a day's margin still leaves a date Python has
    if not 1 < value.year < 9999:
        raise argparse.ArgumentTypeError(f"{text!r} is out of range (years 2 to 9998)")
    return value


def _global_options(parser: argparse.ArgumentParser, default: Any) -> None:
    """--config and -v, taken before the command or after it (``crawl mirror -v``): a
    command's parser has them too, with no default of its own to hide the top level's."""
    parser.add_argument(
        "--config",
        default=default,
        help="config file (default: $EVENTWATCH_CONFIG or ./eventwatch.yaml)",
    )
    quiet = False if default is None else default
    parser.add_argument("-v", "--verbose", action="store_true", default=quiet, help="log progress")


def _commands(parser: argparse.ArgumentParser, dest: str) -> _WithGlobals:
    """A level of subcommands, each of which also takes the global options."""
    common = argparse.ArgumentParser(add_help=False)
    _global_options(common, argparse.SUPPRESS)
    sub = parser.add_subparsers(dest=dest, required=True, metavar="COMMAND")
    return _WithGlobals(sub, common)


class _WithGlobals:
    """``add_subparsers()``'s result, giving every parser it adds the global options."""

    def __init__(self, sub: Any, common: argparse.ArgumentParser) -> None:
        self.sub, self.common = sub, common

    def add_parser(self, name: str, **kwargs: Any) -> argparse.ArgumentParser:
        return self.sub.add_parser(name, parents=[self.common], **kwargs)  # type: ignore[no-any-return]


def build_parser() -> argparse.ArgumentParser:
    """The command line's parser: every command, and the global options taken before or after
    one (tests read what it parses)."""
    parser = argparse.ArgumentParser(prog="eventwatch", description=__doc__)
    _global_options(parser, None)
    sub = _commands(parser, "command")

    sub.add_parser("check", help="validate the config and the environment; list the sources")
    db = _commands(sub.add_parser("db", help="database schema"), "db_command")
    db.add_parser("upgrade", help="migrate the database to the newest schema")

    crawl = sub.add_parser("crawl", help="crawl sources now, then match and send alerts")
    crawl.add_argument("sources", nargs="*", metavar="SOURCE")
    crawl.add_argument("--all", action="store_true", help="every enabled source")
    crawl.add_argument("--refresh", action="store_true", help="fetch stored articles again")
    crawl.add_argument("--no-alerts", action="store_true", help="skip matching and dispatch")

    _events(sub)

    extract = sub.add_parser(
        "extract", help="what extraction makes of pages (files, folders, URLs)"
    )
    extract.add_argument("pages", nargs="+", metavar="PATH_OR_URL")
    extract.add_argument("--json", action="store_true", help="one JSON object per page")
    extract.add_argument(
        "--url", help="the address a saved page was fetched from: read as its crawl would"
    )

    _rules_and_alerts(sub)

    sub.add_parser("run", help="the daemon: crawl every source on its schedule, send alerts")
    sub.add_parser(
        "worker",
        help="one of many processes sharing a PostgreSQL database's schedule (docs: scaling out)",
    )
    _status_runs_and_sources(sub)

    channels = _commands(sub.add_parser("channels", help="alert channels"), "channels_command")
    ctest = channels.add_parser("test", help="send a test message")
    ctest.add_argument("name")
    return parser


def _events(sub: _WithGlobals) -> None:
    events = _commands(sub.add_parser("events", help="stored events"), "events_command")
    listing = events.add_parser("list", help="newest activity first")
    listing.add_argument("--source", help="reported by this source")
    listing.add_argument(
        "--since", type=_iso_date, metavar="ISO_DATE", help="published that day or later"
    )
    listing.add_argument(
        "--first-seen-since", type=_iso_date, metavar="ISO_DATE", help="first seen then or later"
    )
    listing.add_argument("--query", help="a query in the rule language")
    listing.add_argument("--limit", type=_limit, default=50)
    shape = listing.add_mutually_exclusive_group()
    shape.add_argument("--json", action="store_true", help="one JSON object per line")
    shape.add_argument("--csv", action="store_true", help="CSV with a header row")
    show = events.add_parser("show", help="one event with all its reports")
    show.add_argument("id", type=_row_id, metavar="ID")
    show.add_argument("--json", action="store_true", help="one JSON object")
    split = events.add_parser("split", help="move a wrongly grouped article to its own event")
    split.add_argument("article_id", type=_row_id, metavar="ARTICLE_ID")
    merge = events.add_parser("merge", help="move every report of OTHER into event KEPT")
    merge.add_argument("kept", type=_row_id, metavar="KEPT")
    merge.add_argument("other", type=_row_id, metavar="OTHER")

    web = sub.add_parser("web", help="serve the web UI and JSON API on web.listen")
    web.add_argument("--listen", type=_listen, metavar="HOST:PORT", help="instead of web.listen")
    sub.add_parser(
        "hash-password", help="read a password on stdin, print its argon2 hash (web.users)"
    )


def _rules_and_alerts(sub: _WithGlobals) -> None:
    rules = _commands(sub.add_parser("rules", help="keyword rules"), "rules_command")
    rtest = rules.add_parser(
        "test", help="which stored events a query or rule matches; sends nothing"
    )
    rtest.add_argument("query", metavar="QUERY_OR_RULE_NAME")
    rtest.add_argument("--since", type=_iso_date, metavar="ISO_DATE")
    rtest.add_argument(
        "--limit", type=_limit, default=1000, help="most matches shown (all events are searched)"
    )

    alerts = _commands(sub.add_parser("alerts", help="deliveries of alerts"), "alerts_command")
    alist = alerts.add_parser("list", help="deliveries, newest first")
    alist.add_argument("--status", choices=["pending", "held", "digested", "sent", "failed"])
    alist.add_argument("--json", action="store_true")
    alerts.add_parser("send", help="match new articles and send pending alerts now")
    retry = alerts.add_parser("retry", help="queue failed deliveries again")
    retry.add_argument("ids", nargs="*", type=_row_id, metavar="ID")
    retry.add_argument("--failed", action="store_true", help="every failed delivery")


def _status_runs_and_sources(sub: _WithGlobals) -> None:
    status = sub.add_parser("status", help="each source's last run, next run, counts and health")
    status.add_argument("source", nargs="?", metavar="SOURCE", help="with its last run's failures")

    runs = sub.add_parser("runs", help="crawl runs, newest first, with their failed pages")
    runs.add_argument("source", nargs="?", metavar="SOURCE")
    runs.add_argument("--failed", action="store_true", help="only runs with a failure")
    runs.add_argument("--limit", type=_limit, default=20)
    runs.add_argument("--json", action="store_true", help="one JSON object per run")

    sources = _commands(sub.add_parser("sources", help="sources of the config"), "sources_command")
    explain = sources.add_parser(
        "explain", help="what a crawl does with each link of a listing page, or a URL, and why"
    )
    explain.add_argument("source", metavar="SOURCE")
    explain.add_argument("url", nargs="?", metavar="URL", help="default: its listing pages")
    explain.add_argument("--listing", action="store_true", help="URL is a listing: its links")
    explain.add_argument("--json", action="store_true", help="one JSON object per link")


HANDLERS = {  # command -> function of monitor.commands; `crawl` is _dispatch's own case
    "check": "check",
    "db": "db_upgrade",
    "events": "events",
    "web": "web",
    "hash-password": "hash_password",
    "extract": "extract",
    "rules": "rules_test",
    "alerts": "alerts",
    "channels": "channels_test",
    "run": "run_daemon",
    "worker": "run_worker",
    "status": "status",
    "runs": "runs",
    "sources": "sources_explain",
}


DAEMONS = ("run", "worker")


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args, rest = parser.parse_known_args(argv)
    # argparse gives SOURCE and the optional URL their values at once: in `sources explain
    # wpnews --listing URL` the URL came after, unclaimed, and was refused
    explaining = getattr(args, "sources_command", None) == "explain"
    if explaining and len(rest) == 1 and args.url is None and not rest[0].startswith("-"):
        args.url, rest = rest[0], []
    if rest:
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    logging.basicConfig(
        # The daemon's log is its record: one line per crawl, delivery batch and health change.
        level=logging.INFO
        if args.verbose or args.command in ("run", "worker")
        else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    logging.getLogger("apscheduler").setLevel(logging.WARNING)  # a line per job run is noise
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)  # and per plugin
    # `crawl` starts its crawl process before importing the rest: the process imports Scrapy
    # on the other core meanwhile, and gets its job once the config is read and runs opened.
    child = CrawlChild() if args.command == "crawl" else None
    if args.command == "run":  # a reload asked for while the daemon starts is not fatal
        from monitor import early_signals

        early_signals.note_hup()
    try:
        return _dispatch(args, child)
    finally:
        if child is not None:
            child.abandon()  # a usage or config error came before its job


def _dispatch(args: argparse.Namespace, child: CrawlChild | None) -> int:
    from monitor.crawl_command import quiet_stdout

    # A crawl imports its own command only: the other commands' imports would be most of a
    # re-crawl's time (monitor.crawl_command).
    command: Callable[[], int]
    if child is not None:
        from monitor.crawl_command import crawl

        command = partial(crawl, args, child)
    else:
        from monitor import commands

        command = partial(getattr(commands, HANDLERS[args.command]), args)

    if not gc.isenabled():  # turned off by script() for the imports, which live as long as
        gc.freeze()  # the process: later collections need not walk them
        gc.enable()

    try:
        return command()
    except BrokenPipeError:  # the reader went away (`| head`): what it wanted, it has
        quiet_stdout()
        return 141  # 128 + SIGPIPE, as a shell tool killed by the broken pipe would
    except KeyboardInterrupt:  # Ctrl-C: asked for, so no traceback (a write is rolled back)
        print("eventwatch: interrupted", file=sys.stderr)
        return 128 + signal.SIGINT
    except Exception as exc:  # a user's mistake or an unreachable database: one line
        code, line = _outcome(exc)
        if code is None:
            raise
        print(f"eventwatch: {line}", file=sys.stderr)
        return code


def _outcome(exc: Exception) -> tuple[int | None, str]:
    """Exit code and message for an error that is no bug (code None for a bug)."""
    from sqlalchemy.exc import DatabaseError

    from monitor import opening
    from monitor.config import ConfigError
    from monitor.observe import ListenError
    from monitor.single_daemon import DaemonRunning
    from monitor.usage import UsageError
    from monitor.web.access import AccessError
    from monitor.web.serve import AddressTaken
    from storage.db import DATABASE_FAILURES, DatabaseFolderError
    from storage.migrate import NewerSchema

    if isinstance(exc, ConfigError):
        text = str(exc)
        return 2, "config error:" + ("\n" if "\n" in text else " ") + text
    # errors whose own message is the line to print, with the exit code each means
    said_as_is: tuple[tuple[type[Exception], int], ...] = (
        (UsageError, 2), (AccessError, 2), (AddressTaken, 1), (opening.DatabaseUnavailable, 1),
        (ListenError, 1), (DaemonRunning, 1), (NewerSchema, 1),
    )  # fmt: skip
    for kind, code in said_as_is:
        if isinstance(exc, kind):
            return code, str(exc)
    if isinstance(exc, DatabaseFolderError):
        return 1, f"the database cannot be used: {exc}"
    # the driver's own base class counts too, as SQLite raises it for "file is not a database"
    if isinstance(exc, DATABASE_FAILURES) or (
        isinstance(exc, DatabaseError) and type(exc.orig).__name__ == "DatabaseError"
    ):
        return 1, f"the database cannot be used: {opening.database_failure(exc)}"
    return None, ""


def script() -> None:
    """The ``eventwatch`` command. Once its work is committed and no other thread is left,
    it exits without tearing the interpreter down: freeing every module's objects one by one
    is slow, and nothing needs it. The collector is off until
    the commands are imported (:func:`_dispatch`): it would only walk their objects again and
    again as they pile up."""
    gc.disable()
    try:
        code = main()
        sys.stdout.flush()
    except BrokenPipeError:  # the reader left (`| head`), in --help or the last lines
        from monitor.crawl_command import quiet_stdout

        quiet_stdout()
        code = 141
    if threading.active_count() > 1:  # someone may still be working: the ordinary way
        sys.exit(code)
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    script()
