"""A bad config names the file, the entry and the field, exits 2 and changes nothing."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from monitor.cli import main
from monitor.config import ConfigError, format_duration, load_config

GOOD = """
database: sqlite:///{db}
sources:
  - name: pam
    start_urls: [https://pam.example.org/]
    schedule: {{every: 30m}}
  - name: asiaplus
    start_urls: [https://asiaplus.example.org/en/news]
    feeds: [https://asiaplus.example.org/en/rss]
    follow: ['/en/news/\\d+']
    schedule: {{cron: "0 */2 * * *"}}
rules:
  - name: dushanbe-ct
    query: 'Dushanbe AND (terrorism OR terrorisme OR терроризм OR "border security")'
    sources: [pam, asiaplus]
    notify: [soc]
channels:
  soc: {{type: webhook, url: "http://127.0.0.1:9000/hook", secret_env: SOC_WEBHOOK_SECRET}}
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "eventwatch.yaml"
    path.write_text(text.format(db=tmp_path / "e.db"), encoding="utf-8")
    return path


def test_the_contract_shape_loads(tmp_path: Path) -> None:
    _, config = load_config(write(tmp_path, GOOD))
    assert [s.name for s in config.sources] == ["pam", "asiaplus"]
    assert config.rules[0].notify == ["soc"]
    assert config.sources[1].crawl_source().follow == ("/en/news/\\d+",)


def test_durations_are_parsed_once_when_the_config_loads(tmp_path: Path) -> None:
    extra = "delivery: {{lease: 90s}}\ndaemon: {{match_every: 1.5s, health_min_quiet: 3d}}\n"
    _, config = load_config(write(tmp_path, GOOD + extra))
    assert config.sources[0].schedule.every == timedelta(minutes=30)
    assert config.sources[0].time_limit == timedelta(minutes=15)  # the default
    assert config.sources[0].crawl_source().time_limit == 900
    assert config.delivery.lease == timedelta(seconds=90)
    assert config.daemon.match_every == timedelta(seconds=1.5)
    assert config.daemon.health_min_quiet == timedelta(days=3)
    assert str(config.sources[0].schedule) == "every 30m"
    assert config.model_dump(mode="json")["daemon"]["match_every"] == "1.5s"


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [(30, "30s"), (900, "15m"), (7200, "2h"), (86400, "1d"), (90, "90s"), (1.5, "1.5s")],
)
def test_a_duration_is_shown_as_the_config_writes_it(seconds: float, shown: str) -> None:
    assert format_duration(timedelta(seconds=seconds)) == shown


def test_a_bad_duration_names_its_field(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD + "delivery: {{backoff_max: soon}}\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert "delivery: field backoff_max: 'soon' is not a duration" in str(caught.value)


def test_shipped_default_config_is_valid() -> None:
    _, config = load_config(Path(__file__).resolve().parent.parent / "eventwatch.yaml")
    names = {s.name for s in config.sources}
    assert {"pabsec", "pam", "oscepa", "ipacis", "unoct", "uza", "asiaplus"} <= names


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            (
                "    schedule: {{every: 30m}}\n  - name: asiaplus",
                "    colour: red\n    schedule: {{every: 30m}}\n  - name: asiaplus",
            ),
            "sources[0] (name 'pam'): field colour: unknown key",
        ),
        (
            ("'/en/news/\\d+'", "'/en/news/(\\d+'"),
            "sources[1] (name 'asiaplus'): field follow: bad regex",
        ),
        (
            ("name: asiaplus", "name: pam"),
            "sources[1] (name 'pam'): field name: duplicate source name",
        ),
        (("{{every: 30m}}", "{{every: often}}"), "sources[0] (name 'pam'): field schedule"),
        (
            ("notify: [soc]", "notify: [nobody]"),
            "rules[0] (name 'dushanbe-ct'): field notify: no channel named 'nobody'",
        ),
        (
            ('OR "border security")\'', 'OR "border security"\''),
            "rules[0] (name 'dushanbe-ct'): field query: rule 'dushanbe-ct': position",
        ),
        (("type: webhook, url:", "type: pager, url:"), "channels.soc"),
        (
            ("[https://pam.example.org/]", "[ftp://pam.example.org/]"),
            "sources[0] (name 'pam'): field start_urls",
        ),
        (
            ("[https://pam.example.org/]", f"[https://pam.example.org/{'x' * 2048}]"),
            "xxx'... is longer than 2048 characters",
        ),
        (
            ("[https://pam.example.org/]", "[https://pam.example.org:99999/]"),
            "field start_urls: 'https://pam.example.org:99999/': Port out of range",
        ),
        (("[https://pam.example.org/]", "['https:///news']"), "'https:///news' names no host"),
        (
            ("{{every: 30m}}", "{{every: 30m}}\n    time_limit: 9999999999d"),
            "field time_limit: '9999999999d' is longer than the longest duration, 366d",
        ),
        (("{{every: 30m}}", "{{every: 30m}}\n    time_limit: 0s"), "time_limit: give at least 1s"),
        (("{{every: 30m}}", "{{every: 30m}}\n    time_limit: 8d"), "time_limit: give at most 7d"),
        (("{{every: 30m}}", "{{every: 3000000d}}"), "is longer than the longest duration, 366d"),
        (("{{every: 30m}}", "{{every: 30m, jitter: 1h}}"), "'jitter' must be at most 'every'"),
        (
            ("{{every: 30m}}", "{{every: 30m}}\n    memory_limit_mb: 64"),
            "memory_limit_mb: Input should be greater than or equal to 256",
        ),
        (
            ("{{every: 30m}}", "{{every: 30m}}\n    max_pages: true"),
            "max_pages: Input should be a valid integer",
        ),
        (
            ("  soc: {{type: webhook", f"  {'s' * 129}: {{{{type: webhook"),
            "give 1 to 128 printable characters",
        ),
        (
            ("{{every: 30m}}", "{{every: 30m}}\n    scrapy_settings: {{SOME_DAY: 2026-01-01}}"),
            "field scrapy_settings: SOME_DAY: datetime.date(2026, 1, 1) is not text, a number",
        ),
        (
            (
                "{{every: 30m}}",
                "{{every: 30m}}\n    scrapy_settings: {{DOWNLOADER_MIDDLEWARES: "
                "{{crawlers.crawling.middlewares.SiteBoundsMiddleware: null}}}}",
            ),
            "DOWNLOADER_MIDDLEWARES: crawlers.crawling.middlewares.SiteBoundsMiddleware is "
            "eventwatch's own and stays: without it links off the site",
        ),
        (
            (
                "{{every: 30m}}",
                "{{every: 30m}}\n    scrapy_settings: {{DOWNLOAD_HANDLERS: "
                '\'{{"file": "scrapy.core.downloader.handlers.file.FileDownloadHandler"}}\'}}',
            ),
            "DOWNLOAD_HANDLERS: file is eventwatch's own and stays: without it links could read",
        ),
        (
            ("{{every: 30m}}", "{{every: 30m}}\n    scrapy_settings: {{ITEM_PIPELINES: [a, b]}}"),
            "ITEM_PIPELINES: give a mapping of components to their order",
        ),
    ],
)
def test_errors_name_file_entry_and_field(
    tmp_path: Path, change: tuple[str, str], expected: str
) -> None:
    old, new = change
    assert old in GOOD, old
    path = write(tmp_path, GOOD.replace(old, new))
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert str(path) in str(caught.value)
    assert expected in str(caught.value)


