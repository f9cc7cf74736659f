"""Deliver alerts by SMTP, so analysts get them in the mailbox they already read."""

from __future__ import annotations

import base64
import contextlib
import html
import logging
import re
import smtplib
import ssl
import unicodedata
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, getaddresses
from typing import Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from monitor.channels.alert import Alert, AlertArticle, AlertDate, DeliveryError
from monitor.channels.deadline import MAX_TIMEOUT, SEND_TIMEOUTS, Deadline, watch_current
from monitor.channels.digest import Digest, DigestConfig, digest_text, digest_title

log = logging.getLogger(__name__)

SUBJECT_LIMIT = 200
MAX_DATES = 6  # dates mentioned shown in a message; the webhook carries them all
MAX_NAMES = 12  # places, and organisations, likewise
T = TypeVar("T")
_SPACES = re.compile(r"\s+")
_MESSAGE_ID_UNSAFE = re.compile(r"[^A-Za-z0-9._~!#$%&'*+/=?^`{|}-]")


class EmailChannelConfig(BaseModel):
    """Where and how to send mail; the password is only ever referenced by env var name."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, strict=True)

    type: Literal["email"]
    to: list[str] = Field(min_length=1)
    sender: str = Field(alias="from")
    host: str = "localhost"
    port: int = Field(default=25, ge=1, le=65535)
    starttls: bool = False
    ssl: bool = False
    username: str | None = None
    password_env: str | None = None
    ca_file: str | None = None  # extra CA bundle, for relays with a private certificate
    timeout: float = Field(default=30, gt=0, le=MAX_TIMEOUT, allow_inf_nan=False)
    digest: DigestConfig | None = None  # alerts held and sent together (channels/digest.py)

    @field_validator("to")
    @classmethod
    def _clean_recipients(cls, value: list[str]) -> list[str]:
        for address in value:
            _check_address(address)
        return value

    @field_validator("sender")
    @classmethod
    def _clean_sender(cls, value: str) -> str:
        _check_address(value)
        return value

    @model_validator(mode="after")
    def _one_tls_mode(self) -> EmailChannelConfig:
        if self.starttls and self.ssl:
            raise ValueError("starttls and ssl are mutually exclusive; choose one")
        return self


def _check_address(address: str) -> None:
    # Control characters in an address would let config smuggle extra headers.
    if not address.strip() or any(
        unicodedata.category(ch)[0] in "CZ" and ch != " " for ch in address
    ):
        raise ValueError(f"invalid e-mail address {address!r}")
    if "@" not in address:
        raise ValueError(f"e-mail address {address!r} has no '@'")


def one_line(text: str, limit: int | None = None) -> str:
    """Make page-derived text safe for a header: no control or line-break chars, one line."""
    cleaned = "".join(
        " " if unicodedata.category(ch) in {"Cc", "Cf", "Zl", "Zp"} else ch for ch in text
    )
    cleaned = _SPACES.sub(" ", cleaned).strip()
    if limit is not None and len(cleaned) > limit:
        cleaned = cleaned[: limit - 1].rstrip() + "…"
    return cleaned


def subject(alert: Alert) -> str:
    """The subject line; the tag makes alerts filterable and test sends recognisable."""
    prefix = "[eventwatch test]" if alert.test else "[eventwatch]"
    if alert.is_update:
        prefix = "[eventwatch update]"
    return one_line(f"{prefix} {alert.rule}: {alert.title}", SUBJECT_LIMIT)


def _published(article: AlertArticle) -> str:
    """The day the page states, then its time at the page's own offset."""
    if article.published_at is None or article.day is None:
        return "unknown"
    return f"{article.day.isoformat()} ({article.published_at.isoformat()})"


def _when(mentioned: AlertDate) -> str:
    days = mentioned.start.isoformat()
    if mentioned.end != mentioned.start:
        days += f" to {mentioned.end.isoformat()}"
    return f"{one_line(mentioned.text)} ({days})"


def _first(items: tuple[T, ...], limit: int, show: Callable[[T], str]) -> list[str]:
    """The first ``limit`` items shown, then how many more: an event merged from many reports
    can name dozens of places."""
    shown = [show(item) for item in items[:limit]]
    if len(items) > limit:
        shown.append(f"and {len(items) - limit} more")
    return shown


