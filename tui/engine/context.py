"""What a feed may use of the engine: a narrow context instead of the whole engine."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from tui.config import Config
    from tui.engine.budget import SubscriptionBudget
    from tui.engine.intent import SubscriptionIntent
    from tui.engine.keys import KeyProvider
    from tui.engine.store import MarketStore


@dataclass
class EngineSettings:
    """Timings of the engine; tests shorten them, users normally never change them."""

    ui_hz: float = 20.0
    quiet_hz: float = 2.0
    """Batch rate when only quotes and bars changed in a quiet market: fewer frames, less
    CPU. (What is never held: see ``Engine._hold_seconds``.)"""
    quiet_below_rate: float = 500.0
    """Below this many messages a second (all feeds), the market is quiet."""
    idle_hz: float = 1.0
    """Batch rate, likewise, in an idle market (the status and ages tick at 1 Hz anyway)."""
    idle_below_rate: float = 100.0
    """Below this many messages a second, the market is idle."""
    debounce: float = 0.4
    watchdog_seconds: float = 30.0
    keepalive_seconds: float = 20.0
    """Protocol-level (RFC 6455) ping interval on the news sockets, whose application-level
    heartbeat replies are not documented."""
    keepalive_timeout: float = 20.0
    """A news socket whose protocol-level pong is this late is taken as dead."""
    ping_seconds: tuple[float, float] = (20.0, 25.0)
    min_ping_gap: float = 15.0
    stocknews_ping_seconds: float = 30.0
    open_timeout: float = 10.0
    close_timeout: float = 2.0
    rest_timeout: float = 10.0
    live: bool = True
    newsfeed: bool = True
    stocknews: bool = True


class FeedContext(Protocol):
    """The engine as its feeds see it."""

    config: Config
    settings: EngineSettings
    store: MarketStore
    keys: KeyProvider
    budget: SubscriptionBudget
    intent: SubscriptionIntent
    frame_observers: list[Callable[[str, str | bytes, float], None]]

    def notice(self, level: str, text: str) -> None:
        """Queue a notice for the user."""

    def status_changed(self) -> None:
        """A feed status changed: the next batch carries it."""

    def reject_subscription(self, code: str | None, *, what: str, series_only: bool) -> None:
        """The server refused ``code``: forget it without a resend, and never send it again."""

    def learn_plan_limit(self, allowed: int) -> bool:
        """The server named the plan's symbol subscription limit; True if it was news."""
