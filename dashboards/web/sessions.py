"""Sessions, CSRF tokens and the login rate limit, all in memory.

A session is a random 256-bit token in an HttpOnly, SameSite=Strict cookie
(Secure under TLS); it expires after `idle_s` without use and `absolute_s`
after login whatever happens. Each session carries its own CSRF token which
every state-changing request must echo in the `X-CSRF-Token` header
(synchroniser token pattern, OWASP CSRF cheat sheet).

Logins are limited per client address and per user name (so neither
spraying one account from many addresses nor many accounts from one
address works): `max_failures` failures in `window_s` lock that key for
the rest of the window.
"""

from __future__ import annotations

import hmac
import secrets
import threading
import time
from collections import deque
from dataclasses import dataclass, field

from dashboards.web.users import User

MAX_SESSIONS = 10_000
# One account logging in again and again ends its own oldest sessions, never
# (through MAX_SESSIONS) everyone else's.
MAX_SESSIONS_PER_USER = 16
MAX_TRACKED = 10_000  # addresses/names the rate limiter remembers


@dataclass
class Session:
    token: str
    user: User
    csrf: str
    created: float
    last_used: float


@dataclass(frozen=True)
class SessionPolicy:
    idle_s: float = 15 * 60
    absolute_s: float = 8 * 3600  # one duty shift
    max_failures: int = 5
    window_s: float = 300.0


@dataclass
class Sessions:
    policy: SessionPolicy = field(default_factory=SessionPolicy)
    _by_token: dict[str, Session] = field(default_factory=dict)
    _failures: dict[str, deque[float]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def open(self, user: User) -> Session:
        now = time.monotonic()
        with self._lock:
            self._expire(now)
            own = [s for s in self._by_token.values() if s.user.name == user.name]
            if len(own) >= MAX_SESSIONS_PER_USER:
                del self._by_token[min(own, key=lambda s: s.last_used).token]
            if len(self._by_token) >= MAX_SESSIONS:
                oldest = min(self._by_token.values(), key=lambda s: s.last_used)
                del self._by_token[oldest.token]
            session = Session(secrets.token_urlsafe(32), user, secrets.token_urlsafe(32), now, now)
            self._by_token[session.token] = session
        return session

    def get(self, token: str | None) -> Session | None:
        if not token or len(token) > 128:
            return None
        now = time.monotonic()
        with self._lock:
            session = self._by_token.get(token)
            if session is None:
                return None
            if self._expired(session, now):
                del self._by_token[token]
                return None
            session.last_used = now
            return session

    def close(self, token: str) -> None:
        with self._lock:
            self._by_token.pop(token, None)

    def close_user(self, name: str) -> None:
        """A removed user or changed role: their sessions end at once."""
        with self._lock:
            for token in [t for t, s in self._by_token.items() if s.user.name == name]:
                del self._by_token[token]

    @staticmethod
    def csrf_ok(session: Session, presented: str | None) -> bool:
        return presented is not None and hmac.compare_digest(session.csrf, presented)

    # -- login rate limit ------------------------------------------------------

    def attempt(self, *keys: str) -> float | None:
        """Count a login attempt against every key before its password is checked,
        so parallel attempts cannot all pass a lock that only finished failures
        would set. None: a key is locked. Returns the attempt's stamp for `settle`."""
        now = time.monotonic()
        with self._lock:
            if any(len(self._recent(k, now)) >= self.policy.max_failures for k in keys):
                return None
            if len(self._failures) >= MAX_TRACKED:
                self._failures = {k: v for k, v in self._failures.items() if self._recent(k, now)}
            for key in keys:
                self._failures.setdefault(key, deque(maxlen=self.policy.max_failures)).append(now)
        return now

    def settle(self, stamp: float, address_key: str, user_key: str) -> None:
        """A successful login: the user's count starts afresh, and the address gets
        this attempt back (its earlier failures stay: another account's password
        must not wash out a spray from the same address)."""
        with self._lock:
            self._failures.pop(user_key, None)
            attempts = self._failures.get(address_key)
            if attempts is not None and stamp in attempts:
                attempts.remove(stamp)

    def _recent(self, key: str, now: float) -> list[float]:
        return [t for t in self._failures.get(key, ()) if now - t < self.policy.window_s]

    def _expired(self, session: Session, now: float) -> bool:
        return (
            now - session.last_used > self.policy.idle_s
            or now - session.created > self.policy.absolute_s
        )

    def _expire(self, now: float) -> None:
        for token in [t for t, s in self._by_token.items() if self._expired(s, now)]:
            del self._by_token[token]
