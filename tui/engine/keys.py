"""Which key the sockets use, and RapidAPI WebSocket key rotation.

Direct keys are used as they are. RapidAPI users get WebSocket keys from
``/v2/websocket-key`` (guide sections 7 and 8): at most 10 a day, so rotation is careful:

- One fetch at a time for every feed: ``/live`` and ``/newsfeed`` asking together share it.
- Every attempt is written to the state directory (0600) *before* the request goes out, so
  the 10-a-day cap holds across restarts and crashes; an attempt the server plainly refused
  (an HTTP error status) issued no key and is taken back.
- A failed fetch backs off (honouring ``Retry-After``) and says when it will try again; feeds
  keep waiting slowly instead of stopping on a transient 429 or 5xx.
- A long-lived key is renewed when less than 24 h remain (the guide's example); a key issued
  with a shorter life is used until it truly expires, never re-fetched on every reconnect.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable
from pathlib import Path

from tui.engine.rest import RestClient, RestError
from tui.paths import atomic_write_text
from tui.secrets import Keys, Secret

log = logging.getLogger("marketpane.keys")

REFRESH_MARGIN_SECONDS = 24 * 3600
"""Renew a long-lived key when less than this remains (guide section 7 example: 24 hours)."""
EXPIRY_SAFETY_SECONDS = 60.0
"""A key this close to its expiry is not used for a new connection."""
KEYS_PER_DAY = 10
"""'You can retrieve only up to 10 Websocket API keys per day' (guide section 8)."""
DAY_SECONDS = 86400.0
"""The window of :data:`KEYS_PER_DAY`."""
FETCH_BACKOFF_SECONDS = (5.0, 15.0, 60.0, 300.0)
"""Waits after 1, 2, 3 and more failed fetches in a row (a ``Retry-After`` wins if longer)."""


class KeyUnavailable(Exception):
    """No usable key: the message says what the user can do.

    ``retry_in`` is None when only the user can fix it (a rejected RapidAPI key, no key at
    all), else the seconds after which trying again may succeed.
    """

    def __init__(self, message: str, *, retry_in: float | None = None) -> None:
        super().__init__(message)
        self.retry_in = retry_in


class KeyProvider:
    """Hands the live and news sockets their key."""

    def __init__(
        self,
        keys: Keys,
        rest: RestClient,
        state_dir: Path | None,
        clock: Callable[[], float] = time.time,
        on_problem: Callable[[str], None] | None = None,
    ) -> None:
        self.keys, self.rest, self.clock = keys, rest, clock
        self.path = state_dir / "websocket-key.json" if state_dir else None
        self.on_problem = on_problem
        self.rotated: Secret | None = None
        self.expiry: float | None = None
        self.issued_at: float | None = None
        self.fetched: list[float] = []
        """When each fetch attempt that may have issued a key went out (the last day's)."""
        self.failures = 0
        self.backoff_steps: tuple[float, ...] = FETCH_BACKOFF_SECONDS
        self.not_before = 0.0
        """No fetch before this time (backoff after a failure, or the daily cap)."""
        self.last_failure: str | None = None
        self.load_error: str | None = None
        self.save_error: str | None = None
        self._lock = asyncio.Lock()
        self._load()

    @property
    def rotates(self) -> bool:
        """True when keys come from ``/v2/websocket-key`` (RapidAPI, no direct key)."""
        return (
            self.keys.insightsentry_api_key is None
            and self.keys.insightsentry_rapidapi_key is not None
        )

    # ---- persistence ------------------------------------------------------------------------

    def _load(self) -> None:
        if self.path is None or not self.path.exists():
            return
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            self.fetched = [float(t) for t in data.get("fetched", [])]
            self.not_before = float(data.get("not_before", 0.0))
            if data.get("api_key"):
                self.rotated = Secret(str(data["api_key"]))
                self.expiry = float(data["expiration"])
                issued = data.get("issued_at")
                self.issued_at = float(issued) if issued is not None else None
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            self.load_error = (
                f"{self.path}: unreadable stored key ({type(exc).__name__}); "
                "a new one will be fetched"
            )
            self.rotated, self.expiry, self.issued_at = None, None, None

    def _save(self) -> None:
        """Write the key, its expiry and the fetch log; a failure is told once, not raised."""
        if self.path is None:
            return
        payload = {
            "api_key": self.rotated.reveal() if self.rotated is not None else None,
            "expiration": self.expiry,
            "issued_at": self.issued_at,
            "fetched": self.fetched,
            "not_before": self.not_before,
        }
        try:
            atomic_write_text(self.path, json.dumps(payload), mode=0o600)
        except OSError as exc:
            if self.save_error is None:
                self.save_error = (
                    f"cannot save the WebSocket key state in {self.path.parent} "
                    f"({exc.strerror or type(exc).__name__}): the 10-keys-a-day count will "
                    "not survive a restart, and a restart fetches a new key"
                )
                log.warning("%s", self.save_error)
                if self.on_problem is not None:
                    self.on_problem(self.save_error)

    # ---- policy -----------------------------------------------------------------------------

    def _usable(self, now: float) -> bool:
        """Whether the stored key may open a new connection now."""
        return (
            self.rotated is not None
            and self.expiry is not None
            and self.expiry - now > EXPIRY_SAFETY_SECONDS
        )

    def _due(self, now: float) -> bool:
        """Whether to fetch before the next connect: no usable key, or a long-lived key inside
        the renewal margin (a key issued with less than twice the margin is used until it
        expires)."""
        if not self._usable(now):
            return True
        assert self.expiry is not None
        issued = self.issued_at if self.issued_at is not None else self.expiry - 7 * DAY_SECONDS
        long_lived = self.expiry - issued > 2 * REFRESH_MARGIN_SECONDS
        return long_lived and self.expiry - now < REFRESH_MARGIN_SECONDS

    def _attempts_today(self, now: float) -> int:
        self.fetched = [t for t in self.fetched if now - t < DAY_SECONDS]
        return len(self.fetched)

    # ---- what the feeds call ----------------------------------------------------------------

    async def live_key(self) -> Secret:
        """The key for the next connect; fetches one (once for every feed) when due."""
        direct = self.keys.insightsentry_api_key
        if direct is not None:
            return direct
        if not self.rotates:
            raise KeyUnavailable(
                "no InsightSentry key: set INSIGHTSENTRY_API_KEY or run with --demo"
            )
        async with self._lock:
            now = self.clock()
            if not self._due(now):
                assert self.rotated is not None
                return self.rotated
            try:
                return await self._fetch(now)
            except KeyUnavailable:
                if self._usable(self.clock()):
                    assert self.rotated is not None
                    return self.rotated  # renewal failed; the current key still works
                raise

    async def refresh(self, rejected: Secret | None = None) -> Secret:
        """A new key after the server rejected ``rejected`` (at most one fetch for every feed
        that saw the same rejection)."""
        if not self.rotates:
            raise KeyUnavailable("this key cannot be refreshed; check INSIGHTSENTRY_API_KEY")
        async with self._lock:
            replaced = rejected is not None and self.rotated not in (None, rejected)
            if replaced and self._usable(self.clock()):
                assert self.rotated is not None
                return self.rotated  # another feed already replaced it
            return await self._fetch(self.clock())

    async def _fetch(self, now: float) -> Secret:
        """One ``/v2/websocket-key`` request within the cap and the backoff (lock held)."""
        if now < self.not_before:
            wait = self.not_before - now
            raise KeyUnavailable(
                f"waiting {_span(wait)} before asking for a WebSocket key again"
                + (f" ({self.last_failure})" if self.last_failure else ""),
                retry_in=wait,
            )
        if self._attempts_today(now) >= KEYS_PER_DAY:
            wait = self.fetched[0] + DAY_SECONDS - now
            self.not_before = now + wait
            self.last_failure = f"{KEYS_PER_DAY} WebSocket keys fetched in the last 24 h"
            self._save()
            raise KeyUnavailable(
                f"daily limit of {KEYS_PER_DAY} WebSocket keys reached; next in {_span(wait)}",
                retry_in=wait,
            )
        self.fetched.append(now)
        self._save()  # counted before it goes out: a crash mid-request still counts
        try:
            response = await self.rest.fetch_websocket_key()
        except RestError as exc:
            if exc.status is not None:  # the server answered: no key was issued
                self.fetched.remove(now)
            if exc.final:
                self._save()
                raise KeyUnavailable(
                    f"RapidAPI key rejected: {exc}; check INSIGHTSENTRY_RAPIDAPI_KEY"
                ) from None
            self.failures += 1
            steps = self.backoff_steps
            step = steps[min(self.failures, len(steps)) - 1]
            wait = max(step, exc.retry_after or 0.0)
            self.not_before = self.clock() + wait
            self.last_failure = str(exc)
            self._save()
            raise KeyUnavailable(
                f"could not get a WebSocket key ({exc}); trying again in {_span(wait)}",
                retry_in=wait,
            ) from None
        self.failures, self.not_before, self.last_failure = 0, 0.0, None
        self.rotated = Secret(response.api_key)
        self.expiry = response.expires_at
        self.issued_at = now
        self._save()  # written before it is used
        return self.rotated


def _span(seconds: float) -> str:
    """``45 s``, ``12 min``, ``3.5 h``."""
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"
