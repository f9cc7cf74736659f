"""The configuration file: one pydantic model, one loader, errors that name file, entry and field.

A typo is an error, never a silently ignored key (``extra="forbid"`` everywhere).
"""

from __future__ import annotations

import difflib
import json
import os
import re
from collections.abc import Hashable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal, get_args
from urllib.parse import urlsplit

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    ValidationError,
    field_validator,
    model_validator,
)

from crawlers.crawling import components
from crawlers.launcher.sources import CrawlSource
from crawlers.urls import MAX_URL_LENGTH, fits, host_of, is_http_url
from monitor.channels import ChannelConfig, unset_secrets
from monitor.channels.digest import DigestConfig
from monitor.rule_checks import unknown_names
from monitor.rules import RuleSpec, RuleSyntaxError, parse_query
from monitor.user_gazetteer import gazetteer_problems
from storage.db import sqlite_in_memory, url_problem

DEFAULT_CONFIG = "eventwatch.yaml"
MAX_CHANNEL_NAME = 128  # the deliveries' column
DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd])\s*$")
UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
# Longer than any schedule or wait a daemon has use for, and short enough that adding it to
# today's date stays within the dates Python and the scheduler can hold.
MAX_DURATION = timedelta(days=366)
MAX_TIME_LIMIT = timedelta(days=7)
MAX_PORT = 65535
# An idle crawl process takes about 65 MB and a busy one 100-150: a lower cap would have it
# killed or recycled over and over.
MIN_MEMORY_MB = 256
MIN_INTERVAL = timedelta(seconds=0.1)


class ConfigError(Exception):
    """A config that cannot be used; the message names the file, the entry and the field."""


def parse_duration(text: str) -> timedelta:
    found = DURATION.match(str(text))
    if not found:
        raise ValueError(f"{text!r} is not a duration like 30s, 15m, 2h or 1d")
    seconds = float(found.group(1)) * UNIT_SECONDS[found.group(2)]
    if seconds > MAX_DURATION.total_seconds():
        raise ValueError(f"{text!r} is longer than the longest duration, 366d")
    return timedelta(seconds=seconds)


def format_duration(duration: timedelta) -> str:
    """A duration as the config file writes it: ``30m``, ``2h``, ``1.5s``."""
    seconds = duration.total_seconds()
    for unit in ("d", "h", "m"):
        if seconds and seconds % UNIT_SECONDS[unit] == 0:
            return f"{int(seconds // UNIT_SECONDS[unit])}{unit}"
    return f"{seconds:g}s"


def _duration(value: object) -> timedelta:
    """The file holds text (``15m``); code that builds a config may pass a timedelta."""
    return value if isinstance(value, timedelta) else parse_duration(str(value))


# Parsed once, when the config loads: code reads a timedelta, the file keeps its ``30m``.
Duration = Annotated[
    timedelta,
    BeforeValidator(_duration),
    PlainSerializer(format_duration, return_type=str),
    Field(description="a duration: 30s, 15m, 2h, 1d"),
]


def split_listen(listen: str) -> tuple[str, int]:
    """HOST:PORT as (host, port); no host is 127.0.0.1. ValueError, saying why, for anything
    else."""
    host, colon, port = listen.rpartition(":")
    if not colon or not port.isdigit() or int(port) > MAX_PORT:
        raise ValueError(f"{listen!r} is not HOST:PORT with a port from 0 to {MAX_PORT}")
    if host.startswith("[") != host.endswith("]") or (":" in host and not host.startswith("[")):
        raise ValueError(f"{listen!r}: an IPv6 host is written in brackets, as [::1]:8787")
    return (host.strip("[]") or "127.0.0.1"), int(port)


