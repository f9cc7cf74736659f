"""Deliver alerts to chat and push services (Slack, Teams, Telegram, Matrix, Discord, ntfy,
Gotify and the rest) through Apprise, one service URL per channel.

The URL comes from an environment variable because it carries the service's token. Apprise's
own log lines quote the URLs it posts to, so they are kept out of the application's logs, and
a failure names the service and the variable only.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import replace
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from monitor.channels.alert import Alert, DeliveryError
from monitor.channels.digest import Digest, DigestConfig, digest_text, digest_title
from monitor.channels.email import one_line, subject

_VARIABLE = r"^[A-Za-z_][A-Za-z0-9_]*$"
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]<>()#+!|~-])")
_PLAIN = str.maketrans({"[": "(", "]": ")", "<": "‹", ">": "›", "*": None, "_": " ", "`": "'",
                        "~": None})  # fmt: skip


class AppriseChannelConfig(BaseModel):
    """One Apprise URL (``tgram://…``, ``ntfys://…``, ``json://…``), named by its variable."""

    model_config = ConfigDict(extra="forbid", strict=True)

    type: Literal["apprise"]
    url_env: str = Field(pattern=_VARIABLE)
    digest: DigestConfig | None = None  # alerts held and sent together (channels/digest.py)


def _quiet_apprise() -> None:
    """Apprise logs the URLs it posts to, tokens included: its lines stay its own."""
    logging.getLogger("apprise").propagate = False


def _unmarked(text: str) -> str:
    """Page text with the characters Markdown builds links, images, tags and emphasis from
    made plain: ``[`` and ``]`` as parentheses, ``<`` and ``>`` as single guillemets."""
    return one_line(text).translate(_PLAIN)


def _escaped(text: str) -> str:
    """Page text shown as text: a title cannot smuggle links or formatting into the message."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", one_line(text))


def alert_markdown(alert: Alert) -> str:
    """The alert in Markdown, which Apprise converts for each service."""
    lines = [f"**Event {alert.event_id}**: {_escaped(alert.title)}"]
    if alert.is_update:
        lines.append(f"New sources: {_escaped(', '.join(alert.new_sources))}")
    if alert.link:
        lines.append(f"[Open in eventwatch]({alert.link})")
    lines.append(f"Words found: {_escaped(', '.join(alert.words or alert.terms))}")
    if alert.places:
        lines.append(f"Places: {_escaped(', '.join(alert.places))}")
    lines += [f"> {_escaped(snippet)}" for snippet in alert.snippets]
    for article in alert.articles:
        language = article.language or "unknown language"
        lines.append(f"- {_escaped(article.source)} ({language}): {article.url}")
    lines.append(f"Delivery {alert.delivery_id}")
    return "\n\n".join(lines)


class AppriseChannel:
    """Sends each alert or digest once; any service failure is a retryable DeliveryError."""

    def __init__(self, name: str, config: AppriseChannelConfig, env: Mapping[str, str]) -> None:
        self.name = name
        self.config = config
        self._env = env
        _quiet_apprise()

    def send(self, alert: Alert) -> None:
        # Apprise renders the title as Markdown for a service that joins it to the body
        # (Telegram, Mattermost) and shows it as it is elsewhere (ntfy, Pushover): unmarked,
        # not escaped, so that neither gets a link nor shows backslashes
        title = subject(replace(alert, title=_unmarked(alert.title)))
        self._notify(title, alert_markdown(alert), "markdown")

    def send_digest(self, digest: Digest) -> None:
        self._notify(digest_title(digest), digest_text(digest), "text")

    def _notify(self, title: str, body: str, body_format: str) -> None:
        import apprise  # half a second of imports, paid only by a process that sends with it

        variable = self.config.url_env
        url = self._env.get(variable)
        if not url:
            raise DeliveryError(f"apprise: environment variable {variable} is not set")
        service = apprise.Apprise()
        if not service.add(url):
            raise DeliveryError(
                f"apprise: the URL in {variable} is not one Apprise knows", permanent=True
            )
        where = f"apprise {service[0].service_name} (URL from {variable})"
        if not service.notify(
            body=body, title=title, body_format=apprise.NotifyFormat(body_format)
        ):
            raise DeliveryError(f"{where}: the service did not accept the message")
