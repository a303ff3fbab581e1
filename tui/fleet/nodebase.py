"""What every side of a fleet node shares: the timings, the clock fencing counts on, and the
node's state (declared here, set by :class:`~tui.fleet.node.FleetNode`)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from tui.config import HubSettings
from tui.engine.engine import Engine
from tui.fleet.wire import (
    HubEntry,
    LeaderState,
    LeaseValue,
    Names,
)
from tui.protocol.live import Subscription
from tui.secrets import Keys, mask_secrets

if TYPE_CHECKING:
    from nats.aio.client import Client
    from nats.js.kv import KeyValue

log = logging.getLogger("marketpane.fleet")
_MISSING = object()

PUBLISH_SECONDS = 0.02
"""The leader publishes what changed at most this often (coalesced, like a pane's batches)."""
STATE_SECONDS = 0.5
"""The leader's statuses go out this often."""
LEADER_SILENT_SECONDS = 3.0
"""A follower that has heard nothing from the leader for this long says so on every pane."""
HUB_REFRESH_SECONDS = 2.0
"""Each hub republishes its wanted set this often (and at once when it changes)."""
HUB_TTL_SECONDS = 10.0
"""A hub not heard from for this long is dropped from the union (its key expires too)."""
FLEET_MAX_BARS = 5_000
"""Bars of one series a message carries (a history past it is cut to its newest bars): NATS
messages are limited to 1 MB by default."""
SNAPSHOT_NEWS = 200
"""Stories a snapshot carries."""
CLOSE_SECONDS = 1.0
"""How long a fenced leader waits for the closing handshakes before aborting."""
NOTICE_SECONDS = 60.0
"""How long the leader keeps repeating an upstream notice in its state (a follower that joins
or was cut off meanwhile still shows it once)."""
REQUEST_SECONDS = 2.0
"""How long a follower waits for a snapshot."""


_BOOT_CLOCK = getattr(time, "CLOCK_BOOTTIME", time.CLOCK_MONOTONIC)


def boot_clock() -> float:
    """Seconds on a clock that keeps counting through a system suspend (``CLOCK_BOOTTIME`` on
    Linux; elsewhere the monotonic clock): a leader suspended past its fence fences by the
    clock the moment it resumes, before anything else it does."""
    return time.clock_gettime(_BOOT_CLOCK)


def fence_after(lease_seconds: float) -> float:
    """Seconds without a successful renewal after which a leader closes its upstream: the
    margin (at least 2 s, 30 % of the lease) covers the close timeout and the checks' slack."""
    return lease_seconds - max(2.0, 0.3 * lease_seconds)


def renew_every(lease_seconds: float) -> float:
    """How often the leader renews (four tries before it would fence)."""
    return fence_after(lease_seconds) / 4


def _why(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return mask_secrets(text)


def _clock(epoch: float) -> str:
    return time.strftime("%H:%M:%S", time.localtime(epoch)) if epoch else "?"


class Role(StrEnum):
    """What a hub is in the fleet."""

    CONNECTING = "connecting"
    """No broker yet."""
    FOLLOWER = "follower"
    """Another hub holds the lease; this one shows its data."""
    LEADER = "leader"
    """This hub holds the lease and the upstream sockets."""


@dataclass
class PeerHub:
    """Another hub's wanted set, and when this hub last heard it (monotonic)."""

    entry: HubEntry
    heard: float


class NodeBase:
    """The state a fleet node's sides share (see :class:`~tui.fleet.node.FleetNode`)."""

    engine: Engine
    settings: HubSettings
    keys: Keys
    names: Names
    panes: Callable[[], int]
    host: str
    hub_id: str
    lease_seconds: float
    broker: str
    role: Role
    problem: str | None
    leader: LeaseValue | None
    leader_state: LeaderState | None
    state_heard: float
    local: list[Subscription]
    peers: dict[str, PeerHub]
    epoch: int
    seq: int
    lease_rev: int
    renewed_sent: float
    renewed_at: float
    since: float
    events_in: int
    events_out: int
    bytes_out: int
    bytes_in: int
    _cut_off: bool
    _nc: Client | None
    _lease: KeyValue | None
    _hubs: KeyValue | None
    _state: KeyValue | None
    _role_lock: asyncio.Lock
    _leader_tasks: list[asyncio.Task[None]]
    _snapshot_sub: Any
    _resync: bool
    _resync_task: asyncio.Task[None] | None
    _wanted_dirty: asyncio.Event
    _budget_dirty: asyncio.Event
    _stopping: bool
    _notices_seen: dict[tuple[float, str], None]
    _sent: dict[str, dict[str, Any]]
