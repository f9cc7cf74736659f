"""A user's mistake on the command line is one clear line, never a traceback (issue 26, 6)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psutil
import pytest
import yaml
from sqlalchemy import select, text
from sqlalchemy.exc import OperationalError

from monitor.cli import build_parser, main
from monitor.config import ConfigError, load_config
from monitor.web.views import source_statuses
from storage.articles import ensure_source
from storage.db import Database
from storage.migrate import HEAD, stored_revision, upgrade
from storage.models import Article, CrawlRun
from tests.conftest import FIXTURES
from tests.receivers import SlowPeer, free_port
from tests.sitehost import serve, silent_server
from tests.test_crawl import source_yaml, write_config

SOURCE = {"name": "news", "start_urls": ["http://127.0.0.1:9/"]}
READ_ONLY = [
    ["events", "list"],
    ["status"],
    ["rules", "test", "dushanbe"],
    ["alerts", "list"],
    ["alerts", "retry", "1"],
]


def config_file(tmp_path: Path, **fields: Any) -> Path:
    data = {"database": f"sqlite:///{tmp_path / 'ew.db'}", "sources": [SOURCE], **fields}
    path = tmp_path / "eventwatch.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def one_line(err: str) -> str:
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    return lines[0]


def test_a_path_given_as_database_gets_the_sqlite_url_it_meant(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = config_file(tmp_path, database="/srv/eventwatch/ew.db")
    code, _, err = run(capsys, "--config", str(path), "check")
    assert code == 2
    assert "did you mean 'sqlite:////srv/eventwatch/ew.db'" in one_line(err)


def test_an_unknown_database_driver_is_a_config_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = config_file(tmp_path, database="postgresql+nosuchdriver://u:pw@127.0.0.1/db")
    code, _, err = run(capsys, "--config", str(path), "events", "list")
    assert code == 2
    line = one_line(err)
    assert "unknown database kind or driver 'postgresql+nosuchdriver'" in line
    assert "pw" not in line.replace("postgresql", "")


@pytest.mark.parametrize("command", [["events", "list"], ["alerts", "send"], ["db", "upgrade"]])
def test_an_unreachable_postgresql_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: list[str]
) -> None:
    url = f"postgresql+psycopg://eventwatch:hunter2@127.0.0.1:{free_port()}/eventwatch"
    path = config_file(tmp_path, database=url)
    code, _, err = run(capsys, "--config", str(path), *command)
    assert code == 1
    line = one_line(err)
    assert line.startswith("eventwatch: the database cannot be used:")
    assert "refused" in line.lower() and "hunter2" not in line


@pytest.mark.parametrize("command", READ_ONLY, ids=" ".join)
def test_read_only_commands_create_no_database(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    command: list[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    path = config_file(tmp_path, database="sqlite:///srv/eventwatch/ew.db")
    code, out, err = run(capsys, "--config", str(path), *command)
    assert code == 1 and out == ""
    line = one_line(err)
    assert f"no database at {tmp_path / 'srv/eventwatch/ew.db'}" in line
    assert "'sqlite:////srv/eventwatch/ew.db'" in line  # the absolute path it may have meant
    assert sorted(p.name for p in tmp_path.iterdir()) == ["eventwatch.yaml"]


def test_a_read_only_command_does_not_migrate_an_old_schema(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = config_file(tmp_path)
    url = f"sqlite:///{tmp_path / 'ew.db'}"
    upgrade(url, "0001")
    code, _, err = run(capsys, "--config", str(path), "status")
    assert code == 1 and "run 'eventwatch db upgrade'" in one_line(err)
    assert stored_revision(url) == "0001"


def test_output_to_a_closed_pipe_ends_quietly(tmp_path: Path) -> None:
    path = config_file(tmp_path)
    upgrade(f"sqlite:///{tmp_path / 'ew.db'}")
    for command in (["status"], ["check"], ["--help"]):
        reader, writer = os.pipe()
        os.close(reader)  # like `| head` that has read its lines and gone
        try:
            result = subprocess.run(
                [sys.executable, "-m", "monitor.cli", "--config", str(path), *command],
                stdout=writer, stderr=subprocess.PIPE, text=True, timeout=60,
            )  # fmt: skip
        finally:
            os.close(writer)
        assert result.returncode == (0 if command == ["--help"] else 141), result.stderr
        assert "Error" not in result.stderr and "Traceback" not in result.stderr


def test_check_reports_a_web_secret_variable_that_is_not_set(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`check` said OK, then `web` and `run` refused to start for want of them."""
    web = {
        "users": [{"name": "ana", "role": "analyst", "password_hash_env": "EW_ANA_HASH"}],
        "tokens": [{"name": "feeds", "token_env": "EW_FEED_TOKEN"}],
        "session_secret_env": "EW_SESSION",
    }
    path = config_file(tmp_path, web=web)
    for variable in ("EW_ANA_HASH", "EW_FEED_TOKEN", "EW_SESSION"):
        monkeypatch.delenv(variable, raising=False)
    code, _, err = run(capsys, "--config", str(path), "check")
    assert code == 1 and "Traceback" not in err
    said = [line.split(": ", 2)[2] for line in err.splitlines()]
    assert said == [
        "web.users.ana: field password_hash_env: environment variable EW_ANA_HASH is not set",
        "web.tokens.feeds: field token_env: environment variable EW_FEED_TOKEN is not set",
        "web: field session_secret_env: environment variable EW_SESSION is not set",
    ]
    for variable in ("EW_ANA_HASH", "EW_FEED_TOKEN", "EW_SESSION"):
        monkeypatch.setenv(variable, "set")
    code, _, err = run(capsys, "--config", str(path), "check")
    assert code == 0 and err == ""


