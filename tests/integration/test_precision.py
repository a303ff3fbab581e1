"""Prices at the instrument's precision: FX to the feed's five decimals (bid and ask never
read the same when they differ), crypto and futures with thousands separators, and the
change beside a price at that price's precision."""

from __future__ import annotations

from tests.uihelp import FROZEN_NOW, pinned_app, pinned_store
from tui.protocol.live import Quote
from tui.ui.grid import QuoteGrid
from tui.ui.prices import feed_decimals, instrument_decimals, price_text
from tui.ui.render import signed


def test_decimals_come_from_the_feed_and_the_size() -> None:
    assert feed_decimals(1.05418) == 5 and feed_decimals(96218.62) == 2
    assert feed_decimals(1.1 + 2.2) == 1  # 3.3000000000000003: the noise is not a digit
    assert instrument_decimals([1.05418, 1.05422, 1.0542]) == 5
    assert instrument_decimals([96218.62]) == 2 and instrument_decimals([5752.25]) == 2
    assert instrument_decimals([149.123]) == 3
    assert price_text(5752.25, 2) == "5,752.25" and price_text(1.05418, 5) == "1.05418"
    assert signed(1974.46) == "+1,974.46" and signed(-0.0015, decimals=5) == "-0.00150"


async def test_the_grid_shows_each_instrument_at_its_precision() -> None:
    store = pinned_store()
    now = FROZEN_NOW - 1
    store.apply_quote(
        Quote(code="FX:EURUSD", last_price=1.0542, bid=1.05418, ask=1.05422, change=-0.0015),
        None,
        now,
    )
    store.apply_quote(Quote(code="BINANCE:BTCUSDT", last_price=96218.62, change=1974.46), None, now)
    app = pinned_app(store=store)
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.pause(0.3)
        grid = app.query_one(QuoteGrid)
        fx = grid.row_text("FX:EURUSD")
        assert "1.05418" in fx and "1.05422" in fx and "1.05420" in fx, fx
        assert "-0.00150" in fx, fx
        btc = grid.row_text("BINANCE:BTCUSDT")
        assert "96,218.62" in btc and "+1,974.46" in btc, btc
