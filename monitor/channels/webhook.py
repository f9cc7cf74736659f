"""Deliver alerts as signed JSON POSTs, so other systems can consume them and trust the sender."""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import http.client
import json
import re
import ssl
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from email.message import Message
from email.utils import parsedate_to_datetime
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator

from monitor.channels.alert import Alert, DeliveryError
from monitor.channels.deadline import MAX_TIMEOUT, SEND_TIMEOUTS, Deadline, watch_current
from monitor.channels.digest import Digest, DigestConfig, DigestEvent

SCHEMA = "eventwatch.alert/1"
DIGEST_SCHEMA = "eventwatch.digest/1"
_TIMESTAMP = re.compile(r"-?[0-9]{1,15}")
_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_BAD_VALUE = re.compile(r"[\x00-\x1f\x7f]")


class WebhookChannelConfig(BaseModel):
    """Where to POST; the signing secret is only ever referenced by env var name."""

    model_config = ConfigDict(extra="forbid", strict=True)

    type: Literal["webhook"]
    url: str
    secret_env: str | None = None
    timeout: float = Field(default=10, gt=0, le=MAX_TIMEOUT, allow_inf_nan=False)
    headers: dict[str, str] = Field(default_factory=dict)
    digest: DigestConfig | None = None  # alerts held and sent together (channels/digest.py)

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.lower().startswith(("http://", "https://")):
            raise ValueError("webhook url must start with http:// or https://")
        try:
            parts = urlsplit(value)
            parts.port  # noqa: B018 - read to raise ValueError for a port past 65535 or not one
        except ValueError:
            raise ValueError("webhook url is malformed (its host or port)") from None
        if _BAD_VALUE.search(value) or " " in value or not parts.hostname:
            raise ValueError("webhook url is malformed")
        return value

    @field_validator("headers")
    @classmethod
    def _clean_headers(cls, value: dict[str, str]) -> dict[str, str]:
        for name, header in value.items():
            if not _HEADER_NAME.fullmatch(name):
                raise ValueError(f"invalid header name {name!r}")
            if _BAD_VALUE.search(header):
                raise ValueError(f"header {name} contains control characters")
        return value


def payload(alert: Alert) -> dict[str, Any]:
    """The JSON document (schema ``eventwatch.alert/1``) describing one alert."""
    return {
        "schema": SCHEMA,
        "id": alert.delivery_id,
        "kind": "update" if alert.is_update else "alert",
        "new_sources": list(alert.new_sources),
        "rule": alert.rule,
        "event": {
            "id": alert.event_id,
            "title": alert.title,
            "link": alert.link,
            "articles": [
                {
                    "source": article.source,
                    "url": article.url,
                    "title": article.title,
                    "published_at": (
                        article.published_at.isoformat() if article.published_at else None
                    ),
                    "published_day": article.day.isoformat() if article.day else None,
                    "language": article.language,
                }
                for article in alert.articles
            ],
            "places": list(alert.places),
            "organisations": list(alert.organisations),
            "dates_mentioned": [
                {"text": d.text, "start": d.start.isoformat(), "end": d.end.isoformat()}
                for d in alert.dates
            ],
        },
        "terms": list(alert.terms),
        "words": list(alert.words),
        "snippets": list(alert.snippets),
        "created_at": alert.created_at.isoformat(),
        "test": alert.test,
    }


