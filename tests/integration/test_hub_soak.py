"""Soak (``-m soak``): four panes, CLI commands and hub kills (``-9`` and ``hub stop``) for five
minutes on a one-connection plan. The server never sees two ``/live`` connections of the
account open at once (beyond the close timeout a killed hub's socket takes to be noticed), and
every pane is live again after each kill."""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.enginehelp import wait_for
from tests.hubhelp import TASKS, PaneView, _env, short_runtime_dir
from tests.simhelp import fast_settings
from tui import __version__
from tui.config import Config
from tui.engine.engine import EngineSettings
from tui.hub.client import HubError, RemoteSession, ensure_hub, hub_status, stop_hub
from tui.hub.place import account_id, place_for
from tui.hub.wire import PROTOCOL, Hello
from tui.secrets import Keys, Secret
from tui.session.values import Reconnect
from tui.sim.outbox import ConnectionRecord
from tui.sim.server import run_simulator
from tui.sim.settings import DEMO_KEY, PlanSpec

SOAK_SECONDS = float(os.environ.get("MARKETPANE_SOAK_SECONDS", "300"))
LISTS = [
    ["BINANCE:BTCUSDT", "BINANCE:ETHUSDT"],
    ["BINANCE:SOLUSDT", "FX:EURUSD"],
    ["BINANCE:XRPUSDT", "BINANCE:BTCUSDT"],
    ["FX:GBPUSD", "BINANCE:DOGEUSDT"],
]


def _overlaps(records: list[ConnectionRecord], grace: float) -> list[tuple[float, float]]:
    """Pairs of ``/live`` connections open at the same time for longer than ``grace``."""
    found = []
    spans = sorted((r.opened_at, r.closed_at or time.time()) for r in records)
    latest_close = float("-inf")
    for opened, closed in spans:
        if latest_close - opened > grace:
            found.append((opened, latest_close))
        latest_close = max(latest_close, closed)
    return found


@pytest.mark.soak
async def test_four_panes_cli_commands_and_hub_kills_never_two_upstreams(
    isolated_paths: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runtime = short_runtime_dir()
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(runtime))
    monkeypatch.setenv("INSIGHTSENTRY_API_KEY", DEMO_KEY)
    env = _env(runtime, isolated_paths) | {"INSIGHTSENTRY_API_KEY": DEMO_KEY}
    settings = fast_settings()
    settings.plans["one-conn"] = PlanSpec("one-conn", units=12, max_dp=1000, connections=1)
    settings.key_plans[DEMO_KEY] = "one-conn"
    rng = random.Random(30)
    async with run_simulator(settings) as sim:
        assert sim.urls is not None
        flags = [
            "--live-url", sim.urls.live, "--newsfeed-url", sim.urls.newsfeed,
            "--stocknews-url", sim.urls.stocknews, "--rest-url", sim.urls.rest,
        ]  # fmt: skip
        config = Config()
        config.endpoints.live_url, config.endpoints.newsfeed_url = sim.urls.live, sim.urls.newsfeed
        config.endpoints.rest_url = sim.urls.rest
        account = account_id(config, Keys(insightsentry_api_key=Secret(DEMO_KEY)), demo=False)
        place = place_for(account)
        serve = [*flags, "--linger", "0"]
        await asyncio.to_thread(ensure_hub, place, serve)
        panes: list[PaneView] = []
        for symbols in LISTS:
            session = RemoteSession(
                place,
                Hello(PROTOCOL, __version__, account, symbols),
                restart=lambda: ensure_hub(place, serve),
            )
            panes.append(PaneView(session))
            TASKS.add(asyncio.create_task(session.run(panes[-1].on_batch)))
        kills = 0
        try:
            started = time.monotonic()
            while time.monotonic() - started < SOAK_SECONDS:
                await wait_for(
                    lambda: all(
                        all(c in p.mirror.quotes for c in symbols)
                        for p, symbols in zip(panes, LISTS, strict=True)
                    ),
                    30,
                )
                for _ in range(rng.randrange(2, 6)):
                    command = rng.choice(
                        [["hub", "status"], ["alert", "list"], ["print", "BINANCE:BTCUSDT"]]
                    )
                    done = await asyncio.to_thread(
                        subprocess.run,
                        [sys.executable, "-m", "tui", *command, *flags],
                        env=env,
                        capture_output=True,
                        text=True,
                        timeout=30,
                    )
                    assert "Traceback" not in done.stderr, done.stderr
                    await asyncio.sleep(rng.uniform(0.2, 2.0))
                if rng.random() < 0.5:
                    with contextlib.suppress(HubError):
                        os.kill(hub_status(place).pid, 9)
                else:
                    with contextlib.suppress(HubError):
                        await asyncio.to_thread(stop_hub, place)
                    await asyncio.sleep(1.0)
                    rng.choice(panes).session.send(Reconnect())  # one pane restarts it
                kills += 1
                for pane in panes:
                    pane.mirror.quotes.clear()  # each must be live again
                grace = EngineSettings().close_timeout
                assert not _overlaps(sim.records_for("live"), grace)
        finally:
            for pane in panes:
                pane.session.stop()
            with contextlib.suppress(HubError):
                await asyncio.to_thread(stop_hub, place)
        assert kills >= 2
        assert not _overlaps(sim.records_for("live"), EngineSettings().close_timeout)
