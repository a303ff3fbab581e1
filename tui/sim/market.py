"""The simulated market: random walks with volatility clustering, quotes, trades and bars.

Deterministic for a seed: each instrument has its own ``random.Random`` derived from the seed
and its code, so the same seed gives the same price path whatever else is subscribed.
"""

from __future__ import annotations

import math
import random
import zlib
from dataclasses import dataclass

from tui.protocol.live import Quote
from tui.sim.universe import Instrument, last_session_close, last_trade_moment, session_status

SPREAD_FRACTION = {"stock": 0.0002, "etf": 0.0001, "future": 0.0, "crypto": 0.0001, "fx": 0.00004}
"""Quoted spread as a fraction of price, per asset class (futures: one tick)."""
TRADING_SECONDS_PER_DAY = 23_400.0
"""Seconds over which ``daily_vol`` is spread when scaling per-trade moves."""
GARCH_OMEGA, GARCH_ALPHA, GARCH_BETA = 0.05, 0.10, 0.85
"""Variance recursion v' = w + a z^2 v + b v; mean variance 1 (volatility clustering)."""


def round_to(value: float, tick: float) -> float:
    """Round a price to the instrument's tick, with float noise removed."""
    decimals = max(0, -math.floor(math.log10(tick)))
    return round(round(value / tick) * tick, decimals)


def instrument_rng(seed: int, *parts: str) -> random.Random:
    """A reproducible generator for one seed and name."""
    return random.Random(zlib.crc32("|".join(parts).encode()) ^ (seed * 2_654_435_761))


@dataclass
class Trade:
    """One simulated trade."""

    time: float
    price: float
    size: float


class InstrumentState:
    """The live state of one instrument: price process, day statistics, book top."""

    def __init__(
        self, inst: Instrument, seed: int, now: float, *, always_open: bool = False
    ) -> None:
        self.inst = inst
        self.rng = instrument_rng(seed, "live", inst.code)
        self.variance = 1.0
        tick = inst.tick_size
        drift = self.rng.gauss(0.0, inst.daily_vol)
        self.prev_close = round_to(inst.price / (1.0 + drift), tick)
        self.price = round_to(inst.price, tick)
        self.open = round_to(self.prev_close * (1.0 + self.rng.gauss(0, inst.daily_vol / 3)), tick)
        self.high = max(self.open, self.price)
        self.low = min(self.open, self.price)
        self.volume = _opening_volume(inst, self.rng.uniform(0.5, 1.5))
        # A market that is closed now last traded when it closed, not now.
        self.lp_time = now if always_open else last_trade_moment(inst.asset, now)
        self.bid = self.ask = self.price
        self.bid_size = self.ask_size = 1.0
        self._quote_book()

    def _quote_book(self) -> None:
        """Recompute bid/ask around the last price."""
        inst, tick = self.inst, self.inst.tick_size
        spread = max(tick, self.price * SPREAD_FRACTION[inst.asset])
        self.bid = round_to(self.price - spread / 2, tick)
        self.ask = round_to(self.bid + max(tick, round_to(spread, tick)), tick)
        self.bid_size = float(self.rng.randint(1, 40))
        self.ask_size = float(self.rng.randint(1, 40))

    def _trade_size(self) -> float:
        """A plausible trade size for the asset class."""
        asset = self.inst.asset
        if asset in ("stock", "etf"):
            return float(self.rng.choice((1, 5, 10, 50, 100, 100, 200, 500)))
        if asset == "future":
            return float(self.rng.randint(1, 12))
        if asset == "crypto":
            return round(self.rng.lognormvariate(-3.0, 1.2), 5)
        return float(self.rng.choice((1000, 10000, 100000)))

    def step(self, now: float, sim_seconds: float, *, always_open: bool) -> list[Trade]:
        """Advance by ``sim_seconds`` of market time; returns the trades that happened."""
        inst = self.inst
        if inst.delay_seconds == -1:
            return []
        if session_status(inst.asset, now, always_open=always_open) == "CLOSED":
            return []
        expected = inst.trades_per_second * sim_seconds
        count = _poisson(self.rng, expected)
        if not count:
            return []
        trade_sigma = inst.daily_vol / math.sqrt(inst.trades_per_second * TRADING_SECONDS_PER_DAY)
        trades = []
        for _ in range(count):
            z = self.rng.gauss(0.0, 1.0)
            self.variance = (
                GARCH_OMEGA + GARCH_ALPHA * z * z * self.variance + GARCH_BETA * self.variance
            )
            move = trade_sigma * math.sqrt(self.variance) * z * 4.0
            self.price = max(inst.tick_size, round_to(self.price * math.exp(move), inst.tick_size))
            size = self._trade_size()
            self.volume += size
            self.high = max(self.high, self.price)
            self.low = min(self.low, self.price)
            trades.append(Trade(now, self.price, size))
        self.lp_time = now
        self._quote_book()
        return trades

    def force_trade(self, now: float, price: float, size: float) -> Trade:
        """A trade at ``price`` (a scripted move: tests and ``marketpane sim`` drive alerts
        with it); the day's statistics and the book follow as for any trade."""
        self.price = max(self.inst.tick_size, round_to(price, self.inst.tick_size))
        self.volume += size
        self.high = max(self.high, self.price)
        self.low = min(self.low, self.price)
        self.lp_time = now
        self._quote_book()
        return Trade(now, self.price, size)

    def quote(self, now: float, *, always_open: bool) -> Quote:
        """A full quote snapshot with every documented field."""
        inst = self.inst
        change = round(self.price - self.prev_close, 6)
        return Quote(
            code=inst.code,
            status=session_status(inst.asset, now, always_open=always_open),
            lp_time=round(self.lp_time, 3),
            volume=self.volume,
            last_price=self.price,
            change_percent=round(change / self.prev_close * 100.0, 2),
            change=round_to(change, inst.tick_size / 100) if inst.tick_size < 1 else change,
            ask=self.ask,
            bid=self.bid,
            ask_size=self.ask_size,
            bid_size=self.bid_size,
            prev_close_price=self.prev_close,
            open_price=self.open,
            low_price=self.low,
            high_price=self.high,
            market_cap=round(inst.shares * self.price, 0) if inst.shares else None,
            currency_code=inst.currency,
            delay_seconds=inst.delay_seconds,
        )


