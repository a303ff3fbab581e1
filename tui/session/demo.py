"""The demo's keys and config: the user's config pointed at the embedded simulator."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import msgspec

from tui import paths
from tui.config import Config, Display
from tui.engine.context import EngineSettings
from tui.secrets import Keys, Secret
from tui.sim.settings import DEMO_KEY, DEMO_STOCKNEWS_TOKEN, PlanSpec, SimSettings

if TYPE_CHECKING:  # the simulator's server is imported only when a demo starts one
    from tui.sim.server import SimulatorThread, SimUrls

DEMO_PLAN = "demo"
"""The simulator's name for the plan the demo key is on (the user's configured plan)."""


def state_dir_for(demo: bool) -> Path:
    """Where the budget and stored keys live: the demo keeps its own apart from the user's."""
    return paths.state_dir() / "demo" if demo else paths.state_dir()


def paced_settings(display: Display) -> EngineSettings:
    """Engine settings with the frame rates the config's ``[display]`` asks for."""
    return EngineSettings(ui_hz=display.ui_hz, quiet_hz=display.quiet_hz, idle_hz=display.idle_hz)


def demo_keys() -> Keys:
    """The simulator's built-in keys (never the user's)."""
    return Keys(
        insightsentry_api_key=Secret(DEMO_KEY), stocknews_token=Secret(DEMO_STOCKNEWS_TOKEN)
    )


def demo_sim_settings(config: Config, *, seed: int = 7, speed: float = 1.0) -> SimSettings:
    """Simulator settings whose demo key is on the user's configured plan, so a watchlist
    built in the demo fits the plan it will meet with a real key (the plan trap)."""
    settings = SimSettings(seed=seed, speed=speed)
    plan = config.plan
    settings.plans[DEMO_PLAN] = PlanSpec(
        plan.name, units=plan.subscriptions, max_dp=plan.max_dp, connections=plan.connections
    )
    settings.key_plans[DEMO_KEY] = DEMO_PLAN
    return settings


def demo_runtime_config(config: Config, urls: SimUrls | Any) -> Config:
    """A copy of ``config`` pointed at the simulator (the plan is the config's own)."""
    runtime = msgspec.structs.replace(config)
    runtime.endpoints = msgspec.structs.replace(
        config.endpoints,
        live_url=urls.live,
        newsfeed_url=urls.newsfeed,
        stocknews_url=urls.stocknews,
        rest_url=urls.rest,
        rapidapi_url=urls.rest,
    )
    return runtime


def start_demo(
    config: Config, keys: Keys, *, demo: bool, seed: int = 7, speed: float = 1.0
) -> tuple[SimulatorThread | None, Config, Keys]:
    """With ``demo``, start the embedded simulator on its own thread and return it with the
    config pointed at it and its keys; otherwise ``(None, config, keys)`` unchanged. The
    caller stops the simulator."""
    if not demo:
        return None, config, keys
    from tui.sim.server import SimulatorThread

    simulator = SimulatorThread(demo_sim_settings(config, seed=seed, speed=speed))
    return simulator, demo_runtime_config(config, simulator.start()), demo_keys()
