"""One hub's part in the fleet: the lease, the fan-out, and the fleet-wide desired set.

Every hub of an account connects to the broker. One holds the lease (a JetStream key-value
entry created atomically, renewed with a revision check well inside its TTL) and is the only
one with upstream sockets: it publishes what its store merges (quotes, bars, news) as
MessagePack every 20 ms at most, its feed statuses twice a second, keeps the subscription
budget in the broker, answers snapshot requests, and subscribes the union of every hub's
wanted set, fitted to the plan. The others feed their engines from those subjects and serve
their panes as a local hub does.

Fencing: a leader that has not renewed for ``lease - margin`` seconds (counted from when the
last successful renewal was *sent*) closes its upstream with 1000 and becomes a follower, so
its sockets are shut before the lease can expire and another hub dials. A follower dials only
after it created the lease, which it can only do once the old entry expired or was released.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import socket
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import msgspec

from tui.config import HubSettings
from tui.engine.engine import Engine
from tui.engine.remote import RemoteUpstream
from tui.engine.status import FeedState, FeedStatus
from tui.engine.store import MAX_NEWS, StoreTap
from tui.engine.union import union_of
from tui.fleet.broker import connect_options, shown_url
from tui.fleet.wire import (
    BUDGET_KEY,
    LEASE_KEY,
    BudgetWindow,
    Events,
    HubEntry,
    LeaderState,
    LeaseValue,
    Names,
    Row,
    SeriesRows,
    Snapshot,
    SnapshotAsk,
    encode,
)
from tui.protocol.live import SeriesUpdate, Subscription
from tui.secrets import Keys, mask_secrets

if TYPE_CHECKING:
    from nats.aio.client import Client
    from nats.aio.msg import Msg
    from nats.js.client import JetStreamContext
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


@dataclass
class PeerHub:
    """Another hub's wanted set, and when this hub last heard it (monotonic)."""

    entry: HubEntry
    heard: float


