"""A command given the wrong words: one line for the user, exit code 2 (:mod:`monitor.cli`)."""

from __future__ import annotations

from monitor.config import Config


class UsageError(Exception):
    """A command given the wrong words; exit code 2."""


def known_source(config: Config, name: str | None, command: str) -> None:
    """A source named on the command line must be one of the config's."""
    if name and name not in {source.name for source in config.sources}:
        raise UsageError(f"{command}: no source named {name!r} in the config")
