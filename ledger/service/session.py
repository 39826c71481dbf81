"""The sign-in session: a short-lived cookie naming the signed-in account, authenticated with an HMAC
under a secret that lives only in this process (a restart signs everyone out).

The cookie holds the account and the expiry, never the tier: the tier is read from the registry on every
request, so a suspension or a change of roles takes effect at once and no cookie edit can raise it. Signing
out revokes the cookie here too, so a copy taken before does not outlive the sign-out.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import time

COOKIE = "rinne_session"
#: A cookie longer than this is not ours and is not even parsed.
MAX_COOKIE = 512
#: Revoked sessions are pruned of expired ones once this many are remembered (each is kept only until it
#: would have expired anyway, so the live ones are at most the sessions issued in one session's lifetime).
PRUNE_AT = 10_000


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class SessionSigner:
    """Issue and read session cookies under a per-process secret."""

    def __init__(self, seconds: int = 900, secret: bytes | None = None) -> None:
        if secret is not None and len(secret) < 32:
            raise ValueError("a session secret is at least 32 bytes")
        self.seconds = seconds
        # A fresh key per process unless one is configured (several workers behind one name share it).
        self._secret = secret or os.urandom(32)
        self._revoked: dict[str, int] = {}

    def _mac(self, payload: str) -> str:
        return hmac.new(self._secret, payload.encode(), hashlib.sha256).hexdigest()

    def issue(self, address: str, *, not_after: float | None = None, now: float | None = None) -> tuple[str, int]:
        """Return a cookie value for `address` and its lifetime in seconds (at most `seconds`, and not past `not_after`)."""
        t = time.time() if now is None else now
        end = t + self.seconds if not_after is None else min(t + self.seconds, not_after)
        exp = int(end)
        payload = _b64(json.dumps({"a": address, "e": exp, "n": secrets.token_hex(8)}, separators=(",", ":")).encode())
        return f"{payload}.{self._mac(payload)}", max(0, exp - int(t))

    def _open(self, value: str | None, now: float | None) -> tuple[str, int, str] | None:
        if not value or len(value) > MAX_COOKIE or value.count(".") != 1:
            return None
        payload, mac = value.split(".")
        if not hmac.compare_digest(mac, self._mac(payload)):
            return None
        try:
            data = json.loads(_unb64(payload))
            address, exp, token = str(data["a"]), int(data["e"]), str(data["n"])
        except (ValueError, KeyError, TypeError):
            return None
        if exp <= (time.time() if now is None else now) or token in self._revoked:
            return None
        return address, exp, token

    def read(self, value: str | None, *, now: float | None = None) -> str | None:
        """Return the account a cookie names, or None when it is absent, altered, forged, expired or revoked."""
        opened = self._open(value, now)
        return opened[0] if opened else None

    def revoke(self, value: str | None, *, now: float | None = None) -> None:
        """End the session a cookie names (a no-op for one that is not a live session of ours)."""
        t = time.time() if now is None else now
        opened = self._open(value, t)
        if opened is None:
            return
        if len(self._revoked) >= PRUNE_AT:
            self._revoked = {n: e for n, e in self._revoked.items() if e > t}
        self._revoked[opened[2]] = opened[1]