def test_a_source_adds_components_and_switches_off_scrapys(tmp_path: Path) -> None:
    """Only eventwatch's own components are kept from a source's settings."""
    settings = (
        "{{every: 30m}}\n    scrapy_settings: {{DOWNLOADER_MIDDLEWARES: {{"
        "scrapy.downloadermiddlewares.useragent.UserAgentMiddleware: null, "
        "crawlers.crawling.leases.LeaseMiddleware: 10, my.Middleware: 900}}}}"
    )
    path = write(tmp_path, GOOD.replace("{{every: 30m}}", settings))
    _, config = load_config(path)
    given = config.sources[0].scrapy_settings["DOWNLOADER_MIDDLEWARES"]
    assert given["my.Middleware"] == 900


def test_unreadable_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read the config file"):
        load_config(tmp_path)  # a folder
    with pytest.raises(ConfigError, match="no such config file"):
        load_config(tmp_path / "missing.yaml")


def test_cli_exits_2_and_leaves_the_database_untouched(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, GOOD.replace("name: asiaplus", "name: pam"))
    assert main(["--config", str(path), "crawl", "--all"]) == 2
    err = capsys.readouterr().err
    assert "duplicate source name" in err and "Traceback" not in err
    assert not (tmp_path / "e.db").exists()


def test_config_path_from_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("EVENTWATCH_CONFIG", str(write(tmp_path, GOOD)))
    monkeypatch.setenv("SOC_WEBHOOK_SECRET", "s3cret")  # check reports a channel's unset secret
    assert main(["check"]) == 0
    out = capsys.readouterr().out
    assert "pam" in out and "asiaplus" in out