def test_check_reports_a_secret_variable_that_is_not_set(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    hook = {"type": "webhook", "url": "http://127.0.0.1:9/hook", "secret_env": "EW_TEST_SECRET"}
    path = config_file(tmp_path, channels={"soc": hook})
    monkeypatch.delenv("EW_TEST_SECRET", raising=False)
    code, out, err = run(capsys, "--config", str(path), "check")
    assert code == 1 and "OK" in out
    assert "channels.soc: field secret_env: environment variable EW_TEST_SECRET is not set" in (
        one_line(err)
    )
    monkeypatch.setenv("EW_TEST_SECRET", "")  # empty: webhooks had gone out signed with it
    code, out, err = run(capsys, "--config", str(path), "check")
    assert code == 1 and "environment variable EW_TEST_SECRET is not set" in one_line(err)
    monkeypatch.setenv("EW_TEST_SECRET", "s3cret")
    code, out, err = run(capsys, "--config", str(path), "check")
    assert code == 0 and err == "" and "s3cret" not in out


@pytest.mark.parametrize("command", ["run", "worker"])
def test_a_daemon_or_worker_will_not_start_without_a_channel_secret(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    command: str,
) -> None:
    """They had started without a word: every alert to the channel then failed, retried for
    hours until it failed for good, and only a restart with the variable set could help."""
    hook = {"type": "webhook", "url": "http://127.0.0.1:9/hook", "secret_env": "EW_TEST_SECRET"}
    path = config_file(tmp_path, channels={"soc": hook})
    monkeypatch.delenv("EW_TEST_SECRET", raising=False)
    code, out, err = run(capsys, "--config", str(path), command)
    assert code == 2 and out == ""
    assert one_line(err) == (
        f"eventwatch: config error: {path}: channels.soc: field secret_env: environment "
        "variable EW_TEST_SECRET is not set"
    )
    assert not (tmp_path / "ew.db").exists()  # nothing was started


def test_retry_of_a_delivery_that_does_not_exist_names_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = config_file(tmp_path)
    upgrade(f"sqlite:///{tmp_path / 'ew.db'}")
    code, out, err = run(capsys, "--config", str(path), "alerts", "retry", "999")
    assert code == 2 and out == ""
    assert "no delivery with id 999; nothing queued" in one_line(err)


def test_a_missing_config_file_names_its_full_path_and_how_to_choose_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("EVENTWATCH_CONFIG", raising=False)
    code, _, err = run(capsys, "status")
    line = one_line(err)
    assert code == 2 and str(tmp_path / "eventwatch.yaml") in line
    assert "--config" in line and "$EVENTWATCH_CONFIG" in line


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"sources": [{**SOURCE, "start_url": ["http://x/"]}]}, "'start_urls'"),
        ({"databse": "sqlite:///x.db"}, "'database'"),
        ({"daemon": {"listne": "127.0.0.1:1"}}, "'listen'"),
        (
            {"channels": {"soc": {"type": "webhook", "url": "http://x/", "secret": "S"}}},
            "'secret_env'",
        ),
    ],
)
def test_an_unknown_key_gets_the_nearest_known_one(
    tmp_path: Path, change: dict[str, Any], expected: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(config_file(tmp_path, **change))
    assert f"unknown key (did you mean {expected}?)" in str(caught.value)


@pytest.mark.parametrize(
    "argv",
    [
        ["-v", "--config", "x.yaml", "crawl", "mirror"],
        ["crawl", "mirror", "-v", "--config", "x.yaml"],
        ["crawl", "--config", "x.yaml", "mirror", "--verbose"],
    ],
)
def test_global_options_go_before_or_after_the_command(argv: list[str]) -> None:
    args = build_parser().parse_args(argv)
    assert (args.verbose, args.config, args.sources) == (True, "x.yaml", ["mirror"])


def test_global_options_after_a_nested_command(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = config_file(tmp_path)
    code, _, err = run(capsys, "db", "upgrade", "--config", str(path), "-v")
    assert code == 0, err
    assert build_parser().parse_args(["events", "list"]).verbose is False


def start_daemon(config: Path) -> subprocess.Popen[str]:
    command = [sys.executable, "-m", "monitor.cli", "--config", str(config), "run"]
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def second_daemon(config: Path) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "monitor.cli", "--config", str(config), "run"]
    return subprocess.run(command, capture_output=True, text=True, timeout=60)


def test_a_second_daemon_on_the_same_address_says_one_is_running(tmp_path: Path) -> None:
    listen = f"127.0.0.1:{free_port()}"
    (tmp_path / "one").mkdir()
    (tmp_path / "two").mkdir()  # another database: the address alone is shared
    first = start_daemon(config_file(tmp_path / "one", daemon={"listen": listen}))
    try:
        assert _answers(listen), "the first daemon never served /healthz"
        second = second_daemon(config_file(tmp_path / "two", daemon={"listen": listen}))
    finally:
        first.terminate()
        first.communicate(timeout=60)
    assert second.returncode == 1
    assert "Traceback" not in second.stderr and "Errno" not in second.stderr
    last = second.stderr.strip().splitlines()[-1]  # after the daemon's log of its migration
    assert last.startswith(
        f"eventwatch: an eventwatch daemon is already running (it answers at http://{listen}/"
    )


def test_a_second_daemon_on_the_same_sqlite_database_says_one_is_running(tmp_path: Path) -> None:
    listen = f"127.0.0.1:{free_port()}"
    first = start_daemon(config_file(tmp_path, daemon={"listen": listen}))
    try:
        assert _answers(listen), "the first daemon never served /healthz"
        second = second_daemon(config_file(tmp_path, daemon={"listen": None}))
    finally:
        first.terminate()
        first.communicate(timeout=60)
    line = one_line(second.stderr)
    assert second.returncode == 1
    assert f"already running on this database (pid {first.pid}; lock file" in line
    third = start_daemon(config_file(tmp_path, daemon={"listen": listen}))  # the lock is free
    try:
        assert _answers(listen), "a daemon after the first could not start"
    finally:
        third.terminate()
        third.communicate(timeout=60)


def test_a_daemon_whose_address_another_program_holds_says_so(tmp_path: Path) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        listen = f"127.0.0.1:{holder.getsockname()[1]}"
        path = config_file(tmp_path, daemon={"listen": listen})
        result = subprocess.run(
            [sys.executable, "-m", "monitor.cli", "--config", str(path), "run"],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert f"daemon.listen {listen} cannot be used" in result.stderr
    assert "another program holds it" in result.stderr


def _answers(listen: str) -> bool:
    import time
    import urllib.error
    import urllib.request

    for _ in range(300):
        try:
            with urllib.request.urlopen(f"http://{listen}/healthz", timeout=2):
                return True
        except urllib.error.HTTPError:
            return True
        except OSError:
            time.sleep(0.2)
    return False


def test_a_crawl_whose_reader_went_away_still_matches_its_articles(tmp_path: Path) -> None:
    shutil.copytree(FIXTURES / "sites" / "wpnews", tmp_path / "wpnews")
    with serve(tmp_path / "wpnews") as site:
        config = write_config(tmp_path, [source_yaml("wpnews", site.base_url)])
        reader, writer = os.pipe()
        os.close(reader)
        try:
            result = subprocess.run(
                [sys.executable, "-m", "monitor.cli", "--config", str(config), "crawl", "--all"],
                stdout=writer, stderr=subprocess.PIPE, text=True, timeout=240,
            )  # fmt: skip
        finally:
            os.close(writer)
    assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr
    db = Database(f"sqlite:///{tmp_path / 'eventwatch.db'}")
    with db.session() as session:
        matched = session.scalars(select(Article.matched_at)).all()
    db.dispose()
    assert len(matched) == 4 and all(matched)  # the alerts step ran after the lost lines


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["events", "show", "99999999999999999999"], "is not an ID"),
        (["events", "merge", "1", "0"], "is not an ID"),
        (["alerts", "retry", "-3"], "is not an ID"),
        (["events", "list", "--limit", "0"], "is not a limit up to 1,000,000"),
        (["runs", "--limit", "-1"], "is not a limit up to 1,000,000"),
        (["rules", "test", "police", "--limit", "99999999999999999999"], "is not a limit"),
        (["web", "--listen", "nonsense"], "is not HOST:PORT with a port from 0 to 65535"),
        (["web", "--listen", "127.0.0.1:99999"], "is not HOST:PORT"),
    ],
)
def test_a_number_or_address_out_of_range_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], expected: str
) -> None:
    """Had passed argparse and met the database or the socket as a traceback."""
    with pytest.raises(SystemExit) as exited:
        main(["--config", str(config_file(tmp_path)), *argv])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert expected in err and "Traceback" not in err
    assert not (tmp_path / "ew.db").exists()