def body(alert: Alert) -> bytes:
    """Compact UTF-8 JSON; these exact bytes are what gets signed."""
    return json.dumps(payload(alert), ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def digest_payload(digest: Digest) -> dict[str, Any]:
    """The JSON document (schema ``eventwatch.digest/1``) of one digest."""
    return {
        "schema": DIGEST_SCHEMA,
        "id": digest.digest_id,
        "since": digest.since.isoformat() if digest.since else None,
        "until": digest.until.isoformat(),
        "rules": [
            {"rule": rule, "events": [_digest_event(event) for event in events]}
            for rule, events in digest.rules
        ],
    }


def _digest_event(event: DigestEvent) -> dict[str, Any]:
    return {
        "id": event.event_id,
        "title": event.title,
        "sources": list(event.sources),
        "languages": list(event.languages),
        "places": list(event.places),
        "day": event.day.isoformat() if event.day else None,
        "words": list(event.words),
        "url": event.url,
        "link": event.link,
    }


def digest_body(digest: Digest) -> bytes:
    return json.dumps(digest_payload(digest), ensure_ascii=False, separators=(",", ":")).encode()


def sign(secret: bytes, timestamp: str, body: bytes) -> str:
    """Signature over ``timestamp.body`` so a captured request cannot be replayed later."""
    digest = hmac.new(secret, timestamp.encode("ascii") + b"." + body, hashlib.sha256)
    return "sha256=" + digest.hexdigest()


def verify(
    secret: bytes,
    timestamp: str,
    body: bytes,
    signature: str,
    *,
    tolerance: float = 300,
    now: float | None = None,
) -> bool:
    """Receiver-side check: valid signature and a timestamp within ``tolerance`` seconds."""
    if not _TIMESTAMP.fullmatch(timestamp):
        return False
    current = time.time() if now is None else now
    if abs(current - int(timestamp)) > tolerance:
        return False
    expected = sign(secret, timestamp, body).encode("ascii")
    return hmac.compare_digest(expected, signature.encode("utf-8", "replace"))


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A redirect is an answer from the wrong place, never a delivery."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


class _TimedHTTPConnection(http.client.HTTPConnection):
    """A connection whose socket the send's deadline shuts, once connected (and, over TLS,
    once the handshake is done: each of its few reads is bounded by the timeout alone)."""

    def connect(self) -> None:
        super().connect()
        watch_current(self.sock)


class _TimedHTTPSConnection(_TimedHTTPConnection, http.client.HTTPSConnection):
    """:class:`_TimedHTTPConnection` over TLS."""


class _TimedHTTPHandler(urllib.request.HTTPHandler):
    def http_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        return self.do_open(_TimedHTTPConnection, req)


class _TimedHTTPSHandler(urllib.request.HTTPSHandler):
    def __init__(self, context: ssl.SSLContext) -> None:
        super().__init__(context=context)
        self.context = context

    def https_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        return self.do_open(_TimedHTTPSConnection, req, context=self.context)


def _opener() -> urllib.request.OpenerDirector:
    """urllib's opener (proxies from the environment included) that follows no redirect and
    whose connections the deadline of their send bounds. Its TLS context verifies the host
    and the chain, as urllib's own does."""
    return urllib.request.build_opener(
        _NoRedirect, _TimedHTTPHandler(), _TimedHTTPSHandler(ssl.create_default_context())
    )


def _retry_after(headers: Message | None, now: float) -> float | None:
    value = headers.get("Retry-After") if headers is not None else None
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            seconds = parsedate_to_datetime(value).timestamp() - now
        except (TypeError, ValueError, IndexError):
            return None
    if seconds != seconds or seconds in (float("inf"), float("-inf")):
        return None
    return max(0.0, seconds)


class WebhookChannel:
    """POSTs each alert once; only a 2xx answer counts as delivered."""

    def __init__(
        self,
        name: str,
        config: WebhookChannelConfig,
        env: Mapping[str, str],
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.name = name
        self.config = config
        self._env = env
        self._clock = clock
        self._opener = _opener()  # built once: it reads the environment and the CAs
        parts = urlsplit(config.url)
        # Messages name only the origin: paths and queries often embed tokens.
        self._where = f"webhook {parts.scheme}://{parts.netloc.rpartition('@')[2]}"

    def _secret(self) -> bytes | None:
        var = self.config.secret_env
        if var is None:
            return None
        secret = self._env.get(var)
        if not secret:  # empty too: an alert signed with an empty key proves nothing
            raise DeliveryError(f"{self._where}: environment variable {var} is not set")
        return secret.encode("utf-8")

    def request(self, alert: Alert) -> urllib.request.Request:
        """The signed HTTP request for ``alert``."""
        return self._request(body(alert), alert.delivery_id)

    def _request(self, data: bytes, delivery_id: str) -> urllib.request.Request:
        timestamp = str(int(self._clock()))
        headers = dict(self.config.headers)
        headers.update(
            {
                "Content-Type": "application/json",
                "User-Agent": "eventwatch",
                "X-Eventwatch-Delivery": delivery_id,
                "X-Eventwatch-Timestamp": timestamp,
            }
        )
        secret = self._secret()
        if secret is not None:
            headers["X-Eventwatch-Signature"] = sign(secret, timestamp, data)
        # The scheme is restricted to http(s) by WebhookChannelConfig.
        return urllib.request.Request(  # noqa: S310
            self.config.url, data=data, headers=headers, method="POST"
        )

    def send(self, alert: Alert) -> None:
        """Deliver ``alert``; raises DeliveryError for non-2xx answers and network failures."""
        self._post(self.request(alert))

    def send_digest(self, digest: Digest) -> None:
        """Deliver ``digest`` (schema ``eventwatch.digest/1``), signed like an alert."""
        self._post(self._request(digest_body(digest), digest.digest_id))

    def _post(self, req: urllib.request.Request) -> None:
        deadline = Deadline(SEND_TIMEOUTS * self.config.timeout)
        try:
            with deadline, self._opener.open(req, timeout=self.config.timeout) as response:
                # Headers cut short read as complete ones: their status says nothing.
                if deadline.expired:
                    raise TimeoutError
                status = response.status
                # The status is the answer: a body cut short changes nothing, and calling a
                # taken alert failed would send it again.
                with contextlib.suppress(OSError, http.client.HTTPException):
                    response.read(65536)
        except urllib.error.HTTPError as exc:
            status = exc.code
            retry_after = None
            if status in (429, 503):
                retry_after = _retry_after(exc.headers, self._clock())
            exc.close()
            raise DeliveryError(
                f"{self._where}: webhook answered {status}", retry_after=retry_after
            ) from None
        except (OSError, http.client.HTTPException, ValueError) as exc:
            raise DeliveryError(f"{self._where}: {_failure(exc, deadline)}") from None
        if not 200 <= status < 300:
            raise DeliveryError(f"{self._where}: webhook answered {status}")


def _failure(exc: Exception, deadline: Deadline) -> str:
    """What went wrong in reaching the endpoint, in words that quote no request data."""
    if deadline.expired:
        return f"no whole answer within {deadline.seconds:g} s"
    if isinstance(exc, urllib.error.URLError):  # an OSError too
        reason = exc.reason
        detail = reason.strerror if isinstance(reason, OSError) else None
        return str(detail or reason)
    if isinstance(exc, OSError):
        detail = "timed out" if isinstance(exc, TimeoutError) else exc.strerror or str(exc)
        return detail or type(exc).__name__
    return type(exc).__name__  # their messages can quote request data