def test_daemon_section_is_checked(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, GOOD + "daemon: {{health_notify: [pager]}}\n"))
    assert "daemon: field health_notify: no channel named 'pager'" in str(caught.value)
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, GOOD + "daemon: {{match_every: sometimes}}\n"))
    assert "daemon" in str(caught.value) and "sometimes" in str(caught.value)
    _, config = load_config(write(tmp_path, GOOD + "daemon: {{health_notify: [soc]}}\n"))
    assert config.daemon.health_notify == ["soc"]


@pytest.mark.parametrize(
    ("section", "expected"),
    [
        (
            "daemon: {{listen: nonsense}}",
            "daemon: field listen: 'nonsense' is not HOST:PORT",
        ),
        ("daemon: {{listen: '127.0.0.1:99999'}}", "with a port from 0 to 65535"),
        ("web: {{listen: '127.0.0.1:80x'}}", "web: field listen: '127.0.0.1:80x'"),
        ("daemon: {{match_every: 99999999d}}", "longer than the longest duration, 366d"),
        ("daemon: {{heartbeat_every: 0s}}", "heartbeat_every: give at least 0.1s"),
        ("daemon: {{tick_every: 0s}}", "tick_every: give at least 0.1s"),
        (
            "daemon: {{stalled_after: 15s}}",
            "'stalled_after' must be at least twice 'heartbeat_every'",
        ),
        ("daemon: {{crawl_processes: true}}", "crawl_processes: Input should be a valid integer"),
        ("daemon: {{crawl_process_memory_mb: 64}}", "greater than or equal to 256"),
    ],
)
def test_daemon_settings_that_could_not_work_are_refused(
    tmp_path: Path, section: str, expected: str
) -> None:
    """Each had passed ``check`` and then ended the daemon in a traceback, or kept a core busy,
    or had the crawl processes killed over and over."""
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, GOOD + section + "\n"))
    assert expected in str(caught.value)


@pytest.mark.parametrize(
    ("text", "said"),
    [
        (GOOD + "sources:\n  - name: other\n    start_urls: [https://o.example.org/]\n",
         "key 'sources' is given twice"),
        ("[" * 3000, "nested too deeply"),
        ("false\n", "the config must be a mapping of keys"),
        ("[]\n", "the config must be a mapping of keys"),
    ],
)  # fmt: skip
def test_a_file_that_loses_or_breaks_what_it_says_is_refused(
    tmp_path: Path, text: str, said: str
) -> None:
    """A second `sources:` block dropped the first without a word; 3,000 nested brackets
    were a RecursionError traceback; `false` or `[]` loaded as an empty config."""
    path = tmp_path / "eventwatch.yaml"
    path.write_text(text.replace("{db}", str(tmp_path / "e.db")).replace("{{", "{").replace(
        "}}", "}"), encoding="utf-8")  # fmt: skip
    with pytest.raises(ConfigError, match=said):
        load_config(path)


