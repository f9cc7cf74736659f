from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from monitor.backoff import next_attempt

NOW = datetime(2026, 1, 1, tzinfo=UTC)
POLICY = {"max_attempts": 5, "initial": timedelta(seconds=30), "ceiling": timedelta(minutes=10)}


def test_delays_grow_exponentially_within_jitter_and_cap() -> None:
    rng = random.Random(7)
    for attempts, base in [(1, 30), (2, 60), (3, 120), (4, 240)]:
        when = next_attempt(NOW, attempts, rng=rng, **POLICY)
        assert when is not None
        assert base * 0.5 <= (when - NOW).total_seconds() <= base * 1.5


def test_gives_up_after_the_limit() -> None:
    assert next_attempt(NOW, 5, **POLICY) is None


def test_retry_after_is_honoured() -> None:
    when = next_attempt(NOW, 1, retry_after=300, **POLICY)
    assert when is not None and (when - NOW).total_seconds() >= 300
