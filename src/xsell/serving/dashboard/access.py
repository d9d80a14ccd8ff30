"""Dashboard sign-in: a signed session cookie and CSRF tokens on every form.

With keys configured, the dashboard asks for one (an API key or an admin key) on
a login form. The cookie holds the role and an expiry, signed with HMAC-SHA256
under a secret derived from the configured keys, so every worker accepts it and
changing the keys signs everyone out. Forms carry a CSRF token: on the login
form a double-submit token (a random cookie repeated in the form); after sign-in
an HMAC of the session cookie.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time

COOKIE = "xsell_dashboard"
CSRF_COOKIE = "xsell_csrf"
#: How long a sign-in lasts.
SESSION_S = 8 * 3600


class DashboardAccess:
    """Signs and checks dashboard sessions for the configured keys."""

    def __init__(self, api_keys: tuple[str, ...], admin_keys: tuple[str, ...]) -> None:
        self.api_keys = api_keys
        self.admin_keys = admin_keys
        material = "\x00".join(sorted(api_keys)) + "\x01" + "\x00".join(sorted(admin_keys))
        self._secret = hashlib.sha256(b"xsell-dashboard\x00" + material.encode()).digest()

    @property
    def required(self) -> bool:
        """Whether the dashboard needs a sign-in (keys are configured)."""
        return bool(self.api_keys or self.admin_keys)

    def _sign(self, text: str) -> str:
        return hmac.new(self._secret, text.encode(), hashlib.sha256).hexdigest()

    def role_of_key(self, key: str) -> str | None:
        """``admin`` or ``write`` for a configured key, else ``None``."""
        if any(hmac.compare_digest(key.encode(), k.encode()) for k in self.admin_keys):
            return "admin"
        if any(hmac.compare_digest(key.encode(), k.encode()) for k in self.api_keys):
            return "write"
        return None

    def session_cookie(self, role: str, now: float | None = None) -> str:
        expires = int((time.time() if now is None else now) + SESSION_S)
        body = f"{role}.{expires}"
        return f"{body}.{self._sign(body)}"

    def session_role(self, cookie: str | None, now: float | None = None) -> str | None:
        """The role of a valid, unexpired session cookie, else ``None``."""
        if not cookie:
            return None
        body, _, signature = cookie.rpartition(".")
        role, _, expires = body.partition(".")
        if not hmac.compare_digest(signature, self._sign(body)) or not expires.isdigit():
            return None
        if int(expires) < (time.time() if now is None else now):
            return None
        return role if role in ("write", "admin") else None

    def csrf_for(self, cookie: str) -> str:
        """The CSRF token of the forms of a signed-in session."""
        return self._sign("csrf:" + cookie)

    @staticmethod
    def new_token() -> str:
        return secrets.token_urlsafe(24)