def test_a_source_may_take_its_settings_from_another_by_a_merge_key(tmp_path: Path) -> None:
    """The duplicate-key check had taken YAML's merge key for a key of its own: a config
    with ``<<: *defaults`` no longer loaded at all."""
    path = tmp_path / "eventwatch.yaml"
    path.write_text(
        f"database: sqlite:///{tmp_path / 'e.db'}\n"
        "sources:\n"
        "  - &news {name: agency-en, start_urls: ['http://127.0.0.1:9/en/'], download_delay: 2}\n"
        "  - <<: *news\n"
        "    name: agency-fr\n"
        "    start_urls: ['http://127.0.0.1:9/fr/']\n",
        encoding="utf-8",
    )
    _, config = load_config(path)
    first, second = config.sources
    assert (second.name, second.download_delay) == ("agency-fr", 2)
    assert second.start_urls == ["http://127.0.0.1:9/fr/"] and first.name == "agency-en"


@pytest.mark.parametrize(
    ("channel", "field"),
    [
        ("{type: webhook, url: 'http://127.0.0.1:9/x', timeout: .inf}", "timeout"),
        ("{type: webhook, url: 'http://127.0.0.1:9/x', timeout: 1e300}", "timeout"),
        ("{type: email, to: [a@127.0.0.1], from: b@127.0.0.1, timeout: .inf}", "timeout"),
        ("{type: email, to: [a@127.0.0.1], from: b@127.0.0.1, port: '587'}", "port"),
        ("{type: email, to: [a@127.0.0.1], from: b@127.0.0.1, port: true}", "port"),
        ("{type: email, to: [a@127.0.0.1], from: b@127.0.0.1, starttls: 'yes'}", "starttls"),
        ("{type: webhook, url: 'http://127.0.0.1:9/x', timeout: '30'}", "timeout"),
        ("{type: webhook, url: 'http://127.0.0.1:9/x', digest: {every: 1d, timezone: America}}",
         "time zone"),
    ],
)  # fmt: skip
def test_channel_values_that_could_not_work_are_refused(
    tmp_path: Path, channel: str, field: str
) -> None:
    """An infinite timeout crashed every send (OverflowError); a port or switch given as a
    string or a boolean was taken as something else, though the docs say a config is
    strict; a time-zone region ("America") was an IsADirectoryError traceback."""
    text = f"database: sqlite:///{tmp_path / 'e.db'}\nchannels:\n  out: {channel}\n"
    path = tmp_path / "eventwatch.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=field):
        load_config(path)


@pytest.mark.parametrize(
    ("section", "said"),
    [
        ("database: 'sqlite://'\n", "a database in memory"),
        ("database: 'sqlite:///:memory:'\n", "a database in memory"),
        ("database: 'sqlite+pysqlite://'\n", "a database in memory"),
        ("database: 'sqlite:///'\n", "a database in memory"),
        ("database: 'sqlite:///file::memory:?uri=true'\n", "a database in memory"),
        ("database: 'sqlite:///file:ew?mode=memory&uri=true'\n", "a database in memory"),
        ("web: {listen: '[::1:8080'}\n", "an IPv6 host is written in brackets"),
        ("web: {listen: '::1:8080'}\n", "an IPv6 host is written in brackets"),
        ("web: {session_secret_env: 'a-b'}\n", "session_secret_env"),
        ("channels: {out: {type: webhook, url: 'http://127.0.0.1:99999/x'}}\n",
         "webhook url is malformed"),
        ("channels: {out: {type: webhook, url: 'http://[::1/x'}}\n", "webhook url is malformed"),
    ],
)  # fmt: skip
def test_values_that_would_fail_only_later_are_refused_at_load(
    tmp_path: Path, section: str, said: str
) -> None:
    """Each was accepted and failed later, or quietly: a database in memory kept nothing
    (`db upgrade` said up to date, `alerts send` found no table); an IPv6 listen address
    without its brackets was served and announced wrongly; a variable name no shell can set;
    a webhook on a port past 65535 failed at every send."""
    path = tmp_path / "eventwatch.yaml"
    path.write_text(section, encoding="utf-8")
    with pytest.raises(ConfigError, match=said):
        load_config(path)
