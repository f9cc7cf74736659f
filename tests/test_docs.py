"""The reference in docs/ names every config key, command and channel type, and every link
in the README and docs/ leads to a file that exists."""

from __future__ import annotations

import contextlib
import io
import re
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
from pydantic import BaseModel

from monitor.channels import CHANNELS
from monitor.cli import build_parser
from monitor.config import DaemonConfig, DeliveryConfig, Schedule, SourceConfig, load_config

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
CHOICES = re.compile(r"invalid choice: .*\(choose from ([^)]*)\)")
LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")


def _text(name: str) -> str:
    return (DOCS / name).read_text(encoding="utf-8")


def _commands(words: tuple[str, ...] = ()) -> list[str]:
    """Every command line the parser accepts, as ``eventwatch events list``: a word that is
    no command makes argparse list the commands it takes there."""
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.suppress(SystemExit):
        build_parser().parse_args([*words, "no-such-command"])
    found = CHOICES.search(err.getvalue())
    if found is None:
        return [" ".join(("eventwatch", *words))]
    names = [name.strip(" '") for name in found.group(1).split(",")]
    return [line for name in names for line in _commands((*words, name))]


@pytest.mark.parametrize("model", [SourceConfig, Schedule, DeliveryConfig, DaemonConfig])
def test_every_config_key_is_documented(model: type[BaseModel]) -> None:
    reference = _text("configuration.md")
    missing = [key for key in model.model_fields if f"`{key}" not in reference]
    assert not missing, f"{model.__name__}: not in docs/configuration.md: {missing}"


def test_every_command_is_documented() -> None:
    reference = _text("cli.md")
    commands = _commands()
    assert "eventwatch alerts retry" in commands  # the walk reaches nested commands
    assert not [c for c in commands if f"`{c}" not in reference]


def test_every_channel_type_is_documented() -> None:
    reference = _text("channels.md")
    assert not [kind for kind in CHANNELS if f"type: {kind}" not in reference]


@pytest.mark.parametrize("page", [ROOT / "README.md", *sorted(DOCS.glob("*.md"))], ids=str)
def test_every_link_leads_to_a_file(page: Path) -> None:
    targets = [t for t in LINK.findall(page.read_text(encoding="utf-8")) if "://" not in t]
    assert not [t for t in targets if not (page.parent / t).exists()]


def test_the_first_crawl_serves_its_fixture_site_and_its_config_loads() -> None:
    """What README.md's first crawl runs: the site server as a command, and its config."""
    _, config = load_config(DOCS / "first-crawl.yaml")
    assert config.sources[0].start_urls == ["http://127.0.0.1:8765/"]
    with socket.socket() as probe:  # a free port, so the test never meets a running server
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    folder = "tests/fixtures/sites/wpnews"
    server = subprocess.Popen(
        [sys.executable, "-m", "tests.sitehost", folder, "--port", str(port)],
        cwd=ROOT, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert server.stdout is not None
        assert f"at http://127.0.0.1:{port}/" in server.stdout.readline()
        direct = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        with direct.open(f"http://127.0.0.1:{port}/", timeout=10) as answer:
            page = answer.read().decode()
        assert "{{BASE}}" not in page and f"http://127.0.0.1:{port}/2024/12/24/" in page
    finally:
        server.terminate()
        server.wait(timeout=10)
