"""A throwaway PostgreSQL server for the tests: initdb into a temporary folder, listening on
127.0.0.1 only, trust authentication, stopped and removed at the end of the session.

PostgreSQL will not run as root; as root, its programs run as the ``postgres`` user that
Debian's package creates. Where neither the programs nor such a user exist, ``UNAVAILABLE``
says why and the PostgreSQL tests are skipped with that reason.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path


def _bin_dir() -> Path | None:
    """Where ``initdb`` is: on the PATH, else Debian's folder of the newest version."""
    found = shutil.which("initdb")
    if found:
        return Path(found).resolve().parent
    versions = [p for p in Path("/usr/lib/postgresql").glob("*/bin") if p.parent.name.isdigit()]
    return max(versions, key=lambda p: int(p.parent.name), default=None)


def _runner() -> list[str] | None:
    """The command prefix to run PostgreSQL's programs as a user it accepts."""
    if os.geteuid() != 0:
        return []
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        return None
    runuser = shutil.which("runuser")
    return [runuser, "-u", "postgres", "--"] if runuser else None


BIN = _bin_dir()
RUNNER = _runner()
UNAVAILABLE = (
    "no PostgreSQL programs (initdb) on this machine"
    if BIN is None
    else "running as root without a postgres user to run PostgreSQL as"
    if RUNNER is None
    else None
)


_DATA: dict[str, Path] = {}  # a running server's URL -> its data folder


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextlib.contextmanager
def running_server() -> Iterator[str]:
    """Start a server; yield its URL without a database name (``…/NAME`` to pick one)."""
    assert BIN is not None and RUNNER is not None, UNAVAILABLE
    folder = Path(tempfile.mkdtemp(prefix="eventwatch-pg-"))
    data = folder / "data"
    try:
        if RUNNER:
            shutil.chown(folder, "postgres")
        port = _free_port()
        subprocess.run(
            [*RUNNER, str(BIN / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust",
             "--encoding=UTF8", "--locale=C"],
            check=True,
            capture_output=True,
        )  # fmt: skip
        options = f"-c listen_addresses=127.0.0.1 -p {port} -k {folder} -c fsync=off"
        subprocess.run(
            [*RUNNER, str(BIN / "pg_ctl"), "-D", str(data), "-o", options, "-w", "-l",
             str(folder / "server.log"), "start"],
            check=True,
            capture_output=True,
        )  # fmt: skip
        url = f"postgresql+psycopg://postgres@127.0.0.1:{port}"
        _DATA[url] = data
        yield url
    finally:  # a server that did not start leaves no folder behind either
        if data.exists():
            subprocess.run(
                [*RUNNER, str(BIN / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
                capture_output=True,
            )
        shutil.rmtree(folder, ignore_errors=True)


def restart(server: str) -> None:
    """Restart a server of :func:`running_server` (fast shutdown: its clients are cut off),
    as an upgrade or a crash of PostgreSQL would; back on the same port when this returns."""
    assert RUNNER is not None and BIN is not None, UNAVAILABLE
    data = _DATA[server]
    subprocess.run(
        [*RUNNER, str(BIN / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "-l",
         str(data.parent / "server.log"), "restart"],
        check=True,
        capture_output=True,
    )  # fmt: skip


def stop(server: str) -> None:
    """Stop a server of :func:`running_server` (fast shutdown), as an outage would."""
    assert RUNNER is not None and BIN is not None, UNAVAILABLE
    subprocess.run(
        [*RUNNER, str(BIN / "pg_ctl"), "-D", str(_DATA[server]), "-m", "fast", "-w", "stop"],
        check=True,
        capture_output=True,
    )


def create_database(server: str, name: str) -> str:
    """A new empty database on the server; its SQLAlchemy URL."""
    import psycopg

    plain = server.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(f"{plain}/postgres", autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    return f"{server}/{name}"
