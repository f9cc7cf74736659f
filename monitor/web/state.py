"""What every request of the web UI reads: the config, the database and who may do what."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from fastapi.templating import Jinja2Templates

from monitor.config import Config
from monitor.web.access import Access
from storage.db import Database

TEMPLATES = Path(__file__).parent / "templates"
STATIC = Path(__file__).parent / "static"


@dataclass
class WebState:
    config: Config
    db: Database
    access: Access
    templates: Jinja2Templates
