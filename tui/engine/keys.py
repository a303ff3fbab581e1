"""Which key the sockets use, and RapidAPI WebSocket key rotation.

Direct keys are used as they are. RapidAPI users get WebSocket keys from
``/v2/websocket-key`` (guide section 7): stored with their expiry in the state directory
(0600), refreshed when less than 24 h remain, at most 10 a day. A new key is written before it
is used, and used on the next connect.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

from tui.atomic import atomic_write_text
from tui.engine.rest import RestClient, RestError
from tui.secrets import Keys, Secret

REFRESH_MARGIN_SECONDS = 24 * 3600
"""Refresh when less than this remains (guide section 7 example: 24 hours)."""
KEYS_PER_DAY = 10
"""'You can retrieve only up to 10 Websocket API keys per day' (guide section 8)."""


class KeyUnavailable(Exception):
    """No usable key: the message says what the user can do."""


class KeyProvider:
    """Hands the live and news sockets their key."""

    def __init__(
        self,
        keys: Keys,
        rest: RestClient,
        state_dir: Path | None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.keys, self.rest, self.clock = keys, rest, clock
        self.path = state_dir / "websocket-key.json" if state_dir else None
        self.rotated: Secret | None = None
        self.expiry: float | None = None
        self.fetched: list[float] = []
        self.load_error: str | None = None
        self._load()

    @property
    def rotates(self) -> bool:
        """True when keys come from ``/v2/websocket-key`` (RapidAPI, no direct key)."""
        return (
            self.keys.insightsentry_api_key is None
            and self.keys.insightsentry_rapidapi_key is not None
        )

    def _load(self) -> None:
        if self.path is None or not self.path.exists():
            return
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            self.rotated = Secret(str(data["api_key"]))
            self.expiry = float(data["expiration"])
            self.fetched = [float(t) for t in data.get("fetched", [])]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            self.load_error = (
                f"{self.path}: unreadable stored key ({type(exc).__name__}); "
                "a new one will be fetched"
            )
            self.rotated, self.expiry = None, None

    def _save(self) -> None:
        if self.path is None or self.rotated is None:
            return
        payload = {
            "api_key": self.rotated.reveal(),
            "expiration": self.expiry,
            "fetched": self.fetched,
        }
        atomic_write_text(self.path, json.dumps(payload), mode=0o600)

    async def live_key(self) -> Secret:
        """The key for the next connect; rotates when needed."""
        direct = self.keys.insightsentry_api_key
        if direct is not None:
            return direct
        if not self.rotates:
            raise KeyUnavailable(
                "no InsightSentry key: set INSIGHTSENTRY_API_KEY or run with --demo"
            )
        now = self.clock()
        if self.rotated is not None and self.expiry and self.expiry - now > REFRESH_MARGIN_SECONDS:
            return self.rotated
        try:
            return await self.refresh()
        except KeyUnavailable:
            if self.rotated is not None and self.expiry and self.expiry > now:
                return self.rotated  # still valid, refresh later
            raise

    async def refresh(self) -> Secret:
        """Fetch a new WebSocket key (at most 10 a day), store it, then return it."""
        if not self.rotates:
            raise KeyUnavailable("this key cannot be refreshed; check INSIGHTSENTRY_API_KEY")
        now = self.clock()
        self.fetched = [t for t in self.fetched if now - t < 86400]
        if len(self.fetched) >= KEYS_PER_DAY:
            raise KeyUnavailable("daily limit of 10 WebSocket keys reached; try again tomorrow")
        try:
            response = await self.rest.fetch_websocket_key()
        except RestError as exc:
            if exc.final:
                raise KeyUnavailable(
                    f"RapidAPI key rejected: {exc}; check INSIGHTSENTRY_RAPIDAPI_KEY"
                ) from None
            raise KeyUnavailable(f"could not get a WebSocket key: {exc}") from None
        self.fetched.append(now)
        self.rotated = Secret(response.api_key)
        self.expiry = response.expires_at
        self._save()  # written before it is used
        return self.rotated
