"""What every request of the web UI reads: the config, the database and who may do what."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from fastapi.templating import Jinja2Templates

from monitor.config import Config
from monitor.web.access import Access
from storage.db import Database

T = TypeVar("T")
# Day-by-day counts for the charts change slowly and cost a scan of a month's rows: they are
# worked out once a minute at most, not on every page.
CHART_SECONDS = 60.0
SESSION_SECONDS = 12 * 3600  # a session cookie's life

TEMPLATES = Path(__file__).parent / "templates"
STATIC = Path(__file__).parent / "static"


@dataclass
class WebState:
    config: Config
    db: Database
    access: Access
    templates: Jinja2Templates
    _cache: dict[str, tuple[float, Any]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    # Sessions logged out, until their cookie would have expired. A session lives in its
    # signed cookie: without this, a copy of one kept working after its owner logged out.
    # Kept in memory: a restart with web.session_secret_env set forgets them.
    _ended: dict[str, float] = field(default_factory=dict)

    def end_session(self, session_id: str) -> None:
        now = time.monotonic()
        with self._lock:
            self._ended = {sid: until for sid, until in self._ended.items() if until > now}
            self._ended[session_id] = now + SESSION_SECONDS

    def session_ended(self, session_id: str) -> bool:
        with self._lock:
            return session_id in self._ended

    def cached(self, key: str, make: Callable[[], T], seconds: float = CHART_SECONDS) -> T:
        now = time.monotonic()
        with self._lock:
            found = self._cache.get(key)
        if found is not None and now - found[0] < seconds:
            return found[1]  # type: ignore[no-any-return]
        value = make()
        with self._lock:
            self._cache[key] = (now, value)
        return value
