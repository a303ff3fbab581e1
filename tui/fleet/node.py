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
import os
import secrets
import socket
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

import msgspec

from tui.config import HubSettings
from tui.engine.engine import Engine
from tui.engine.store import StoreTap
from tui.fleet.broker import connect_options, shown_url
from tui.fleet.leader import LeaderSide
from tui.fleet.nodebase import (
    CLOSE_SECONDS,
    HUB_TTL_SECONDS,
    REQUEST_SECONDS,
    Role,
    _clock,
    _why,
    boot_clock,
    fence_after,
    log,
    renew_every,
)
from tui.fleet.wire import (
    BUDGET_KEY,
    LEASE_KEY,
    BudgetWindow,
    LeaseValue,
    Names,
    encode,
)
from tui.protocol.live import Subscription
from tui.secrets import Keys

if TYPE_CHECKING:
    from nats.js.client import JetStreamContext
    from nats.js.kv import KeyValue


class FleetNode(LeaderSide):
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
        self.role = Role.CONNECTING
        """``connecting`` (no broker yet), ``follower`` or ``leader``."""
        self.problem = None
        """What is wrong with the broker right now, in words, or None."""
        self.leader = None
        self.leader_state = None
        self.state_heard = 0.0
        self.local = []
        """The union of this hub's panes' sets (the engine adds its alerts')."""
        self.peers = {}
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
        self._nc = None
        self._lease = None
        self._hubs = None
        self._state = None
        self._role_lock = asyncio.Lock()
        self._leader_tasks = []
        self._snapshot_sub = None
        self._resync = True
        self._resync_task = None
        self._wanted_dirty = asyncio.Event()
        self._budget_dirty = asyncio.Event()
        self._stopping = False
        self._notices_seen = {}
        """The leader's notices already shown here (in order, bounded)."""
        self._sent = {}
        """What the leader last published of each row (the next message carries changes)."""
        self._show_waiting("connecting to the fleet broker")

    # ---- what the hub calls -------------------------------------------------------------------

    def set_local_desired(self, subs: list[Subscription]) -> str | None:
        """This hub's panes' union changed: check it, then subscribe it (leader) or ask the
        leader for it (follower)."""
        self.local = list(subs)
        if self.role == Role.LEADER:
            return self._refit()
        return self.engine.set_desired(subs)  # validated and kept as requested; no socket

    def status_lines(self) -> list[str]:
        """What ``marketpane hub status`` says of the fleet."""
        lines = [f"fleet: broker {self.broker}, this hub {self.host} is {self.role}"]
        if self.problem:
            lines.append(f"fleet: {self.problem}")
        state = self.leader_state
        now = time.time()
        if self.role == Role.LEADER:
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
        self.role = Role.FOLLOWER
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
        if self.role == Role.LEADER:
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
        if self.role == Role.CONNECTING:  # the client retries by itself: say why meanwhile
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
        if self.role != Role.LEADER:
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
            if self.role == Role.LEADER:  # (at once when a renewal is due: after a reconnect)
                due = renew_every(self.lease_seconds) - (boot_clock() - self.renewed_sent)
                await asyncio.sleep(max(0.2, due))
                if self.role != Role.LEADER or not nc.is_connected:
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
            if self.role == Role.LEADER and boot_clock() - self.renewed_sent > limit:
                await self._demote(
                    f"could not renew the fleet lease for {limit:.0f} s: upstream closed so "
                    "that another hub can take over"
                )

    async def _promote(self, revision: int, sent: float) -> None:
        async with self._role_lock:
            if self.role == Role.LEADER or self._stopping:
                return
            self.role = Role.LEADER
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
        if self.role == Role.LEADER and (
            boot_clock() - self.renewed_sent < fence_after(self.lease_seconds) / 2
        ):
            self.engine.start_upstream()  # (nothing if the sockets are already open)

    async def _demote(self, reason: str, *, release: bool = False) -> None:
        async with self._role_lock:
            if self.role != Role.LEADER:
                return
            log.warning("no longer the fleet leader: %s", reason)
            self.role = Role.FOLLOWER
            for task in self._leader_tasks:
                task.cancel()
            await asyncio.gather(*self._leader_tasks, return_exceptions=True)
            self._leader_tasks = []
            engine = self.engine
            await engine.stop_upstream(CLOSE_SECONDS)  # 1000, before anything else
            engine.store.tap = None
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
