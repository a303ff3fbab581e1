"""The plan trap: a set larger than the plan is never refused whole.

End to end on the simulator over loopback: a 12-symbol watchlist against a small-plan key
shows ten live rows and two marked ones, the chart streams, the status bar shows the plan's
use; rejected symbols are never sent again; a reorder spends no budget.
"""

from __future__ import annotations

import asyncio

from tests.integration.test_ui_flows import CALM, grid_text, open_add_symbol, until
from tests.screenshots import PLAN_TRAP
from tests.simhelp import fast_settings
from tests.uihelp import sim_app
from tui.config import Config, preset_plan
from tui.engine.capacity import Capacity
from tui.protocol.live import Subscription
from tui.protocol.rules import fit_to_plan, plan_limit_from_error
from tui.secrets import Keys, Secret
from tui.session.demo import demo_sim_settings
from tui.sim.server import Simulator, run_simulator
from tui.sim.settings import DEMO_KEY, DEMO_SMALL_KEY, DEMO_STOCKNEWS_TOKEN
from tui.ui.grid import QuoteGrid
from tui.ui.screens import AddSymbolScreen

TWELVE = PLAN_TRAP  # the default watchlist plus two: built on a large plan
"""A watchlist built on a large plan: 12 quotes plus a chart need 3 units; pro allows 2."""
SMALL_KEYS = Keys(
    insightsentry_api_key=Secret(DEMO_SMALL_KEY), stocknews_token=Secret(DEMO_STOCKNEWS_TOKEN)
)
"""The simulator's key on the pro plan (2 symbol subscriptions)."""


def quote(code: str) -> Subscription:
    return Subscription(code=code, type="quote")


def series(code: str) -> Subscription:
    return Subscription(code=code, bar_type="minute", bar_interval=1)


def test_fit_puts_the_chart_first_then_quotes_in_watchlist_order() -> None:
    subs = [quote(c) for c in TWELVE] + [series("NASDAQ:AAPL")]
    kept, left = fit_to_plan(subs, 2)
    assert kept[-1] == series("NASDAQ:AAPL")
    assert [s.code for s in kept[:-1]] == TWELVE[:10]
    assert [s.code for s in left] == TWELVE[10:]
    kept, left = fit_to_plan(subs, 1)  # the charted series first, even at no quote's room
    assert kept == [series("NASDAQ:AAPL")] and len(left) == 12
    kept, left = fit_to_plan(subs, 3)
    assert not left


def test_capacity_marks_and_room() -> None:
    capacity = Capacity(Config().plan)
    kept = capacity.fit([quote(c) for c in TWELVE[:9]] + [series("NASDAQ:AAPL")])
    assert len(kept) == 10 and not capacity.marks
    assert capacity.use().quote_room == 1  # one more quote fits in the quote unit
    capacity.fit([quote(c) for c in TWELVE[:10]] + [series("NASDAQ:AAPL")])
    use = capacity.use()
    assert (use.used, use.allowed, use.quote_room) == (2, 2, 0)
    assert use.describe() == "plan pro 2/2"
    capacity.fit([quote(c) for c in TWELVE] + [series("NASDAQ:AAPL")])
    assert capacity.marks == {
        "NASDAQ:GOOGL": "not subscribed: plan allows 2 subscriptions",
        "NASDAQ:META": "not subscribed: plan allows 2 subscriptions",
    }
    assert capacity.use().describe() == "plan pro 2/2 (2 not subscribed)"


def test_limit_error_parsing() -> None:
    """The simulator's wording and a bare ``details`` object both give the limit."""
    message = "Subscription limit exceeded: 3 symbol subscriptions requested, your plan allows 2."
    assert plan_limit_from_error(message, None) == 2
    assert plan_limit_from_error("limit exceeded", '{"requested": 4, "allowed": 5}') == 5
    assert plan_limit_from_error("Unknown field", None) is None


def test_demo_runs_on_the_configured_plan() -> None:
    """The demo key is on the user's plan, not silently on the largest one."""
    settings = demo_sim_settings(Config())
    assert settings.plans[settings.key_plans[DEMO_KEY]].units == 2
    settings = demo_sim_settings(Config(plan=preset_plan("mega")))
    assert settings.plans[settings.key_plans[DEMO_KEY]].units == 12


def _live_rows(app_text: str) -> list[str]:
    return [line for line in app_text.split("\n") if "…" not in line and "not subscr" not in line]


async def _twelve_on_small_plan(sim: Simulator, config_plan: str, plan_text: str) -> None:
    app = sim_app(sim, keys=SMALL_KEYS, plan=config_plan, symbols=TWELVE)
    async with app.run_test(size=(160, 48)) as pilot:
        await until(pilot, lambda: len(_live_rows(grid_text(app))) == 10, timeout=15)
        text = grid_text(app).split("\n")
        assert all("not subscribed: plan allows 2 subscriptions" in t for t in text[10:]), text
        assert all("not subscr" not in t for t in text[:10])
        await until(pilot, lambda: "NASDAQ:AAPL" in app.store.series)  # the chart streams
        await until(pilot, lambda: plan_text in str(app.query_one("#status").render()))
        status = str(app.query_one("#status").render())
        assert "2 not subscribed" in status or "2 out" in status, status
        records = sim.records_for("live")
        last = records[-1].subscription_messages[-1]
        assert {s.code for s in last if s.type == "quote"} == set(TWELVE[:10])
        await pilot.press("q")


