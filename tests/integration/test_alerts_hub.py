"""Alerts in the hub fire with no pane attached, defined from the CLI.

A real ``marketpane hub serve`` process on the test's simulator (paused, moved by scripted
trades); ``marketpane alert add`` talks to it over its socket; the alert's command hook
writes the moment it ran, which must be within a second of the crossing trade.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.enginehelp import wait_for
from tests.hubhelp import short_runtime_dir
from tests.simhelp import fast_settings
from tui.alerts.model import AlertDelivery
from tui.config import Config, save_config
from tui.hub.client import HubError, ensure_hub, hub_alive, hub_status, stop_hub
from tui.hub.place import account_id, place_for
from tui.secrets import Keys, Secret
from tui.session.demo import demo_runtime_config
from tui.sim.live import LiveSession
from tui.sim.server import run_simulator
from tui.sim.settings import DEMO_KEY

CODE = "NASDAQ:AAPL"
HOOK = """
import json, os, sys, time
with open(sys.argv[1], "a") as out:
    out.write(json.dumps({"at": time.time(), "text": os.environ["MARKETPANE_ALERT_TEXT"],
                          "test": os.environ["MARKETPANE_ALERT_TEST"]}) + "\\n")
"""


def cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tui", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=30,
        check=False,
    )


def lines(path: Path) -> list[dict[str, str]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


async def test_cli_alert_fires_in_the_hub_with_no_pane_within_a_second(
    isolated_paths: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runtime = short_runtime_dir()
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(runtime))
    monkeypatch.setenv("INSIGHTSENTRY_API_KEY", DEMO_KEY)
    monkeypatch.delenv("TMUX", raising=False)
    hook = tmp_path / "hook.py"
    hook.write_text(HOOK)
    record = tmp_path / "fired.jsonl"
    async with run_simulator(fast_settings(market_paused=True)) as sim:
        assert sim.urls is not None
        config = demo_runtime_config(Config(), sim.urls)
        config.alert_delivery = AlertDelivery(
            tmux=False, command=[sys.executable, str(hook), str(record)]
        )
        save_config(config, isolated_paths / "config.toml")
        place = place_for(
            account_id(config, Keys(insightsentry_api_key=Secret(DEMO_KEY)), demo=False)
        )
        env = dict(os.environ)
        await asyncio.to_thread(ensure_hub, place, ["--linger", "3"])
        try:
            sim.trade(CODE, 195.0)  # below the level before the hub first sees it
            added = await asyncio.to_thread(cli, "alert", "add", f"{CODE} crosses 200", env=env)
            assert added.returncode == 0, added.stderr
            assert "alert 1 added" in added.stdout and "by the running hub" in added.stdout
            assert (
                'when = "NASDAQ:AAPL crosses 200"' in (isolated_paths / "config.toml").read_text()
            )
            # a second rule, still live once the first has fired: whatever the CLI calls below
            # take on a busy machine, the hub never has a moment with nothing live before it
            added = await asyncio.to_thread(cli, "alert", "add", f"{CODE} > 500", env=env)
            assert added.returncode == 0 and "alert 2 added" in added.stdout, added.stderr
            # no pane: the alert alone subscribes its symbol
            await wait_for(
                lambda: any(
                    isinstance(s, LiveSession) and s.quote_codes for s in sim.live_sessions
                ),
                timeout=10,
            )
            await asyncio.sleep(1.5)  # the hub has seen the side it starts on
            assert hub_status(place).panes == 0
            crossed = time.time()
            sim.trade(CODE, 201.0)
            await wait_for(lambda: lines(record), timeout=5)
            (fired,) = lines(record)
            assert fired["test"] == "0" and "crossed 200 up" in fired["text"]
            assert float(fired["at"]) - crossed <= 1.0, float(fired["at"]) - crossed
            listed = await asyncio.to_thread(cli, "alert", "list", env=env)
            assert "fired" in listed.stdout and "1x, last" in listed.stdout, listed.stdout
            tested = await asyncio.to_thread(cli, "alert", "test", "1", env=env)
            assert tested.returncode == 0 and "test sent" in tested.stdout, tested
            await wait_for(lambda: len(lines(record)) == 2, timeout=5)
            assert lines(record)[1]["test"] == "1"
            # the linger is 3 s and no pane is attached; the first rule fired (once) and is
            # over, but the hub stays for the live one
            await asyncio.sleep(4)
            status = hub_status(place)
            assert status.alerts.startswith("alerts: 2 (1 live"), status.alerts
            bad = await asyncio.to_thread(cli, "alert", "add", f"{CODE} crosses two", env=env)
            assert bad.returncode == 2 and "unexpected 'two'" in bad.stderr
            removed = await asyncio.to_thread(cli, "alert", "rm", "2", env=env)
            assert removed.returncode == 0, removed.stderr
            # nothing live any more: the linger applies again and the hub goes
            await wait_for(lambda: not hub_alive(place.socket), timeout=15)
            with pytest.raises(HubError):
                hub_status(place)
        finally:
            with contextlib.suppress(HubError):
                stop_hub(place)


async def test_a_pane_adds_an_alert_through_the_hub_and_every_pane_sees_it(
    isolated_paths: Path, tmp_path: Path
) -> None:
    """The alert commands cross the hub's wire: one pane adds, pauses and removes an alert;
    the hub's engine holds it, and the other pane's batches list it."""
    from tests.hubhelp import attach, running_hub
    from tui.alerts.model import AlertRule
    from tui.session.values import AddAlert, PauseAlert, RemoveAlert

    async with run_simulator(fast_settings()) as sim, running_hub(sim, tmp_path) as hub:
        first = await attach(hub, ["NASDAQ:AAPL"])
        second = await attach(hub, ["NASDAQ:MSFT"])
        views: list[list[str]] = []
        original = second.on_batch

        def watch(batch: object) -> None:
            alerts = getattr(batch, "alerts", None)
            if alerts is not None:
                views.append([f"{v.rule.id}:{v.status}" for v in alerts])
            original(batch)  # type: ignore[arg-type]

        await wait_for(lambda: first.batches and second.batches)
        second.session.on_batch = watch  # once it runs (run sets the view's own)
        first.session.send(AddAlert(AlertRule(id="new", when="NASDAQ:AAPL > 100000")))
        await wait_for(lambda: [r.id for r in hub.engine.alerts.rules()] == ["1"])
        await wait_for(lambda: views and views[-1] == ["1:armed"])
        first.session.send(PauseAlert("1", True))
        await wait_for(lambda: views[-1] == ["1:paused"])
        first.session.send(RemoveAlert("1"))
        await wait_for(lambda: views[-1] == [])
        assert hub.engine.alerts.rules() == []
