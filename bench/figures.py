"""One figure of the benchmark table, and the table itself (text and JSON)."""

from __future__ import annotations

import json
import os
import platform
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

import psutil


@dataclass(frozen=True, slots=True)
class Figure:
    """A measured value; `reference` is what it is held against, `passed` None when there
    is no target (the figure only informs)."""

    name: str
    value: str
    reference: str = ""
    passed: bool | None = None

    @property
    def verdict(self) -> str:
        return {True: "pass", False: "MISS", None: ""}[self.passed]


def table(figures: list[Figure]) -> str:
    rows = [
        ("figure", "measured", "reference / target", ""),
        *((f.name, f.value, f.reference, f.verdict) for f in figures),
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    lines = [" | ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) for row in rows]
    lines.insert(1, "-+-".join("-" * w for w in widths))
    return "\n".join(line.rstrip() for line in lines)


def machine() -> str:
    memory = psutil.virtual_memory().total / 2**30
    return f"{' '.join(platform.uname())}; {os.cpu_count()} CPUs; {memory:.0f} GiB RAM"


def write_json(folder: Path, mode: str, figures: list[Figure], raw: dict[str, object]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC)
    path = folder / f"bench-{mode}-{stamp:%Y%m%dT%H%M%SZ}.json"
    document = {
        "mode": mode,
        "finished": stamp.isoformat(),
        "machine": machine(),
        "figures": [{**asdict(f), "verdict": f.verdict} for f in figures],
        "raw": raw,
    }
    path.write_text(json.dumps(document, indent=2, default=str))
    return path
