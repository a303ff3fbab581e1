"""A leader's side of a fleet node: what its store merged, published every 20 ms; its
statuses twice a second; snapshots for followers."""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import TYPE_CHECKING, Any

import msgspec

from tui.fleet.desired import DesiredSide
from tui.fleet.nodebase import (
    _MISSING,
    FLEET_MAX_BARS,
    NOTICE_SECONDS,
    PUBLISH_SECONDS,
    SNAPSHOT_NEWS,
    STATE_SECONDS,
    Role,
    _why,
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

if TYPE_CHECKING:
    from nats.aio.msg import Msg
TIED_FIELDS = ("change", "change_percent")
"""Sent with every new last price, so a follower never derives them differently."""


class LeaderSide(DesiredSide):
    """The leader's fan-out: changes, statuses and snapshots for the followers."""

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
        if self.role != Role.LEADER:
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
