"""Bars for every ``bar_type``/``bar_interval``: live aggregation and deterministic history.

History is a backward random walk from the current price over the instrument's trading slots,
so the newest history bar meets the live bar. Adjustment flags really change history: without
``split`` prices before the split are multiplied by the ratio; ``dadj`` lowers prices before
each quarterly ex-date; without ``badj`` a continuous future shows its roll gaps; ``settlement``
replaces daily closes with a settlement price; ``currency`` converts every price.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime

from tui.protocol.live import Bar
from tui.sim.market import Trade, instrument_rng, round_to
from tui.sim.universe import Instrument, conversion_rate, trades_at

UNIT_SECONDS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400, "week": 7 * 86400}
"""Length of one unit of each time-based ``bar_type``."""
LABEL_SUFFIX = {"tick": "T", "second": "s", "minute": "m", "hour": "h", "day": "D", "week": "W"}
"""Suffix of the response ``bar_type`` label: ``1m``, ``5s``, ``1h``, ``1D`` (protocol-notes)."""
QUARTER_SECONDS = 91 * 86400
"""Spacing of dividends and futures rolls."""
WEEK_ANCHOR = 4 * 86400
"""Epoch 0 was a Thursday; week bars start on Mondays."""


@dataclass(frozen=True)
class BarSpec:
    """Everything that shapes a series stream."""

    bar_type: str = "minute"
    interval: int = 1
    extended: bool = True
    split: bool = True
    dadj: bool = False
    badj: bool = False
    settlement: bool = False
    currency: str | None = None

    @property
    def seconds(self) -> float:
        """Bar length in seconds (ticks: 0)."""
        return UNIT_SECONDS.get(self.bar_type, 0) * self.interval

    @property
    def label(self) -> str:
        """The ``bar_type`` string of responses, e.g. ``"1m"``."""
        return f"{self.interval}{LABEL_SUFFIX[self.bar_type]}"

    def period_start(self, when: float) -> float:
        """Start of the bar period containing ``when``."""
        length = self.seconds
        if self.bar_type == "week":
            return math.floor((when - WEEK_ANCHOR) / length) * length + WEEK_ANCHOR
        return math.floor(when / length) * length


class BarBuilder:
    """Aggregates trades into the current bar of one stream."""

    def __init__(self, spec: BarSpec, inst: Instrument, price: float, now: float) -> None:
        self.spec, self.inst = spec, inst
        self.rate = conversion_rate(inst.currency, spec.currency) if spec.currency else 1.0
        self.ticks_in_bar = 0
        start = now if spec.bar_type == "tick" else spec.period_start(now)
        p = self._px(price)
        self.bar = Bar(time=start, open=p, high=p, low=p, close=p, volume=0.0)

    def _px(self, price: float) -> float:
        """Price converted to the stream's currency."""
        return price if self.rate == 1.0 else round(price * self.rate, 6)

    @property
    def bar_end(self) -> float:
        """``bar_end`` of the current bar (period start + length - 1, as the guide shows)."""
        if self.spec.bar_type == "tick":
            return self.bar.time
        return self.bar.time + self.spec.seconds - 1

    def on_trade(self, trade: Trade) -> list[Bar]:
        """Apply a trade; returns bars that became final before it (a new period began)."""
        finished: list[Bar] = []
        price = self._px(trade.price)
        spec = self.spec
        if spec.bar_type == "tick":
            if self.ticks_in_bar >= spec.interval:
                finished.append(self.bar)
                self.bar = Bar(
                    time=trade.time, open=price, high=price, low=price, close=price, volume=0.0
                )
                self.ticks_in_bar = 0
        elif trade.time >= self.bar.time + spec.seconds:
            finished.append(self.bar)
            self.bar = Bar(
                time=spec.period_start(trade.time),
                open=price,
                high=price,
                low=price,
                close=price,
                volume=0.0,
            )
        bar = self.bar
        if self.ticks_in_bar == 0 and spec.bar_type == "tick":
            bar.time, bar.open, bar.high, bar.low = trade.time, price, price, price
        bar.high = max(bar.high or price, price)
        bar.low = min(bar.low or price, price)
        bar.close = price
        bar.volume = round((bar.volume or 0.0) + trade.size, 6)
        self.ticks_in_bar += 1
        return finished

    def roll_period(self, now: float) -> Bar | None:
        """At a period start with no trade yet, open an empty bar (minute and above only)."""
        spec = self.spec
        if spec.bar_type in ("tick", "second") or now < self.bar.time + spec.seconds:
            return None
        close = self.bar.close
        self.bar = Bar(
            time=spec.period_start(now), open=close, high=close, low=close, close=close, volume=0.0
        )
        return self.bar

    def wire_bar(self) -> Bar:
        """The current bar as sent: single-trade ticks carry only time, close and volume."""
        return self.wire(self.bar)

    def wire(self, bar: Bar) -> Bar:
        """A copy of ``bar`` as sent (single-trade ticks: only time, close and volume)."""
        if self.spec.bar_type == "tick" and self.spec.interval == 1:
            return Bar(time=bar.time, close=bar.close, volume=bar.volume)
        return Bar(
            time=bar.time,
            open=bar.open,
            high=bar.high,
            low=bar.low,
            close=bar.close,
            volume=bar.volume,
        )


