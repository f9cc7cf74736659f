"""Alert delivery channels: one config type and one sender class per transport."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Annotated, Protocol

from pydantic import Field

from monitor.channels.alert import Alert, AlertArticle, DeliveryError
from monitor.channels.chat import AppriseChannel, AppriseChannelConfig
from monitor.channels.digest import Digest
from monitor.channels.email import EmailChannel, EmailChannelConfig
from monitor.channels.webhook import WebhookChannel, WebhookChannelConfig

__all__ = [
    "CHANNELS",
    "Alert",
    "AlertArticle",
    "AppriseChannel",
    "AppriseChannelConfig",
    "Channel",
    "ChannelConfig",
    "DeliveryError",
    "EmailChannel",
    "EmailChannelConfig",
    "WebhookChannel",
    "WebhookChannelConfig",
    "build_channel",
    "unset_secrets",
]

AnyChannelConfig = EmailChannelConfig | WebhookChannelConfig | AppriseChannelConfig
ChannelConfig = Annotated[AnyChannelConfig, Field(discriminator="type")]


class Channel(Protocol):
    """Anything that can deliver an alert or raise DeliveryError. A send may return a note:
    it went out, but not to every recipient (kept on the delivery, which counts as sent)."""

    name: str

    def send(self, alert: Alert) -> str | None: ...

    def send_digest(self, digest: Digest) -> str | None: ...


CHANNELS: dict[str, type] = {
    "email": EmailChannel,
    "webhook": WebhookChannel,
    "apprise": AppriseChannel,
}


def build_channel(
    name: str,
    config: AnyChannelConfig,
    env: Mapping[str, str] | None = None,
) -> Channel:
    """The sender for ``config``; secrets are looked up in ``env`` (default: os.environ)."""
    environ: Mapping[str, str] = os.environ if env is None else env
    if isinstance(config, EmailChannelConfig):
        return EmailChannel(name, config, environ)
    if isinstance(config, WebhookChannelConfig):
        return WebhookChannel(name, config, environ)
    if isinstance(config, AppriseChannelConfig):
        return AppriseChannel(name, config, environ)
    raise TypeError(f"unknown channel config {type(config).__name__}")


def unset_secrets(
    channels: Mapping[str, AnyChannelConfig], env: Mapping[str, str] | None = None
) -> list[str]:
    """One line for each channel's secret variable that is unset or empty in ``env``
    (default: os.environ): every send through that channel would fail."""
    environ: Mapping[str, str] = os.environ if env is None else env
    return [
        f"channels.{name}: field {key}: environment variable {variable} is not set"
        for name, channel in channels.items()
        for key in ("password_env", "secret_env", "url_env")
        if (variable := getattr(channel, key, None)) and not environ.get(variable)
    ]
