"""Pilot tests of each key flow, with the real engine on the simulator over loopback."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from textual.pilot import Pilot
from textual.widgets import OptionList

from tests.simhelp import fast_settings
from tests.uihelp import engine_of, pinned_app, sim_app
from tui.config import load_config
from tui.sim.server import run_simulator
from tui.ui.app import MarketpaneApp
from tui.ui.grid import QuoteGrid
from tui.ui.panels import NewsList
from tui.ui.screens import AddSymbolScreen, HelpScreen, NewsDetailScreen

CALM = fast_settings(step_seconds=0.25, speed=1.0)
"""A market that ticks like the real demo, so Pilot finds the app idle between keys."""


async def until(pilot: Pilot[int], predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    """Let the app run until ``predicate`` holds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not met in time")
        await pilot.pause(0.05)


async def open_add_symbol(pilot: Pilot[int], app: MarketpaneApp) -> None:
    """Press ``a`` and wait until the search box has focus (keys typed earlier reach the app)."""
    await pilot.press("a")
    await until(pilot, lambda: isinstance(app.screen, AddSymbolScreen))
    await pilot.pause()


def grid_text(app: MarketpaneApp) -> str:
    """Every cell of the grid as plain text."""
    grid = app.query_one(QuoteGrid)
    return "\n".join(grid.row_text(code) for code in grid.codes)


async def test_live_quotes_reach_the_grid() -> None:
    async with run_simulator(CALM) as sim:
        app = sim_app(sim)
        async with app.run_test(size=(120, 40)) as pilot:
            await until(pilot, lambda: "BINANCE:BTCUSDT" in app.store.quotes)
            await until(pilot, lambda: "…" not in grid_text(app).split("\n")[7])
            assert "DEMO" in str(app.query_one("#status").render())
            await pilot.press("q")


async def test_add_and_remove_symbol_persist(tmp_path: Path) -> None:
    config_path = tmp_path / "config.toml"
    async with run_simulator(CALM) as sim:
        app = sim_app(sim, config_path=config_path)
        async with app.run_test(size=(120, 40)) as pilot:
            await open_add_symbol(pilot, app)
            await pilot.press(*"ibm")
            await until(
                pilot, lambda: app.screen.query_one("#results", OptionList).option_count > 0
            )
            await pilot.press("enter")
            await until(pilot, lambda: "NYSE:IBM" in app.query_one(QuoteGrid).codes)
            saved, _ = load_config(config_path)
            assert saved.watchlist().symbols[-1].code == "NYSE:IBM"
            engine = engine_of(app)
            assert engine is not None
            await until(pilot, lambda: any(s.code == "NYSE:IBM" for s in engine.desired))
            grid = app.query_one(QuoteGrid)
            grid.focus()
            grid.move_cursor(row=len(grid.codes) - 1)
            await pilot.press("d")
            await until(pilot, lambda: "NYSE:IBM" not in grid.codes)
            saved, _ = load_config(config_path)
            assert all(s.code != "NYSE:IBM" for s in saved.watchlist().symbols)
            await pilot.press("q")


async def test_invalid_symbol_typed_by_user_is_explained() -> None:
    async with run_simulator(CALM) as sim:
        app = sim_app(sim)
        async with app.run_test(size=(120, 40)) as pilot:
            await open_add_symbol(pilot, app)
            await pilot.press(*"not a symbol", "enter")
            assert isinstance(app.screen, AddSymbolScreen)
            hint = str(app.screen.query_one("#hint").render())
            assert "EXCHANGE:SYMBOL" in hint
            await pilot.press("escape")
            await pilot.press("q")


async def test_enter_never_picks_the_results_of_an_older_query() -> None:
    """Results on screen answer what was typed before: typing on and pressing Enter at once
    acts on the text, not on a stale result (on a busy machine the debounced search of a
    prefix can show results just before Enter)."""
    async with run_simulator(CALM) as sim:
        app = sim_app(sim)
        async with app.run_test(size=(120, 40)) as pilot:
            await open_add_symbol(pilot, app)
            await pilot.press(*"app")
            screen = app.screen
            assert isinstance(screen, AddSymbolScreen)
            results = screen.query_one("#results", OptionList)
            await until(pilot, lambda: results.option_count > 0 and screen.results_for == "app")
            await pilot.press(*"le zzz", "enter")  # before its own search has run
            assert app.screen is screen  # still open: "APPLE ZZZ" is not a symbol
            assert "EXCHANGE:SYMBOL" in str(screen.query_one("#hint").render())
            await pilot.press("escape")
            await pilot.press("q")


async def test_switch_watchlist_and_reorder() -> None:
    async with run_simulator(CALM) as sim:
        app = sim_app(sim)
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.press("2")
            grid = app.query_one(QuoteGrid)
            assert grid.codes[0] == "BINANCE:BTCUSDT" and len(grid.codes) == 3
            grid.focus()
            await pilot.press("J")
            assert grid.codes[:2] == ["BINANCE:ETHUSDT", "BINANCE:BTCUSDT"]
            await pilot.press("1")
            assert grid.codes[0] == "NASDAQ:AAPL"
            await pilot.press("q")


