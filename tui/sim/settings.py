"""Simulator settings: plans, demo keys, timings and fault switches.

Every number here can be changed per simulator instance (tests shorten timeouts); none of it
is known to the client, which reads its plan limits from its own config.
"""

from __future__ import annotations

import typing
from dataclasses import dataclass, field
from typing import Literal

DEMO_KEY = "demo-mega-key"
"""Built-in key on the largest plan; the dashboard's demo mode uses it."""
DEMO_SMALL_KEY = "demo-pro-key"
"""Built-in key on a small plan (2 subscriptions, 1,000 data points, 1 connection)."""
BENCH_KEY = "demo-bench-key"
"""Built-in key on an unlimited plan, for the benchmark's large scenarios."""
DEMO_RAPIDAPI_KEY = "demo-rapidapi-key"
"""Built-in RapidAPI key: trade it for WebSocket keys at ``/v2/websocket-key``."""
DEMO_STOCKNEWS_TOKEN = "demo-stocknews-token"
"""Built-in StockNews token with an active subscription."""
EXPIRED_STOCKNEWS_TOKEN = "expired-stocknews-token"
"""Built-in StockNews token whose subscription has expired (closes with 1008)."""


@dataclass(frozen=True)
class PlanSpec:
    """What a key may do: the ``max_dp`` cap, symbol subscriptions, concurrent connections."""

    name: str
    units: int
    max_dp: int
    connections: int


PLANS = {
    "pro": PlanSpec("pro", units=2, max_dp=1000, connections=1),
    "ultra": PlanSpec("ultra", units=5, max_dp=1000, connections=1),
    "mega": PlanSpec("mega", units=12, max_dp=30_000, connections=3),
    "bench": PlanSpec("bench", units=10_000, max_dp=30_000, connections=10),
}
"""Plans after protocol-notes (Pro 2, Ultra 5, Mega 12 subscriptions)."""


@dataclass
class Faults:
    """Fault switches; change them at any time from Python, or with ``--faults`` on the CLI.

    Connection-level switches apply to connections opened after the change.
    """

    drop_after_seconds: float | None = None
    drop_after_messages: int | None = None
    mute_heartbeats: bool = False
    ignore_pings: bool = False
    malformed_every: int | None = None
    binary_every: int | None = None
    fragmented_every: int | None = None
    """Send every Nth message as one message in three frames (RFC 6455, 5.4)."""
    bad_utf8_every: int | None = None
    """Send every Nth message as a text frame whose bytes are not UTF-8."""
    oversized_frame: bool = False
    history_bars: int | None = None
    duplicate_bars: bool = False
    out_of_order_bars: bool = False
    error_then_close: Literal["server_busy", "internal_server_error"] | None = None
    error_delay_seconds: float | None = None
    close_code: int | None = None
    close_after_seconds: float = 0.5
    refuse_handshake: int | None = None
    retry_after_header: int | None = None
    accept_then_close: bool = False
    inject_error: str | None = None
    """Send this typed error after each subscription, closing as the guide's table says."""
    throttle_errors: bool = False
    """Answer throttling with the official client's error frames (``processing_throttled``,
    ``reconnect_throttled`` with ``action: "wait_and_retry"`` and a delay) instead of the
    guide's silent progressive delay."""
    rest_status: int | None = None
    rest_delay_seconds: float = 0.0
    silent: bool = False

    def set_from_text(self, text: str) -> None:
        """Apply ``name=value,name=value`` (booleans: ``name`` alone means true)."""
        for part in filter(None, (p.strip() for p in text.split(","))):
            name, _, raw = part.partition("=")
            name = name.strip().replace("-", "_")
            if name not in self.__dataclass_fields__:
                known = ", ".join(sorted(self.__dataclass_fields__))
                raise ValueError(f"unknown fault {name!r}; known: {known}")
            value = _fault_value(name, raw, typing.get_type_hints(Faults)[name])
            setattr(self, name, value)


def _fault_value(name: str, raw: str, hint: object) -> object:
    """``raw`` as the type the fault switch ``name`` holds; a bad value names its choices."""
    kinds = [k for k in typing.get_args(hint) if k is not type(None)] or [hint]
    kind = kinds[0]
    if typing.get_origin(kind) is typing.Literal:
        choices = typing.get_args(kind)
        if raw not in choices:
            raise ValueError(f"fault {name}: {raw!r} is not one of {', '.join(choices)}")
        return raw
    if kind is bool:
        return not raw or raw.lower() in ("1", "true", "yes", "on")
    if not raw:
        raise ValueError(f"fault {name} needs a value ({name}=...)")
    if kind in (int, float, str):
        try:
            return kind(raw)
        except ValueError:
            raise ValueError(f"fault {name}: {raw!r} is not a {kind.__name__}") from None
    return raw


@dataclass
class SimSettings:
    """Timings, limits and market options of one simulator instance."""

    seed: int = 7
    speed: float = 1.0
    host: str = "127.0.0.1"
    port: int = 0
    step_seconds: float = 0.25
    heartbeat_seconds: float = 10.0
    auth_timeout_seconds: float = 300.0
    news_interval_seconds: float = 6.0
    sessions: Literal["real", "always_open"] = "real"
    messages_per_window: int = 120
    delay_scale: float = 1.0
    """Delayed instruments (``delay_seconds: 900``) reach clients ``delay_seconds x this``
    seconds late in real time (tests shorten it; the data keeps its true timestamps)."""
    ping_min_gap_seconds: float = 15.0
    """Pings closer than this are rate limited (guide section 5; tests scale it down)."""
    connects_per_window: int = 120
    """New connections per account in the window before reconnections are throttled."""
    window_seconds: float = 3 * 3600
    throttle_step_seconds: float = 0.05
    throttle_max_seconds: float = 5.0
    send_queue_limit: int = 20_000
    firehose_rate: float = 0.0
    market_paused: bool = False
    """No natural trading (the firehose still runs): the benchmark's idle market."""
    synthetic_symbols: int = 0
    ws_keys_per_day: int = 10
    ws_key_lifetime_seconds: float = 7 * 86400
    """How long an issued WebSocket key lasts (the guide says a week; tests shorten it)."""
    plans: dict[str, PlanSpec] = field(default_factory=lambda: dict(PLANS))
    """Plans by name (the demo adds one with the limits of the user's configured plan)."""
    key_plans: dict[str, str] = field(
        default_factory=lambda: {DEMO_KEY: "mega", DEMO_SMALL_KEY: "pro", BENCH_KEY: "bench"}
    )
    rapidapi_keys: dict[str, str] = field(default_factory=lambda: {DEMO_RAPIDAPI_KEY: "mega"})
    stocknews_tokens: dict[str, float] = field(
        default_factory=lambda: {DEMO_STOCKNEWS_TOKEN: 30 * 86400, EXPIRED_STOCKNEWS_TOKEN: -86400}
    )
    """Token to expiry offset in seconds from start (negative: already expired)."""