def _listen(listen: str | None) -> str | None:
    if listen is not None:
        split_listen(listen)
    return listen


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class Schedule(Strict):
    every: Duration | None = None
    cron: str | None = None
    jitter: Duration = timedelta(0)

    @model_validator(mode="after")
    def _one_kind(self) -> Schedule:
        if (self.every is None) == (self.cron is None):
            raise ValueError("give exactly one of 'every' or 'cron'")
        if self.every is not None and self.every < timedelta(seconds=1):
            raise ValueError("'every' must be at least 1s")
        if self.every is not None and self.jitter > self.every:
            raise ValueError("'jitter' must be at most 'every'")
        if self.cron is not None:
            from monitor.crontab import cron_trigger  # here: few configs have one

            # the trigger the daemon will build, checked now; a day no month it names has
            # (the 31st of February) had passed, and its source was never crawled
            if cron_trigger(self.cron).get_next_fire_time(None, datetime.now(UTC)) is None:
                raise ValueError(f"cron {self.cron!r} never fires: no month it names has that day")
        return self

    def __str__(self) -> str:
        if self.every is not None:
            return f"every {format_duration(self.every)}"
        return f"cron {self.cron}"


class SourceConfig(Strict):
    name: Annotated[str, Field(pattern=r"^[a-z0-9_-]{1,64}$")]
    start_urls: list[str] = []
    feeds: list[str] = []
    sitemaps: list[str] = []
    follow: list[str] = []
    allowed_domains: list[str] = []
    schedule: Schedule = Schedule(every=timedelta(minutes=30))
    enabled: bool = True
    max_pages: Annotated[int, Field(ge=1, le=100_000)] = 500
    max_listing_pages: Annotated[int, Field(ge=1, le=1000)] = 3
    time_limit: Duration = timedelta(minutes=15)
    max_page_size_mb: Annotated[float, Field(gt=0, le=1024)] = 10
    per_host_concurrency: Annotated[int, Field(ge=1, le=32)] = 2
    download_delay: Annotated[float, Field(ge=0, le=300)] = 0.5
    memory_limit_mb: Annotated[int, Field(ge=MIN_MEMORY_MB, le=65536)] = 1024
    block_private_addresses: bool = False
    scrapy_settings: dict[str, Any] = {}

    @field_validator("start_urls", "feeds", "sitemaps")
    @classmethod
    def _http_urls(cls, urls: list[str]) -> list[str]:
        for url in urls:
            if not is_http_url(url):
                raise ValueError(f"{url!r} is not an http(s) URL")
            try:
                _ = urlsplit(url).port  # reading it checks its range
            except ValueError as exc:
                raise ValueError(f"{url!r}: {exc}") from None
            if not host_of(url):
                raise ValueError(f"{url!r} names no host")
            if not fits(url):
                raise ValueError(f"{url[:60]!r}... is longer than {MAX_URL_LENGTH} characters")
        return urls

    @field_validator("time_limit")
    @classmethod
    def _some_time(cls, limit: timedelta) -> timedelta:
        """Scrapy reads 0 as no limit at all (CLOSESPIDER_TIMEOUT)."""
        if limit < timedelta(seconds=1):
            raise ValueError("give at least 1s")
        if limit > MAX_TIME_LIMIT:
            raise ValueError("give at most 7d")
        return limit

    @field_validator("scrapy_settings")
    @classmethod
    def _plain_values(cls, settings: dict[str, Any]) -> dict[str, Any]:
        """They travel to the crawl process as JSON, which carries no YAML date or time."""
        for name, value in settings.items():
            try:
                json.dumps(value)
            except (TypeError, ValueError):
                raise ValueError(
                    f"{name}: {value!r} is not text, a number, a list or a mapping; quote it"
                ) from None
        if why := components.refusal(settings):
            raise ValueError(why)
        return settings

    @field_validator("follow")
    @classmethod
    def _regexes(cls, patterns: list[str]) -> list[str]:
        for pattern in patterns:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"bad regex {pattern!r}: {exc}") from None
        return patterns

    @model_validator(mode="after")
    def _has_entry(self) -> SourceConfig:
        if not (self.start_urls or self.feeds or self.sitemaps):
            raise ValueError("give at least one of start_urls, feeds or sitemaps")
        return self

    def crawl_source(self) -> CrawlSource:
        return CrawlSource(
            name=self.name,
            start_urls=tuple(self.start_urls),
            feeds=tuple(self.feeds),
            sitemaps=tuple(self.sitemaps),
            follow=tuple(self.follow),
            allowed_domains=tuple(self.allowed_domains),
            max_pages=self.max_pages,
            max_listing_pages=self.max_listing_pages,
            time_limit=self.time_limit.total_seconds(),
            max_page_bytes=int(self.max_page_size_mb * 1024 * 1024),
            per_host_concurrency=self.per_host_concurrency,
            download_delay=self.download_delay,
            memory_limit_mb=self.memory_limit_mb,
            block_private_addresses=self.block_private_addresses,
            extra_settings=dict(self.scrapy_settings),
        )


