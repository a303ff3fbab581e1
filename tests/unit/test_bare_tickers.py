"""A bare ticker (``ETHUSDT``, as the grid shows it) means the one exchange's symbol the
watchlists already name: in the add box and in ``alert add``; an ambiguous one is left alone."""

from __future__ import annotations

from tests.enginehelp import StaticSession
from tui.cli.alerts import with_full_code
from tui.config import Config, Watchlist, WatchSymbol, resolve_ticker
from tui.engine.store import MarketStore
from tui.secrets import Keys
from tui.session.session import SessionOptions
from tui.session.values import AddSymbol


def test_a_bare_ticker_resolves_only_when_one_exchange_has_it() -> None:
    lists = Config().watchlists
    assert resolve_ticker("ethusdt", lists) == "BINANCE:ETHUSDT"
    assert resolve_ticker("ZZZZ", lists) is None
    both = [
        *lists,
        Watchlist(name="other", symbols=[WatchSymbol(code="COINBASE:ETHUSDT")]),
    ]
    assert resolve_ticker("ETHUSDT", both) is None  # which one? the user says
    assert with_full_code("ETHUSDT > 3380", lists) == "BINANCE:ETHUSDT > 3380"
    assert with_full_code("ETHUSDT > 3380", both) == "ETHUSDT > 3380"
    assert with_full_code("@default change <= -3%", lists) == "@default change <= -3%"
    assert with_full_code("feed live down 30s", lists) == "feed live down 30s"


def test_the_add_box_takes_a_bare_ticker_from_another_watchlist() -> None:
    session = StaticSession(
        SessionOptions(config=Config(), keys=Keys(), persist=False, demo=True), MarketStore(), []
    )
    session.send(AddSymbol("solusdt"))  # on the crypto list only
    assert session.watchlist().symbols[-1].code == "BINANCE:SOLUSDT"
