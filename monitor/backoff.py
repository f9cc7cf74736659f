"""When to try a failed delivery again: exponential back-off with jitter, then give up."""

from __future__ import annotations

import random
from datetime import datetime, timedelta


def next_attempt(
    now: datetime,
    attempts: int,
    *,
    max_attempts: int,
    initial: timedelta,
    ceiling: timedelta,
    retry_after: float | None = None,
    rng: random.Random | None = None,
) -> datetime | None:
    """The time of the next try after ``attempts`` failed ones, or None to give up.

    Jitter (±50 %) spreads retries so that a recovered receiver is not hit by all at once;
    a server's ``Retry-After`` is honoured when it asks for longer.
    """
    if attempts >= max_attempts:
        return None
    base = min(ceiling, initial * (2 ** max(0, attempts - 1)))
    delay = base.total_seconds() * (rng or random).uniform(0.5, 1.5)
    if retry_after is not None:
        delay = max(delay, min(retry_after, ceiling.total_seconds()))
    return now + timedelta(seconds=delay)
