"""Trust what the screen says: readability, columns, sorting, news, status, keys.

Each test draws the real view (pinned store and clock, or the simulator over loopback) and
reads what it drew.
"""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest
from rich.color import Color
from rich.segment import Segment
from rich.style import Style

from tests.integration.test_render import StatusApp
from tests.uihelp import FROZEN_NOW, pinned_app, pinned_statuses, pinned_store, static_app
from tui.cli.launch import demo_keys
from tui.config import Config, ConfigError, load_config
from tui.engine.status import FeedState, FeedStatus
from tui.engine.stories import NewsItem
from tui.session.session import SessionOptions
from tui.session.values import AddSymbol, SwitchWatchlist
from tui.ui.app import MarketpaneApp
from tui.ui.commands import MarketpaneCommands
from tui.ui.grid import QuoteGrid
from tui.ui.panels import ChartView, NewsList, StatusBar
from tui.ui.render import Palette
from tui.ui.screens import HelpScreen, NewsDetailScreen, NoticeHistoryScreen
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


def _news_item(key: str, published: float) -> NewsItem:
    return NewsItem(
        key=key,
        title=f"Story {key} about markets and more words",
        summary="",
        tickers=["AAPL"],
        source="Test",
        published=published,
        origin="newsfeed",
    )


async def test_highlighted_story_stays_put_and_enter_opens_it() -> None:
    app = pinned_app()
    async with app.run_test(size=(160, 48)) as pilot:
        news = app.query_one(NewsList)
        news.focus()
        await pilot.press("down", "down")
        held = news.selected_item()
        assert held is not None
        for k in range(3):  # new stories arrive above it
            app.store.add_news(_news_item(f"new{k}", FROZEN_NOW + k))
            app._refresh_news()
            await pilot.pause()
        assert news.selected_item() == held
        await pilot.press("enter")
        assert isinstance(app.screen, NewsDetailScreen) and app.screen.item.key == held.key
        await pilot.press("j")  # the next story without leaving
        assert app.screen.item.key == news.items[news.items.index(held) + 1].key
        await pilot.press("k", "k")
        assert app.screen.item.key == news.items[news.items.index(held) - 1].key


async def test_story_link_is_whole_a_hyperlink_and_copied() -> None:
    item = msgspec.structs.replace(
        _news_item("a", FROZEN_NOW), link="https://news.example/" + "long-path/" * 12
    )
    app = pinned_app()
    async with app.run_test(size=(60, 30)) as pilot:
        app.push_screen(NewsDetailScreen([item]))
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, NewsDetailScreen)
        body = screen.body()
        assert item.link is not None and item.link in body.plain  # whole, never cut
        assert any(
            span.style.link == item.link for span in body.spans if isinstance(span.style, Style)
        )
        copied: list[str] = []
        app.copy_to_clipboard = copied.append  # type: ignore[method-assign,assignment]
        await pilot.press("y")
        assert copied == [item.link]


async def test_compact_news_can_be_focused_and_opened() -> None:
    app = pinned_app()
    async with app.run_test(size=(40, 15)) as pilot:
        assert app.layout_name == "compact"
        await pilot.press("n")
        await pilot.pause()
        news = app.query_one(NewsList)
        assert news.display and app.focused is news
        await pilot.press("enter")
        assert isinstance(app.screen, NewsDetailScreen)
        await pilot.press("escape", "n")
        await pilot.pause()
        assert isinstance(app.focused, QuoteGrid)


@pytest.mark.parametrize("size", [(40, 12), (80, 24), (160, 48)])
async def test_demo_badge_at_every_size(size: tuple[int, int]) -> None:
    app = pinned_app()
    async with app.run_test(size=size) as pilot:
        await pilot.pause()
        assert app.query_one(StatusBar).render_line(0).text.startswith(" DEMO ")


def test_a_stopped_feed_says_why_at_every_width() -> None:
    status = FeedStatus("live", FeedState.STOPPED, detail="key rejected (1008)")
    palette = Palette.from_variables({})
    for detail in (0, 1, 2, 3):
        line = StatusBar.status_line([status], [], palette, FROZEN_NOW, detail).plain
        assert "live ✖ key rejected (1008)" in line or "✖ key rejected (1008)" in line


async def test_notice_history_keeps_every_notice() -> None:
    app = pinned_app()
    async with app.run_test(size=(100, 30)) as pilot:
        app.session.send(SwitchWatchlist(7))  # a notice: there is no watchlist 7
        app.session.send(AddSymbol("not a code"))
        await pilot.pause(0.2)
        await pilot.press("N")
        assert isinstance(app.screen, NoticeHistoryScreen)
        texts = [n.text for n in app.screen.notices]
        assert any("no watchlist 7" in t for t in texts)
        assert any("not a symbol code" in t for t in texts)


async def test_d_removes_only_with_the_grid_focused() -> None:
    app = pinned_app()
    async with app.run_test(size=(160, 48)) as pilot:
        codes = list(app.state.codes)
        app.query_one(NewsList).focus()
        await pilot.press("d")
        await pilot.pause()
        assert app.state.codes == codes
        app.query_one(QuoteGrid).focus()
        await pilot.press("d")
        await pilot.pause()
        assert app.state.codes == codes[1:]
        await pilot.press("u")
        await pilot.pause()
        assert app.state.codes == codes


