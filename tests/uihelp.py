"""Helpers for dashboard tests: an app on the simulator, and a pinned app for snapshots."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import msgspec

from tests.enginehelp import StaticSession
from tests.screenshots import DEMO_PORTFOLIO
from tui.alerts.model import AlertDelivery, AlertRule
from tui.cli.launch import build_app, demo_keys, demo_runtime_config
from tui.config import Config, preset_plan
from tui.engine.engine import Engine, EngineSettings
from tui.engine.status import FeedState, FeedStatus
from tui.engine.store import MarketStore
from tui.engine.stories import news_from_newsfeed, news_from_stocknews
from tui.portfolio.model import PortfolioFile
from tui.secrets import Keys
from tui.session.session import SessionOptions
from tui.sim.bars import BarBuilder, BarSpec, generate_history
from tui.sim.market import Market
from tui.sim.news import NewsGenerator
from tui.sim.server import Simulator
from tui.sim.universe import UNIVERSE
from tui.ui.app import MarketpaneApp, ViewOptions

FROZEN_NOW = 1_795_000_000.0
"""The pinned clock of snapshot tests (a weekday afternoon in New York)."""


SESSION_FIELDS = frozenset(SessionOptions.__dataclass_fields__)
"""Keyword arguments of :func:`sim_app` that go to the session (the rest go to the view)."""


def sim_app(
    sim: Simulator,
    config_path: Path | None = None,
    *,
    debounce: float = 0.2,
    keys: Keys | None = None,
    plan: str = "mega",
    alerts: list[AlertRule] | None = None,
    alert_delivery: AlertDelivery | None = None,
    **options: object,
) -> MarketpaneApp:
    """The real app, session and engine on the simulator, with quick engine timings; the
    config's plan is ``plan`` (the demo key's plan is mega)."""
    config = Config(plan=preset_plan(plan))
    config.alerts = alerts or []
    config.alert_delivery = alert_delivery or AlertDelivery(tmux=False)
    assert sim.urls is not None
    session = {k: v for k, v in options.items() if k in SESSION_FIELDS}
    view = {k: v for k, v in options.items() if k not in SESSION_FIELDS}
    return build_app(
        SessionOptions(
            config=config,
            config_path=config_path,
            keys=keys or demo_keys(),
            runtime_config=demo_runtime_config(config, sim.urls),
            demo=True,
            engine_settings=EngineSettings(debounce=debounce),
            persist=config_path is not None,
            **session,  # type: ignore[arg-type]
        ),
        **view,
    )


def pinned_store(now: float = FROZEN_NOW, seed: int = 7) -> MarketStore:
    """A store filled deterministically from the simulator's market model."""
    market = Market(UNIVERSE, seed, now - 60, always_open=True)
    store = MarketStore()
    for code in market.instruments:
        store.apply_quote(market.quote(code, now - 60), None, now - 60)
    for step in range(1, 61):
        moment = now - 60 + step
        for code in market.step(moment, 1.0):
            store.apply_quote(market.quote(code, moment), None, moment)
    inst = market.instruments["NASDAQ:AAPL"]
    spec = BarSpec("minute", 1)
    builder = BarBuilder(spec, inst, market.price(inst.code), now)
    from tui.protocol.live import SeriesUpdate

    bars = generate_history(
        inst, spec, 300, last_bar=builder.wire_bar(), seed=seed, always_open=True, now=now
    )
    store.apply_series(SeriesUpdate("NASDAQ:AAPL", "1m", None, None, bars), first=True, now=now)
    news = NewsGenerator(market, seed)
    for k in range(12):
        story = news.make(now - (12 - k) * 240)
        store.add_news(
            news_from_newsfeed(story.newsfeed_item())
            if k % 2
            else news_from_stocknews(story.stocknews().data, None)
        )
    store.take_changes()
    return store


def pinned_statuses() -> list[FeedStatus]:
    """Feed statuses with every varying figure fixed."""
    return [
        FeedStatus("live", FeedState.LIVE, latency_ms=23.0, heartbeat_at=FROZEN_NOW - 4, rate=42.0),
        FeedStatus("newsfeed", FeedState.LIVE, latency_ms=31.0, heartbeat_at=FROZEN_NOW - 7),
        FeedStatus("stocknews", FeedState.RECONNECTING, retry_at=FROZEN_NOW + 12),
    ]


def sample_portfolio() -> PortfolioFile:
    """Two portfolios: stocks (a short among them) and crypto in another currency (the
    screenshots' own, so what the snapshots pin is what the README shows)."""
    return msgspec.structs.replace(DEMO_PORTFOLIO)


def static_app(
    options: SessionOptions,
    store: MarketStore,
    statuses: list[FeedStatus] | None = None,
    **view: Any,
) -> MarketpaneApp:
    """The app over a :class:`StaticSession`; ``view`` sets :class:`ViewOptions` fields."""
    session = StaticSession(options, store, statuses or [])
    return MarketpaneApp(session, ViewOptions(display=options.config.display, **view))


def pinned_app(
    theme: str | None = None,
    layout: str | None = None,
    portfolio: PortfolioFile | None = None,
    *,
    store: MarketStore | None = None,
    later: float = 0.0,
) -> MarketpaneApp:
    """The app over a pinned store (or ``store``) and clock (``later`` seconds on), with no
    network (for snapshots)."""
    return static_app(
        SessionOptions(
            config=Config(), keys=demo_keys(), demo=True, persist=False, portfolio=portfolio
        ),
        store if store is not None else pinned_store(),
        pinned_statuses(),
        frozen_time=FROZEN_NOW + later,
        theme=theme,
        layout=layout,
    )


def engine_of(app: MarketpaneApp) -> Engine | None:
    """The in-process session's engine under ``app`` (None when the session lives elsewhere)."""
    engine = getattr(app.session, "engine", None)
    return engine if isinstance(engine, Engine) else None
