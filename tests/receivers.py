"""Real SMTP and HTTP receivers on 127.0.0.1, so channel tests exercise actual sockets."""

from __future__ import annotations

import base64
import contextlib
import datetime
import ipaddress
import socket
import ssl
import threading
from collections.abc import Callable, Iterable
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default as default_policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, cast

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class _StoreHandler:
    def __init__(self, sink: SmtpSink) -> None:
        self._sink = sink

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        raw = envelope.original_content or envelope.content
        if isinstance(raw, str):
            raw = raw.encode("utf-8")
        msg = cast(EmailMessage, message_from_bytes(raw, policy=default_policy))
        with self._sink._lock:
            self._sink._messages.append(msg)
            self._sink._envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        return "250 OK"


def self_signed_cert(folder: str) -> tuple[str, str]:
    """(cert, key) PEM files for 127.0.0.1; the cert doubles as the client's CA file."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = f"{folder}/cert.pem", f"{folder}/key.pem"
    with open(cert_path, "wb") as out:
        out.write(cert.public_bytes(serialization.Encoding.PEM))
    with open(key_path, "wb") as out:
        out.write(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
    return cert_path, key_path


def _echoing(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
    login, password = data.login.decode(), data.password.decode()
    blob = base64.b64encode(f"\0{login}\0{password}".encode()).decode()
    typed = base64.b64encode(password.encode()).decode()
    message = f"535 5.7.8 {mechanism} {blob} {typed} refused for {login}|{password}"
    return AuthResult(success=False, handled=False, message=message)


class SmtpSink:
    """An SMTP server that accepts everything and keeps the parsed messages.

    With ``cert``/``key`` it speaks STARTTLS (``implicit_tls``: TLS from the first byte); with
    ``login`` it requires AUTH with that (user, password), over TLS only.
    """

    def __init__(
        self,
        port: int | None = None,
        *,
        cert: tuple[str, str] | None = None,
        implicit_tls: bool = False,
        login: tuple[str, str] | None = None,
        echo_auth: bool = False,
    ) -> None:
        """``echo_auth``: refuse every login with a reply that quotes it back, base64 and
        decoded, as a chatty relay does (no TLS needed)."""
        self.port = free_port() if port is None else port
        self._lock = threading.Lock()
        self._messages: list[EmailMessage] = []
        self._envelopes: list[tuple[str, list[str]]] = []
        self.logins: list[str] = []
        options: dict[str, Any] = {}
        if cert is not None:
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(*cert)
            if implicit_tls:
                options["ssl_context"] = context
            else:
                options["tls_context"] = context
                options["require_starttls"] = True
        if login is not None:
            options["authenticator"] = self._authenticator(login)
            # aiosmtpd cannot see implicit TLS, so it would refuse AUTH there; it is TLS anyway.
            options["auth_require_tls"] = not implicit_tls
            options["auth_required"] = True
        if echo_auth:
            options.update(authenticator=_echoing, auth_require_tls=False, auth_required=True)
        self._controller = Controller(
            _StoreHandler(self), hostname="127.0.0.1", port=self.port, **options
        )

    def _authenticator(self, login: tuple[str, str]) -> Callable[..., AuthResult]:
        def check(
            server: Any, session: Any, envelope: Any, mechanism: str, data: Any
        ) -> AuthResult:
            ok = (
                isinstance(data, LoginPassword)
                and (data.login.decode(), data.password.decode()) == login
            )
            if ok:
                with self._lock:
                    self.logins.append(data.login.decode())
            return AuthResult(success=ok, handled=False)

        return check

    @property
    def messages(self) -> list[EmailMessage]:
        with self._lock:
            return list(self._messages)

    @property
    def envelopes(self) -> list[tuple[str, list[str]]]:
        """(MAIL FROM, RCPT TO list) per message: who really received it."""
        with self._lock:
            return list(self._envelopes)

    def __enter__(self) -> SmtpSink:
        self._controller.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._controller.stop()


Answer = int | tuple[int, dict[str, str]]


class _HookHandler(BaseHTTPRequestHandler):
    server: _HookServer
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        headers = dict(self.headers.items())
        receiver = self.server.receiver
        status, extra = receiver._next_answer()
        with receiver._lock:
            receiver._log.append((headers, body, status))
        if receiver.on_receive is not None:  # the request is in; the sender awaits the answer
            receiver.on_receive()
        reply = b'{"ok":true}' if 200 <= status < 300 else b'{"ok":false}'
        self.send_response(status)
        if 300 <= status < 400 and "Location" not in extra:
            self.send_header("Location", receiver.url + "/moved")
        for name, value in extra.items():
            self.send_header(name, value)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(reply)))
        self.send_header("Connection", "close")
        self.close_connection = True
        try:
            self.end_headers()
            self.wfile.write(reply)
            self.wfile.flush()
        except OSError:  # on_receive killed the sender
            return
        hook = receiver.on_request
        if hook is not None:
            hook()

    def log_message(self, format: str, *args: Any) -> None:
        """Keep test output quiet."""


class _HookServer(ThreadingHTTPServer):
    daemon_threads = True
    receiver: WebhookReceiver


class WebhookReceiver:
    """An HTTP endpoint that records POSTs and answers with scripted statuses."""

    def __init__(self, path: str = "/hook") -> None:
        self._lock = threading.Lock()
        self._log: list[tuple[dict[str, str], bytes, int]] = []
        self._answers: list[tuple[int, dict[str, str]]] = []
        self.on_request: Callable[[], None] | None = None  # after the answer is sent
        self.on_receive: Callable[[], None] | None = None  # before it is sent
        self._server = _HookServer(("127.0.0.1", 0), _HookHandler)
        self._server.receiver = self
        self.port = int(self._server.server_address[1])
        self.url = f"http://127.0.0.1:{self.port}{path}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def respond_with(self, statuses: Iterable[Answer]) -> None:
        """Answer the next requests with these statuses (or (status, headers)), then 200."""
        answers = [(a, {}) if isinstance(a, int) else (a[0], dict(a[1])) for a in statuses]
        with self._lock:
            self._answers = answers

    def _next_answer(self) -> tuple[int, dict[str, str]]:
        with self._lock:
            return self._answers.pop(0) if self._answers else (200, {})

    def log(self) -> list[tuple[dict[str, str], bytes, int]]:
        with self._lock:
            return list(self._log)

    @property
    def received(self) -> list[tuple[dict[str, str], bytes]]:
        return [(headers, body) for headers, body, status in self.log() if 200 <= status < 300]

    def __enter__(self) -> WebhookReceiver:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


class SlowPeer:
    """A TCP endpoint on 127.0.0.1 that takes every connection and then stalls: it says
    nothing (``drip=None``), or says ``head`` and then ``drip`` over and over, a byte at a
    time, one every ``every`` seconds. Each wait for it is short; the exchange never ends."""

    def __init__(self, drip: bytes | None = None, every: float = 0.1, head: bytes = b"") -> None:
        self.drip = drip
        self.head = head
        self.every = every
        self.connections = 0
        self._stop = threading.Event()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.05)
        self.port = int(self._listener.getsockname()[1])
        self.url = f"http://127.0.0.1:{self.port}/hook"
        self._threads: list[threading.Thread] = []

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.connections += 1
            thread = threading.Thread(target=self._stall, args=(conn,), daemon=True)
            thread.start()
            self._threads.append(thread)

    def _stall(self, conn: socket.socket) -> None:
        with conn:
            conn.settimeout(self.every)
            position = 0
            if self.drip is not None and self.head:
                with contextlib.suppress(OSError):
                    conn.sendall(self.head)
            while not self._stop.wait(self.every):
                try:
                    conn.recv(65536)  # whatever the sender sends, taken and ignored
                except TimeoutError:
                    pass
                except OSError:
                    return
                if self.drip is None:
                    continue
                try:
                    at = position % len(self.drip)
                    conn.sendall(self.drip[at : at + 1])
                except OSError:
                    return
                position += 1

    def __enter__(self) -> SlowPeer:
        thread = threading.Thread(target=self._accept, daemon=True)
        thread.start()
        self._threads.append(thread)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop.set()
        self._listener.close()
        for thread in self._threads:
            thread.join(timeout=5)