class RuleConfig(Strict):
    name: Annotated[str, Field(pattern=r"^[\w.-]{1,128}$")]
    query: Annotated[str, Field(min_length=1)]
    sources: list[str] | None = None
    notify: list[str] = []
    digest: DigestConfig | None = None  # its alerts held and sent together, on each channel
    on_update: bool = False  # a short update when an alerted event gains new sources
    update_every: Duration = timedelta(hours=6)  # at most one update per event in this time

    def spec(self) -> RuleSpec:
        return RuleSpec(self.name, self.query, tuple(self.sources) if self.sources else None)


class DeliveryConfig(Strict):
    max_attempts: Annotated[int, Field(ge=1, le=100)] = 8
    backoff_initial: Duration = timedelta(seconds=30)
    backoff_max: Duration = timedelta(hours=2)
    lease: Duration = timedelta(minutes=5)

    @field_validator("lease")
    @classmethod
    def _some_lease(cls, lease: timedelta) -> timedelta:
        """A lease is renewed every third of its length while a send runs: a shorter one
        would keep the database busy renewing it."""
        if lease < timedelta(seconds=1):
            raise ValueError("give at least 1s")
        return lease


class DaemonConfig(Strict):
    listen: Annotated[str | None, AfterValidator(_listen)] = "127.0.0.1:8787"
    max_parallel_crawls: Annotated[int, Field(ge=1, le=64)] | None = None
    crawl_processes: Annotated[int, Field(ge=1, le=64)] | None = None  # default: CPU count
    crawls_per_process: Annotated[int, Field(ge=1, le=1000)] = 100
    crawl_process_max_crawls: Annotated[int, Field(ge=1, le=1_000_000)] = 1000
    crawl_process_memory_mb: Annotated[int, Field(ge=MIN_MEMORY_MB, le=65536)] = 2048
    # `eventwatch worker` only: how often due sources are looked for, how often a worker says
    # it is alive, and after how long without a word its jobs are given to the others
    tick_every: Duration = timedelta(seconds=5)
    heartbeat_every: Duration = timedelta(seconds=10)
    stalled_after: Duration = timedelta(seconds=30)
    match_every: Duration = timedelta(seconds=10)
    dispatch_every: Duration = timedelta(seconds=10)
    health_notify: list[str] = []  # channels told when a source goes down, stale or recovers
    health_failures: Annotated[int, Field(ge=1, le=1000)] = 3
    health_min_quiet: Duration = timedelta(days=2)
    # Crawl runs older than this are deleted once a day, but what each source's health is
    # read from (storage.runs.prune_runs); None: kept for ever.
    keep_runs: Duration | None = timedelta(days=90)

    @field_validator("keep_runs")
    @classmethod
    def _a_day_at_least(cls, keep: timedelta | None) -> timedelta | None:
        if keep is not None and keep < timedelta(days=1):
            raise ValueError("give at least 1d, or null to keep every run")
        return keep

    @field_validator("tick_every", "heartbeat_every", "match_every", "dispatch_every")
    @classmethod
    def _not_busy(cls, every: timedelta) -> timedelta:
        """A loop run every 0s would keep a core and the database busy for nothing."""
        if every < MIN_INTERVAL:
            raise ValueError(f"give at least {format_duration(MIN_INTERVAL)}")
        return every

    @model_validator(mode="after")
    def _beats_before_stalled(self) -> DaemonConfig:
        """A worker is judged stalled only after it has missed two heartbeats."""
        if self.stalled_after < 2 * self.heartbeat_every:
            raise ValueError("'stalled_after' must be at least twice 'heartbeat_every'")
        return self


