"""A follower's side of a fleet node: the leader's events and state merged into this hub's
engine, snapshots when it joins or misses messages."""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Any

import msgspec

from tui.engine.remote import RemoteUpstream
from tui.engine.status import FeedState, FeedStatus
from tui.engine.store import MAX_NEWS
from tui.fleet.nodebase import (
    LEADER_SILENT_SECONDS,
    REQUEST_SECONDS,
    NodeBase,
    Role,
    _why,
    fence_after,
    log,
)
from tui.fleet.wire import (
    Events,
    LeaderState,
    Row,
    SeriesRows,
    Snapshot,
    SnapshotAsk,
    encode,
)
from tui.protocol.live import SeriesUpdate

if TYPE_CHECKING:
    from nats.aio.msg import Msg


class FollowerSide(NodeBase):
    """The follower's handlers: the leader's events and state into this hub's engine."""

    async def _on_events(self, msg: Msg) -> None:
        if self.role == Role.LEADER:
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
        if self.role == Role.LEADER:
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
            if self.role != Role.FOLLOWER:
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
        if self._nc is None or self.role == Role.LEADER:
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