async def test_twelve_symbols_on_a_small_plan_show_ten_live_and_two_marked() -> None:
    async with run_simulator(CALM) as sim:
        await _twelve_on_small_plan(sim, "pro", "pro 2/2")
        assert sim.errors_sent("invalid_request") == 0  # nothing was refused whole


async def test_a_config_plan_larger_than_the_key_is_learned_from_the_server() -> None:
    """The config says mega, the key is pro: the server's limit error is taken, not lost."""
    async with run_simulator(CALM) as sim:
        await _twelve_on_small_plan(sim, "mega", "server limit 2/2")
        assert sim.errors_sent("invalid_request") == 1  # once, then the client fits


async def test_add_box_warns_when_the_plan_is_full() -> None:
    async with run_simulator(CALM) as sim:
        app = sim_app(sim, keys=SMALL_KEYS, plan="pro", symbols=TWELVE[:10])
        async with app.run_test(size=(120, 40)) as pilot:
            await until(pilot, lambda: app.plan is not None and app.plan.used == 2)
            await open_add_symbol(pilot, app)
            assert isinstance(app.screen, AddSymbolScreen)
            warning = str(app.screen.query_one("#plan-warning").render())
            assert "plan pro is full (2/2)" in warning
            await pilot.press("escape")
            await pilot.press("q")


async def test_rejected_symbol_is_marked_and_never_sent_again() -> None:
    async with run_simulator(CALM) as sim:
        app = sim_app(sim, symbols=["NASDAQ:AAPL", "NASDAQ:NOSUCH", "NASDAQ:MSFT"])
        async with app.run_test(size=(120, 40)) as pilot:
            grid = app.query_one(QuoteGrid)
            await until(pilot, lambda: "rejected by the server" in grid.row_text("NASDAQ:NOSUCH"))
            before = len(sim.records_for("live")[-1].subscription_messages)
            grid.move_cursor(row=2)
            await pilot.press("enter")  # chart MSFT: the set changes and is sent again
            await until(pilot, lambda: app.focused_code == "NASDAQ:MSFT")
            await until(
                pilot, lambda: len(sim.records_for("live")[-1].subscription_messages) > before
            )
            await asyncio.sleep(0.5)
            messages = sim.records_for("live")[-1].subscription_messages
            assert all("NASDAQ:NOSUCH" not in {s.code for s in m} for m in messages[before:]), (
                "a rejected symbol was sent again"
            )
            assert sim.errors_sent("invalid_symbol") == 1
            assert "rejected by the server" in grid.row_text("NASDAQ:NOSUCH")
            await pilot.press("q")


async def test_a_pure_reorder_sends_nothing() -> None:
    async with run_simulator(fast_settings(step_seconds=0.25, speed=1.0)) as sim:
        app = sim_app(sim)
        async with app.run_test(size=(120, 40)) as pilot:
            await until(pilot, lambda: len(app.store.quotes) == 9)
            await until(pilot, lambda: app.pending is None)
            live = next(s for s in app.statuses if s.name == "live")
            sent = live.subscriptions_sent
            grid = app.query_one(QuoteGrid)
            grid.move_cursor(row=3)
            await pilot.press("J", "J", "K")
            await asyncio.sleep(0.6)  # past the debounce
            await pilot.pause()
            live = next(s for s in app.statuses if s.name == "live")
            assert live.subscriptions_sent == sent
            await pilot.press("q")


async def test_an_unknown_symbol_on_a_full_plan_is_unknown_not_the_plans_fault() -> None:
    """The plan is full, so NASDAQ:ZZZZ never reaches the server: the quotes endpoint says it
    does not exist, and its row says "unknown symbol", never "plan allows"."""
    from tui.session.values import AddSymbol

    async with run_simulator(CALM) as sim:
        app = sim_app(sim, keys=SMALL_KEYS, plan="pro", symbols=TWELVE[:10])
        async with app.run_test(size=(120, 40)) as pilot:
            await until(pilot, lambda: app.plan is not None and app.plan.used == 2)
            app.session.send(AddSymbol("NASDAQ:ZZZZ"))
            grid = app.query_one(QuoteGrid)
            await until(pilot, lambda: "unknown symbol" in grid.marks.get("NASDAQ:ZZZZ", ""))
            assert "plan" not in grid.marks["NASDAQ:ZZZZ"]
            await pilot.press("q")


async def test_a_new_user_on_the_smallest_plan_can_add_a_symbol_that_streams() -> None:
    """The default watchlist leaves room: the first symbol a new user adds on the pro plan (the
    default config's) is subscribed and priced, not "not subscribed"."""
    from tui.session.values import AddSymbol

    async with run_simulator(CALM) as sim:
        app = sim_app(sim, keys=SMALL_KEYS, plan="pro")
        async with app.run_test(size=(120, 40)) as pilot:
            await until(pilot, lambda: app.plan is not None and app.plan.used == 2)
            assert app.plan is not None and app.plan.left_out == 0
            app.session.send(AddSymbol("NASDAQ:AMZN"))
            await until(pilot, lambda: "NASDAQ:AMZN" in app.store.quotes, timeout=10)
            grid = app.query_one(QuoteGrid)
            assert "NASDAQ:AMZN" not in grid.marks
            assert app.plan is not None and app.plan.left_out == 0
            await pilot.press("q")