def test_a_database_driver_that_is_not_installed_is_a_config_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The dialect is known to SQLAlchemy, its driver (MySQLdb) is not installed here."""
    path = config_file(tmp_path, database="mysql://ew@127.0.0.1/ew")
    for argv in (["status"], ["db", "upgrade"]):
        code, _, err = run(capsys, "--config", str(path), *argv)
        assert code == 2
        assert "the driver for 'mysql' is not installed" in one_line(err)


def test_a_daemon_that_cannot_make_its_lock_file_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("", encoding="utf-8")
    path = config_file(tmp_path, database=f"sqlite:///{blocker / 'ew.db'}", daemon={"listen": None})
    code, _, err = run(capsys, "--config", str(path), "run")
    assert code == 1
    assert "Traceback" not in err
    assert err.strip().splitlines()[-1].startswith("eventwatch: cannot hold the daemon's lock file")


def as_on_a_terminal() -> None:
    """SIGINT as a shell on a terminal leaves it: a test runner started in the background of
    a script inherits it ignored, and the command would never hear the Ctrl-C."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_ctrl_c_stops_the_web_ui_without_a_traceback(tmp_path: Path) -> None:
    """uvicorn stops on SIGINT, then raises it again: `eventwatch web` printed a traceback
    where a stop was asked for."""
    path = config_file(tmp_path)
    port = free_port()
    web = subprocess.Popen(
        [sys.executable, "-m", "monitor.cli", "--config", str(path), "web", "--listen",
         f"127.0.0.1:{port}"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=as_on_a_terminal,
    )  # fmt: skip
    try:
        assert web.stdout is not None
        assert web.stdout.readline().startswith("eventwatch web UI: http://127.0.0.1:")
        with socket.create_connection(("127.0.0.1", port), timeout=30):
            pass  # it serves
        web.send_signal(signal.SIGINT)
        _, errors = web.communicate(timeout=60)
    finally:
        if web.poll() is None:
            web.kill()
    assert web.returncode == 0, errors
    assert "Traceback" not in errors and "KeyboardInterrupt" not in errors


STOPPING = "eventwatch: stopping the crawls (Ctrl-C again stops them at once)"
INTERRUPTED = "eventwatch: crawl interrupted: its runs are closed `stopped`"


@pytest.mark.parametrize("presses", [1, 2])
def test_ctrl_c_stops_a_crawl_and_its_processes(tmp_path: Path, presses: int) -> None:
    """Ctrl-C reaches the terminal's foreground group; the crawl process ignores it and is
    stopped by the command, which closes its runs and leaves no process behind. A
    crawl waiting on a site that never answers takes its download timeout to stop: a second
    Ctrl-C kills it. That one left its run `running` for ever, said `stopped`: Python 3.11's
    Thread.join, cut short, took the pool's thread for ended."""
    with silent_server() as hung:
        path = write_config(tmp_path, [source_yaml("hung", hung, time_limit="60s")])
        crawl = subprocess.Popen(
            [sys.executable, "-m", "monitor.cli", "--config", str(path), "crawl", "--all"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
            preexec_fn=as_on_a_terminal,
        )  # fmt: skip
        try:
            db = Database(f"sqlite:///{tmp_path / 'eventwatch.db'}")
            assert wait_until(lambda: _runs(db) == ["running"]), "the crawl started"
            helpers = psutil.Process(crawl.pid).children(recursive=True)
            os.killpg(crawl.pid, signal.SIGINT)
            assert crawl.stderr is not None
            said = [crawl.stderr.readline().strip()]
            if presses == 2:
                os.killpg(crawl.pid, signal.SIGINT)
            _, errors = crawl.communicate(timeout=90)
        finally:
            if crawl.poll() is None:
                crawl.kill()
    assert crawl.returncode == 128 + signal.SIGINT
    assert said + errors.strip().splitlines() == [STOPPING, INTERRUPTED]
    assert _runs(db) == ["stopped"]
    # a killed crawl process's workers and fork server end as they see their pipes close
    assert helpers and wait_until(lambda: not any(_running(helper) for helper in helpers))


def _running(process: psutil.Process) -> bool:
    """Alive: an ended process whose parent died first waits as a zombie until whatever
    adopted it reaps it, which in a container may be never."""
    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _runs(db: Database) -> list[str]:
    with db.session() as session:
        return [str(status) for status in session.scalars(select(CrawlRun.status))]


def wait_until(condition: Callable[[], bool], seconds: float = 60) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if condition():
                return True
        except OperationalError:  # the database is not there yet
            pass
        time.sleep(0.1)
    return False


def test_db_upgrade_says_whether_it_created_upgraded_or_found_it_current(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """On a new database it said "is up to date", as if one had been there."""
    path = config_file(tmp_path)
    where = f"database at sqlite:///{tmp_path / 'ew.db'}"
    assert run(capsys, "--config", str(path), "db", "upgrade")[1].strip() == (
        f"{where} created, at revision {HEAD}"
    )
    assert run(capsys, "--config", str(path), "db", "upgrade")[1].strip() == (
        f"{where} is up to date (revision {HEAD})"
    )
    upgrade(f"sqlite:///{tmp_path / 'old.db'}", "0009")
    old = config_file(tmp_path, database=f"sqlite:///{tmp_path / 'old.db'}")
    assert run(capsys, "--config", str(old), "db", "upgrade")[1].strip() == (
        f"database at sqlite:///{tmp_path / 'old.db'} upgraded from revision 0009 to {HEAD}"
    )


@pytest.mark.parametrize("command", [["db", "upgrade"], ["events", "list"], ["status"],
                                     ["alerts", "send"]])  # fmt: skip
def test_a_file_that_is_no_database_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: list[str]
) -> None:
    (tmp_path / "notes.db").write_text("my notes, not a database\n" * 100, encoding="utf-8")
    path = config_file(tmp_path, database=f"sqlite:///{tmp_path / 'notes.db'}")
    code, _, err = run(capsys, "--config", str(path), *command)
    assert code == 1
    assert one_line(err) == "eventwatch: the database cannot be used: file is not a database"


def test_a_database_of_a_newer_eventwatch_says_so_and_is_left_alone(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """It said "run 'eventwatch db upgrade'", which then printed Alembic's traceback."""
    url = f"sqlite:///{tmp_path / 'ew.db'}"
    upgrade(url)
    db = Database(url)
    with db.session() as session:
        session.execute(text("UPDATE alembic_version SET version_num = '0999'"))
    db.dispose()
    path = config_file(tmp_path)
    for command in (["db", "upgrade"], ["events", "list"], ["alerts", "send"]):
        code, _, err = run(capsys, "--config", str(path), *command)
        assert code == 1, command
        assert one_line(err) == (
            f"eventwatch: the database {url} has schema revision 0999, written by a newer "
            f"eventwatch (this one knows up to {HEAD}): upgrade eventwatch to use it"
        )
    assert stored_revision(url) == "0999"


def test_a_sqlite_path_through_a_file_or_with_a_tilde(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A file where the database's folder should be was a FileExistsError traceback; "~"
    was read as the home folder by `check` and the messages, as a folder named "~" by
    SQLite."""
    (tmp_path / "afile").write_text("", encoding="utf-8")
    path = config_file(tmp_path, database=f"sqlite:///{tmp_path / 'afile' / 'ew.db'}")
    code, _, err = run(capsys, "--config", str(path), "db", "upgrade")
    assert code == 1 and one_line(err) == (
        f"eventwatch: the database cannot be used: cannot make the folder {tmp_path / 'afile'} "
        "for the SQLite database: File exists"
    )
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    path = config_file(tmp_path, database="sqlite:///~/data/ew.db")
    code, _, _ = run(capsys, "--config", str(path), "db", "upgrade")
    assert code == 0 and (tmp_path / "home" / "data" / "ew.db").exists()
    assert not (tmp_path / "~").exists()
    assert run(capsys, "--config", str(path), "events", "list")[0] == 0


def test_ctrl_c_in_any_command_is_one_line(tmp_path: Path) -> None:
    """Ctrl-C printed a KeyboardInterrupt traceback in every command but crawl, run, web:
    here `extract` waits on a site that never answers."""
    with SlowPeer() as peer:
        command = subprocess.Popen(
            [sys.executable, "-m", "monitor.cli", "--config", str(config_file(tmp_path)),
             "extract", f"http://127.0.0.1:{peer.port}/page"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
            preexec_fn=as_on_a_terminal,
        )  # fmt: skip
        try:
            assert wait_until(lambda: peer.connections >= 1), "it asked the site"
            command.send_signal(signal.SIGINT)
            _, errors = command.communicate(timeout=60)
        finally:
            if command.poll() is None:
                command.kill()
    assert command.returncode == 128 + signal.SIGINT
    assert errors.strip() == "eventwatch: interrupted"


@pytest.mark.parametrize(
    "argv",
    [["rules", "test", "Dushanbe", "--since", "0001-01-01"],
     ["events", "list", "--first-seen-since", "9999-12-31T23:59:59-14:00"],
     ["events", "list", "--since", "0001-01-01T00:00+14:00"]],
)  # fmt: skip
def test_a_date_at_the_end_of_time_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str]
) -> None:
    """A day at the edge of Python's calendar overflowed once an offset or a margin was
    taken from it: an OverflowError traceback."""
    path = config_file(tmp_path)
    upgrade(f"sqlite:///{tmp_path / 'ew.db'}")
    with pytest.raises(SystemExit) as exit_:
        main(["--config", str(path), *argv])
    _, err = capsys.readouterr()
    assert exit_.value.code == 2 and "is out of range (years 2 to 9998)" in err
    assert "Traceback" not in err


def test_hash_password_of_bytes_that_are_not_utf8_is_one_line(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "monitor.cli", "--config", str(config_file(tmp_path)),
         "hash-password"],
        input=b"caf\xe9\n", capture_output=True, check=False,
    )  # fmt: skip
    assert result.returncode == 2
    assert result.stderr.decode().strip() == (
        "eventwatch: hash-password: the password is not UTF-8 text"
    )


def test_status_shows_a_source_the_daemon_judged_stale(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The health column counted failed crawls only: a source the daemon had reported stale
    (quiet for three times its usual gap) read "ok"."""
    url = f"sqlite:///{tmp_path / 'ew.db'}"
    upgrade(url)
    db = Database(url)
    start = datetime(2026, 11, 1, tzinfo=UTC)
    with db.session() as session:
        source = ensure_source(session, SOURCE["name"])
        for day, new in ((0, 2), (1, 1), (2, 3), (3, 1), (10, 0)):  # a day apart, then a week
            when = start + timedelta(days=day)
            session.add(CrawlRun(source_id=source.id, started_at=when, finished_at=when,
                                 status="ok", new_articles=new))  # fmt: skip
    db.dispose()
    code, out, _ = run(capsys, "--config", str(config_file(tmp_path)), "status")
    assert code == 0
    row = next(line for line in out.splitlines() if line.startswith(SOURCE["name"]))
    assert row.endswith("stale (no new article since 2026-11-04 00:00Z)")


@pytest.mark.parametrize(
    ("outcomes", "column", "state"),
    [
        (["ok", "error", "error", "error"], "down (3 failed in a row)", "down"),
        (["error", "error", "error", "ok", "error"], "ok (1 failed)", "ok"),
        (["ok", "ok"], "ok", "ok"),
    ],
)
def test_status_and_the_web_ui_give_one_health_verdict(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], outcomes: list[str], column: str,
    state: str,
) -> None:  # fmt: skip
    """`status` and the web UI read a source's health from the same runs and must agree:
    three failures in a row are down, a failure after a success is not."""
    url = f"sqlite:///{tmp_path / 'ew.db'}"
    upgrade(url)
    db = Database(url)
    start = datetime.now(UTC) - timedelta(hours=len(outcomes))
    with db.session() as session:
        source = ensure_source(session, SOURCE["name"])
        for hour, outcome in enumerate(outcomes):
            when = start + timedelta(hours=hour)
            new = 1 if outcome == "ok" else 0
            session.add(CrawlRun(source_id=source.id, started_at=when, finished_at=when,
                                 status=outcome, new_articles=new))  # fmt: skip
    path = config_file(tmp_path)
    shown = {s.name: s.health for s in source_statuses(load_config(path)[1], db)}
    db.dispose()
    code, out, _ = run(capsys, "--config", str(path), "status")
    row = next(line for line in out.splitlines() if line.startswith(SOURCE["name"]))
    assert code == 0 and row.endswith(f"  {column}")
    assert shown == {SOURCE["name"]: state}


@pytest.mark.parametrize("options", [["--json"], ["--listing", "--json"]])
def test_sources_explain_takes_its_options_before_its_url(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], options: list[str]
) -> None:
    """`sources explain news --json URL` was refused: argparse had given SOURCE and the
    optional URL their values at once, and the URL after the option was left over."""
    path = config_file(tmp_path)
    upgrade(f"sqlite:///{tmp_path / 'ew.db'}")
    url = "http://127.0.0.1:9/news/2024/12/01/a-story"
    before = main(["--config", str(path), "sources", "explain", "news", *options, url])
    first = capsys.readouterr()
    after = main(["--config", str(path), "sources", "explain", "news", url, *options])
    second = capsys.readouterr()
    assert (before, first.out, first.err) == (after, second.out, second.err)
    if "--listing" in options:  # a listing is fetched, and nothing answers on port 9
        assert before == 1 and "could not be fetched" in first.err
    else:
        assert before == 0 and json.loads(first.out)["url"] == url
        assert json.loads(first.out)["action"] == "article"
    assert "unrecognized arguments" not in first.err