def _slot_open(inst: Instrument, spec: BarSpec, when: float, always_open: bool) -> bool:
    """Whether the bar slot starting at ``when`` would have trades."""
    if always_open or inst.asset == "crypto":
        return True
    if spec.seconds >= 86400:
        weekday = datetime.fromtimestamp(when, UTC).weekday()
        return spec.bar_type == "week" or weekday < 5
    return trades_at(
        inst.asset, when + spec.seconds / 2, extended=spec.extended, always_open=always_open
    )


def generate_history(
    inst: Instrument,
    spec: BarSpec,
    count: int,
    *,
    last_bar: Bar,
    include_last: bool = True,
    seed: int,
    always_open: bool,
    now: float,
) -> list[Bar]:
    """``count`` bars ending with ``last_bar`` (the live bar), deterministic for ``seed``.

    Tick streams leave the live bar out (``include_last=False``): it has no trade yet.
    """
    rng = instrument_rng(seed, "history", inst.code, spec.label)
    bars: list[Bar] = [last_bar]
    target = count if include_last else count + 1
    if target <= 1:
        return bars
    rate = conversion_rate(inst.currency, spec.currency) if spec.currency else 1.0
    tick = inst.tick_size
    price = (last_bar.open or last_bar.close or inst.price) / rate
    step = spec.seconds
    mean_gap = spec.interval / inst.trades_per_second if spec.bar_type == "tick" else step
    sigma = inst.daily_vol * math.sqrt(max(mean_gap, 0.05) / 86400.0) * 1.5
    t = last_bar.time
    guard = 0
    while len(bars) < target and guard < target * 200:
        guard += 1
        if spec.bar_type == "tick":
            t -= rng.expovariate(1.0 / mean_gap)
        else:
            t -= step
            if not _slot_open(inst, spec, t, always_open):
                continue
        close = price
        open_ = max(tick, round_to(close * math.exp(-rng.gauss(0.0, sigma)), tick))
        high = round_to(max(open_, close) * (1 + abs(rng.gauss(0, sigma / 2))), tick)
        low = max(tick, round_to(min(open_, close) * (1 - abs(rng.gauss(0, sigma / 2))), tick))
        volume = float(max(1, int(rng.lognormvariate(6.0, 1.0))))
        if spec.bar_type == "tick" and spec.interval == 1:
            bars.append(Bar(time=round(t, 3), close=close, volume=volume))
        else:
            bars.append(Bar(time=t, open=open_, high=high, low=low, close=close, volume=volume))
        price = open_
    bars.reverse()
    if not include_last:
        bars.pop()
    live = bars.pop() if include_last else None
    _apply_adjustments(inst, spec, bars, now)
    if rate != 1.0:
        for bar in bars:
            _scale(bar, rate)
    if live is not None:
        bars.append(live)
    return bars


def _scale(bar: Bar, factor: float, volume_factor: float = 1.0) -> None:
    """Multiply a bar's prices (and optionally volume) in place."""
    for name in ("open", "high", "low", "close"):
        value = getattr(bar, name)
        if value is not None:
            setattr(bar, name, round(value * factor, 6))
    if bar.volume is not None and volume_factor != 1.0:
        bar.volume = round(bar.volume * volume_factor, 3)


def _shift(bar: Bar, amount: float) -> None:
    """Add ``amount`` to a bar's prices in place."""
    for name in ("open", "high", "low", "close"):
        value = getattr(bar, name)
        if value is not None:
            setattr(bar, name, round(value + amount, 6))


def _apply_adjustments(inst: Instrument, spec: BarSpec, bars: list[Bar], now: float) -> None:
    """Turn the adjusted base walk into what the flags ask for."""
    if inst.asset == "future":
        if not spec.badj and inst.roll_gap:
            rolls = [now - 20 * 86400 - k * QUARTER_SECONDS for k in range(40)]
            for bar in bars:
                gaps = sum(1 for r in rolls if bar.time < r)
                if gaps:
                    _shift(bar, -inst.roll_gap * gaps)
        if spec.settlement and spec.bar_type in ("day", "week"):
            for bar in bars:
                if bar.high is not None and bar.low is not None and bar.close is not None:
                    settle = (bar.high + bar.low + 2 * bar.close) / 4
                    bar.close = round_to(settle, inst.tick_size)
        return
    if spec.split and spec.dadj and inst.dividend:
        ex_dates = [now - 30 * 86400 - k * QUARTER_SECONDS for k in range(200)]
        for bar in bars:
            count = sum(1 for d in ex_dates if bar.time < d)
            if count:
                _scale(bar, (1.0 - inst.dividend) ** count)
    if not spec.split and inst.split_ratio:
        split_time = now - inst.split_days_ago * 86400
        for bar in bars:
            if bar.time < split_time:
                _scale(bar, inst.split_ratio, 1.0 / inst.split_ratio)
