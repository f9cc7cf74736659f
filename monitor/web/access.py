"""Who may do what in the web UI and its API.

Bound to loopback with no users configured, everyone who can reach it is the local analyst:
no login. With users, a person logs in (argon2 password hashes); bound anywhere else it will
not start without users. Roles: ``viewer`` reads, ``analyst`` also triages, retries and asks
for crawls. Scripts and feed readers use tokens. Every secret comes from the environment and
none is ever logged.
"""

from __future__ import annotations

import hmac
import ipaddress
import os
import secrets
import threading
from dataclasses import dataclass

from argon2 import PasswordHasher, extract_parameters
from argon2.exceptions import InvalidHashError, VerificationError

from monitor.config import WebConfig
from monitor.web.hosts import known_hosts

_HASHER = PasswordHasher()
# Checked against when the name is unknown, so an unknown name costs what a wrong password does.
_DUMMY_HASH = _HASHER.hash(secrets.token_urlsafe(16))
# Password checks at once. Each takes argon2's 64 MiB and a tenth of a second of CPU on the
# server's threads: a flood of logins, no account needed, grew the daemon by gigabytes and
# kept /healthz waiting for a thread. Past this, a login is answered "try again" at once.
LOGIN_CHECKS = 2


class AccessError(Exception):
    """The web UI cannot start as configured: one line saying why."""


class LoginBusy(Exception):
    """More logins at once than are checked (:data:`LOGIN_CHECKS`): try again."""


@dataclass(frozen=True, slots=True)
class Identity:
    name: str
    role: str

    @property
    def may_act(self) -> bool:
        return self.role == "analyst"


LOCAL = Identity("local", "analyst")


def hash_password(password: str) -> str:
    return _HASHER.hash(password)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _from_environment(variable: str, what: str) -> str:
    value = os.environ.get(variable, "")
    if not value:
        raise AccessError(f"web: {what}: environment variable {variable} is not set")
    return value


def _password_hash(name: str, variable: str) -> str:
    """User ``name``'s argon2 hash from ``variable``: anything else (the password itself,
    say) had let the UI start and refused every login of theirs, unexplained."""
    value = _from_environment(variable, f"user {name}")
    try:
        extract_parameters(value)
    except InvalidHashError:
        raise AccessError(
            f"web: user {name}: {variable} holds no argon2 hash; make one with "
            "`eventwatch hash-password`"
        ) from None
    return value


@dataclass(frozen=True, slots=True)
class _User:
    role: str
    password_hash: str


class Access:
    def __init__(self, web: WebConfig, host: str, session_secret: str | None = None) -> None:
        """``session_secret``: the one the UI's cookies are signed with already (a reload);
        else read from ``web.session_secret_env``, or made up."""
        self.loopback = is_loopback(host)
        if not self.loopback and not web.users:
            raise AccessError(
                f"web: listening on {host} needs users (web.users): without them anyone who "
                "reaches it could read and act; listen on 127.0.0.1 or configure users"
            )
        self.users = {u.name: _User(u.role, _password_hash(u.name, u.password_hash_env))
                      for u in web.users}  # fmt: skip
        self._checks = threading.BoundedSemaphore(LOGIN_CHECKS)
        self.tokens = [
            (Identity(t.name, t.role), _from_environment(t.token_env, f"token {t.name}"))
            for t in web.tokens
        ]
        if session_secret is None:
            env = web.session_secret_env
            session_secret = (env and _from_environment(env, "session")) or secrets.token_urlsafe(
                32
            )
        self.session_secret = session_secret
        secure = web.secure_cookies
        self.secure_cookies = (not self.loopback) if secure is None else secure
        self.public_url = web.public_url
        # On loopback with no login, the only guard against a rebinding page is its name.
        self.hosts = known_hosts(host, web.public_url) if self.loopback else None

    @property
    def login_required(self) -> bool:
        return bool(self.users)

    def check_password(self, name: str, password: str) -> Identity | None:
        """The user, if the password is theirs; raises LoginBusy past LOGIN_CHECKS at once."""
        if not self._checks.acquire(blocking=False):
            raise LoginBusy
        try:
            user = self.users.get(name)
            _HASHER.verify(user.password_hash if user else _DUMMY_HASH, password)
        except (VerificationError, InvalidHashError):
            return None
        finally:
            self._checks.release()
        return Identity(name, user.role) if user else None

    def by_token(self, token: str) -> Identity | None:
        found = None
        for identity, expected in self.tokens:  # every one compared: no early exit to time
            if hmac.compare_digest(token.encode(), expected.encode()):
                found = identity
        return found

    def by_session(self, name: str | None) -> Identity | None:
        if not self.login_required:
            return LOCAL
        user = self.users.get(name or "")
        return Identity(name or "", user.role) if user else None


def safe_next(target: str | None) -> str:
    """Where to go after logging in: a path of this site only, never another site."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/events"
    return target
