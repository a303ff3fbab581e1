"""A closed market is not stale: its rows keep a readable colour and show when it last traded
(the Age column), and the simulator stamps a closed instrument with its real last trade."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from tests.uihelp import FROZEN_NOW, pinned_app, pinned_store
from tui.protocol.live import Quote
from tui.sim.market import Market
from tui.sim.universe import UNIVERSE, last_trade_moment
from tui.ui.grid import QuoteGrid
from tui.ui.timetext import closed_time_text

NEW_YORK = ZoneInfo("America/New_York")
SUNDAY_EVENING = dt.datetime(2026, 12, 6, 18, 59, tzinfo=NEW_YORK).timestamp()


def test_the_simulator_stamps_a_closed_market_with_its_last_trade() -> None:
    friday_close = dt.datetime(2026, 12, 4, 19, 59, 59, tzinfo=NEW_YORK).timestamp()
    assert last_trade_moment("stock", SUNDAY_EVENING) == friday_close
    assert last_trade_moment("crypto", SUNDAY_EVENING) == SUNDAY_EVENING  # never closes
    market = Market(UNIVERSE, 7, SUNDAY_EVENING, always_open=False)
    aapl = market.quote("NASDAQ:AAPL", SUNDAY_EVENING)
    assert aapl.status == "CLOSED" and aapl.lp_time == friday_close
    assert market.quote("BINANCE:BTCUSDT", SUNDAY_EVENING).lp_time == SUNDAY_EVENING


def test_closed_time_text_fits_the_age_column() -> None:
    now = SUNDAY_EVENING
    friday = dt.datetime(2026, 12, 4, 19, 59, tzinfo=NEW_YORK).timestamp()
    assert closed_time_text(friday, now) == dt.datetime.fromtimestamp(friday).strftime("%a")
    month_ago = now - 30 * 86400
    assert closed_time_text(month_ago, now) == dt.datetime.fromtimestamp(month_ago).strftime("%b")
    assert closed_time_text(None, now) == "—"
    assert all(len(closed_time_text(t, now)) <= 4 for t in (friday, now - 60, month_ago))


async def test_a_closed_row_is_not_stale_and_shows_its_last_trade() -> None:
    store = pinned_store()
    last = FROZEN_NOW - 2 * 86400
    store.apply_quote(
        Quote(code="NASDAQ:AAPL", status="CLOSED", lp_time=last), None, FROZEN_NOW - 60
    )
    app = pinned_app(store=store, later=600)
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.pause(0.3)
        grid = app.query_one(QuoteGrid)
        closed = grid.cells["NASDAQ:AAPL"]
        open_row = grid.cells["NASDAQ:MSFT"]
        stale = app.palette.stale
        assert all(style is not stale for _text, style in closed)
        assert any(style is stale for _text, style in open_row)
        assert closed_time_text(last, FROZEN_NOW + 600) in grid.row_text("NASDAQ:AAPL")
