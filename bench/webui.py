"""The web UI at scale: `eventwatch web` (a process of its own) over the storage benchmark's
database, its pages asked for over HTTP on 127.0.0.1, p95 of each."""

from __future__ import annotations

import random
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx
import yaml

from bench.figures import Figure

EVENTS_P95_TARGET_MS = 100.0
EVENT_P95_TARGET_MS = 50.0
REQUESTS = 100


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _p95_ms(client: httpx.Client, paths: list[str]) -> float:
    seconds = []
    for path in paths:
        started = time.perf_counter()
        answer = client.get(path)
        seconds.append(time.perf_counter() - started)
        answer.raise_for_status()
    return statistics.quantiles(seconds, n=20)[-1] * 1000


def _serve(folder: Path, database: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    config = folder / "web.yaml"
    config.write_text(yaml.safe_dump({"database": f"sqlite:///{database}",
                                      "web": {"listen": f"127.0.0.1:{port}"}}))  # fmt: skip
    process = subprocess.Popen(
        [sys.executable, "-m", "monitor.cli", "--config", str(config), "web"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            httpx.get(base + "/api/v1/openapi.json", timeout=1)
            return process, base
        except httpx.TransportError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError("eventwatch web did not start")


def web_figures(folder: Path, database: Path, events: int, raw: dict[str, object]) -> list[Figure]:
    """``database`` is filled already (bench.storing), with event ids 1..``events`` about."""
    process, base = _serve(folder, database)
    pick = random.Random(28)
    try:
        with httpx.Client(base_url=base, timeout=30) as client:
            _p95_ms(client, ["/events", "/api/v1/events"] * 5)  # warm the caches
            page = _p95_ms(client, ["/events"] * REQUESTS)
            api = _p95_ms(client, ["/api/v1/events"] * REQUESTS)
            one = _p95_ms(client, [f"/events/{pick.randrange(1, events)}" for _ in range(REQUESTS)])
            source = _p95_ms(client, [f"/api/v1/events?source=site{n % 20}" for n in range(20)])
    finally:
        process.terminate()
        process.wait(30)
    raw.update(web_events_page_p95_ms=page, web_events_api_p95_ms=api,
               web_event_page_p95_ms=one, web_events_by_source_p95_ms=source)  # fmt: skip
    return [
        Figure("web: events page, p95", f"{page:.0f} ms", f"<= {EVENTS_P95_TARGET_MS:g} ms",
               page <= EVENTS_P95_TARGET_MS),
        Figure("web: events API, p95", f"{api:.0f} ms", f"<= {EVENTS_P95_TARGET_MS:g} ms",
               api <= EVENTS_P95_TARGET_MS),
        Figure("web: event page, p95", f"{one:.0f} ms", f"<= {EVENT_P95_TARGET_MS:g} ms",
               one <= EVENT_P95_TARGET_MS),
        Figure("web: events API by source, p95", f"{source:.0f} ms", "informs"),
    ]  # fmt: skip
