"""Issue 13, trust what the screen says: readability, columns, sorting, news, status, keys.

Each test draws the real view (pinned store and clock, or the simulator over loopback) and
reads what it drew.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from rich.color import Color
from rich.segment import Segment

from tests.uihelp import FROZEN_NOW, pinned_app
from tui.config import ConfigError, load_config
from tui.ui.app import MarketpaneApp
from tui.ui.grid import QuoteGrid
from tui.ui.themes import load_themes, shipped_themes_dir

THEMES = sorted(t.name for t in load_themes(shipped_themes_dir()).themes)
"""Every shipped theme."""
AA_CONTRAST = 4.5
"""WCAG AA for normal text."""


def luminance(color: Color) -> float:
    """Relative luminance (WCAG 2)."""

    def channel(value: int) -> float:
        c = value / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = color.get_truecolor()
    return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)


def contrast(a: Color, b: Color) -> float:
    high, low = sorted((luminance(a), luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def cursor_segments(app: MarketpaneApp) -> list[Segment]:
    grid = app.query_one(QuoteGrid)
    grid.strips.clear()
    y = grid.cursor_row + 1 - grid.scroll_offset.y
    return [s for s in grid.render_line(y) if s.text.strip()]


@pytest.mark.parametrize("theme", THEMES)
@pytest.mark.parametrize("stale", [False, True])
async def test_cursor_row_is_readable_in_every_theme(theme: str, stale: bool) -> None:
    """Every cell on the highlighted row, up, down, flat or dim, at 4.5:1 or better against
    the cursor, and never the terminal's dim attribute (which would undo the figure)."""
    app = pinned_app(theme=theme)
    async with app.run_test(size=(160, 48)) as pilot:
        grid = app.query_one(QuoteGrid)
        grid.focus()
        if stale:
            grid.stale_after = -1.0
        for row in range(len(grid.codes)):
            grid.move_cursor(row=row)
            grid.refresh_rows(grid.codes, app.store, FROZEN_NOW)
            await pilot.pause()
            segments = cursor_segments(app)
            assert segments
            for segment in segments:
                style = segment.style
                assert style is not None and style.color and style.bgcolor, segment
                ratio = contrast(style.color, style.bgcolor)
                assert ratio >= AA_CONTRAST, (theme, grid.codes[row], segment.text, ratio)
                assert not style.dim, (theme, segment.text)


def test_theme_files_meet_the_contrast_on_the_cursor() -> None:
    """The same figure from the theme files alone: up, down, flat, dim and text."""
    for theme in load_themes(shipped_themes_dir()).themes:
        variables = theme.variables
        cursor = Color.parse(variables["mp-cursor"])
        for name in ("mp-up", "mp-down", "mp-flat", "mp-cursor-dim"):
            ratio = contrast(Color.parse(variables[name]), cursor)
            assert ratio >= AA_CONTRAST, (theme.name, name, ratio)
        assert theme.foreground is not None
        assert contrast(Color.parse(theme.foreground), cursor) >= AA_CONTRAST


def shown_keys(app: MarketpaneApp) -> list[str]:
    return [c.key for c in app.query_one(QuoteGrid).columns_shown]


async def test_wider_never_shows_fewer_columns_and_bid_comes_with_ask() -> None:
    app = pinned_app()
    async with app.run_test(size=(40, 40)) as pilot:
        previous: set[str] = set()
        for width in range(40, 201, 4):
            await pilot.resize_terminal(width, 40)
            await pilot.pause()
            keys = set(shown_keys(app))
            assert previous <= keys, (width, previous - keys)
            assert ("bid" in keys) == ("ask" in keys), (width, keys)
            previous = keys
        assert {"volume", "bid", "ask", "age", "status"} <= previous  # wide shows them all


async def test_user_columns_choose_and_order(tmp_path: Path) -> None:
    app = pinned_app()
    app.display_config.columns = ["symbol", "volume", "last", "bid", "ask"]
    async with app.run_test(size=(160, 40)) as pilot:
        await pilot.pause()
        assert shown_keys(app) == ["symbol", "volume", "last", "bid", "ask"]
        await pilot.resize_terminal(40, 15)  # narrow: the pair goes together
        await pilot.pause()
        assert "bid" not in shown_keys(app) and "ask" not in shown_keys(app)


def test_unknown_column_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text('[display]\ncolumns = ["symbol", "colour"]\n')
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert "unknown column 'colour'" in str(info.value) and ":2:" in str(info.value)


async def test_sort_cycles_and_the_header_shows_it() -> None:
    app = pinned_app()
    async with app.run_test(size=(160, 48)) as pilot:
        grid = app.query_one(QuoteGrid)
        grid.focus()
        watch = list(grid.codes)
        assert grid.header_text().startswith("default")  # the watchlist's name
        grid.move_cursor(row=2)
        highlighted = grid.highlighted_code
        await pilot.press("s")
        pct = [app.store.quotes[c].get("change_percent") for c in grid.codes]
        assert pct == sorted(pct, reverse=True)
        assert "Chg%▼" in grid.header_text()
        assert grid.highlighted_code == highlighted  # the cursor follows its symbol
        await pilot.press("s")
        volume = [app.store.quotes[c].get("volume") for c in grid.codes]
        assert volume == sorted(volume, reverse=True) and "Volume▼" in grid.header_text()
        await pilot.press("s")
        assert grid.codes == sorted(watch, key=lambda c: c.split(":")[-1])
        assert "▲" in grid.header_text().split()[0]
        await pilot.press("s")
        assert grid.codes == watch