async def test_focus_and_interval_resubscribe_once() -> None:
    """Switching symbols and intervals quickly spends one subscription message."""
    async with run_simulator(CALM) as sim:
        app = sim_app(sim, debounce=1.0)
        async with app.run_test(size=(120, 40)) as pilot:
            await until(
                pilot,
                lambda: (
                    bool(sim.records_for("live"))
                    and bool(sim.records_for("live")[0].subscription_messages)
                ),
            )
            grid = app.query_one(QuoteGrid)
            grid.focus()
            await pilot.press("down", "enter", "down", "enter", "i", "i")
            assert app.focused_code == "NASDAQ:NVDA"
            record = sim.records_for("live")[0]

            def final_sent() -> bool:
                series = [s for s in record.subscription_messages[-1] if s.type == "series"]
                return series[0].code == "NASDAQ:NVDA" and series[0].bar_interval == 15

            await until(pilot, final_sent)
            await pilot.pause(0.5)
            assert len(record.subscription_messages) <= 3  # six keys, never one message each
            await until(pilot, lambda: "NASDAQ:NVDA" in app.store.series)
            await pilot.press("q")


async def test_news_detail_and_help() -> None:
    async with run_simulator(CALM) as sim:
        app = sim_app(sim)
        async with app.run_test(size=(160, 48)) as pilot:
            news = app.query_one(NewsList)
            await until(pilot, lambda: news.option_count >= 10)
            await pilot.press("tab")  # to the news: the newest story is highlighted at once
            await pilot.pause()
            assert news.has_focus and news.highlighted == 0
            await pilot.press("enter")
            assert isinstance(app.screen, NewsDetailScreen)
            await pilot.press("escape")
            await pilot.press("question_mark")
            assert isinstance(app.screen, HelpScreen)
            await pilot.press("escape")
            await pilot.press("q")


async def test_quit_sends_close_1000() -> None:
    async with run_simulator(CALM) as sim:
        app = sim_app(sim)
        async with app.run_test(size=(80, 24)) as pilot:
            await until(pilot, lambda: len(sim.records) == 3)
            await until(pilot, lambda: "NASDAQ:AAPL" in app.store.quotes)
            await pilot.press("q")
        for _ in range(100):
            if all(r.closed_at for r in sim.records):
                break
            await asyncio.sleep(0.05)
        assert [r.close_code_received for r in sim.records] == [1000, 1000, 1000]


async def test_bad_theme_file_gives_one_notice(
    isolated_paths: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    themes = isolated_paths / "themes"
    themes.mkdir()
    (themes / "broken.toml").write_text('name = "broken"\nprimary = "notacolour"\n')
    monkeypatch.setattr("tui.paths.user_themes_dir", lambda: themes)
    app = pinned_app(theme="broken")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        messages = [n.message for n in app._notifications]
        assert any("broken.toml" in m for m in messages)
        assert app.theme == "marketpane-dark"


async def test_no_color_uses_monochrome(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    app = pinned_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert app.theme == "marketpane-mono"
        assert app.palette.up.bold


async def test_theme_cycle_and_pause() -> None:
    app = pinned_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("t")
        assert app.theme != "marketpane-dark"
        await pilot.press("p")
        assert app.paused and "PAUSED" in str(app.query_one("#status").render())


async def test_help_scrolls_with_j_k_names_keys_as_typed_and_the_palette_has_no_twins() -> None:
    """The help at 48 rows scrolls with j/k as the grid does; keys read ``+`` and ``*``,
    never their names; the command palette lists no title twice."""
    from textual.containers import VerticalScroll

    from tests.uihelp import pinned_app
    from tui.ui.commands import MarketpaneCommands
    from tui.ui.screens import HelpScreen

    app = pinned_app()
    async with app.run_test(size=(60, 20)) as pilot:
        rows = app.action_rows()
        keys = {k for k, _a, _d in rows}
        assert {"+", "*", "?"} <= keys and not keys & {"plus", "asterisk", "question_mark"}
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        scroll = app.screen.query_one(VerticalScroll)
        assert scroll.max_scroll_y > 0  # it does not fit: the test means something
        await pilot.press("j", "j", "j")
        await pilot.pause()
        assert scroll.scroll_y == 3
        await pilot.press("k")
        await pilot.pause()
        assert scroll.scroll_y == 2
        await pilot.press("escape")
        base = app.screen_stack[0]
        provider = MarketpaneCommands(base)
        titles = [t for t, _ in provider._commands()]
        titles += [c.title for c in app.get_system_commands(base)]
        assert len(titles) == len(set(titles)), sorted(t for t in titles if titles.count(t) > 1)
