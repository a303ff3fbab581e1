"""The demo's keys and config: the user's config pointed at the embedded simulator."""

from __future__ import annotations

from typing import Any

import msgspec

from tui.config import Config
from tui.secrets import Keys, Secret
from tui.sim.server import SimUrls
from tui.sim.settings import DEMO_KEY, DEMO_STOCKNEWS_TOKEN


def demo_keys() -> Keys:
    """The simulator's built-in keys (never the user's)."""
    return Keys(
        insightsentry_api_key=Secret(DEMO_KEY), stocknews_token=Secret(DEMO_STOCKNEWS_TOKEN)
    )


def demo_runtime_config(config: Config, urls: SimUrls | Any) -> Config:
    """A copy of ``config`` pointed at the simulator, with the mega plan's limits."""
    runtime = msgspec.structs.replace(config)
    runtime.endpoints = msgspec.structs.replace(
        config.endpoints,
        live_url=urls.live,
        newsfeed_url=urls.newsfeed,
        stocknews_url=urls.stocknews,
        rest_url=urls.rest,
        rapidapi_url=urls.rest,
    )
    runtime.plan = msgspec.structs.replace(
        config.plan, subscriptions=12, max_dp=30_000, connections=3
    )
    return runtime
