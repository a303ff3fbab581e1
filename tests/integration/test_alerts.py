"""Alerts: every rule kind driven by prices the simulator sends over loopback.

The simulator's market is paused and moved only by scripted trades (``Simulator.trade``), so
each test knows the exact prices the engine receives; the alerts are evaluated by the
engine's monitor from its store, exactly as in the app and the hub.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from tests.enginehelp import sim_config, wait_for
from tests.simhelp import fast_settings
from tui.alerts.model import AlertDelivery, AlertRule, Firing
from tui.engine.engine import Engine, EngineSettings
from tui.engine.status import FeedState
from tui.protocol.live import Subscription
from tui.secrets import Keys, Secret
from tui.sim.server import Simulator, run_simulator
from tui.sim.settings import DEMO_KEY, DEMO_STOCKNEWS_TOKEN

CODE = "NASDAQ:AAPL"
QUIET = AlertDelivery(notice=True, bell=False, tmux=False, desktop=False)
"""In-process notices only: these tests count firings, the channels have their own tests."""


def rule(rule_id: str, when: str, **fields: object) -> AlertRule:
    return AlertRule(id=rule_id, when=when, **fields)  # type: ignore[arg-type]


@asynccontextmanager
async def alert_engine(
    sim: Simulator,
    rules: list[AlertRule],
    state_dir: Path | None = None,
    *,
    news: bool = False,
    watch: list[str] | None = None,
    subscriptions: int = 12,
) -> AsyncIterator[Engine]:
    """An engine on ``sim`` with ``rules``; ``watch``: the symbols a view asks for."""
    config = sim_config(sim)
    config.plan.subscriptions = subscriptions
    config.alerts = rules
    config.alert_delivery = QUIET
    keys = Keys(
        insightsentry_api_key=Secret(DEMO_KEY),
        stocknews_token=Secret(DEMO_STOCKNEWS_TOKEN) if news else None,
    )
    engine = Engine(
        config,
        keys,
        settings=EngineSettings(debounce=0.05, ui_hz=50.0, newsfeed=news, stocknews=news),
        state_dir=state_dir,
    )
    if watch:
        engine.set_desired([Subscription(code=c, type="quote") for c in watch])
    task = asyncio.create_task(engine.run())
    try:
        yield engine
    finally:
        await engine.close(2.0)
        task.cancel()


def fired(engine: Engine, rule_id: str | None = None) -> list[str]:
    return [f.text for f in engine.alerts.fired if rule_id is None or f.id == rule_id]


async def trade(engine: Engine, sim: Simulator, price: float) -> None:
    """One scripted trade, and wait until the engine's store has it."""
    sim.trade(CODE, price)
    await wait_for(lambda: engine.store.quotes.get(CODE) and _last(engine) == price)
    # The monitor (every 0.2 s) has evaluated it once it takes the change off the store's list.
    await wait_for(lambda: CODE not in engine.store.alert_changed)


def _last(engine: Engine) -> object:
    return engine.store.quotes[CODE].values.get("last_price")


async def ready(engine: Engine, sim: Simulator, price: float) -> None:
    """The alert's symbol is subscribed (the alert asked for it) and at ``price``."""
    await wait_for(lambda: CODE in engine.store.quotes)
    await trade(engine, sim, price)


@asynccontextmanager
async def quiet_sim() -> AsyncIterator[Simulator]:
    async with run_simulator(fast_settings(market_paused=True)) as sim:
        yield sim


async def test_crossing_with_hysteresis_fires_once_for_an_oscillating_price(
    tmp_path: Path,
) -> None:
    """A price wobbling around the level fires once; it fires again only after moving back
    past the band and crossing again. The alert's symbol is in no view: the alert itself
    subscribed it."""
    async with (
        quiet_sim() as sim,
        alert_engine(sim, [rule("1", f"{CODE} crosses 200 band 1", mode="every",
                                cooldown_seconds=0)]) as engine,
    ):  # fmt: skip
        await ready(engine, sim, 195.0)
        assert engine.desired == [Subscription(code=CODE, type="quote")]
        for price in (200.05, 199.95, 200.1, 199.9, 200.2, 199.8, 200.3):
            await trade(engine, sim, price)
        assert len(fired(engine)) == 1, fired(engine)
        assert "crossed 200 up" in fired(engine)[0]
        await trade(engine, sim, 198.9)  # back past the band: re-armed, no firing
        assert len(fired(engine)) == 1
        await trade(engine, sim, 200.5)
        assert len(fired(engine)) == 2