Role = Literal["viewer", "analyst"]


class WebUser(Strict):
    """A person who logs in to the web UI; the argon2 hash of their password is read from the
    environment variable ``password_hash_env`` (`eventwatch web hash-password` makes one)."""

    name: Annotated[str, Field(pattern=r"^[\w.@-]{1,64}$")]
    role: Role = "viewer"
    password_hash_env: Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")]


class WebToken(Strict):
    """A token for scripts and feed readers (``Authorization: Bearer``, or ``?token=`` on a
    feed), read from the environment variable ``token_env``."""

    name: Annotated[str, Field(pattern=r"^[\w.@-]{1,64}$")]
    role: Role = "viewer"
    token_env: Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")]


class WebConfig(Strict):
    # `eventwatch web`; the daemon serves it on daemon.listen
    listen: Annotated[str, AfterValidator(_listen)] = "127.0.0.1:8788"
    # The address people reach the UI at (https://eventwatch.example.org/), for links that
    # leave it: feeds, and alerts that link to their event. None: the address asked.
    public_url: str | None = None
    users: list[WebUser] = []
    tokens: list[WebToken] = []
    # unset: a new secret each start (logins end)
    session_secret_env: Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")] | None = None
    secure_cookies: bool | None = None  # None: on unless the UI listens on loopback only

    @field_validator("public_url")
    @classmethod
    def _public_url(cls, url: str | None) -> str | None:
        if url is not None and not is_http_url(url):
            raise ValueError(f"{url!r} is not an http(s) URL")
        return url


class Config(Strict):
    database: str = "sqlite:///eventwatch.db"
    sources: list[SourceConfig] = []
    rules: list[RuleConfig] = []
    channels: dict[str, ChannelConfig] = {}
    delivery: DeliveryConfig = DeliveryConfig()
    daemon: DaemonConfig = DaemonConfig()
    web: WebConfig = WebConfig()
    gazetteer: str | None = None  # a gazetteer file of the user's own (monitor.user_gazetteer)

    @property
    def own_gazetteer(self) -> Path | None:
        """The user's gazetteer file; load_config makes a relative path the config's."""
        return Path(self.gazetteer) if self.gazetteer else None

    @field_validator("channels")
    @classmethod
    def _channel_names(cls, channels: dict[str, ChannelConfig]) -> dict[str, ChannelConfig]:
        """A name is stored with each alert (128 characters at most)."""
        for name in channels:
            if not 1 <= len(name) <= MAX_CHANNEL_NAME or not name.isprintable():
                raise ValueError(
                    f"channel name {name[:40]!r}: give 1 to {MAX_CHANNEL_NAME} printable characters"
                )
        return channels

    @field_validator("database")
    @classmethod
    def _database_url(cls, url: str) -> str:
        problem = url_problem(url)
        if problem:
            raise ValueError(problem)
        if sqlite_in_memory(url):
            raise ValueError(f"{url!r} is a database in memory: it would keep nothing; give a "
                             "file, as sqlite:///eventwatch.db")  # fmt: skip
        return url

    def source(self, name: str) -> SourceConfig:
        for source in self.sources:
            if source.name == name:
                return source
        raise KeyError(name)