class FleetNode:
    """Runs one hub's side of the fleet beside its engine."""

    def __init__(
        self,
        engine: Engine,
        settings: HubSettings,
        keys: Keys,
        account: str,
        *,
        panes: Callable[[], int],
    ) -> None:
        self.engine = engine
        self.settings = settings
        self.keys = keys
        self.names = Names(account)
        self.panes = panes
        self.host = settings.host_name or socket.gethostname()
        self.hub_id = f"{self.host}-{os.getpid()}-{secrets.token_hex(2)}"
        self.lease_seconds = settings.lease_seconds
        self.broker = shown_url(settings.broker or "")
        self.role = "connecting"
        """``connecting`` (no broker yet), ``follower`` or ``leader``."""
        self.problem: str | None = None
        """What is wrong with the broker right now, in words, or None."""
        self.leader: LeaseValue | None = None
        self.leader_state: LeaderState | None = None
        self.state_heard = 0.0
        self.local: list[Subscription] = []
        """The union of this hub's panes' sets (the engine adds its alerts')."""
        self.peers: dict[str, PeerHub] = {}
        self.epoch = 0
        self.seq = 0
        self.lease_rev = 0
        self.renewed_sent = 0.0
        """Boot-clock time the last successful renewal was sent (fencing counts from it)."""
        self._cut_off = False
        """The broker connection is down (the client is reconnecting)."""
        self.renewed_at = 0.0
        self.since = 0.0
        self.events_in = 0
        self.events_out = 0
        self.bytes_out = 0
        self.bytes_in = 0
        self._nc: Client | None = None
        self._lease: KeyValue | None = None
        self._hubs: KeyValue | None = None
        self._state: KeyValue | None = None
        self._role_lock = asyncio.Lock()
        self._leader_tasks: list[asyncio.Task[None]] = []
        self._snapshot_sub: Any = None
        self._resync = True
        self._resync_task: asyncio.Task[None] | None = None
        self._wanted_dirty = asyncio.Event()
        self._budget_dirty = asyncio.Event()
        self._stopping = False
        self._notices_seen: dict[tuple[float, str], None] = {}
        """The leader's notices already shown here (in order, bounded)."""
        self._sent: dict[str, dict[str, Any]] = {}
        """What the leader last published of each row (the next message carries changes)."""
        engine.on_wanted = self._wanted_changed
        self._show_waiting("connecting to the fleet broker")

    # ---- what the hub calls -------------------------------------------------------------------

    def set_local_desired(self, subs: list[Subscription]) -> str | None:
        """This hub's panes' union changed: check it, then subscribe it (leader) or ask the
        leader for it (follower)."""
        self.local = list(subs)
        if self.role == "leader":
            return self._refit()
        return self.engine.set_desired(subs)  # validated and kept as requested; no socket

    def status_lines(self) -> list[str]:
        """What ``marketpane hub status`` says of the fleet."""
        lines = [f"fleet: broker {self.broker}, this hub {self.host} is {self.role}"]
        if self.problem:
            lines.append(f"fleet: {self.problem}")
        state = self.leader_state
        now = time.time()
        if self.role == "leader":
            lines.append(
                f"fleet: leader {self.host} since {_clock(self.since)}, lease renewed "
                f"{boot_clock() - self.renewed_sent:.1f} s ago (TTL {self.lease_seconds:g} s)"
            )
            followers = [p.entry for p in self.peers.values() if p.entry.hub != self.hub_id]
            lines.append(
                "fleet: followers "
                + (", ".join(f"{e.host} ({e.panes} panes)" for e in followers) or "none")
            )
            lines.append(f"fleet: published {self.events_out} messages, {self.bytes_out} bytes")
        elif state is not None:
            lines.append(
                f"fleet: leader {state.host} since {_clock(state.since)}, lease age "
                f"{max(0.0, now - state.renewed_at):.1f} s (TTL {self.lease_seconds:g} s)"
            )
            lines.append("fleet: hubs " + ", ".join(state.hubs))
            lines.append(f"fleet: received {self.events_in} messages, {self.bytes_in} bytes")
        elif self.leader is not None:
            lines.append(f"fleet: leader {self.leader.host} since {_clock(self.leader.since)}")
        return lines

    async def run(self) -> None:
        """Connect (retrying), then keep the lease, the fan-out and the wanted set going."""
        import nats

        name = f"marketpane hub {self.host}"
        while not self._stopping:
            try:
                options = connect_options(self.settings, self.keys, name)
                self._nc = await nats.connect(
                    **options,
                    error_cb=self._on_error,
                    disconnected_cb=self._on_disconnected,
                    reconnected_cb=self._on_reconnected,
                )
                await self._open_buckets()
                break
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self._cut_off = True
                self._set_problem(f"broker unreachable: {self.broker}, retrying ({_why(exc)})")
                if self._nc is not None:
                    with contextlib.suppress(Exception):
                        await self._nc.close()
                    self._nc = None
                await asyncio.sleep(1.0)
        if self._nc is None:
            return
        self.problem = None
        self._cut_off = False
        self.role = "follower"
        self._show_waiting("looking for the fleet leader")
        nc = self._nc
        await nc.subscribe(self.names.events, cb=self._on_events)
        await nc.subscribe(self.names.state, cb=self._on_state)
        await nc.subscribe(self.names.desired, cb=self._on_desired)
        tasks = [
            asyncio.create_task(self._guarded(loop), name=f"fleet{loop.__name__}")
            for loop in (
                self._lease_loop,
                self._fence_watch,
                self._wanted_loop,
                self._follower_watch,
            )
        ]
        try:
            await asyncio.gather(*tasks)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _guarded(self, loop: Callable[[], Awaitable[None]]) -> None:
        """Run one of the fleet's loops for good: a bug in it is logged and the loop started
        again a second later, never left dead while the hub serves on."""
        while not self._stopping:
            try:
                await loop()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("fleet %s failed; restarting it", loop.__name__.strip("_"))
                await asyncio.sleep(1.0)

    async def close(self) -> None:
        """Leave the fleet: a leader closes its upstream with 1000 and releases the lease so
        a follower takes over at once; then the broker connection closes."""
        self._stopping = True
        if self.role == "leader":
            await self._demote("this hub is stopping", release=True)
        if self._nc is not None:
            with contextlib.suppress(Exception):
                if self._hubs is not None:
                    await asyncio.wait_for(self._hubs.delete(self.hub_id), 1.0)
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._nc.close(), 2.0)

    # ---- the broker ---------------------------------------------------------------------------

    async def _open_buckets(self) -> None:
        assert self._nc is not None
        js = self._nc.jetstream(timeout=2.0)
        self._lease = await _bucket(js, self.names.lease_bucket, ttl=self.lease_seconds)
        self._hubs = await _bucket(js, self.names.hubs_bucket, ttl=HUB_TTL_SECONDS)
        self._state = await _bucket(js, self.names.state_bucket, ttl=None)

    async def _on_error(self, exc: Exception) -> None:
        if self.role == "connecting":  # the client retries by itself: say why meanwhile
            self._set_problem(f"broker unreachable: {self.broker}, retrying ({_why(exc)})")
        else:
            log.debug("broker: %s", _why(exc))

    async def _on_disconnected(self) -> None:
        if self._stopping:
            return
        self._cut_off = True
        self._set_problem(f"broker unreachable: {self.broker}, retrying")

    async def _on_reconnected(self) -> None:
        log.info("reconnected to the fleet broker at %s", self.broker)
        self._cut_off = False
        self.problem = None
        self.leader_state = None  # what the leader said before the cut no longer holds
        self._resync = True  # events may have been missed meanwhile
        self._wanted_dirty.set()

    def _set_problem(self, text: str) -> None:
        if text != self.problem:
            log.warning("%s", text)
        self.problem = text
        if self.role != "leader":
            self._show_waiting(text)

    # ---- the lease ----------------------------------------------------------------------------

    def _lease_value(self) -> bytes:
        return encode(LeaseValue(self.hub_id, self.host, os.getpid(), self.since or time.time()))

    async def _lease_loop(self) -> None:
        import nats.js.errors as jserrors

        assert self._lease is not None and self._nc is not None
        lease, nc = self._lease, self._nc
        while not self._stopping:
            if not nc.is_connected:  # never a lease write queued to land after a reconnect
                await asyncio.sleep(0.1)
                continue
            if self.role == "leader":  # (at once when a renewal is due: after a reconnect)
                due = renew_every(self.lease_seconds) - (boot_clock() - self.renewed_sent)
                await asyncio.sleep(max(0.2, due))
                if self.role != "leader" or not nc.is_connected:
                    continue
                try:
                    await self._renew(self.lease_rev)
                except jserrors.KeyWrongLastSequenceError:
                    # A write of ours that timed out may have landed after all (the client
                    # sent it on reconnecting): the lease still names this hub, keep leading.
                    entry = await self._lease_entry()
                    if entry is None or entry[0].hub != self.hub_id:
                        await self._demote("another hub holds the lease")
                        continue
                    with contextlib.suppress(Exception):
                        await self._renew(entry[1])
                except Exception as exc:
                    log.warning("lease renewal failed: %s", _why(exc))
                continue
            sent = boot_clock()
            try:
                revision = await asyncio.wait_for(
                    lease.create(LEASE_KEY, self._lease_value()), REQUEST_SECONDS
                )
            except jserrors.KeyWrongLastSequenceError:
                entry = await self._lease_entry()
                if entry is not None and entry[0].hub == self.hub_id:  # ours, landed late
                    try:
                        sent = boot_clock()
                        revision = await asyncio.wait_for(
                            lease.update(LEASE_KEY, self._lease_value(), last=entry[1]),
                            REQUEST_SECONDS,
                        )
                    except Exception as exc:
                        log.info("lease takeover failed: %s", _why(exc))
                    else:
                        await self._promote(revision, sent)
                        continue
            except Exception as exc:
                if self.problem is None:
                    log.info("lease check failed: %s", _why(exc))
            else:
                await self._promote(revision, sent)
                continue
            await asyncio.sleep(min(1.0, renew_every(self.lease_seconds)))

    async def _renew(self, last: int) -> None:
        """One revision-checked renewal; on success the fence restarts from its send time."""
        assert self._lease is not None
        sent = boot_clock()
        self.lease_rev = await asyncio.wait_for(
            self._lease.update(LEASE_KEY, self._lease_value(), last=last),
            renew_every(self.lease_seconds),
        )
        self.renewed_sent, self.renewed_at = sent, time.time()
        self._dial_if_fresh()

    async def _lease_entry(self) -> tuple[LeaseValue, int] | None:
        """The lease as the broker holds it (the hub it names, its revision), remembered as
        the leader; None if it cannot be read."""
        assert self._lease is not None
        try:
            entry = await asyncio.wait_for(self._lease.get(LEASE_KEY), REQUEST_SECONDS)
        except Exception:
            return None
        if not entry.value or entry.revision is None:
            return None
        try:
            value = msgspec.msgpack.decode(entry.value, type=LeaseValue)
        except msgspec.DecodeError:
            return None
        self.leader = value
        return value, entry.revision

    async def _fence_watch(self) -> None:
        """A leader that cannot renew closes its upstream before the lease can expire."""
        limit = fence_after(self.lease_seconds)
        while not self._stopping:
            await asyncio.sleep(0.1)
            if self.role == "leader" and boot_clock() - self.renewed_sent > limit:
                await self._demote(
                    f"could not renew the fleet lease for {limit:.0f} s: upstream closed so "
                    "that another hub can take over"
                )

    async def _promote(self, revision: int, sent: float) -> None:
        async with self._role_lock:
            if self.role == "leader" or self._stopping:
                return
            self.role = "leader"
            self.lease_rev = self.epoch = revision
            self.renewed_sent, self.renewed_at = sent, time.time()
            self.since = time.time()
            self.seq = 0
            self._sent = {}
            self.leader = LeaseValue(self.hub_id, self.host, os.getpid(), self.since)
            log.info("this hub (%s) leads the fleet (epoch %d)", self.host, revision)
            await self._load_budget()
            engine = self.engine
            engine.store.tap = StoreTap()
            engine.budget.on_record = self._budget_dirty.set
            assert self._nc is not None
            self._snapshot_sub = await self._nc.subscribe(
                self.names.snapshot, cb=self._on_snapshot_request
            )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._load_peers(), REQUEST_SECONDS)
            self._refit()
            engine.remote = None
            self._dial_if_fresh()
            self._leader_tasks = [
                asyncio.create_task(self._publish_loop(), name="fleet-publish"),
                asyncio.create_task(self._state_loop(), name="fleet-state"),
                asyncio.create_task(self._budget_loop(), name="fleet-budget"),
            ]

    def _dial_if_fresh(self) -> None:
        """Open the upstream only while the lease is surely held: a promotion that took long
        (a slow broker) waits for the next renewal rather than dial near the fence."""
        if self.role == "leader" and (
            boot_clock() - self.renewed_sent < fence_after(self.lease_seconds) / 2
        ):
            self.engine.start_upstream()  # (nothing if the sockets are already open)

    async def _demote(self, reason: str, *, release: bool = False) -> None:
        async with self._role_lock:
            if self.role != "leader":
                return
            log.warning("no longer the fleet leader: %s", reason)
            self.role = "follower"
            for task in self._leader_tasks:
                task.cancel()
            await asyncio.gather(*self._leader_tasks, return_exceptions=True)
            self._leader_tasks = []
            engine = self.engine
            await engine.stop_upstream(CLOSE_SECONDS)  # 1000, before anything else
            engine.store.tap = None
            engine.budget.on_record = None
            if self._snapshot_sub is not None:
                with contextlib.suppress(Exception):
                    await self._snapshot_sub.unsubscribe()
                self._snapshot_sub = None
            if release and self._lease is not None:
                with contextlib.suppress(Exception, TimeoutError):
                    await asyncio.wait_for(self._lease.delete(LEASE_KEY, last=self.lease_rev), 1.0)
            self.leader = None
            self.leader_state = None
            self._resync = True
            engine.set_desired(self.local)
            self._show_waiting(reason)
            self._wanted_dirty.set()

    # ---- the budget ---------------------------------------------------------------------------

    async def _load_budget(self) -> None:
        """Start from the window the last leader kept in the broker."""
        if self._state is None:
            return
        try:
            entry = await asyncio.wait_for(self._state.get(BUDGET_KEY), REQUEST_SECONDS)
        except Exception:
            return
        if entry.value:
            try:
                window = msgspec.msgpack.decode(entry.value, type=BudgetWindow)
            except msgspec.DecodeError:
                return
            added = self.engine.budget.adopt(window.stamps)
            log.info("budget: %d messages carried over from the last leader", added)

    async def _budget_loop(self) -> None:
        assert self._state is not None
        self._budget_dirty.set()
        while True:
            await self._budget_dirty.wait()
            self._budget_dirty.clear()
            window = BudgetWindow(self.engine.budget.stamps())
            try:
                await asyncio.wait_for(self._state.put(BUDGET_KEY, encode(window)), 2.0)
            except Exception as exc:
                log.warning("could not save the budget in the broker: %s", _why(exc))
                self._budget_dirty.set()
                await asyncio.sleep(1.0)

    # ---- the wanted sets ----------------------------------------------------------------------

    def _wanted_changed(self) -> None:
        self._wanted_dirty.set()

    def _entry(self) -> HubEntry:
        engine = self.engine
        wanted = (
            [*self.local, *engine.alert_subscriptions()]
            if self.role == "leader"
            else engine.wanted()
        )
        return HubEntry(self.hub_id, self.host, self.panes(), wanted, time.time())

    async def _wanted_loop(self) -> None:
        """Publish this hub's wanted set on change and every few seconds (subject and key)."""
        assert self._nc is not None and self._hubs is not None
        last: list[Subscription] | None = None
        while not self._stopping:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(HUB_REFRESH_SECONDS):
                    await self._wanted_dirty.wait()
            self._wanted_dirty.clear()
            entry = self._entry()
            payload = encode(entry)
            try:
                await self._nc.publish(self.names.desired, payload)
                await asyncio.wait_for(self._hubs.put(self.hub_id, payload), 2.0)
            except Exception as exc:
                log.debug("could not publish the wanted set: %s", _why(exc))
            if self.role == "follower" and entry.desired != last:
                self._ask_snapshot()  # what the leader already has, at once
            last = entry.desired
            await asyncio.sleep(0.05)  # several changes in a burst: one message

    async def _on_desired(self, msg: Msg) -> None:
        try:
            entry = msgspec.msgpack.decode(msg.data, type=HubEntry)
        except msgspec.DecodeError:
            return
        if entry.hub == self.hub_id:
            return
        old = self.peers.get(entry.hub)
        self.peers[entry.hub] = PeerHub(entry, time.monotonic())
        if self.role == "leader" and (old is None or old.entry.desired != entry.desired):
            self._refit()

    async def _load_peers(self) -> None:
        """A new leader reads every hub's entry once (the subject brings the changes)."""
        if self._hubs is None:
            return
        try:
            keys = await asyncio.wait_for(self._hubs.keys(), REQUEST_SECONDS)
        except Exception:
            return
        for key in keys:
            if key == self.hub_id:
                continue
            try:
                entry = await asyncio.wait_for(self._hubs.get(key), REQUEST_SECONDS)
                value = msgspec.msgpack.decode(entry.value or b"", type=HubEntry)
            except Exception:
                continue
            if time.time() - value.at < HUB_TTL_SECONDS:
                self.peers[value.hub] = PeerHub(value, time.monotonic())

    def _prune_peers(self) -> bool:
        now = time.monotonic()
        gone = [hub for hub, peer in self.peers.items() if now - peer.heard > HUB_TTL_SECONDS]
        for hub in gone:
            log.info("hub %s not heard for %.0f s: its symbols are dropped", hub, HUB_TTL_SECONDS)
            del self.peers[hub]
        return bool(gone)

    def _refit(self) -> str | None:
        """The leader subscribes the union: its own panes first, then every other hub's."""
        self._prune_peers()  # a hub not heard from lately wants nothing any more
        sets = [self.local, *(p.entry.desired for p in self.peers.values())]
        return self.engine.set_desired(union_of(sets))

    # ---- the leader's fan-out ------------------------------------------------------------------

    async def _publish_loop(self) -> None:
        assert self._nc is not None
        nc, store = self._nc, self.engine.store
        while True:
            await asyncio.sleep(PUBLISH_SECONDS)
            tap = store.tap
            if tap is None:
                return
            quotes, series, news = tap.take()
            if not (quotes or series or news):
                continue
            if not nc.is_connected:  # nothing queued to arrive late, as old versions, after
                self.seq += 1  # a reconnect: the numbers skip, so followers ask for a snapshot
                continue
            self.seq += 1
            events = Events(
                self.hub_id,
                self.epoch,
                self.seq,
                time.time(),
                rows=[self._changed_row(code) for code in quotes if code in store.quotes],
                series=[
                    rows
                    for code, (reloaded, appended) in series.items()
                    if (rows := _series(store, code, reloaded, appended)) is not None
                ],
                news=news,
            )
            payload = encode(events)
            try:
                await nc.publish(self.names.events, payload)
            except Exception as exc:  # followers see the gap and ask for a snapshot
                log.debug("events not published: %s", _why(exc))
                continue
            self.events_out += 1
            self.bytes_out += len(payload)

    def _changed_row(self, code: str) -> Row:
        """The fields of ``code`` that changed since the last message (a follower that missed
        one sees the gap in ``seq`` and asks for whole rows)."""
        row = self.engine.store.quotes[code]
        sent = self._sent.setdefault(code, {})
        values = row.values
        changed = {k: v for k, v in values.items() if sent.get(k, _MISSING) != v}
        if "last_price" in changed:
            changed.update((k, values[k]) for k in TIED_FIELDS if k in values)
        removed = [k for k in TIED_FIELDS if k in sent and k not in values]  # (only these
        # are ever dropped: MarketStore clears a change it cannot derive for a new price)
        for name in removed:
            del sent[name]
        sent.update(changed)
        return Row(code, changed, row.updated_at, row.server_ms, removed, row.direction)

    async def _state_loop(self) -> None:
        assert self._nc is not None
        while True:
            if self._prune_peers():
                self._refit()  # (a dead hub's symbols leave the union)
            engine = self.engine
            marks, series_marks = engine.marks()
            hubs = [f"{self.host} ({self.panes()} panes, leader)"] + [
                f"{p.entry.host} ({p.entry.panes} panes)" for p in self.peers.values()
            ]
            state = LeaderState(
                leader=self.hub_id,
                host=self.host,
                since=self.since,
                epoch=self.epoch,
                renewed_at=self.renewed_at,
                statuses=[msgspec.structs.replace(s) for s in engine.statuses()],
                plan=engine.plan_use(),
                marks=dict(marks),
                series_marks=dict(series_marks),
                budget=engine.budget_text(),
                pending=engine.pending,
                live=sorted({s.code for s in engine.desired}),
                hubs=hubs,
                sent_at=time.time(),
                notices=[
                    n
                    for n in engine.notice_log
                    if not n.alert and n.at >= time.time() - NOTICE_SECONDS
                ],
            )
            for notice in state.notices:  # (if this hub follows later, not shown again)
                self._notices_seen[(notice.at, notice.text)] = None
            if self._nc.is_connected:  # a state queued while cut off would lie on arrival
                with contextlib.suppress(Exception):
                    await self._nc.publish(self.names.state, encode(state))
            await asyncio.sleep(STATE_SECONDS)

    async def _on_snapshot_request(self, msg: Msg) -> None:
        if self.role != "leader":
            return
        try:
            ask = msgspec.msgpack.decode(msg.data, type=SnapshotAsk)
        except msgspec.DecodeError:
            return
        store = self.engine.store
        wanted = set(ask.series)
        snapshot = Snapshot(
            epoch=self.epoch,
            seq=self.seq,
            rows=[_row(store, code) for code in ask.codes if code in store.quotes],
            series=[
                rows
                for code in store.series
                if code in wanted and (rows := _series(store, code, True, 0)) is not None
            ],
            news=list(store.news)[-SNAPSHOT_NEWS:],
        )
        with contextlib.suppress(Exception):
            await msg.respond(encode(snapshot))

    # ---- the follower's side ------------------------------------------------------------------

    async def _on_events(self, msg: Msg) -> None:
        if self.role == "leader":
            return
        try:
            events = msgspec.msgpack.decode(msg.data, type=Events)
        except msgspec.DecodeError as exc:
            log.warning("an undecodable fleet message was dropped: %s", exc)
            return
        self.events_in += 1
        self.bytes_in += len(msg.data)
        if events.epoch != self.epoch or events.seq != self.seq + 1:
            self._resync = True  # a new leader, or a message missed: fill in from a snapshot
        self.epoch, self.seq = events.epoch, events.seq
        self._apply(events.rows, events.series, events.news)
        if self._resync:
            self._ask_snapshot()

    def _apply(self, rows: list[Row], series: list[SeriesRows], news: list[Any]) -> None:
        store = self.engine.store
        for row in rows:
            store.merge_row(row.code, row.values, row.updated_at, row.server_ms, row.removed)
            if row.direction:
                store.quotes[row.code].direction = row.direction
            if row.trend is not None:
                store.adopt_trend(row.code, row.trend, row.trend_minute)
        now = time.time()
        for part in series:
            update = SeriesUpdate(part.code, part.bar_type, None, None, part.bars)
            store.apply_series(update, first=part.reloaded, now=now, ticks=part.ticks)
        for item in news[-MAX_NEWS:]:
            store.add_news(item)

    async def _on_state(self, msg: Msg) -> None:
        if self.role == "leader":
            return
        try:
            state = msgspec.msgpack.decode(msg.data, type=LeaderState)
        except msgspec.DecodeError:
            return
        if not self._state_is_news(state):
            return
        self.leader_state = state
        self.state_heard = time.monotonic()
        self.problem = None
        for notice in state.notices:  # the upstream's words, once each, on every pane here
            key = (notice.at, notice.text)
            if key not in self._notices_seen:
                self._notices_seen[key] = None
                self.engine.add_notice(notice)
        while len(self._notices_seen) > 500:
            del self._notices_seen[next(iter(self._notices_seen))]
        self._show_state(state)

    def _state_is_news(self, state: LeaderState) -> bool:
        """Whether a leader's state may be shown: never this hub's own (sent while it led,
        arriving late), never older than one already shown (epoch, then the leader's own
        clock), never one its leader sent past its own fence."""
        if state.leader == self.hub_id:
            return False
        last = self.leader_state
        if last is not None and (state.epoch, state.sent_at) < (last.epoch, last.sent_at):
            return False
        if state.sent_at - state.renewed_at > fence_after(self.lease_seconds):
            self._show_waiting(f"the leader on {state.host} lost its lease")
            return False
        return True

    def _show_state(self, state: LeaderState) -> None:
        wanted = {s.code for s in self.engine.wanted()}
        covered = set(state.live) | set(state.marks)
        pending = state.pending
        if pending is None and not wanted <= covered:
            pending = f"waiting for the leader on {state.host} to subscribe"
        self.engine.remote = RemoteUpstream(
            via=f"leader on {state.host}",
            statuses=list(state.statuses),
            plan=state.plan,
            marks=state.marks,
            series_marks=state.series_marks,
            budget=state.budget,
            pending=pending,
        )
        self.engine.status_changed()

    def _show_waiting(self, why: str) -> None:
        """No leader to show: every feed reads as reconnecting, with the reason."""
        old = self.leader_state.statuses if self.leader_state is not None else []
        names = [s.name for s in old] or ["live"]
        statuses = [
            FeedStatus(name, FeedState.RECONNECTING, detail=why, last_error=why) for name in names
        ]
        budget = self.leader_state.budget if self.leader_state is not None else ""
        self.engine.remote = RemoteUpstream(
            via="fleet: broker unreachable" if self._cut_off else "fleet: no leader",
            statuses=statuses,
            pending=None,
            budget=budget or "budget: kept by the fleet's leader",
        )
        self.engine.status_changed()

    async def _follower_watch(self) -> None:
        """Say so when the leader goes quiet (its sockets may be gone with it)."""
        while not self._stopping:
            await asyncio.sleep(1.0)
            if self.role != "follower":
                continue
            state = self.leader_state
            if state is None:
                if self.problem is None:
                    self._show_waiting("waiting for a fleet leader")
                continue
            silent = time.monotonic() - self.state_heard
            if silent > LEADER_SILENT_SECONDS:
                self._show_waiting(
                    f"no word from the leader on {state.host} for {silent:.0f} s"
                    + (f" ({self.problem})" if self.problem else "")
                )
            else:
                self._show_state(state)

    def _ask_snapshot(self) -> None:
        if self._resync_task is not None and not self._resync_task.done():
            return
        self._resync_task = asyncio.get_running_loop().create_task(self._snapshot())

    async def _snapshot(self) -> None:
        if self._nc is None or self.role == "leader":
            return
        wanted = self.engine.wanted()
        ask = SnapshotAsk(
            self.hub_id,
            sorted({s.code for s in wanted if s.is_quote}),
            sorted({s.code for s in wanted if s.type != "quote"}),
        )
        self._resync = False  # a gap from now on asks again
        try:
            reply = await self._nc.request(self.names.snapshot, encode(ask), REQUEST_SECONDS)
            snapshot = msgspec.msgpack.decode(reply.data, type=Snapshot)
        except Exception as exc:
            log.debug("no snapshot yet: %s", _why(exc))
            self._resync = True
            return
        if snapshot.epoch < self.epoch:
            self._resync = True
            return
        if snapshot.epoch != self.epoch:
            self.epoch, self.seq = snapshot.epoch, snapshot.seq
        self._apply(snapshot.rows, snapshot.series, snapshot.news)


