"""What a ``/live`` connection sends: the market's trades and quotes fanned out to the
subscribed streams (bars, ticks, quote changes), delayed instruments held back, the firehose."""

from __future__ import annotations

import asyncio
import collections
import time
from typing import TYPE_CHECKING, Any

import msgspec

from tui.protocol.live import Bar, Quote
from tui.sim.bars import BarSpec
from tui.sim.livestreams import _ENCODER, QuoteOut, SeriesOut, Stream
from tui.sim.market import Trade
from tui.sim.outbox import Outbox, now_ms
from tui.sim.settings import Faults
from tui.sim.universe import trades_at

if TYPE_CHECKING:
    from tui.sim.host import SimHost

FIREHOSE_CATCH_UP_SECONDS = 0.05
"""At most this much of the firehose's rate is sent in one tick: a loop starved for longer
lets the backlog go (a burst of seconds' worth would keep it from reading a close frame)."""

Held = tuple[float, float, dict[str, list[Trade]], dict[str, Quote]]
"""Delayed data waiting for release: (release time, market time, trades, quotes)."""


class LiveOutput:
    """The sending half of a ``/live`` connection (set up by :class:`~tui.sim.live.LiveSession`)."""

    sim: SimHost
    faults: Faults
    outbox: Outbox
    quote_codes: list[str]
    last_quotes: dict[str, dict[str, Any]]
    streams: list[Stream]
    subscribed: asyncio.Event
    delayed: collections.deque[Held]

    # ---- outbound --------------------------------------------------------------------------

    def _send_series(self, stream: Stream, bars: list[Bar]) -> None:
        """Queue one series message."""
        message = SeriesOut(
            stream.sub.code, stream.builder.bar_end, now_ms(), stream.spec.label, bars
        )
        encoded = _ENCODER.encode(message).decode()
        self.outbox.put(encoded)
        if self.faults.duplicate_bars:
            self.outbox.put(encoded)

    def on_market(
        self,
        trades: dict[str, list[Trade]],
        now: float,
        series: dict[tuple[str, BarSpec], list[list[Bar]]] | None = None,
    ) -> None:
        """Fan one market step out to this connection's subscriptions: real-time instruments
        now (their series messages made once, by the shared archives, in ``series``), delayed
        ones (``delay_seconds`` > 0, guide section 3) when their delay is up."""
        if not self.subscribed.is_set() or self.faults.silent:
            return
        market = self.sim.market
        wanted = set(self.quote_codes) | {s.sub.code for s in self.streams}
        held = {
            code: t
            for code, t in trades.items()
            if code in wanted and market.instruments[code].delay_seconds > 0
        }
        if held:
            scale = self.sim.settings.delay_scale
            for code in held:
                delay = market.instruments[code].delay_seconds * scale
                snapshot = {code: market.quote(code, now)}
                self.delayed.append((now + delay, now, {code: held[code]}, snapshot))
        live = {code: t for code, t in trades.items() if code not in held}
        self._fan_out(live, now, {}, delayed_codes=self._delayed_codes(), series=series or {})
        while self.delayed and self.delayed[0][0] <= now:
            _, when, batch, quotes = self.delayed.popleft()
            self._fan_out(batch, when, quotes, delayed_codes=set())

    def _delayed_codes(self) -> set[str]:
        """Subscribed codes whose data is delayed (their bars roll with their own time)."""
        market = self.sim.market
        codes = set(self.quote_codes) | {s.sub.code for s in self.streams}
        return {c for c in codes if market.instruments[c].delay_seconds > 0}

    def _fan_out(
        self,
        trades: dict[str, list[Trade]],
        now: float,
        quotes: dict[str, Quote],
        *,
        delayed_codes: set[str],
        series: dict[tuple[str, BarSpec], list[list[Bar]]] | None = None,
    ) -> None:
        """Send the quotes and bars for ``trades`` as of market time ``now``."""
        market = self.sim.market
        for code in self.quote_codes:
            if code in trades:
                self._send_quote_diff(quotes.get(code) or market.quote(code, now))
        for stream in self.streams:
            if stream.archive is not None:  # the shared series' messages of this step
                messages = (series or {}).get((stream.sub.code, stream.spec), [])
                for bars in messages:
                    self._send_series(stream, bars)
                if messages and self.faults.out_of_order_bars:
                    self._send_series(stream, [stream.archive.previous])
                continue
            if stream.sub.code in delayed_codes:
                continue
            stream_trades = trades.get(stream.sub.code, ())
            if (
                not stream.spec.extended
                and market.instruments[stream.sub.code].asset in ("stock", "etf")
                and market.quote(stream.sub.code, now).status != "REG"
            ):
                stream_trades = ()
            builder = stream.builder
            previous = builder.wire_bar()
            ticks = stream.spec.bar_type == "tick"
            for trade in stream_trades:
                for finished in builder.on_trade(trade):
                    if not ticks:
                        self._send_series(stream, [finished])
                if ticks:
                    self._send_series(stream, [builder.wire_bar()])  # ticks: every trade
                else:
                    stream.dirty = True
            if stream.dirty:
                stream.dirty = False
                self._send_series(stream, [builder.wire_bar()])
                if self.faults.out_of_order_bars:
                    self._send_series(stream, [previous])
            elif (
                not stream_trades
                and trades_at(
                    market.instruments[stream.sub.code].asset,
                    now,
                    extended=stream.spec.extended,
                    always_open=market.always_open,
                )
                and builder.roll_period(now) is not None
            ):  # minute+: a new period starts, only while the market trades (no flat bars)
                self._send_series(stream, [builder.wire_bar()])

    def _send_quote_diff(self, quote: Quote) -> None:
        """Send only the fields that changed since the last quote for this code (sparse)."""
        current = msgspec.structs.asdict(quote)
        last = self.last_quotes.get(quote.code, {})
        changed = {k: v for k, v in current.items() if v is not None and last.get(k) != v}
        self.last_quotes[quote.code] = current
        if not changed:
            return
        changed["code"] = quote.code
        sparse = Quote(**changed)
        self.outbox.put(_ENCODER.encode(QuoteOut(now_ms(), 1, [sparse])).decode())

    async def _firehose(self) -> None:
        """Benchmark mode: quote updates at ``settings.firehose_rate`` per second, round robin
        over the subscribed quotes; ``last_update`` carries the send time. The rate is re-read
        every tick, so it can be changed while connected (``/sim/control``)."""
        await self.subscribed.wait()
        settings = self.sim.settings
        prices: dict[str, float] = {}
        seq = 0
        rate = -1.0
        started = time.perf_counter()
        sent = 0
        while True:
            if settings.firehose_rate != rate:
                rate, started, sent = settings.firehose_rate, time.perf_counter(), 0
            if rate <= 0:
                await asyncio.sleep(0.1)
                continue
            await asyncio.sleep(0.005)
            codes = self.quote_codes
            if not codes:
                continue
            burst = int((time.perf_counter() - started) * rate) - sent
            cap = max(1, int(rate * FIREHOSE_CATCH_UP_SECONDS))
            if burst > cap:  # starved: what is this far behind is let go, not sent in one go
                sent += burst - cap
                burst = cap
            put = self.outbox.put
            for _ in range(burst):
                code = codes[seq % len(codes)]
                seq += 1
                price = prices.get(code) or self.sim.market.price(code)
                price = round(price * (1.0 + ((seq * 7919) % 11 - 5) * 1e-5), 4)
                prices[code] = price
                stamp = now_ms()
                put(
                    f'{{"last_update":{stamp},"total_items":1,"data":[{{"code":"{code}",'
                    f'"last_price":{price},"lp_time":{stamp / 1000:.3f},"volume":{seq}}}]}}'
                )
            sent += max(0, burst)
