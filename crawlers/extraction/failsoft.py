"""Enrichment that fails soft: a field that cannot be read costs that field, never the article.

Each step (date, metadata, canonical URL, languages, names, keys) runs through :func:`soft`:
on any exception the step's default is used and a one-line warning names the step and the
cause. The warnings travel with the article and are stored with it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")
MAX_WARNING = 300  # characters: a cause is one line, never a page

logger = logging.getLogger(__name__)


def soft(step: str, warnings: list[str], compute: Callable[[], T], default: T) -> T:
    """``compute()``, or ``default`` with a warning added to ``warnings`` when it raises."""
    try:
        return compute()
    except Exception as exc:  # any fault of one field: the article goes on without it
        warning = f"{step}: {type(exc).__name__}: {exc}".replace("\n", " ")[:MAX_WARNING]
        logger.info("enrichment failed soft: %s", warning)
        warnings.append(warning)
        return default