async def test_interval_keys_do_not_stack_toasts_and_gap_fill_shows() -> None:
    app = pinned_app()
    async with app.run_test(size=(160, 48)) as pilot:
        before = len(app._notifications)
        for _ in range(5):  # 1m → 5m → 15m → 1h → 1D → 1s
            await pilot.press("i")
        await pilot.pause()
        assert len(app._notifications) == before
        assert app.state.interval_label == "1s"
        await pilot.press("g")
        await pilot.pause()
        chart = app.query_one(ChartView)
        assert "gaps filled" in chart.label


async def test_theme_choice_is_saved(tmp_path: Path) -> None:
    config_path = tmp_path / "config.toml"
    app = static_app(
        SessionOptions(config=Config(), config_path=config_path, keys=demo_keys(), persist=True),
        pinned_store(),
        frozen_time=FROZEN_NOW,
    )
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("t")
        await pilot.pause()
        chosen = app.theme
        assert chosen != "marketpane-dark"
    assert load_config(config_path)[0].display.theme == chosen


async def test_help_and_palette_list_actions_once() -> None:
    app = pinned_app()
    async with app.run_test(size=(120, 40)) as pilot:
        rows = app.action_rows()
        keys = " ".join(k for k, _, _ in rows)
        for needle in ("Enter", "PgUp/PgDn", "Home/End", "s", "N", "?"):
            assert needle in keys, needle
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen) and app.screen.legend
        legend = " ".join(k for k, _ in app.screen.legend)
        for mark in ("▲▲", "PRE", "15m", "dimmed", "not subscribed", "rejected"):
            assert mark in legend
        await pilot.press("escape")
        provider = MarketpaneCommands(app.screen)
        entries = provider._commands()
        titles = [text for text, _ in entries]
        assert len(titles) == len(set(titles)) and all(action for _, action in entries)
        system = [c.title for c in app.get_system_commands(app.screen)]  # type: ignore[arg-type]
        assert "Quit" not in system and "Theme" in system
        assert set(app.available_themes) == set(app.marketpane_themes)


async def test_a_bad_theme_file_gives_one_notice(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    themes = tmp_path / "themes"
    themes.mkdir()
    (themes / "broken.toml").write_text('name = "broken"\nprimary = "banana"\n')
    monkeypatch.setattr("tui.ui.theming.paths.user_themes_dir", lambda: themes)
    app = pinned_app(theme="broken")
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        notes = [n.message for n in app._notifications]
        assert len(notes) == 1, notes
        assert "broken.toml" in notes[0] and "not found" in notes[0]
        assert app.theme == "marketpane-dark"


async def test_a_narrow_status_bar_drops_parts_whole() -> None:
    """At 48 columns the plan's figures are shown whole or not at all, never cut short."""
    app = StatusApp()
    async with app.run_test(size=(48, 3)) as pilot:
        bar = app.query_one(StatusBar)
        extra = ["DEMO data (simulator)", "plan pro 2/2", "budget 3/120 in the last 3 h", "via hub"]
        bar.show(pinned_statuses(), extra, Palette.from_variables({}), FROZEN_NOW)
        await pilot.pause()
        shown = bar.render_line(0).text.rstrip()
        assert shown.startswith(" DEMO ") and "…" not in shown, shown
        assert "pro 2/2" in shown or "pro" not in shown, shown
        assert len(shown) <= 48


async def test_u_puts_the_cursor_on_the_row_it_brings_back() -> None:
    """d on the third row, then u: the cursor is on the restored row, so a second d removes
    it again and not its neighbour."""
    app = pinned_app()
    async with app.run_test(size=(160, 48)) as pilot:
        codes = list(app.state.codes)
        grid = app.query_one(QuoteGrid)
        grid.focus()
        await pilot.press("j", "j")
        await pilot.pause()
        assert grid.highlighted_code == codes[2]
        await pilot.press("d")
        await pilot.pause()
        assert codes[2] not in app.state.codes and grid.highlighted_code == codes[3]
        await pilot.press("u")
        await pilot.pause()
        assert app.state.codes == codes and grid.highlighted_code == codes[2]
        await pilot.press("d")
        await pilot.pause()
        assert app.state.codes == codes[:2] + codes[3:]


async def test_capital_i_jumps_the_chart_to_an_interval() -> None:
    """``I`` lists every interval; picking one jumps there (no cycling through the rest)."""
    from tui.ui.intervals import IntervalScreen

    app = pinned_app()
    async with app.run_test(size=(160, 48)) as pilot:
        assert app.state.interval_label == "1m"
        await pilot.press("I")
        await pilot.pause()
        assert isinstance(app.screen, IntervalScreen)
        await pilot.press("j", "j", "j", "j", "enter")  # 1m, 5m, 15m, 1h, 1D
        await pilot.pause()
        assert app.state.interval_label == "1D"
        await pilot.press("I", "escape")
        await pilot.pause()
        assert app.state.interval_label == "1D"
