"""In the dashboard: a firing rings the bell and shows a notice, ``A`` adds an alert
from a row (with a clear error for a bad expression), ``L`` lists, pauses and deletes."""

from __future__ import annotations

from pathlib import Path

from textual.widgets import DataTable, Input, Static

from tests.integration.test_ui_flows import until
from tests.simhelp import fast_settings
from tests.uihelp import sim_app
from tui.alerts.model import AlertDelivery, AlertRule
from tui.config import load_config
from tui.sim.server import run_simulator
from tui.ui.alerts import AlertFormScreen, AlertListScreen, osc_notification
from tui.ui.grid import QuoteGrid

CODE = "BINANCE:BTCUSDT"


async def test_a_firing_rings_the_bell_and_shows_a_notice() -> None:
    async with run_simulator(fast_settings(market_paused=True)) as sim:
        sim.trade(CODE, 50_000.0)
        app = sim_app(
            sim,
            alerts=[AlertRule(id="1", when=f"{CODE} > 60000")],
            alert_delivery=AlertDelivery(tmux=False, bell=True, notice=True),
        )
        rings: list[int] = []
        app.bell = lambda: rings.append(1)  # type: ignore[method-assign]
        async with app.run_test(size=(120, 40)) as pilot:
            await until(pilot, lambda: CODE in app.store.quotes)
            await until(pilot, lambda: bool(app.alert_views))
            assert app.alert_views[0].status == "armed"
            sim.trade(CODE, 60_500.0)
            await until(pilot, lambda: bool(rings))
            shown = [n for n in app.notice_log if n.alert]
            assert len(shown) == 1 and "at or above 60000" in shown[0].text
            await until(pilot, lambda: app.alert_views[0].status == "fired")
            await pilot.press("q")


async def test_add_from_a_row_then_list_pause_and_delete(tmp_path: Path) -> None:
    config_path = tmp_path / "config.toml"
    async with run_simulator(fast_settings(market_paused=True)) as sim:
        app = sim_app(sim, config_path)
        async with app.run_test(size=(120, 40)) as pilot:
            grid = app.query_one(QuoteGrid)
            await until(pilot, lambda: grid.highlighted_code in app.store.quotes)
            code = grid.highlighted_code
            assert code is not None
            await pilot.press("A")
            await until(pilot, lambda: isinstance(app.screen, AlertFormScreen))
            when = app.screen.query_one("#when", Input)
            assert when.value.startswith(f"{code} crosses ")
            when.value = f"{code} crosses lots"
            await pilot.press("enter")
            await pilot.pause()
            error = str(app.screen.query_one("#error", Static).render())
            assert "unexpected 'lots'" in error and "expected a price" in error
            when.value = f"{code} > 1000000"
            app.screen.query_one("#mode", Input).value = "every 10m"
            await pilot.press("enter")
            await until(pilot, lambda: len(app.alert_views) == 1)
            rule = app.alert_views[0].rule
            assert (rule.id, rule.mode, rule.cooldown_seconds) == ("1", "every", 600.0)
            assert load_config(config_path)[0].alerts == [rule]
            await pilot.press("L")
            await until(pilot, lambda: isinstance(app.screen, AlertListScreen))
            table = app.screen.query_one(DataTable)
            assert table.row_count == 1
            await pilot.press("space")
            await until(pilot, lambda: app.alert_views[0].status == "paused")
            assert "paused" in str(table.get_row_at(0)[3])
            await pilot.press("d")
            await until(pilot, lambda: app.alert_views == [])
            assert load_config(config_path)[0].alerts == []
            await pilot.press("escape")
            await pilot.press("q")


def test_osc_notification_cannot_be_ended_by_its_text() -> None:
    sequence = osc_notification("Alert 1: X:\x1b]0;pwn\x07 at 5; more")
    assert sequence.count("\x1b") == 4  # two OSCs, each ended by ST: nothing from the text
    assert "\x07" not in sequence and "at 5, more" in sequence