def _names(alert: Alert) -> list[tuple[str, str]]:
    """(label, value) of what the event's reports name: where, who, when; empty ones left out."""
    named = [
        ("Places", ", ".join(_first(alert.places, MAX_NAMES, one_line))),
        ("Organisations", ", ".join(_first(alert.organisations, MAX_NAMES, one_line))),
        ("Dates mentioned", "; ".join(_first(alert.dates, MAX_DATES, _when))),
    ]
    return [(label, value) for label, value in named if value]


def text_body(alert: Alert) -> str:
    """Plain-text body: everything an analyst needs, readable in any client."""
    lines = []
    if alert.test:
        lines += ["This is a test alert.", ""]
    if alert.is_update:
        lines += [f"New sources: {', '.join(alert.new_sources)}", ""]
    lines += [
        f"Rule: {alert.rule}",
        f"Event {alert.event_id}: {one_line(alert.title)}",
        *([f"Link: {alert.link}"] if alert.link else []),
        f"Words found: {', '.join(alert.words or alert.terms) or '-'}",
        f"Rule terms: {', '.join(alert.terms) or '-'}",
        *(f"{label}: {value}" for label, value in _names(alert)),
        "",
    ]
    if alert.snippets:
        lines.append("Snippets:")
        lines += [f"  - {one_line(snippet)}" for snippet in alert.snippets]
        lines.append("")
    lines.append(f"Articles ({len(alert.articles)}):")
    for article in alert.articles:
        lines += [
            f"  - {one_line(article.title)}",
            f"    source: {article.source} · language: {article.language or 'unknown'}",
            f"    published: {_published(article)}",
            f"    {article.url}",
        ]
    lines += ["", f"Delivery: {alert.delivery_id}"]
    return "\n".join(lines) + "\n"


def _link(url: str, label: str) -> str:
    # Only web links become clickable; anything else (javascript:, data:) stays inert text.
    if url.lower().startswith(("http://", "https://")):
        return f'<a href="{html.escape(url, quote=True)}">{html.escape(label)}</a>'
    return html.escape(label)


def html_body(alert: Alert) -> str:
    """HTML body; every page-derived string is escaped because pages are untrusted."""
    esc = html.escape
    parts = ["<!DOCTYPE html>", '<html><head><meta charset="utf-8"></head><body>']
    if alert.test:
        parts.append("<p><strong>This is a test alert.</strong></p>")
    found = alert.words or alert.terms
    if alert.is_update:
        parts.append(f"<p>New sources: <b>{esc(', '.join(alert.new_sources))}</b></p>")
    parts += [
        f"<h2>{esc(alert.title)}</h2>",
        f"<p>Event {alert.event_id}"
        + (f" · {_link(alert.link, 'open')}" if alert.link else "")
        + "</p>",
        f"<p>Rule: <strong>{esc(alert.rule)}</strong> ({esc(', '.join(alert.terms))})</p>",
        "<p>Words found: " + (", ".join(f"<b>{esc(w)}</b>" for w in found) or "-") + "</p>",
        *(f"<p>{label}: {esc(value)}</p>" for label, value in _names(alert)),
    ]
    if alert.snippets:
        parts.append("<ul>")
        parts += [f"<li><blockquote>{esc(snippet)}</blockquote></li>" for snippet in alert.snippets]
        parts.append("</ul>")
    parts.append("<ol>")
    for article in alert.articles:
        parts.append(
            f"<li>{_link(article.url, article.title or article.url)}"
            f" <br><small>{esc(article.source)} · {esc(article.language or 'unknown')}"
            f" · {esc(_published(article))}"
            f" · {esc(article.url)}</small></li>"
        )
    parts += ["</ol>", f"<p><small>Delivery {esc(alert.delivery_id)}</small></p>", "</body></html>"]
    return "\n".join(parts) + "\n"