async def test_change_on_the_day_and_window_move(tmp_path: Path) -> None:
    """``change >= 3%`` against the quote's previous close; ``move +2% in 5m`` up only, and
    ``move -2% in 5m`` stays quiet on the same rise."""
    async with quiet_sim() as sim:
        close = sim.market.state(CODE).prev_close
        rules = [
            rule("chg", f"{CODE} change >= 3%"),
            rule("up", f"{CODE} move +2% in 5m"),
            rule("down", f"{CODE} move -2% in 5m"),
        ]
        async with alert_engine(sim, rules) as engine:
            await ready(engine, sim, round(close * 1.01, 2))
            await trade(engine, sim, round(close * 1.025, 2))
            assert fired(engine, "chg") == []
            assert len(fired(engine, "up")) == 0  # +1.5 % so far
            await trade(engine, sim, round(close * 1.032, 2))
            assert len(fired(engine, "chg")) == 1
            assert "change +3.2" in fired(engine, "chg")[0]
            assert len(fired(engine, "up")) == 1 and "up 2." in fired(engine, "up")[0]
            assert fired(engine, "down") == []


async def test_sentiment_rule_fires_on_a_matching_story_only(tmp_path: Path) -> None:
    """``news sentiment <= -0.5 confidence 0.6`` on AAPL: a bearish, confident AAPL story
    fires (once, though both news sources carry it); a bullish one, a story about another
    symbol and an unsure one do not."""
    async with quiet_sim() as sim:
        inst = sim.market.instruments[CODE]
        other = sim.market.instruments["NASDAQ:MSFT"]
        rules = [rule("n", f"{CODE} news sentiment <= -0.5 confidence 0.6", mode="every",
                      cooldown_seconds=0)]  # fmt: skip
        async with alert_engine(sim, rules, news=True) as engine:
            await wait_for(
                lambda: all(s.state == FeedState.LIVE for s in engine.statuses()
                            if s.name != "live")
            )  # fmt: skip
            await asyncio.sleep(0.5)

            def story(**changes: object) -> None:
                base = sim.news.make(time.time())
                sim.publish(dataclasses.replace(base, related=[], **changes))  # type: ignore[arg-type]

            story(inst=inst, score=0.8, confidence=0.9, title="AAPL soars")
            story(inst=other, score=-0.9, confidence=0.9, title="MSFT sinks")
            story(inst=inst, score=-0.9, confidence=0.3, title="AAPL rumour")
            await asyncio.sleep(1.0)
            assert fired(engine) == []
            story(inst=inst, score=-0.8, confidence=0.9, title="AAPL recalls every phone")
            await wait_for(lambda: fired(engine))
            await asyncio.sleep(1.0)  # the same story from the second source
            assert len(fired(engine)) == 1
            assert "AAPL recalls every phone" in fired(engine)[0]
            assert "-0.80" in fired(engine)[0]


@pytest.mark.long(8)
async def test_stale_quote_and_a_feed_down(tmp_path: Path) -> None:
    """``stale 2s`` fires when no quote came for two seconds (the market is paused) and
    re-arms on a fresh quote; ``feed live down 1s`` fires for a feed that cannot connect."""
    async with quiet_sim() as sim:
        rules = [rule("s", f"{CODE} stale 2s", mode="every", cooldown_seconds=0)]
        async with alert_engine(sim, rules) as engine:
            await ready(engine, sim, 150.0)
            started = time.monotonic()
            await wait_for(lambda: fired(engine, "s"), timeout=6)
            assert 1.5 <= time.monotonic() - started <= 4.0
            assert "no quote for" in fired(engine, "s")[0]
            await trade(engine, sim, 151.0)  # fresh: re-armed
            await wait_for(lambda: len(fired(engine, "s")) == 2, timeout=6)
    async with run_simulator(fast_settings()) as sim:
        async with alert_engine(sim, [rule("f", "feed live down 1s")], watch=[CODE]) as engine:
            await wait_for(lambda: CODE in engine.store.quotes)
            await asyncio.sleep(1.5)
            assert fired(engine, "f") == []
            await sim.stop()  # the server goes away: /live cannot reconnect
            await wait_for(lambda: fired(engine, "f"), timeout=8)
            assert "feed live down for" in fired(engine, "f")[0]


