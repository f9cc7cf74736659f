"""A gazetteer file of the user's own (config key ``gazetteer``), checked like the config.

It has the shipped file's shape (crawlers/enrichment/gazetteer.yaml): ``places`` and
``organisations``, each a list of entries with a ``name`` and ``aliases``. An entry named like
a shipped one replaces it; the others are added.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from crawlers.enrichment.entities import GAZETTEER, Gazetteer, merged, read_gazetteer

Name = Annotated[str, Field(min_length=1, max_length=200)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class OrganisationEntry(_Strict):
    name: Name
    aliases: list[Name] = []


class PlaceEntry(_Strict):
    name: Name
    kind: Literal["city", "country", "region"] | None = None
    country: Name | None = None
    aliases: list[Name] = []


class GazetteerFile(_Strict):
    places: list[PlaceEntry] = []
    organisations: list[OrganisationEntry] = []


def gazetteer_problems(path: Path) -> list[str]:
    """What is wrong with the user's gazetteer at `path`, one line each; none if usable."""
    try:
        data = read_gazetteer(path)
    except OSError as exc:
        return [f"cannot read the gazetteer file {path}: {exc.strerror or exc}"]
    except (UnicodeDecodeError, yaml.YAMLError):
        return [f"the gazetteer file {path} is not valid UTF-8 YAML"]
    try:
        GazetteerFile.model_validate(data if data is not None else {})
    except ValidationError as exc:
        return [f"{path}: {_where(data, error['loc'])}: {error['msg']}" for error in exc.errors()]
    try:
        Gazetteer.from_data(merged(read_gazetteer(GAZETTEER), data or {}))
    except ValueError as exc:
        return [f"{path}: {exc}"]
    return []


def _where(data: Any, loc: tuple[int | str, ...]) -> str:
    """``places[2] (name 'Berlin'): field aliases`` for a validation error's location."""
    if len(loc) < 2 or not isinstance(loc[1], int) or not isinstance(data, dict):
        return ".".join(map(str, loc)) or "(top level)"
    item = (data.get(str(loc[0])) or [None] * (loc[1] + 1))[loc[1]]
    name = item.get("name") if isinstance(item, dict) else None
    field = ".".join(map(str, loc[2:])) or "(entry)"
    return f"{loc[0]}[{loc[1]}]" + (f" (name {name!r})" if name else "") + f": field {field}"