class EmailChannel:
    """Sends one message per alert; Message-ID is derived from the delivery id for dedupe."""

    def __init__(self, name: str, config: EmailChannelConfig, env: Mapping[str, str]) -> None:
        self.name = name
        self.config = config
        self._env = env

    @property
    def _where(self) -> str:
        return f"smtp {self.config.host}:{self.config.port}"

    def build_message(self, alert: Alert) -> EmailMessage:
        """The MIME message for ``alert`` (text/plain with an HTML alternative)."""
        msg = self._headed(subject(alert), alert.delivery_id)
        msg.set_content(text_body(alert))
        msg.add_alternative(html_body(alert), subtype="html")
        return msg

    def build_digest(self, digest: Digest) -> EmailMessage:
        """The MIME message for ``digest``: plain text, readable in any client."""
        msg = self._headed(one_line(digest_title(digest), SUBJECT_LIMIT), digest.digest_id)
        msg.set_content(digest_text(digest))
        return msg

    def _headed(self, title: str, delivery_id: str) -> EmailMessage:
        """A message with its headers; its Message-ID comes from the delivery id, for dedupe."""
        token = _MESSAGE_ID_UNSAFE.sub("-", delivery_id) or "alert"
        msg = EmailMessage()
        msg["Subject"] = title
        msg["From"] = self.config.sender
        msg["To"] = ", ".join(self.config.to)
        msg["Date"] = format_datetime(datetime.now(UTC))
        msg["Message-ID"] = f"<{token}@eventwatch>"
        msg["X-Eventwatch-Delivery"] = one_line(delivery_id)
        return msg

    def send_digest(self, digest: Digest) -> str | None:
        return self._send_message(self.build_digest(digest), digest.owed_to)

    def _password(self) -> str | None:
        if self.config.username is None:
            return None
        var = self.config.password_env
        if var is None:
            return ""
        password = self._env.get(var)
        if not password:
            raise DeliveryError(f"{self._where}: environment variable {var} is not set")
        return password

    def _scrub(self, text: str, password: str | None) -> str:
        """Belt and braces: a chatty server can echo back what it was sent, the password
        as typed or base64 as AUTH LOGIN and AUTH PLAIN carry it."""
        if not password:
            return text
        sent = [password.encode(), f"\0{self.config.username or ''}\0{password}".encode()]
        for secret in [password, *(base64.b64encode(s).decode() for s in sent)]:
            text = text.replace(secret, "***")
        return text

    def send(self, alert: Alert) -> str | None:
        """Deliver ``alert``; raises DeliveryError (retryable) on any SMTP or network failure.
        When the relay takes it for some recipients and refuses the others, sending it to all
        again would double it for the first. Refused for good (5xx), they are named in the
        note returned, and it counts as sent; refused for now (4xx), the DeliveryError names
        them as still owed it, and the next attempt goes to them only
        (``alert.owed_to``)."""
        try:
            msg = self.build_message(alert)
        except (ValueError, TypeError) as exc:
            raise DeliveryError(f"cannot build message: {exc}", permanent=True) from exc
        return self._send_message(msg, alert.owed_to)

    def _send_message(self, msg: EmailMessage, owed_to: tuple[str, ...] | None) -> str | None:
        envelope = [address for _, address in getaddresses(self.config.to)]
        if owed_to is not None:  # a reload may have changed how an address is written
            owed = {address.casefold() for address in owed_to}
            envelope = [address for address in envelope if address.casefold() in owed]
            if not envelope:
                return f"{self._where}: the recipients still owed it are no longer configured"
        password = self._password()
        deadline = Deadline(SEND_TIMEOUTS * self.config.timeout)
        taken = True  # by the relay, for some recipient
        try:
            with deadline:
                refused = self._deliver(msg, envelope, password)
        except smtplib.SMTPRecipientsRefused as exc:
            if len(exc.recipients) < len(envelope):  # a 421 ended the session part-way
                cut = f"the relay ended the session at the recipients: {_replies(exc.recipients)}"
                raise DeliveryError(f"{self._where}: {cut}") from None
            refused, taken = exc.recipients, False
        except (smtplib.SMTPException, OSError) as exc:
            detail = self._failure(exc, deadline, password)
            raise DeliveryError(f"{self._where}: {detail}") from None
        if not refused:
            return None
        return self._refusals(refused, taken=taken, owed_before=owed_to is not None)

    def _refusals(
        self, refused: Mapping[str, tuple[int, bytes]], *, taken: bool, owed_before: bool
    ) -> str:
        """A note on the recipients refused, or the DeliveryError they make. A refusal no
        retry will change (:func:`_final`) is never tried again; any other is, alone when
        others have the message (taken now or ``owed_before``), who must not be sent it
        twice. Refused all alike, nobody taking it, the relay itself refuses: the channel
        is tried again as a whole."""
        log.warning("channel %s: recipients refused: %s", self.name, _replies(refused))
        final = sorted(a for a, (code, reply) in refused.items() if _final(code, reply, taken))
        retry = tuple(sorted(a for a in refused if a not in final))
        parts = [f"recipients refused: {', '.join(final)}"] if final else []
        if retry:
            parts.append(f"refused for now, to be retried: {', '.join(retry)}")
        said = "; ".join(parts)
        if taken or owed_before:
            note = f"{self._where}: sent, but {said}"
            if not retry:
                return note
            # owed_to only when who is owed it changed: written then as a send is
            raise DeliveryError(note, owed_to=retry if taken or final else None)
        if not retry:  # nobody has it, and nobody ever will
            raise DeliveryError(f"{self._where}: {said}", permanent=True)
        raise DeliveryError(f"{self._where}: {said}", owed_to=retry if final else None)

    def _failure(self, exc: Exception, deadline: Deadline, password: str | None) -> str:
        """What went wrong, in one line that holds no password."""
        if deadline.expired:
            return f"the relay took more than {deadline.seconds:g} s in all"
        limit: int | None = 300  # blanked before it is made one line and cut
        if isinstance(exc, smtplib.SMTPResponseException):
            reply = exc.smtp_error
            text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)
            detail = f"{type(exc).__name__} {exc.smtp_code} {text}"
        elif isinstance(exc, smtplib.SMTPException):
            detail = f"{type(exc).__name__}: {exc}"
        else:
            assert isinstance(exc, OSError)
            detail = exc.strerror or str(exc) or type(exc).__name__
            if isinstance(exc, TimeoutError) and not exc.strerror:
                detail = "timed out"
            limit = None
        return one_line(self._scrub(detail, password), limit)

    def _login(self, smtp: smtplib.SMTP, username: str, password: str) -> None:
        try:
            smtp.login(username, password)
        except UnicodeError:  # smtplib sends ASCII only; its message would name a character
            raise DeliveryError(
                f"{self._where}: the user name or the password in {self.config.password_env} "
                "is not ASCII, which SMTP login cannot send",
                permanent=True,
            ) from None

    def _deliver(
        self, msg: EmailMessage, envelope: list[str], password: str | None
    ) -> dict[str, tuple[int, bytes]]:
        """The recipients the relay refused, with its reply to each, while it took the
        message for the others in ``envelope``."""
        cfg = self.config
        smtp: smtplib.SMTP
        context = ssl.create_default_context(cafile=cfg.ca_file)  # verifies host and chain
        if cfg.ssl:
            smtp = _TimedSMTPSSL(cfg.host, cfg.port, timeout=cfg.timeout, context=context)
        else:
            smtp = _TimedSMTP(cfg.host, cfg.port, timeout=cfg.timeout)
        try:
            if cfg.starttls:
                smtp.starttls(context=context)
            if cfg.username is not None:
                self._login(smtp, cfg.username, password or "")
            refused: dict[str, tuple[int, bytes]] = smtp.send_message(msg, to_addrs=envelope)
        except BaseException:
            smtp.close()
            raise
        # The relay has the message now: an error of the goodbye must not make it a failure
        # (it was sent again at every retry, though the relay had taken it each time).
        with contextlib.suppress(smtplib.SMTPException, OSError):
            smtp.quit()
        smtp.close()
        return refused


class _TimedSMTP(smtplib.SMTP):
    """An SMTP session whose socket the send's deadline shuts: each reply is read from the
    socket of the moment, which STARTTLS replaces."""

    def getreply(self) -> tuple[int, bytes]:
        watch_current(self.sock)
        return super().getreply()


class _TimedSMTPSSL(_TimedSMTP, smtplib.SMTP_SSL):
    """:class:`_TimedSMTP` over implicit TLS."""


def _final(code: int, reply: bytes | str, taken: bool) -> bool:
    """A refusal no retry will change: a 5xx for this recipient alone (the relay took the
    message for others), or one naming the address itself (enhanced status 5.1.x: no such
    mailbox or domain). A 5xx for everyone alike (relaying denied, authentication wanted)
    is the relay's, and may be mended."""
    if not 500 <= code < 600:
        return False
    text = reply.decode("ascii", "replace") if isinstance(reply, bytes) else str(reply)
    return taken or text.lstrip().startswith("5.1.")


def _replies(refused: Mapping[str, tuple[int, bytes | str]]) -> str:
    """``address code`` for each recipient refused, for a log line or an error."""
    return ", ".join(f"{address} {code}" for address, (code, _) in sorted(refused.items()))
