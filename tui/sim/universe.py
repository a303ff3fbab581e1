"""The simulated symbol universe and its trading sessions (New York time).

US stocks and ETFs trade PRE 04:00-09:30, REG 09:30-16:00, POST 16:00-20:00 on weekdays;
CME futures Sunday 18:00 to Friday 17:00 with a daily 17:00-18:00 break; FX Sunday 17:00 to
Friday 17:00; crypto always.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

AssetClass = Literal["stock", "etf", "future", "crypto", "fx"]
"""Asset classes the simulator models."""

NEW_YORK = ZoneInfo("America/New_York")
"""Exchange time zone for sessions."""


@dataclass(frozen=True)
class Instrument:
    """A tradable symbol and the facts that drive its simulated market."""

    code: str
    name: str
    asset: AssetClass
    price: float
    daily_vol: float
    currency: str = "USD"
    sector: str = ""
    shares: float = 0.0
    delay_seconds: int = 0
    trades_per_second: float = 2.0
    split_ratio: float | None = None
    """A split this many days ago (``split_days_ago``) by this ratio, for ``split=false``."""
    split_days_ago: float = 200.0
    dividend: float = 0.0
    """Quarterly dividend as a fraction of price, for ``dadj``."""
    roll_gap: float = 0.0
    """Price gap at each quarterly roll of a continuous future, for ``badj``."""
    units: tuple[str, ...] = field(default=())

    @property
    def exchange(self) -> str:
        """The part before the colon."""
        return self.code.split(":", 1)[0]

    @property
    def symbol(self) -> str:
        """The part after the colon."""
        return self.code.split(":", 1)[1]

    @property
    def tick_size(self) -> float:
        """Smallest price step."""
        if self.asset == "fx":
            return 0.00001 if self.price < 20 else 0.001
        if self.asset == "future":
            return 0.25
        return 0.01 if self.price >= 1 else 0.0001


def _stock(
    code: str, name: str, price: float, sector: str, shares: float, **kw: object
) -> Instrument:
    return Instrument(code, name, "stock", price, 0.02, sector=sector, shares=shares, **kw)  # type: ignore[arg-type]


UNIVERSE: tuple[Instrument, ...] = (
    _stock(
        "NASDAQ:AAPL", "Apple Inc.", 239.4, "Technology", 15.2e9, split_ratio=4.0, dividend=0.0011
    ),
    _stock("NASDAQ:MSFT", "Microsoft Corp.", 431.2, "Technology", 7.43e9, dividend=0.002),
    _stock("NASDAQ:NVDA", "NVIDIA Corp.", 138.6, "Technology", 24.5e9, split_ratio=10.0),
    _stock("NASDAQ:TSLA", "Tesla Inc.", 251.3, "Consumer Cyclical", 3.2e9, split_ratio=3.0),
    _stock("NASDAQ:AMZN", "Amazon.com Inc.", 186.9, "Consumer Cyclical", 10.5e9),
    _stock("NASDAQ:GOOGL", "Alphabet Inc.", 167.1, "Communication", 12.3e9, split_ratio=20.0),
    _stock("NASDAQ:META", "Meta Platforms", 562.4, "Communication", 2.53e9, dividend=0.001),
    _stock("NASDAQ:AMD", "Advanced Micro Devices", 156.8, "Technology", 1.62e9),
    _stock("NASDAQ:NFLX", "Netflix Inc.", 701.2, "Communication", 0.43e9),
    _stock("NASDAQ:INTC", "Intel Corp.", 22.4, "Technology", 4.3e9, dividend=0.005),
    _stock("NYSE:JPM", "JPMorgan Chase", 212.5, "Financial", 2.84e9, dividend=0.006),
    _stock("NYSE:XOM", "Exxon Mobil", 118.3, "Energy", 4.4e9, dividend=0.008),
    _stock("NYSE:KO", "Coca-Cola Co.", 69.8, "Consumer Defensive", 4.31e9, dividend=0.007),
    _stock("NYSE:DIS", "Walt Disney Co.", 92.7, "Communication", 1.83e9),
    _stock("NYSE:BA", "Boeing Co.", 171.4, "Industrials", 0.61e9),
    _stock("NYSE:WMT", "Walmart Inc.", 80.1, "Consumer Defensive", 8.04e9, split_ratio=3.0),
    _stock("NYSE:IBM", "IBM", 218.6, "Technology", 0.92e9, dividend=0.008),
    _stock("OTC:NSRGY", "Nestle S.A. ADR", 98.5, "Consumer Defensive", 2.6e9, delay_seconds=-1),
    Instrument(
        "AMEX:SPY",
        "SPDR S&P 500 ETF",
        "etf",
        571.3,
        0.012,
        sector="ETF",
        shares=0.92e9,
        delay_seconds=900,
        dividend=0.003,
    ),
    Instrument(
        "AMEX:GLD",
        "SPDR Gold Shares",
        "etf",
        243.8,
        0.01,
        sector="ETF",
        shares=0.32e9,
        delay_seconds=900,
    ),
    Instrument("NASDAQ:QQQ", "Invesco QQQ Trust", "etf", 487.6, 0.015, sector="ETF", shares=0.6e9),
    Instrument(
        "CME_MINI:ES1!",
        "E-mini S&P 500 (continuous)",
        "future",
        5752.25,
        0.011,
        trades_per_second=6.0,
        roll_gap=18.0,
        units=("CONTRACTS",),
    ),
    Instrument(
        "CME_MINI:NQ1!",
        "E-mini Nasdaq-100 (continuous)",
        "future",
        20125.5,
        0.014,
        trades_per_second=5.0,
        roll_gap=60.0,
        units=("CONTRACTS",),
    ),
    Instrument(
        "NYMEX:CL1!",
        "Crude Oil (continuous)",
        "future",
        71.42,
        0.022,
        trades_per_second=4.0,
        roll_gap=-0.6,
        units=("BBL",),
    ),
    Instrument(
        "COMEX:GC1!",
        "Gold (continuous)",
        "future",
        2672.1,
        0.009,
        trades_per_second=3.0,
        roll_gap=12.0,
        units=("OZ",),
    ),
    Instrument(
        "BINANCE:BTCUSDT",
        "Bitcoin / Tether",
        "crypto",
        96251.0,
        0.03,
        currency="USDT",
        trades_per_second=8.0,
        units=("BTC",),
    ),
    Instrument(
        "BINANCE:ETHUSDT",
        "Ether / Tether",
        "crypto",
        3412.5,
        0.035,
        currency="USDT",
        trades_per_second=6.0,
        units=("ETH",),
    ),
    Instrument(
        "BINANCE:SOLUSDT",
        "Solana / Tether",
        "crypto",
        238.2,
        0.045,
        currency="USDT",
        trades_per_second=4.0,
        units=("SOL",),
    ),
    Instrument("BINANCE:XRPUSDT", "XRP / Tether", "crypto", 1.4321, 0.05, currency="USDT"),
    Instrument("BINANCE:DOGEUSDT", "Dogecoin / Tether", "crypto", 0.3891, 0.06, currency="USDT"),
    Instrument("FX:EURUSD", "Euro / US Dollar", "fx", 1.0542, 0.005, trades_per_second=5.0),
    Instrument("FX:GBPUSD", "British Pound / US Dollar", "fx", 1.2688, 0.006),
    Instrument("FX:USDJPY", "US Dollar / Japanese Yen", "fx", 154.62, 0.006, currency="JPY"),
    Instrument("FX:AUDUSD", "Australian Dollar / US Dollar", "fx", 0.6512, 0.007),
)
"""Built-in symbols across asset classes."""

USD_RATES = {
    "USD": 1.0,
    "USDT": 1.0,
    "EUR": 0.9486,
    "GBP": 0.7881,
    "JPY": 154.62,
    "CHF": 0.8842,
    "CAD": 1.3968,
    "AUD": 1.5356,
    "KRW": 1395.4,
    "HKD": 7.7821,
}
"""Units of each currency per US dollar, for ``currency`` conversion."""

KNOWN_UNITS = frozenset({"SHARES", "CONTRACTS", "BTC", "ETH", "SOL", "OZ", "BBL", "LOT", "USD"})
"""``unit`` codes the simulator accepts; others get ``invalid_unit_code``."""


def conversion_rate(source: str, target: str) -> float:
    """Multiply a price in ``source`` currency by this to express it in ``target``."""
    return USD_RATES[target] / USD_RATES[source]


def synthetic_instruments(count: int) -> tuple[Instrument, ...]:
    """``SIM:T0001``... 24/7 instruments for benchmarks that need many symbols."""
    return tuple(
        Instrument(
            f"SIM:T{i:04d}",
            f"Synthetic {i}",
            "crypto",
            50.0 + i,
            0.03,
            sector="Synthetic",
            trades_per_second=4.0,
        )
        for i in range(1, count + 1)
    )


def session_status(asset: AssetClass, when: float, *, always_open: bool = False) -> str:
    """``PRE``, ``REG``, ``POST`` or ``CLOSED`` for ``asset`` at epoch ``when``."""
    if always_open or asset == "crypto":
        return "REG"
    local = datetime.fromtimestamp(when, NEW_YORK)
    weekday, minutes = local.weekday(), local.hour * 60 + local.minute
    if asset in ("stock", "etf"):
        if weekday >= 5:
            return "CLOSED"
        if 4 * 60 <= minutes < 9 * 60 + 30:
            return "PRE"
        if 9 * 60 + 30 <= minutes < 16 * 60:
            return "REG"
        if 16 * 60 <= minutes < 20 * 60:
            return "POST"
        return "CLOSED"
    if asset == "future":
        if (
            weekday == 5
            or (weekday == 6 and minutes < 18 * 60)
            or (weekday == 4 and minutes >= 17 * 60)
        ):
            return "CLOSED"
        return "CLOSED" if 17 * 60 <= minutes < 18 * 60 else "REG"
    # fx: Sunday 17:00 to Friday 17:00
    if (
        weekday == 5
        or (weekday == 6 and minutes < 17 * 60)
        or (weekday == 4 and minutes >= 17 * 60)
    ):
        return "CLOSED"
    return "REG"


def last_trade_moment(asset: AssetClass, when: float) -> float:
    """The last moment before ``when`` at which ``asset``'s session was open (``when`` itself
    if it is open): what a closed market's last trade time is. Steps back half an hour at a
    time, then minute by minute (a long weekend is about 200 looks)."""
    if session_status(asset, when) != "CLOSED":
        return when
    t = when - when % 60
    for _ in range(7 * 48):  # back to the half hour in which it was last open
        if session_status(asset, t - 1800) != "CLOSED":
            break
        t -= 1800
    for _ in range(31):  # then to its last open minute
        t -= 60
        if session_status(asset, t) != "CLOSED":
            return t + 59.0
    return when


def trades_at(asset: AssetClass, when: float, *, extended: bool, always_open: bool) -> bool:
    """Whether a bar at ``when`` has trades, honouring ``extended`` for stocks and ETFs."""
    status = session_status(asset, when, always_open=always_open)
    if status == "CLOSED":
        return False
    return extended or status == "REG"


def last_session_close(when: float) -> float:
    """Epoch of the most recent 16:00 New York close before ``when`` (for prev close)."""
    local = datetime.fromtimestamp(when, NEW_YORK)
    close = local.replace(hour=16, minute=0, second=0, microsecond=0)
    if close > local:
        close -= timedelta(days=1)
    while close.weekday() >= 5:
        close -= timedelta(days=1)
    return close.timestamp()
