"""Portfolios of lots in ``portfolio.toml`` beside the config: decimal-exact, written atomically.

A lot is one trade: a positive quantity buys (or covers a short), a negative one sells (or
opens a short). Money is :class:`~decimal.Decimal` from the file to the screen; quantities and
prices are written as strings, so ``0.1 + 0.2`` is never ``0.30000000000000004``.
"""

from __future__ import annotations

import datetime as dt
import re
import shutil
import tomllib
from decimal import Decimal
from pathlib import Path

import msgspec

from tui.paths import atomic_write_text
from tui.protocol.rules import SYMBOL_CODE

FILE_NAME = "portfolio.toml"
"""The portfolio file's name, beside the config file."""


class Lot(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    """One trade of one symbol."""

    symbol: str
    quantity: Decimal
    """Positive: bought (or a short covered); negative: sold (or a short opened)."""
    price: Decimal
    """Per unit, in the symbol's quote currency."""
    date: dt.date
    fees: Decimal = Decimal(0)
    """Commissions and charges, in the quote currency (always a cost)."""

    def __post_init__(self) -> None:
        if not SYMBOL_CODE.match(self.symbol):
            raise ValueError(
                f"symbol: {self.symbol!r} is not a symbol code of the form EXCHANGE:SYMBOL"
            )
        if not self.quantity.is_finite() or self.quantity == 0:
            raise ValueError("quantity: must be a number other than 0 (negative sells)")
        if not self.price.is_finite() or self.price <= 0:
            raise ValueError("price: must be a number above 0")
        if not self.fees.is_finite() or self.fees < 0:
            raise ValueError("fees: must be 0 or more")


class Portfolio(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    """A named list of lots."""

    name: str
    lots: list[Lot] = []

    def __post_init__(self) -> None:
        if not self.name.strip():
            raise ValueError("name: a portfolio needs a name")

    def symbols(self) -> list[str]:
        """The symbols of its lots, first seen first."""
        return list(dict.fromkeys(lot.symbol for lot in self.lots))


class PortfolioFile(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    """The whole ``portfolio.toml``."""

    base_currency: str | None = None
    """Totals also in this currency, when an FX quote for every pair needed is subscribed."""
    portfolios: list[Portfolio] = []

    def __post_init__(self) -> None:
        names = [p.name for p in self.portfolios]
        if len(set(names)) != len(names):
            raise ValueError("portfolios: portfolio names must be unique")
        if self.base_currency is not None and not re.fullmatch(r"[A-Z]{3,5}", self.base_currency):
            raise ValueError(f"base_currency: {self.base_currency!r} is not a currency code")

    def portfolio(self, name: str) -> Portfolio | None:
        """The portfolio called ``name``, or None."""
        return next((p for p in self.portfolios if p.name == name), None)

    def lots_of(self, symbol: str) -> list[Lot]:
        """Every lot of ``symbol`` across portfolios."""
        return [lot for p in self.portfolios for lot in p.lots if lot.symbol == symbol]


class PortfolioError(Exception):
    """A portfolio file that cannot be used; the message names the file, line and key."""


def parse_portfolio(text: str, path: Path) -> PortfolioFile:
    """Decode ``text``; :class:`PortfolioError` names the line and key that are wrong."""
    try:
        tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise PortfolioError(f"{path}: not valid TOML: {exc}") from None
    try:
        return msgspec.toml.decode(text, type=PortfolioFile)
    except msgspec.ValidationError as exc:
        message = str(exc)
        where = re.search(r"at `\$(?P<path>[^`]*)`", message)
        problem = re.sub(r"\s*- at `\$[^`]*`", "", message)
        key = where["path"].lstrip(".") if where else ""
        line = _line_of(text, key)
        at = f"{path}:{line}" if line else str(path)
        raise PortfolioError(f"{at}: {key + ': ' if key else ''}{problem}") from None


def _line_of(text: str, key: str) -> int | None:
    """The line of ``portfolios[i].lots[j]`` (its ``[[portfolios.lots]]`` header), best effort."""
    found = re.match(r"portfolios\[(\d+)\](?:\.lots\[(\d+)\])?", key)
    if not found:
        return None
    wanted_portfolio, wanted_lot = int(found.group(1)), found.group(2)
    portfolio = lot = -1
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if stripped.startswith("[[portfolios]]"):
            portfolio, lot = portfolio + 1, -1
            if portfolio == wanted_portfolio and wanted_lot is None:
                return number
        elif stripped.startswith("[[portfolios.lots]]"):
            lot += 1
            if portfolio == wanted_portfolio and str(lot) == wanted_lot:
                return number
    return None


def load_portfolio(path: Path) -> PortfolioFile:
    """Load ``path``; a missing file is no portfolio."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return PortfolioFile()
    except (OSError, UnicodeDecodeError) as exc:
        raise PortfolioError(f"{path}: cannot read the file ({exc})") from None
    return parse_portfolio(text, path)


def save_portfolio(book: PortfolioFile, path: Path) -> None:
    """Write atomically, keeping the previous file as ``portfolio.toml.bak``."""
    text = msgspec.toml.encode(book).decode("utf-8")
    parse_portfolio(text, path)  # never write what we could not read back
    if path.exists():
        shutil.copy2(path, path.with_name(path.name + ".bak"))
    atomic_write_text(path, text, mode=0o600)


def portfolio_path(config_path: Path) -> Path:
    """``portfolio.toml`` beside the config file."""
    return config_path.with_name(FILE_NAME)
