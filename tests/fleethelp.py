"""Helpers for the fleet tests: a real NATS server with JetStream, and hubs in processes of
their own, each with its own runtime and state directories as a stand-in for a host."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import tomli_w

from benchmarks.natsserver import stop_process
from tests.hubhelp import PaneView, short_runtime_dir
from tui import __version__
from tui.config import Config, HubSettings, Plan
from tui.hub.client import HubError, RemoteSession, hub_alive, hub_status
from tui.hub.place import HubPlace, account_id
from tui.hub.wire import PROTOCOL, Hello, HubStatus
from tui.secrets import Keys, Secret
from tui.session.demo import demo_runtime_config
from tui.sim.server import Simulator
from tui.sim.settings import DEMO_KEY, PlanSpec, SimSettings

V = TypeVar("V", bound=PaneView)

LEASE_SECONDS = float(os.environ.get("MARKETPANE_TEST_LEASE", "6.0"))
"""The tests' lease (the default is 10 s): failovers within seconds."""
ONE_CONNECTION = PlanSpec("one-conn", units=12, max_dp=1000, connections=1)
"""The simulator's plan for the account: one connection at a time."""


def sim_settings(base: SimSettings) -> SimSettings:
    """The simulator set to a one-connection plan for the demo key."""
    base.plans[ONE_CONNECTION.name] = ONE_CONNECTION
    base.key_plans[DEMO_KEY] = ONE_CONNECTION.name
    return base


def fleet_config(sim: Simulator, broker: str, host: str) -> Config:
    """A host's config: the simulator's endpoints, a one-connection plan, the broker."""
    assert sim.urls is not None
    config = Config(
        plan=Plan(name="one-conn", subscriptions=12, max_dp=1000, connections=1),
        hub=HubSettings(
            broker=broker, host_name=host, lease_seconds=LEASE_SECONDS, linger_seconds=0
        ),
    )
    return demo_runtime_config(config, sim.urls)


def account_of(config: Config) -> str:
    return account_id(config, Keys(insightsentry_api_key=Secret(DEMO_KEY)), demo=False)


class HostHub:
    """``marketpane hub serve`` as a host would run it: its own runtime, state and config."""

    def __init__(self, name: str, config: Config, root: Path, token: str | None = None) -> None:
        self.name, self.config, self.token = name, config, token
        self.home = root / name
        self.home.mkdir(parents=True)
        self.runtime = short_runtime_dir(f"mp{name[:2]}")
        self.config_path = self.home / "config.toml"
        self.write_config()
        self.place = HubPlace(account_of(config), self.runtime / "marketpane")
        self.process: subprocess.Popen[bytes] | None = None
        self.log = self.home / "hub.log"

    def write_config(self) -> None:
        import msgspec

        data = msgspec.to_builtins(self.config)
        data.pop("watchlists", None)
        self.config_path.write_text(tomli_w.dumps(data), encoding="utf-8")

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            XDG_RUNTIME_DIR=str(self.runtime),
            MARKETPANE_STATE_DIR=str(self.home / "state"),
            MARKETPANE_CONFIG=str(self.config_path),
            MARKETPANE_SECRETS=str(self.home / "secrets.toml"),
            INSIGHTSENTRY_API_KEY=DEMO_KEY,
        )
        if self.token:
            env["MARKETPANE_NATS_TOKEN"] = self.token
        return env

    def start(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tui", "hub", "serve", "--linger", "0", "--log", str(self.log)],
            env=self.env(),
            stdout=subprocess.DEVNULL,
            stderr=open(self.home / "hub.err", "ab"),  # noqa: SIM115
        )

    async def ready(self, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while not await asyncio.to_thread(hub_alive, self.place.socket):
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"hub {self.name} exited: {self.errors()}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"hub {self.name} did not listen: {self.errors()}")
            await asyncio.sleep(0.1)

    async def status(self) -> HubStatus | None:
        try:
            return await asyncio.to_thread(hub_status, self.place)
        except (HubError, OSError):
            return None

    async def role(self) -> str | None:
        status = await self.status()
        if status is None or not status.fleet:
            return None
        return status.fleet[0].rsplit(" ", 1)[-1]

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait(5)

    def stop(self) -> None:
        stop_process(self.process)
        shutil.rmtree(self.runtime, ignore_errors=True)

    def errors(self) -> str:
        text = ""
        for path in (self.home / "hub.err", self.log):
            with contextlib.suppress(OSError):
                text += path.read_text(errors="replace")[-3000:]
        return text

    def attach(
        self,
        symbols: list[str],
        tasks: set[asyncio.Task[None]],
        kind: Callable[[RemoteSession], V],
    ) -> V:
        """A pane on this host (a view that mirrors batches and acknowledges each)."""
        hello = Hello(PROTOCOL, __version__, self.place.account, symbols)
        session = RemoteSession(self.place, hello)
        view = kind(session)
        tasks.add(asyncio.create_task(session.run(view.on_batch)))
        return view


def fresh(view: PaneView, codes: list[str], within: float) -> bool:
    """Every code has a quote in the pane's mirror received in the last ``within`` s."""
    now = time.time()
    for code in codes:
        row = view.mirror.quotes.get(code)
        if row is None or now - row.updated_at > within:
            return False
    return True


def overlaps(records: list[tuple[float, float | None]], slack: float) -> list[str]:
    """Pairs of connections open at once for more than ``slack`` seconds."""
    spans = sorted((o, c if c is not None else float("inf")) for o, c in records)
    out: list[str] = []
    latest = -float("inf")
    for opened, closed in spans:
        if latest - opened > slack:
            out.append(f"a connection opened at {opened:.2f} while one was open until {latest:.2f}")
        latest = max(latest, closed)
    return out