async def test_once_every_cooldown_and_expiry(tmp_path: Path) -> None:
    """``once`` fires one time ever; ``every`` re-fires after re-arming but not inside its
    cooldown (then as soon as it ends); an expired rule never fires and says so."""
    past = (dt.datetime.now() - dt.timedelta(minutes=1)).isoformat(timespec="seconds")
    rules = [
        rule("once", f"{CODE} > 100"),
        rule("every", f"{CODE} > 100 band 1", mode="every", cooldown_seconds=2),
        rule("old", f"{CODE} > 100", expires=past),
    ]
    async with quiet_sim() as sim, alert_engine(sim, rules) as engine:
        await ready(engine, sim, 90.0)
        await trade(engine, sim, 101.0)
        assert len(fired(engine, "once")) == 1 and len(fired(engine, "every")) == 1
        first = time.monotonic()
        await trade(engine, sim, 98.0)  # re-arms "every" (band 1)
        await trade(engine, sim, 102.0)  # inside the cooldown: held
        assert len(fired(engine, "every")) == 1
        await trade(engine, sim, 102.5)  # still above and armed: fires once the cooldown ends
        await wait_for(lambda: len(fired(engine, "every")) == 2, timeout=5)
        assert time.monotonic() - first >= 1.5
        await trade(engine, sim, 98.0)
        await trade(engine, sim, 103.0)
        assert len(fired(engine, "once")) == 1
        assert fired(engine, "old") == []
        engine.alerts.refresh_views()
        status = {v.rule.id: v.status for v in engine.alerts.views()}
        assert status["once"] == "fired" and status["old"] == "expired"


async def test_restart_keeps_fired_and_waiting_states(tmp_path: Path) -> None:
    """State is saved in the state directory: after a restart a fired ``once`` rule stays
    fired and an ``every`` rule waiting to re-arm does not fire again at the same price; a
    pending one still fires."""
    rules = [
        rule("once", f"{CODE} > 100"),
        rule("every", f"{CODE} > 100", mode="every", cooldown_seconds=0),
        rule("later", f"{CODE} > 120"),
    ]
    async with quiet_sim() as sim:
        async with alert_engine(sim, rules, tmp_path) as engine:
            await ready(engine, sim, 90.0)
            await trade(engine, sim, 105.0)
            assert sorted(f.id for f in engine.alerts.fired) == ["every", "once"]
        assert (tmp_path / "alerts.json").exists()
        async with alert_engine(sim, rules, tmp_path) as engine:
            await ready(engine, sim, 106.0)
            await trade(engine, sim, 107.0)
            assert fired(engine) == []
            await trade(engine, sim, 121.0)
            assert [f.id for f in engine.alerts.fired] == ["later"]
            engine.alerts.refresh_views()
            status = {v.rule.id: v.status for v in engine.alerts.views()}
            assert status == {"once": "fired", "every": "waiting to re-arm", "later": "fired"}


async def test_an_alert_symbol_counts_against_the_plan(tmp_path: Path) -> None:
    """An alert on a symbol no view shows joins the desired set after the view's symbols;
    when the plan is full (one unit: ten quotes, all the view's) it is not subscribed, and the
    alert says so; when the view drops a symbol, the alert's gets the room."""
    async with quiet_sim() as sim:
        others = [c for c in sim.market.instruments if c != CODE][:10]
        rules = [rule("1", f"{CODE} > 100")]
        async with alert_engine(sim, rules, watch=others, subscriptions=1) as engine:
            await wait_for(lambda: others[0] in engine.store.quotes)
            assert CODE not in {s.code for s in engine.desired}
            engine.alerts.refresh_views()
            (view,) = engine.alerts.views()
            assert view.status.startswith(f"{CODE} not subscribed"), view.status
            engine.set_desired([Subscription(code=c, type="quote") for c in others[1:]])
            await wait_for(lambda: CODE in {s.code for s in engine.desired})
            await wait_for(lambda: CODE in engine.store.quotes)
            engine.alerts.refresh_views()
            assert engine.alerts.views()[0].status == "armed"


async def test_restart_safety_state_is_saved_before_any_delivery(tmp_path: Path) -> None:
    """At the moment a firing is handed to the channels, the state file already says it
    fired: a crash during delivery cannot make a ``once`` alert fire again."""
    seen_on_disk: list[bool] = []
    async with (
        quiet_sim() as sim,
        alert_engine(sim, [rule("1", f"{CODE} > 100")], tmp_path) as engine,
    ):
        send = engine.alerts.delivery.send

        def checking_send(firing: Firing) -> None:
            saved = json.loads((tmp_path / "alerts.json").read_bytes())
            seen_on_disk.append(saved[f"1|{CODE}"].get("done", False))
            send(firing)

        engine.alerts.delivery.send = checking_send  # type: ignore[method-assign]
        await ready(engine, sim, 90.0)
        await trade(engine, sim, 101.0)
        await wait_for(lambda: seen_on_disk)
    assert seen_on_disk == [True]
