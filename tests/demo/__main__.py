"""`make demo` (``python -m tests.demo``): eventwatch working offline within a minute.

Serves sample news sites on 127.0.0.1 (English, French, Russian; one story reported by two
of them), a local SMTP sink and a webhook receiver, runs the daemon against them, and prints
the web UI's address. New articles appear on the sites every ``--every`` seconds; alerts
arriving at the sink and the receiver are printed. Ctrl-C stops it all.
"""

from __future__ import annotations

import argparse
import json
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from email import message_from_bytes
from email.policy import default
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import yaml
from aiosmtpd.controller import Controller

from tests.demo.sites import copy_sites, later_articles, publish
from tests.sitehost import SiteServer, serve

UI_PORT = 8787


def _free_port(preferred: int = 0) -> int:
    for port in (preferred, 0):
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return int(sock.getsockname()[1])
    raise OSError("no free port on 127.0.0.1")


class _MailPrinter:
    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = message_from_bytes(envelope.original_content or envelope.content, policy=default)
        subject = " ".join(str(message["Subject"]).split())
        print(f"  mail to {', '.join(envelope.rcpt_tos)}: {subject}", flush=True)
        return "250 OK"


class _HookPrinter(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        alert = json.loads(body or b"{}")
        title = alert.get("event", {}).get("title", "?")
        print(f"  webhook: rule {alert.get('rule')}: {title}", flush=True)
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


@contextmanager
def _receivers() -> Iterator[tuple[int, str]]:
    smtp = Controller(_MailPrinter(), hostname="127.0.0.1", port=_free_port())
    smtp.start()
    hook = ThreadingHTTPServer(("127.0.0.1", 0), _HookPrinter)
    threading.Thread(target=hook.serve_forever, daemon=True).start()
    try:
        yield smtp.port, f"http://127.0.0.1:{hook.server_address[1]}/hook"
    finally:
        hook.shutdown()
        smtp.stop()


def _config(folder: Path, sites: dict[str, SiteServer], smtp: int, hook: str, ui: int) -> Path:
    sources = [
        {"name": name, "start_urls": [site.base_url + "/"], "schedule": {"every": "20s"},
         "download_delay": 0, "max_listing_pages": 2}
        for name, site in sites.items()
    ]  # fmt: skip
    config = {
        "database": f"sqlite:///{folder / 'demo.db'}",
        "sources": sources,
        "rules": [
            {"name": "border-security", "notify": ["desk", "soc"],
             "query": "border AND (terror* OR security OR sécurité OR терроризм)"},
            {"name": "dushanbe-ct", "notify": ["soc"], "query": "Dushanbe AND terror*"},
            {"name": "water", "notify": ["desk"], "query": "water OR reservoir* OR водным"},
        ],
        "channels": {
            "desk": {"type": "email", "to": ["desk@example.org"], "from": "eventwatch@localhost",
                     "host": "127.0.0.1", "port": smtp},
            "soc": {"type": "webhook", "url": hook},
        },
        "daemon": {"listen": f"127.0.0.1:{ui}", "match_every": "2s", "dispatch_every": "2s"},
    }  # fmt: skip
    path = folder / "demo.yaml"
    path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    return path


def _publish_later(roots: dict[str, Path], every: float, stop: threading.Event) -> None:
    for article in later_articles():
        if stop.wait(every):
            return
        publish(roots[article.site], article)
        print(f"  new on {article.site}: {article.title}", flush=True)


def run(every: float, seconds: float | None) -> int:
    with tempfile.TemporaryDirectory(prefix="eventwatch-demo-") as work, ExitStack() as stack:
        folder = Path(work)
        roots = copy_sites(folder)
        sites = {name: stack.enter_context(serve(root)) for name, root in roots.items()}
        smtp, hook = stack.enter_context(_receivers())
        ui = _free_port(UI_PORT)
        config = _config(folder, sites, smtp, hook, ui)
        daemon = subprocess.Popen([sys.executable, "-m", "monitor.cli", "--config", str(config),
                                   "run"], stderr=(folder / "daemon.log").open("w"))  # fmt: skip
        stop = threading.Event()
        threading.Thread(target=_publish_later, args=(roots, every, stop), daemon=True).start()
        print(f"eventwatch demo: web UI at http://127.0.0.1:{ui}/  (Ctrl-C stops the demo)")
        print(f"  sites: {', '.join(f'{n} {s.base_url}' for n, s in sites.items())}")
        print(f"  daemon log: {folder / 'daemon.log'}; alerts and new articles below", flush=True)
        try:
            deadline = time.monotonic() + seconds if seconds else None
            while daemon.poll() is None and (deadline is None or time.monotonic() < deadline):
                time.sleep(0.5)
        except KeyboardInterrupt:
            pass
        finally:
            stop.set()
            daemon.terminate()
            daemon.wait(60)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.demo", description=__doc__)
    parser.add_argument("--every", type=float, default=30, help="seconds between new articles")
    parser.add_argument("--seconds", type=float, help="stop after this long (default: Ctrl-C)")
    args = parser.parse_args(argv)
    return run(args.every, args.seconds)


if __name__ == "__main__":
    sys.exit(main())
