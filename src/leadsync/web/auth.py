"""Who may use the console, and proof that a change request came from one of its pages.

Sign-in takes one secret and finds which credential it is, comparing it in constant time
with every configured one (no early exit): the admin token (``LEADSYNC_ADMIN_TOKEN``, the
admin API's) or the console password (``LEADSYNC_CONSOLE_PASSWORD``) sign in as ``admin``;
the viewer token (``LEADSYNC_VIEWER_TOKEN``) as ``viewer``, who sees every page and changes
nothing.

A session is a cookie signed with the session secret (itsdangerous): a random session id,
which credential signed in, a fingerprint of that credential — so that changing the token
or password ends the sessions it opened — and when it expires (``session_hours`` after
sign-in, by the keys' clock, which the tests set); signing out ends it at once in every
process of the workspace (the ids of ended sessions are kept in the workspace database,
:mod:`leadsync.store.console_state`, until they would have expired anyway). Without
``LEADSYNC_SESSION_SECRET`` the secret is generated per process: sessions then end when the
service restarts, and several ``serve`` processes behind one balancer need the variable set
to the same value.

CSRF: every change request carries a token derived from the session id with the session
secret (an HMAC; nothing to store), in the form field ``csrf_token`` or the header
``X-CSRF-Token``. The sign-in form, which has no session yet, is bound the same way to a
short-lived signed cookie of its own. Nothing here logs or returns a secret.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from math import ceil
from typing import Literal, Protocol

from itsdangerous import BadSignature, URLSafeSerializer

from leadsync.errors import ConfigError
from leadsync.pipeline.intake import database_unavailable

Role = Literal["admin", "viewer"]
#: Which credential opened a session; the role follows from it.
Via = Literal["token", "password", "viewer"]
ROLE_OF: dict[Via, Role] = {"token": "admin", "password": "admin", "viewer": "viewer"}

SESSION_COOKIE = "leadsync_session"
SIGN_IN_COOKIE = "leadsync_sign_in"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
SIGN_IN_FORM_SECONDS = 3600
MIN_SECRET_CHARS = 32
# Failed sign-ins one address may make within the window before it must wait.
MAX_FAILED_SIGN_INS = 10
FAILED_SIGN_IN_WINDOW_S = 600.0


class Shared(Protocol):
    """What every process of the workspace shares (:class:`~leadsync.store.console_state.
    SharedConsole`: the workspace database)."""

    def sign_out(self, sid: str, until: float, now: float) -> None: ...
    def signed_out(self, sid: str, now: float) -> bool: ...
    def failed(self, client: str, at: float, since: float) -> None: ...
    def failures(self, client: str, since: float) -> list[float]: ...


def _bytes(text: str) -> bytes:
    # surrogatepass: a lone surrogate from a form encodes to bytes no real secret has,
    # instead of raising in the middle of a comparison.
    return text.encode("utf-8", "surrogatepass")


@dataclass(frozen=True)
class Credentials:
    """The secrets that sign in; None where not configured (an empty value counts as none)."""

    admin_token: str | None = None
    password: str | None = None
    viewer_token: str | None = None

    def __post_init__(self) -> None:
        for name in ("admin_token", "password", "viewer_token"):
            if getattr(self, name) == "":
                object.__setattr__(self, name, None)

    @property
    def any(self) -> bool:
        return any(self.of(via) for via in ROLE_OF)

    def of(self, via: Via) -> str | None:
        return {"token": self.admin_token, "password": self.password, "viewer": self.viewer_token}[
            via
        ]

    def match(self, given: str) -> Via | None:
        """Which credential ``given`` is. Every configured one is compared, in constant time,
        whatever matched before; admin credentials win over the viewer token if equal."""
        found: Via | None = None
        for via in ("viewer", "password", "token"):
            expected = self.of(via)
            if expected is not None and hmac.compare_digest(_bytes(given), _bytes(expected)):
                found = via
        return found


@dataclass(frozen=True)
class Session:
    """A signed-in browser: its id, how it signed in, and its CSRF token."""

    sid: str
    via: Via
    csrf: str

    @property
    def role(self) -> Role:
        return ROLE_OF[self.via]

    @property
    def can_change(self) -> bool:
        return self.role == "admin"

    @property
    def who(self) -> str:
        """Who a change is recorded as: the console and the credential, never its value."""
        return f"console ({self.via})"


@dataclass
class FailedTries:
    """Failed tries of a secret per client address, the times within the last window: the
    console's sign-in form and the admin API's bearer token count in one (a guesser gains
    nothing by switching). After ``limit`` failures (:data:`MAX_FAILED_SIGN_INS`) in
    :data:`FAILED_SIGN_IN_WINDOW_S` an address waits: guessing a token or password is then a
    few tries per minute per address, not thousands per second. With ``shared`` (the
    service's), the failures are counted in the workspace database, so an address's tries
    add up over every ``serve`` process behind a balancer; while the database does not
    answer, over this process's own. ``limit`` 0: no wait (a proxy in front that limits them
    itself, where every client has its address)."""

    limit: int = MAX_FAILED_SIGN_INS
    shared: Shared | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _failures: dict[str, list[float]] = field(default_factory=dict)

    def _recent(self, client: str, now: float) -> list[float]:
        since = now - FAILED_SIGN_IN_WINDOW_S
        with self._lock:
            recent = [t for t in self._failures.get(client, ()) if t > since]
            if recent:
                self._failures[client] = recent
            else:
                self._failures.pop(client, None)
        if self.shared is not None:
            try:
                return self.shared.failures(client, since)
            except Exception as exc:
                if not database_unavailable(exc):
                    raise
        return recent

    def wait_s(self, client: str, now: float) -> float:
        """Seconds ``client`` must wait before its next try: 0 while it has had fewer than
        ``limit`` failures in the window, else until the oldest of them leaves it."""
        if self.limit <= 0:
            return 0.0
        recent = self._recent(client, now)
        if len(recent) < self.limit:
            return 0.0
        return max(recent[-self.limit] + FAILED_SIGN_IN_WINDOW_S - now, 0.0)

    def refusal(self, client: str, now: float) -> tuple[int, str] | None:
        """None while ``client`` may try; else the whole seconds it must wait (its
        ``Retry-After``) and why, in words, for the console's page and the API's problem."""
        wait_s = self.wait_s(client, now)
        if wait_s <= 0:
            return None
        why = (
            f"this address gave a wrong secret {self.limit} times in "
            f"{FAILED_SIGN_IN_WINDOW_S / 60:g} minutes"
        )
        return ceil(wait_s), why

    def failed(self, client: str, now: float) -> None:
        if self.limit <= 0:
            return
        with self._lock:
            if len(self._failures) >= 10_000:  # bounded memory: forget addresses gone quiet
                since = now - FAILED_SIGN_IN_WINDOW_S
                self._failures = {c: ts for c, ts in self._failures.items() if ts[-1] > since}
            self._failures.setdefault(client, []).append(now)
        if self.shared is not None:
            try:
                self.shared.failed(client, now, now - FAILED_SIGN_IN_WINDOW_S)
            except Exception as exc:
                if not database_unavailable(exc):
                    raise


@dataclass
class SessionKeys:
    """Signs and reads session cookies and CSRF tokens with one secret."""

    credentials: Credentials
    secret: str
    session_hours: float = 12.0
    clock: Callable[[], float] = time.time
    # Where a sign-out is kept for every process (None: this process only).
    shared: Shared | None = None
    _ended: dict[str, float] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    # Failed sign-ins per client address (shared with the admin API's token: FailedTries).
    tries: FailedTries = field(default_factory=FailedTries)

    def __post_init__(self) -> None:
        if len(self.secret) < MIN_SECRET_CHARS:
            raise ConfigError(
                [
                    f"LEADSYNC_SESSION_SECRET has {len(self.secret)} characters; use at least "
                    f"{MIN_SECRET_CHARS} random ones (python -c 'import secrets; "
                    "print(secrets.token_urlsafe(32))'), or unset it for one per process"
                ]
            )
        self._sessions = URLSafeSerializer(self.secret, salt="leadsync.console.session")
        self._sign_in = URLSafeSerializer(self.secret, salt="leadsync.console.sign-in")

    @classmethod
    def generated(
        cls,
        credentials: Credentials,
        session_hours: float = 12.0,
        tries: FailedTries | None = None,
        shared: Shared | None = None,
    ) -> SessionKeys:
        """Keys with a secret made for this process (sessions end at restart)."""
        secret = secrets.token_urlsafe(32)
        return cls(credentials, secret, session_hours, tries=tries or FailedTries(), shared=shared)

    def _load(self, serializer: URLSafeSerializer, cookie: str | None) -> dict[str, object] | None:
        """A signed value this service made and that has not expired, else None."""
        if not cookie:
            return None
        try:
            data = serializer.loads(cookie)
        except BadSignature:
            return None
        if not isinstance(data, dict):
            return None
        expires = data.get("exp")
        if not isinstance(expires, int | float) or expires <= self.clock():
            return None
        return data

    @property
    def max_age_s(self) -> int:
        return int(self.session_hours * 3600)

    def _mac(self, *parts: str) -> str:
        message = "\0".join(parts)
        return hmac.new(_bytes(self.secret), _bytes(message), hashlib.sha256).hexdigest()

    # ----------------------------------------------------------------------- sessions

    def open(self, via: Via) -> tuple[Session, str]:
        """A new session for a credential that matched, and its cookie value."""
        sid = secrets.token_urlsafe(18)
        credential = self.credentials.of(via) or ""
        fingerprint = self._mac("credential", via, credential)[:32]
        expires = self.clock() + self.max_age_s
        cookie = self._sessions.dumps({"sid": sid, "via": via, "fp": fingerprint, "exp": expires})
        return Session(sid, via, self._mac("csrf", sid)), cookie

    def read(self, cookie: str | None) -> Session | None:
        """The session a cookie holds, or None: absent, forged, expired, signed out, or
        opened with a credential that has changed since."""
        data = self._load(self._sessions, cookie)
        if data is None:
            return None
        sid, via, fingerprint = data.get("sid"), data.get("via"), data.get("fp")
        if not isinstance(sid, str) or via not in ROLE_OF or not isinstance(fingerprint, str):
            return None
        credential = self.credentials.of(via)
        if credential is None:
            return None
        if not hmac.compare_digest(fingerprint, self._mac("credential", via, credential)[:32]):
            return None
        with self._lock:
            if sid in self._ended:
                return None
        if self.shared is not None and self.shared.signed_out(sid, self.clock()):
            return None
        return Session(sid, via, self._mac("csrf", sid))

    def ended_via(self, cookie: str | None) -> Via | None:
        """The credential a session cookie this service signed had signed in with, whether
        or not the session is still open (expired, signed out, its credential changed): for
        a form kept through a sign-in (:mod:`.drafts`). None: no cookie, or a forged one."""
        if not cookie:
            return None
        try:
            data = self._sessions.loads(cookie)
        except BadSignature:
            return None
        via = data.get("via") if isinstance(data, dict) else None
        return via if via in ROLE_OF else None

    def end(self, session: Session) -> None:
        """Sign out: the session's cookie is refused from now on, by this process at once
        and, with ``shared``, by every process of the workspace."""
        now = self.clock()
        with self._lock:
            self._ended = {s: t for s, t in self._ended.items() if t > now}
            self._ended[session.sid] = now + self.max_age_s
        if self.shared is not None:
            self.shared.sign_out(session.sid, now + self.max_age_s, now)

    # ------------------------------------------------------------ failed sign-ins

    def sign_in_failed(self, client: str) -> None:
        self.tries.failed(client, self.clock())

    # --------------------------------------------------------------------------- CSRF

    @staticmethod
    def csrf_matches(session: Session, given: str | None) -> bool:
        return given is not None and hmac.compare_digest(_bytes(given), _bytes(session.csrf))

    def sign_in_form(self, cookie: str | None = None) -> tuple[str, str]:
        """A (cookie value, form token) pair that binds sign-in forms to one browser. The
        browser's ``cookie`` is kept while it has half its life left: every sign-in page
        open in the browser (each tab a session ended in) stays good, where a fresh one per
        page left only the newest page able to sign in."""
        data = self._load(self._sign_in, cookie)
        nonce = data.get("nonce") if data is not None else None
        expires = data.get("exp") if data is not None else None
        left = float(expires) - self.clock() if isinstance(expires, int | float) else 0.0
        if cookie is not None and isinstance(nonce, str) and left > SIGN_IN_FORM_SECONDS / 2:
            return cookie, self._mac("sign-in", nonce)
        nonce = secrets.token_urlsafe(18)
        cookie = self._sign_in.dumps({"nonce": nonce, "exp": self.clock() + SIGN_IN_FORM_SECONDS})
        return cookie, self._mac("sign-in", nonce)

    def sign_in_form_matches(self, cookie: str | None, given: str | None) -> bool:
        data = self._load(self._sign_in, cookie)
        nonce = data.get("nonce") if data is not None else None
        return (
            isinstance(nonce, str)
            and given is not None
            and hmac.compare_digest(_bytes(given), _bytes(self._mac("sign-in", nonce)))
        )