def _entry_name(data: Any, loc: tuple[int | str, ...]) -> str:
    """``sources[2] (name 'pam')``: the entry a validation error belongs to."""
    if len(loc) >= 2 and isinstance(loc[1], int) and isinstance(data, dict):
        items = data.get(str(loc[0]))
        if isinstance(items, list) and loc[1] < len(items) and isinstance(items[loc[1]], dict):
            name = items[loc[1]].get("name")
            return f"{loc[0]}[{loc[1]}]" + (f" (name {name!r})" if name else "")
    if len(loc) >= 2 and loc[0] == "channels":
        return f"channels.{loc[1]}"
    return str(loc[0]) if loc else "(top level)"


def _field_name(loc: tuple[int | str, ...]) -> str:
    depth = 2 if len(loc) >= 2 and (isinstance(loc[1], int) or loc[0] == "channels") else 1
    if loc[:1] == ("channels",) and len(loc) > 2 and loc[2] in ("email", "webhook", "apprise"):
        depth = 3  # pydantic's discriminator tag is not a field the user wrote
    rest = [str(part) for part in loc[depth:]]
    return ".".join(rest) if rest else "(entry)"


def _describe(path: Path, data: Any, error: ValidationError) -> str:
    lines = []
    for problem in error.errors():
        loc = tuple(problem["loc"])
        message = problem["msg"].removeprefix("Value error, ")
        if problem["type"] == "extra_forbidden":
            message = "unknown key" + _did_you_mean(loc)
        if len(loc) == 1 and (loc[0] == "database" or loc[0] not in Config.model_fields):
            lines.append(f"{path}: {loc[0]}: {message}")  # a top-level key of its own
        else:
            where = f"{_entry_name(data, loc)}: field {_field_name(loc)}"
            lines.append(f"{path}: {where}: {message}")
    return "\n".join(lines)


