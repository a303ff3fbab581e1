"""The TOML config file: typed structs, clear errors, atomic write-back.

Decoded with ``msgspec.toml`` into Structs with ``forbid_unknown_fields``; any error is a
:class:`ConfigError` rendered as ``file:line: key: what is wrong``. Writes change only
what changed in the user's own text, atomically, keeping the previous file as ``<name>.bak``
(:mod:`tui.config.file`).
"""

from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path
from typing import Annotated, Literal

import msgspec

from tui.alerts.model import AlertDelivery, AlertRule
from tui.config.file import merge_toml, write_keeping
from tui.protocol.live import BarType, Subscription
from tui.protocol.rules import SubscriptionRuleError, normalise_subscription, validate_symbol_code
from tui.protocol.text import clean_value

LayoutName = Literal["auto", "wide", "medium", "compact"]
"""``--layout`` and ``display.layout`` values."""


class WatchSymbol(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    """A symbol on a watchlist: its quote row, and the chart settings used when focused."""

    code: str
    quote: bool = True
    bar_type: BarType = "minute"
    bar_interval: int = 1
    max_dp: int = 300
    extended: bool | None = None
    split: bool | None = None
    dadj: bool | None = None
    badj: bool | None = None
    settlement: bool | None = None
    currency: str | None = None
    unit: str | None = None

    def __post_init__(self) -> None:
        validate_symbol_code(self.code)
        normalise_subscription(self.series_subscription(), plan_max_dp=30_000)

    def quote_subscription(self) -> Subscription:
        """The quote subscription for this symbol's grid row."""
        return Subscription(code=self.code, type="quote")

    def series_subscription(self) -> Subscription:
        """The series subscription for this symbol's chart."""
        return Subscription(
            code=self.code,
            type="series",
            bar_type=self.bar_type,
            bar_interval=self.bar_interval,
            max_dp=self.max_dp,
            extended=self.extended,
            split=self.split,
            dadj=self.dadj,
            badj=self.badj,
            settlement=self.settlement,
            currency=self.currency,
            unit=self.unit,
        )


class Watchlist(msgspec.Struct, forbid_unknown_fields=True):
    """A named list of symbols."""

    name: str
    symbols: list[WatchSymbol] = []

    def __post_init__(self) -> None:
        codes = [s.code for s in self.symbols]
        dupes = {c for c in codes if codes.count(c) > 1}
        if dupes:
            raise ValueError(f"symbol {sorted(dupes)[0]} is listed twice")


class Endpoints(msgspec.Struct, forbid_unknown_fields=True):
    """Server addresses, so the app can point at any server (real or simulator)."""

    live_url: str = "wss://realtime.insightsentry.com/live"
    newsfeed_url: str = "wss://realtime.insightsentry.com/newsfeed"
    stocknews_url: str = "wss://dev.stocknews.live/ws"
    rest_url: str = "https://api.insightsentry.com"
    rapidapi_url: str = "https://insightsentry.p.rapidapi.com"
    rapidapi_host: str = "insightsentry.p.rapidapi.com"
    history_field: Literal["max_dp", "dp"] = "max_dp"


class Plan(msgspec.Struct, forbid_unknown_fields=True):
    """The account's plan limits (never hard-coded in the client)."""

    name: str = "pro"
    subscriptions: int = 2
    max_dp: int = 1000
    connections: int = 1
    messages_per_window: int = 120
    window_seconds: int = 3 * 3600

    def __post_init__(self) -> None:
        if self.subscriptions < 1:
            raise ValueError("subscriptions must be at least 1")
        if not 1 <= self.max_dp <= 30_000:
            raise ValueError("max_dp must be 1..30000")


PLAN_PRESETS: dict[str, tuple[int, int, int]] = {
    "pro": (2, 1000, 1),
    "ultra": (5, 1000, 1),
    "mega": (12, 30_000, 3),
}
"""Known plans: name → (symbol subscriptions, max_dp, connections), after protocol-notes."""


def preset_plan(name: str) -> Plan:
    """The limits of a known plan (``--plan``); KeyError for an unknown name."""
    subscriptions, max_dp, connections = PLAN_PRESETS[name]
    return Plan(name=name, subscriptions=subscriptions, max_dp=max_dp, connections=connections)


Hz = Annotated[float, msgspec.Meta(ge=0.2, le=60.0)]
"""A frame rate setting: 0.2 to 60 frames a second."""


GRID_COLUMNS = (
    "symbol",
    "last",
    "pct",
    "spark",
    "chg",
    "age",
    "status",
    "delay",
    "volume",
    "bid",
    "ask",
    "qty",
    "avg",
    "value",
    "dpnl",
    "pnl",
    "pnlpct",
    "weight",
)
"""Grid columns, in their default order (``display.columns`` picks and orders them)."""


class Display(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    """How the dashboard looks."""

    theme: str = "marketpane-dark"
    columns: list[str] | None = None
    """Grid columns in the order shown (default: every column); the narrowest panes drop the
    least important first. Names: symbol last pct spark chg age status delay volume bid ask,
    and for positions qty avg value dpnl pnl pnlpct weight (shown by default only when
    something is held)."""
    layout: LayoutName = "auto"
    up_color: str | None = None
    down_color: str | None = None
    stale_after_seconds: float = 30.0
    ui_hz: Hz = 20.0
    """Frames a second at most, in a busy market."""
    quiet_hz: Hz = 2.0
    """Frames a second when the feeds carry under 500 messages a second."""
    idle_hz: Hz = 1.0
    """Frames a second when the feeds carry under 100 messages a second."""
    row_hz: Hz = 4.0
    """Redraws a second of one grid row at most: a price that changes faster is drawn at
    this rate, always with its newest value (what a person can read, and fewer bytes)."""
    news_filter: bool = False

    def __post_init__(self) -> None:
        if self.columns is not None:
            unknown = [c for c in self.columns if c not in GRID_COLUMNS]
            if unknown:
                raise ValueError(
                    f"columns: unknown column {unknown[0]!r} (columns: {' '.join(GRID_COLUMNS)})"
                )
            if len(set(self.columns)) != len(self.columns):
                raise ValueError("columns: a column is named twice")
            if "symbol" not in self.columns:
                raise ValueError("columns: the symbol column cannot be left out")


def resolve_ticker(ticker: str, watchlists: list[Watchlist]) -> str | None:
    """The one ``EXCHANGE:SYMBOL`` on the watchlists whose symbol is ``ticker`` (``ETHUSDT``
    is ``BINANCE:ETHUSDT`` when no other exchange's ETHUSDT is watched), else None."""
    wanted = ticker.strip().upper()
    found = {
        s.code for w in watchlists for s in w.symbols if s.code.partition(":")[2].upper() == wanted
    }
    return found.pop() if len(found) == 1 else None


def default_watchlists() -> list[Watchlist]:
    """The watchlists a new user starts with: one per asset class mix. The first holds nine
    symbols, so on the smallest plan (ten quotes and a chart) the first symbol a user adds
    still streams."""

    def wl(name: str, codes: list[str]) -> Watchlist:
        return Watchlist(name=name, symbols=[WatchSymbol(code=c) for c in codes])

    return [
        wl(
            "default",
            [
                "NASDAQ:AAPL",
                "NASDAQ:MSFT",
                "NASDAQ:NVDA",
                "NASDAQ:TSLA",
                "AMEX:SPY",
                "CME_MINI:ES1!",
                "BINANCE:BTCUSDT",
                "BINANCE:ETHUSDT",
                "FX:EURUSD",
            ],
        ),
        wl("crypto", ["BINANCE:BTCUSDT", "BINANCE:ETHUSDT", "BINANCE:SOLUSDT"]),
    ]


class HubSettings(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    """The hub: one process per account that every pane shares (``marketpane hub``)."""

    mode: Literal["off", "auto", "require"] = "auto"
    """``auto``: attach to the account's hub, starting one if there is none (in-process if
    that fails); ``require``: refuse to run without one; ``off``: everything in-process."""
    linger_seconds: Annotated[float, msgspec.Meta(ge=0)] = 60.0
    """How long a hub stays after its last pane leaves (0: until ``marketpane hub stop``)."""
    broker: str | None = None
    """A NATS server (``nats://host:4222``, ``tls://host:4222``) through which the hubs of
    many hosts share one upstream per account (the fleet); None: this hub alone. The token and
    nkey seed are secrets (``MARKETPANE_NATS_TOKEN``, ``MARKETPANE_NATS_NKEY_SEED`` or the
    secrets file), never written here."""
    broker_creds: str | None = None
    """A NATS ``.creds`` file (user JWT and nkey seed), read when connecting."""
    broker_tls_ca: str | None = None
    """A CA bundle to verify the broker's certificate (``tls://``)."""
    broker_tls_cert: str | None = None
    """A client certificate for the broker (with :attr:`broker_tls_key`)."""
    broker_tls_key: str | None = None
    lease_seconds: Annotated[float, msgspec.Meta(ge=4, le=120)] = 10.0
    """The fleet leader's lease: a leader that cannot renew it closes its upstream well before
    this, and a follower takes over once it has expired."""
    host_name: str | None = None
    """How this hub is named in the fleet (``via leader on NAME``); the host name if unset."""

    def __post_init__(self) -> None:
        if self.broker is not None and not self.broker.startswith(
            ("nats://", "tls://", "ws://", "wss://")
        ):
            raise ValueError("hub.broker: expected a NATS URL such as nats://host:4222")
        if self.broker_tls_key and not self.broker_tls_cert:
            raise ValueError("hub.broker_tls_key: needs hub.broker_tls_cert")


class Config(msgspec.Struct, forbid_unknown_fields=True):
    """The whole config file."""

    active_watchlist: str = "default"
    watchlists: list[Watchlist] = msgspec.field(default_factory=default_watchlists)
    endpoints: Endpoints = msgspec.field(default_factory=Endpoints)
    plan: Plan = msgspec.field(default_factory=Plan)
    display: Display = msgspec.field(default_factory=Display)
    hub: HubSettings = msgspec.field(default_factory=HubSettings)
    alert_delivery: AlertDelivery = msgspec.field(default_factory=AlertDelivery)
    alerts: list[AlertRule] = msgspec.field(default_factory=list)

    def __post_init__(self) -> None:
        names = [w.name for w in self.watchlists]
        if len(set(names)) != len(names):
            raise ValueError("watchlist names must be unique")
        ids = [a.id for a in self.alerts]
        if len(set(ids)) != len(ids):
            raise ValueError("alerts: alert ids must be unique")
        if self.watchlists and self.active_watchlist not in names:
            raise ValueError(f"active_watchlist {self.active_watchlist!r} is not a watchlist")

    def watchlist(self, name: str | None = None) -> Watchlist:
        """The named (default: active) watchlist; an empty one if there is none."""
        wanted = name or self.active_watchlist
        for w in self.watchlists:
            if w.name == wanted:
                return w
        return Watchlist(name=wanted)


class ConfigError(Exception):
    """A config problem, rendered as ``file:line: key: what is wrong``."""

    def __init__(self, path: Path, key: str | None, problem: str, line: int | None = None):
        self.path, self.key, self.problem, self.line = path, key, problem, line
        where = f"{path}:{line}" if line else str(path)
        super().__init__(f"{where}: {key}: {problem}" if key else f"{where}: {problem}")


_MSGSPEC_PATH = re.compile(r"^(?P<msg>.*?)(?: - at `\$(?P<path>[^`]*)`)?$", re.S)
"""Splits msgspec's ``"... - at `$.a.b[0]`"`` messages into problem and path."""
_UNKNOWN_FIELD = re.compile(r"unknown field `(?P<name>[^`]+)`")
"""Finds the offending name in msgspec's unknown-field message."""


_NAMED_FIELD = re.compile(r"^(?P<field>[a-z_]+): (?P<rest>.*)$", re.S)
"""A ``__post_init__`` check that names the field it is about."""


def _key_and_line(text: str, path: str, problem: str) -> tuple[str, int | None]:
    """Dotted key for a msgspec path, and a best-effort line number in ``text``."""
    key = path.lstrip(".")
    unknown = _UNKNOWN_FIELD.search(problem)
    if unknown:
        key = f"{key}.{unknown['name']}" if key else unknown["name"]
    leaf = re.sub(r"\[\d+\]", "", key).rsplit(".", 1)[-1] if key else ""
    line = None
    lines = text.splitlines()
    start = 0
    table = re.match(r"^(?P<name>\w+)\[(?P<index>\d+)\]", key) if key else None
    if table:  # an array of tables (``[[alerts]]``): search from its n-th header
        header = re.compile(rf"^\s*\[\[\s*{re.escape(table['name'])}\s*\]\]")
        seen = -1
        for number, content in enumerate(lines):
            if header.match(content):
                seen += 1
                if seen == int(table["index"]):
                    start, line = number, number + 1
                    break
    if leaf:
        pattern = re.compile(rf"^\s*(\[\[?)?\s*([\w.]*\.)?{re.escape(leaf)}\b")
        for number, content in enumerate(lines[start:], start=start + 1):
            if pattern.match(content):
                line = number
                break
    return key or "(top level)", line


def config_key_line(path: Path, key: str) -> int | None:
    """The line of ``key`` (dotted) in the config file at ``path``, best effort."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    return _key_and_line(text, key, "")[1]


def parse_config(text: str, path: Path) -> Config:
    """Decode config text; raises :class:`ConfigError` with file, line and key."""
    try:
        tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        found = re.search(r"\(at line (\d+)", str(exc))
        line = int(found.group(1)) if found else None
        message = re.sub(r"\s*\(at line \d+, column \d+\)|\s*\(at end of document\)", "", str(exc))
        raise ConfigError(path, None, f"not valid TOML: {message}", line) from None
    try:
        return clean_value(msgspec.toml.decode(text, type=Config))  # names are shown on screen
    except msgspec.ValidationError as exc:
        match = _MSGSPEC_PATH.match(str(exc))
        problem = match["msg"] if match else str(exc)
        where = (match["path"] if match else "") or ""
        named = _NAMED_FIELD.match(problem)  # a check naming its field: "columns: ..."
        if named:
            where, problem = f"{where}.{named['field']}", named["rest"]
        key, line = _key_and_line(text, where, problem)
        raise ConfigError(path, key, _plain(problem), line) from None
    except SubscriptionRuleError as exc:
        raise ConfigError(path, exc.field, exc.problem) from None


def _plain(problem: str) -> str:
    """Reword msgspec's messages for people who edit TOML, not Python."""
    return (
        problem.replace("Object contains unknown field", "unknown setting")
        .replace("Object missing required field", "missing required setting")
        .replace("Expected `", "expected `")
    )


def load_config(path: Path) -> tuple[Config, bool]:
    """Load ``path``; a missing file gives the defaults. Returns ``(config, existed)``."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return Config(), False
    except PermissionError:
        raise ConfigError(path, None, "cannot read the file: permission denied") from None
    except IsADirectoryError:
        raise ConfigError(path, None, "is a directory, not a config file") from None
    except UnicodeDecodeError:
        raise ConfigError(path, None, "is not UTF-8 text") from None
    except OSError as exc:
        raise ConfigError(path, None, f"cannot read the file: {exc.strerror}") from None
    return parse_config(text, path), True


def encode_config(config: Config) -> str:
    """Config as TOML text (``msgspec.toml.encode`` via tomli-w)."""
    return msgspec.toml.encode(config).decode("utf-8")


def save_config_keeping_alerts(config: Config, path: Path) -> None:
    """Save ``config`` with the alerts the file holds now: a pane's copy of the config may be
    older than an alert the CLI or the hub added since (the alerts are theirs to write)."""
    alerts = config.alerts
    try:
        alerts = load_config(path)[0].alerts if path.exists() else alerts
    except ConfigError:
        pass
    save_config(msgspec.structs.replace(config, alerts=alerts), path)


def save_alert_rules(path: Path, rules: list[AlertRule]) -> None:
    """Replace the ``[[alerts]]`` of the config file at ``path`` (everything else as it is)."""
    config = load_config(path)[0]
    save_config(msgspec.structs.replace(config, alerts=list(rules)), path)


def alert_rules_saved(path: Path | None, rules: list[AlertRule]) -> str | None:
    """:func:`save_alert_rules`, or nothing without a file; the problem in words, or None."""
    if path is None:
        return None
    try:
        save_alert_rules(path, rules)
    except (OSError, ConfigError) as exc:
        return f"could not save {path}: {exc}"
    return None


def save_config(config: Config, path: Path) -> None:
    """Write ``config`` atomically into the user's own text (only what changed; comments and
    layout kept), keeping the previous file as ``<name>.bak`` (see :mod:`tui.config.file`)."""
    text = encode_config(config)
    parse_config(text, path)  # never write a file we could not read back
    try:
        old_text = Path(os.path.realpath(path)).read_text(encoding="utf-8")
    except FileNotFoundError:
        old_text = None
    if old_text is not None:
        try:
            before = tomllib.loads(encode_config(parse_config(old_text, path)))
            merged = merge_toml(old_text, before, tomllib.loads(text))
            if parse_config(merged, path) == config:
                text = merged
        except (ConfigError, ValueError, KeyError, TypeError):
            pass  # the whole file from the values: correct, if not the user's layout
    write_keeping(path, text, old_text)
