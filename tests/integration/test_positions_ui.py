"""In the dashboard: privacy mode hides every amount, lots are added and removed
from the app and saved, and the export writes the grid with its positions."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

from rich.console import Console
from textual.widgets import Input

from tests.integration.test_ui_flows import until
from tests.uihelp import pinned_app, sample_portfolio
from tui.portfolio.model import load_portfolio
from tui.ui.grid import QuoteGrid
from tui.ui.holdings import ExportScreen, LotFormScreen, SymbolDetailScreen

AMOUNT = re.compile(r"\d[\d,]*\.\d\d(?!%)")
"""A money amount as the grid writes it (``12,140.50``), not a percentage."""


def grid_lines(app: object) -> list[str]:
    grid = app.query_one(QuoteGrid)  # type: ignore[attr-defined]
    rows = [grid.row_text(code) for code in grid.codes]
    return rows + [grid.footer_text(label, cells) for label, cells in grid.footer]


def position_part(grid: QuoteGrid, line: str) -> str:
    """The text of the position columns of a row (they come after the quote columns)."""
    start = sum(
        c.width + 1
        for c in grid.columns_shown
        if c.key not in ("value", "dpnl", "pnl", "pnlpct", "qty", "avg", "weight")
    )
    return line[start:]


async def test_privacy_mode_hides_every_amount() -> None:
    app = pinned_app(portfolio=sample_portfolio())
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.press("P")
        await until(pilot, lambda: bool(app.query_one(QuoteGrid).footer))
        grid = app.query_one(QuoteGrid)
        shown = [position_part(grid, line) for line in grid_lines(app)]
        assert any(AMOUNT.search(part) for part in shown)
        await pilot.press("asterisk")
        await pilot.pause()
        hidden = [position_part(grid, line) for line in grid_lines(app)]
        assert all(not AMOUNT.search(part) for part in hidden), hidden
        assert all("•••" in part for part in hidden)
        assert any("%" in part for part in hidden)  # percentages are not amounts
        await pilot.press("v")
        await until(pilot, lambda: isinstance(app.screen, SymbolDetailScreen))
        await pilot.pause()
        console = Console(width=100, file=io.StringIO(), color_system=None)
        screen = app.screen
        assert isinstance(screen, SymbolDetailScreen)
        console.print(screen.drawn_quote)
        drawn = console.file.getvalue()  # type: ignore[attr-defined]
        right = "\n".join(line[36:] for line in drawn.splitlines())
        assert "•••" in right and not AMOUNT.search(right), right


async def test_add_and_remove_a_lot_and_export(tmp_path: Path) -> None:
    app = pinned_app(portfolio=sample_portfolio())
    app.session.options.persist = True  # type: ignore[attr-defined]
    path = tmp_path / "portfolio.toml"
    app.session.portfolio_path = path  # type: ignore[attr-defined]
    async with app.run_test(size=(120, 40)) as pilot:
        grid = app.query_one(QuoteGrid)
        await until(pilot, lambda: bool(grid.codes))
        grid.move_cursor(row=grid.codes.index("NASDAQ:MSFT"))
        await pilot.press("plus")
        await until(pilot, lambda: isinstance(app.screen, LotFormScreen))
        app.screen.query_one("#quantity", Input).value = "ten"
        await pilot.press("enter")
        await pilot.pause()
        assert "quantity: 'ten' is not a number" in str(app.screen.query_one("#error").render())
        app.screen.query_one("#quantity", Input).value = "3"
        app.screen.query_one("#price", Input).value = "400"
        await pilot.press("enter")
        await until(pilot, lambda: "NASDAQ:MSFT" in grid.figures)
        saved = load_portfolio(path)
        assert [lot.symbol for lot in saved.portfolios[0].lots][-1] == "NASDAQ:MSFT"
        assert "1,200.00" not in grid.row_text("NASDAQ:MSFT")  # valued at the quote, not cost
        await pilot.press("E")
        await until(pilot, lambda: isinstance(app.screen, ExportScreen))
        target = tmp_path / "grid.csv"
        app.screen.query_one("#path", Input).value = str(target)
        await pilot.press("enter")
        await until(pilot, target.exists)
        rows = list(csv.DictReader(io.StringIO(target.read_text())))

        msft = next(r for r in rows if r["symbol"] == "NASDAQ:MSFT")
        assert msft["quantity"] == "3" and float(msft["market_value"]) > 0
        assert next(r for r in rows if r["symbol"] == "AMEX:SPY")["quantity"] == ""
        await pilot.press("v")
        await until(pilot, lambda: isinstance(app.screen, SymbolDetailScreen))
        await pilot.press("x")
        await until(pilot, lambda: "NASDAQ:MSFT" not in grid.figures)
        assert all(
            lot.symbol != "NASDAQ:MSFT" for p in load_portfolio(path).portfolios for lot in p.lots
        )


async def test_a_held_position_never_shows_value_without_qty() -> None:
    """At every width a position's Value is shown only beside its Qty."""
    from tests.uihelp import pinned_app, sample_portfolio
    from tui.ui.grid import QuoteGrid

    app = pinned_app(portfolio=sample_portfolio())
    async with app.run_test(size=(160, 48)) as pilot:
        for width in range(60, 201, 10):
            await pilot.resize_terminal(width, 48)
            await pilot.pause()
            keys = [c.key for c in app.query_one(QuoteGrid).columns_shown]
            assert "value" not in keys or "qty" in keys, (width, keys)