def _poisson(rng: random.Random, lam: float) -> int:
    """A Poisson draw (Knuth's method for small means, normal approximation for large)."""
    if lam <= 0:
        return 0
    if lam > 30:
        return max(0, round(rng.gauss(lam, math.sqrt(lam))))
    limit, k, p = math.exp(-lam), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


def _opening_volume(inst: Instrument, scale: float) -> float:
    """The day's volume so far, of the size each market really trades: shares for stocks
    (0.4 % of those outstanding), contracts for futures, coins worth about $2 B for crypto,
    ticks for FX (spot FX has no exchange volume)."""
    if inst.shares:
        return float(int(inst.shares * 0.004 * scale))
    if inst.asset == "future":
        return float(int(1_100_000 * scale))
    if inst.asset == "crypto":
        return round(2e9 / inst.price * scale, 4)
    return float(int(90_000 * scale))


class Market:
    """All instruments, advanced together one step at a time."""

    def __init__(
        self, instruments: tuple[Instrument, ...], seed: int, now: float, *, always_open: bool
    ) -> None:
        self.instruments = {inst.code: inst for inst in instruments}
        self.states = {
            inst.code: InstrumentState(inst, seed, now, always_open=always_open)
            for inst in instruments
        }
        self.seed = seed
        self.always_open = always_open
        self.started_at = now
        self.session_close = last_session_close(now)

    def step(self, now: float, sim_seconds: float) -> dict[str, list[Trade]]:
        """Advance every instrument; returns the trades per code that traded."""
        trades: dict[str, list[Trade]] = {}
        for code, state in self.states.items():
            done = state.step(now, sim_seconds, always_open=self.always_open)
            if done:
                trades[code] = done
        return trades

    def quote(self, code: str, now: float) -> Quote:
        """Full snapshot for ``code``."""
        return self.states[code].quote(now, always_open=self.always_open)

    def price(self, code: str) -> float:
        """Last price of ``code``."""
        return self.states[code].price

    def state(self, code: str) -> InstrumentState:
        """The live state of ``code``."""
        return self.states[code]
