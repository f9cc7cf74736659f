"""Where the database is, for callers that have no parsed config (the alembic command)."""

from __future__ import annotations

import os
from pathlib import Path

import yaml

from storage.db import DEFAULT_DATABASE


def database_url_from_environment() -> str:
    """EVENTWATCH_DATABASE, else the config file's ``database:``, else the default file."""
    explicit = os.environ.get("EVENTWATCH_DATABASE")
    if explicit:
        return explicit
    path = Path(os.environ.get("EVENTWATCH_CONFIG", "eventwatch.yaml"))
    if path.is_file():
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        if isinstance(data, dict) and isinstance(data.get("database"), str):
            return data["database"]
    return DEFAULT_DATABASE