TIED_FIELDS = ("change", "change_percent")
"""Sent with every new last price, so a follower never derives them differently."""


def _row(store: Any, code: str) -> Row:
    """A whole row for a snapshot, with its Trend window."""
    row = store.quotes[code]
    points = list(row.spark)
    return Row(
        code,
        dict(row.values),
        row.updated_at,
        row.server_ms,
        [name for name in TIED_FIELDS if name not in row.values],
        row.direction,
        points,
        row.spark_minute,
    )


def _series(store: Any, code: str, reloaded: bool, appended: int) -> SeriesRows | None:
    buffer = store.series.get(code)
    if buffer is None:
        return None
    size = len(buffer.bars)
    count = min(size, FLEET_MAX_BARS) if reloaded else min(size, max(appended, 1))
    return SeriesRows(code, buffer.bar_type, buffer.ticks, reloaded, buffer.bars.tail(count))


async def _bucket(js: JetStreamContext, name: str, *, ttl: float | None) -> KeyValue:
    """The bucket, created if missing (file storage: it outlives a broker restart)."""
    import nats.js.errors as jserrors

    try:
        return await js.key_value(name)
    except jserrors.BucketNotFoundError:
        pass
    try:
        return await js.create_key_value(bucket=name, ttl=ttl, history=1)
    except jserrors.BadRequestError:  # another hub created it meanwhile
        return await js.key_value(name)


def _why(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return mask_secrets(text)


def _clock(epoch: float) -> str:
    return time.strftime("%H:%M:%S", time.localtime(epoch)) if epoch else "?"
