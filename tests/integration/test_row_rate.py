"""A row drawn at a rate a person can read: a price changing a hundred times a second is drawn
at most ``display.row_hz`` times a second, always ending on its newest value; its flash still
shows; a row whose cells did not change is never repainted."""

from __future__ import annotations

import asyncio
import time

from tests.enginehelp import wait_for
from tests.uihelp import pinned_app
from tui.protocol.live import Quote
from tui.ui.grid import QuoteGrid

CODE = "NASDAQ:AAPL"


async def test_a_row_changing_100_times_a_second_is_drawn_at_the_row_rate() -> None:
    app = pinned_app()
    async with app.run_test(size=(120, 30)) as pilot:
        await pilot.pause(0.2)
        grid = app.query_one(QuoteGrid)
        assert grid.row_seconds == 0.25  # display.row_hz = 4 by default
        store = app.store
        now = app.now()
        base = store.quotes[CODE].values["last_price"]
        drawn_before = grid.rows_drawn
        started = time.monotonic()
        price = base
        for step in range(100):  # a new price every 10 ms for about a second
            price = round(base + 0.01 * (step + 1), 2)
            store.apply_quote(Quote(code=CODE, last_price=price), None, now)
            grid.refresh_rows({CODE}, store, now, paced=True)
            grid.draw_due(store, now)
            await asyncio.sleep(0.01)
        elapsed = time.monotonic() - started
        draws = grid.rows_drawn - drawn_before
        # At most one draw per turn over the time the loop really took (whatever the load).
        assert 1 <= draws <= elapsed / grid.row_seconds + 1, (draws, elapsed)
        assert draws < 50, draws  # far fewer than the hundred changes
        # The app's timer draws the last one on its turn (however late a busy machine runs it).
        await wait_for(lambda: CODE not in grid.waiting)
        assert f"{price:,.2f}" in grid.row_text(CODE), (price, grid.row_text(CODE))


async def test_a_paced_row_still_flashes_and_an_unchanged_row_writes_nothing() -> None:
    app = pinned_app()
    async with app.run_test(size=(120, 30)) as pilot:
        await pilot.pause(0.2)
        grid = app.query_one(QuoteGrid)
        store = app.store
        now = app.now()
        grid.flashing.clear()
        base = store.quotes[CODE].values["last_price"]
        store.apply_quote(Quote(code=CODE, last_price=base + 1), None, now)
        grid.refresh_rows({CODE}, store, now, paced=True)
        store.apply_quote(Quote(code=CODE, last_price=base + 2), None, now)
        grid.refresh_rows({CODE}, store, now, paced=True)  # too soon: waits for its turn
        assert CODE in grid.waiting
        await wait_for(lambda: CODE not in grid.waiting)  # the app's timer, on its turn
        assert CODE in grid.flashing  # drawn on its turn, with the flash of its move
        assert f"{base + 2:,.2f}" in grid.row_text(CODE)
        drawn = grid.rows_drawn
        await asyncio.sleep(grid.row_seconds)
        grid.refresh_rows(list(grid.codes), store, now, paced=True)  # nothing changed
        grid.draw_due(store, now)
        assert grid.rows_drawn == drawn


async def test_a_row_removed_while_waiting_leaves_nothing_waiting() -> None:
    app = pinned_app()
    async with app.run_test(size=(120, 30)) as pilot:
        await pilot.pause(0.2)
        grid = app.query_one(QuoteGrid)
        store = app.store
        now = app.now()
        base = store.quotes[CODE].values["last_price"]
        for step in (1, 2):  # the second change comes too soon: it waits
            store.apply_quote(Quote(code=CODE, last_price=base + step), None, now)
            grid.refresh_rows({CODE}, store, now, paced=True)
        assert CODE in grid.waiting
        grid.set_symbols([c for c in grid.codes if c != CODE], store)
        await wait_for(lambda: not grid.waiting)  # its turn comes while it is gone
        assert CODE not in grid.drawn_at