def _did_you_mean(loc: tuple[int | str, ...]) -> str:
    """`` (did you mean 'start_urls'?)`` for a misspelt key, from the keys allowed there."""
    close = difflib.get_close_matches(str(loc[-1]), _keys_at(loc[:-1]), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _keys_at(loc: tuple[int | str, ...]) -> list[str]:
    """The keys of the section at ``loc``. A list index, a channel's name or pydantic's
    discriminator tag names no field and is passed over."""
    models: list[type[BaseModel]] = [Config]
    for part in loc:
        found = [m.model_fields[part].annotation for m in models if part in m.model_fields]
        if found:
            models = [model for annotation in found for model in _models_in(annotation)]
    return sorted({key for model in models for key in model.model_fields})


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [model for arg in get_args(annotation) for model in _models_in(arg)]


def _rule_problems(entry: str, rule: RuleConfig, sources: set[str], config: Config) -> list[str]:
    problems: list[str] = []
    try:
        parse_query(rule.query, rule.name)
    except RuleSyntaxError as exc:
        problems.append(f"{entry}: field query: {exc}")
    for name in rule.sources or ():
        if name not in sources:
            problems.append(f"{entry}: field sources: no source named {name!r}")
    for name in rule.notify:
        if name not in config.channels:
            problems.append(f"{entry}: field notify: no channel named {name!r}")
    return problems


def held_channels(config: Config, rule_name: str) -> tuple[str, ...]:
    """The channels of the rule whose alerts wait for a digest: all of them if the rule has
    a digest of its own, else those with a digest."""
    rule = next(r for r in config.rules if r.name == rule_name)
    if rule.digest is not None:
        return tuple(rule.notify)
    return tuple(n for n in rule.notify if getattr(config.channels.get(n), "digest", None))


def _names_problems(config: Config) -> list[str]:
    """The user's gazetteer first: the rules' place: and org: names are checked against it."""
    own = config.own_gazetteer
    if own is not None and (problems := gazetteer_problems(own)):
        return [f"gazetteer: {problem}" for problem in problems]
    return [
        f"rules[{i}] (name {rule.name!r}): field query: {problem}"
        for i, rule in enumerate(config.rules)
        for problem in unknown_names(rule.name, rule.query, own)
    ]


def _cross_check(path: Path, config: Config) -> None:
    problems: list[str] = []
    seen: set[str] = set()
    for i, source in enumerate(config.sources):
        if source.name in seen:
            problems.append(
                f"sources[{i}] (name {source.name!r}): field name: duplicate source name"
            )
        seen.add(source.name)
    for i, rule in enumerate(config.rules):
        problems += _rule_problems(f"rules[{i}] (name {rule.name!r})", rule, seen, config)
    for name in config.daemon.health_notify:
        if name not in config.channels:
            problems.append(f"daemon: field health_notify: no channel named {name!r}")
    if len({r.name for r in config.rules}) != len(config.rules):
        problems.append("rules: field name: duplicate rule names")
    problems += _names_problems(config)
    if problems:
        raise ConfigError("\n".join(f"{path}: {p}" for p in problems))


def read_yaml(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the config file: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: the config file is not UTF-8 text") from None
    try:
        data = yaml.load(text, Loader=UniqueKeyLoader)  # noqa: S506 - a SafeLoader
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    except RecursionError:
        raise ConfigError(f"{path}: not valid YAML: nested too deeply") from None
    return {} if data is None else data  # an empty file; `false` or `[]` is no mapping


MERGE_TAG = "tag:yaml.org,2002:merge"


class UniqueKeyLoader(yaml.SafeLoader):
    """YAML's safe loader, but a key given twice in one mapping is an error: the loader
    keeps the last, and a second `sources:` block would drop the first without a word. A key
    merged in (``<<: *defaults``) may be given again: that is what merging is for."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        if isinstance(node, yaml.MappingNode):
            seen: set[Any] = set()
            for key_node, _ in node.value:
                if key_node.tag == MERGE_TAG:  # the base loader merges it below
                    continue
                key = self.construct_object(key_node, deep=deep)  # type: ignore[no-untyped-call]
                if isinstance(key, Hashable) and key in seen:
                    raise yaml.constructor.ConstructorError(
                        "in a mapping", node.start_mark, f"key {key!r} is given twice",
                        key_node.start_mark,
                    )  # fmt: skip
                if isinstance(key, Hashable):
                    seen.add(key)
        return super().construct_mapping(node, deep)  # type: ignore[no-untyped-call,no-any-return]


def config_path(path: str | os.PathLike[str] | None = None) -> tuple[Path, str]:
    """The config file to read, absolute, and what chose it (for a message)."""
    if path:
        return Path(path).absolute(), "given by --config"
    if os.environ.get("EVENTWATCH_CONFIG"):
        return Path(os.environ["EVENTWATCH_CONFIG"]).absolute(), "from $EVENTWATCH_CONFIG"
    return Path(DEFAULT_CONFIG).absolute(), "the default, in the current folder"


def refuse_unset_secrets(path: Path, config: Config) -> None:
    """For ``run`` and ``worker``: a ConfigError naming each channel's secret variable unset
    or empty. Started without one, every send through that channel failed, retried for
    hours until its alerts failed for good, before anyone saw why."""
    problems = unset_secrets(config.channels)
    if problems:
        raise ConfigError("\n".join(f"{path}: {problem}" for problem in problems))


def load_config(path: str | os.PathLike[str] | None = None) -> tuple[Path, Config]:
    """Read and check the whole config; nothing is touched before this succeeds."""
    chosen, why = config_path(path)
    if not chosen.exists():
        raise ConfigError(
            f"{chosen}: no such config file ({why}); name one with --config PATH "
            "or $EVENTWATCH_CONFIG"
        )
    data = read_yaml(chosen)
    if not isinstance(data, dict):
        raise ConfigError(f"{chosen}: (top level): the config must be a mapping of keys")
    try:
        config = Config.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_describe(chosen, data, exc)) from None
    if config.gazetteer is not None:  # relative to the config file, wherever it is run from
        own = chosen.parent / Path(config.gazetteer).expanduser()
        config = config.model_copy(update={"gazetteer": str(own)})
    _cross_check(chosen, config)
    return chosen, config
