"""A series as the server keeps it: built once from the market's trades, whoever watches.

Every subscriber of the same (symbol, bar settings) streams the bars of one
:class:`SeriesArchive`, and a later subscriber's history is those same bars (after a generated
backfill of what came before the archive began): the stream and its history agree, as
they do on the real server. Delayed instruments keep a per-connection builder
(their data is served as of the past; see ``LiveConnection``).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence

from tui.protocol.live import Bar
from tui.sim.bars import BarBuilder, BarSpec, generate_history
from tui.sim.market import Trade
from tui.sim.universe import Instrument

ARCHIVE_BARS = 30_000
"""Finished bars kept per series (the largest ``max_dp``)."""


class SeriesArchive:
    """One series: its builder, the bars it finished, and the backfill before it began."""

    def __init__(
        self,
        inst: Instrument,
        spec: BarSpec,
        price: float,
        now: float,
        *,
        seed: int,
        always_open: bool,
    ) -> None:
        self.inst, self.spec = inst, spec
        self.seed, self.always_open, self.started = seed, always_open, now
        self.builder = BarBuilder(spec, inst, price, now)
        self.anchor = self.builder.wire_bar()
        """The bar open when the archive began: the backfill ends just before it."""
        self.finished: deque[Bar] = deque(maxlen=ARCHIVE_BARS)
        self.backfill: list[Bar] = []
        self.previous: Bar = self.anchor
        """The current bar as it was before the last step (the out-of-order fault resends it)."""

    def step(self, trades: Sequence[Trade], now: float, *, trading: bool) -> list[list[Bar]]:
        """Apply one market step; returns the series messages it makes (each a list of bars):
        finished bars, then the current one; a tick series sends every trade; a minute-or-
        longer series opens its next bar at the period start while the market trades, never a
        flat bar when closed."""
        builder = self.builder
        ticks = self.spec.bar_type == "tick"
        self.previous = builder.wire_bar()
        messages: list[list[Bar]] = []
        dirty = False
        for trade in trades:
            for finished in builder.on_trade(trade):
                wire = builder.wire(finished)
                self.finished.append(wire)
                if not ticks:
                    messages.append([wire])
            if ticks:
                messages.append([builder.wire_bar()])
            else:
                dirty = True
        if dirty:
            messages.append([builder.wire_bar()])
        elif not trades and trading:
            before = builder.wire_bar()
            if builder.roll_period(now) is not None:
                self.finished.append(before)
                messages.append([builder.wire_bar()])
        return messages

    def history(self, count: int, *, include_last: bool) -> list[Bar]:
        """The newest ``count`` bars: backfill, the bars streamed since, and (unless a tick
        series, whose forming bar has no trade yet) the current one."""
        kept = list(self.finished)
        if include_last:
            kept.append(self.builder.wire_bar())
        missing = count - len(kept)
        if missing > len(self.backfill):
            self.backfill = generate_history(
                self.inst,
                self.spec,
                missing + 1,
                last_bar=self.anchor,
                include_last=True,
                seed=self.seed,
                always_open=self.always_open,
                now=self.started,
            )[:-1]  # the anchor itself is the first finished (or the current) bar
        older = self.backfill[-missing:] if missing > 0 else []
        return [*older, *kept][-count:] if count > 0 else []
