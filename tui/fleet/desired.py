"""The fleet's desired set: what this hub's panes want, published for every hub, and every
other hub's wanted set heard and kept."""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import TYPE_CHECKING

import msgspec

from tui.engine.union import union_of
from tui.fleet.follower import FollowerSide
from tui.fleet.nodebase import (
    HUB_REFRESH_SECONDS,
    HUB_TTL_SECONDS,
    REQUEST_SECONDS,
    PeerHub,
    Role,
    _why,
    log,
)
from tui.fleet.wire import (
    HubEntry,
    encode,
)
from tui.protocol.live import Subscription

if TYPE_CHECKING:
    from nats.aio.msg import Msg


class DesiredSide(FollowerSide):
    """The wanted sets: this hub's, published, and every other hub's, kept."""

    def wanted_changed(self) -> None:
        """The engine's wanted set may have changed (the hub calls this): publish it."""
        self._wanted_dirty.set()

    def budget_recorded(self) -> None:
        """The engine counted a message (the hub calls this): a leader saves the window."""
        self._budget_dirty.set()

    def _entry(self) -> HubEntry:
        engine = self.engine
        wanted = (
            [*self.local, *engine.alert_subscriptions()]
            if self.role == Role.LEADER
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
            if self.role == Role.FOLLOWER and entry.desired != last:
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
        if self.role == Role.LEADER and (old is None or old.entry.desired != entry.desired):
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
