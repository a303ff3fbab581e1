"""The hub's benchmark: in-process against through the hub, and 1, 4 and 16 panes.

``python -m benchmarks.hub_bench [--seconds 5] [--rate 5000]`` (from a checkout). The
simulator runs in its own process, the hub in another (as ``marketpane hub serve``), the panes
in this one as headless views that keep a mirror and acknowledge every batch, as the Textual
view does (drawing is left out on both sides, so the figures compare the paths, not the
screen). Reported: messages a second the simulator delivered and dropped, batches a second per
pane, p99 from the server's stamp to the pane, CPU of the hub and CPU per pane.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.harness import QUOTE_CODES, SimProcess, bench_config, percentile
from tui import __version__
from tui.config import save_config
from tui.engine.engine import EngineSettings
from tui.hub.client import RemoteSession, hub_alive, stop_hub
from tui.hub.place import HubPlace, account_id
from tui.hub.wire import PROTOCOL, Hello
from tui.secrets import Keys, Secret
from tui.session.mirror import StoreMirror
from tui.session.session import Session, SessionOptions
from tui.session.values import SessionBatch
from tui.sim.settings import BENCH_KEY


class HeadlessPane:
    """A view without a screen: mirror, acknowledge, and time each quote from its stamp."""

    def __init__(self, session: Any) -> None:
        self.session = session
        self.mirror = StoreMirror()
        self.batches = 0
        self.latencies: list[float] = []

    def on_batch(self, batch: SessionBatch) -> None:
        now_ms = time.time() * 1000
        self.batches += 1
        self.mirror.apply_batch(batch)
        self.latencies.extend(now_ms - q.server_ms for q in batch.quotes if q.server_ms)
        asyncio.get_running_loop().call_soon(self.session.batch_done)


def _cpu_seconds(pid: int) -> float:
    """User + system CPU of a process (Linux ``/proc``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def _measure(
    sim: SimProcess, panes: list[HeadlessPane], rate: float, seconds: float, hub_pid: int | None
) -> dict[str, float]:
    sim.control(firehose=rate)
    await asyncio.sleep(1.0)
    for pane in panes:
        pane.batches, pane.latencies = 0, []
    (sent, dropped), cpu = sim.counters(), time.process_time()
    hub_cpu = _cpu_seconds(hub_pid) if hub_pid else 0.0
    await asyncio.sleep(seconds)
    sent_after, dropped_after = sim.counters()
    cpu = time.process_time() - cpu
    hub_cpu = (_cpu_seconds(hub_pid) - hub_cpu) if hub_pid else 0.0
    sim.control(firehose=0)
    latencies = [x for pane in panes for x in pane.latencies]
    return {
        "delivered_per_s": (sent_after - sent) / seconds,
        "dropped": float(dropped_after - dropped),
        "batches_per_s_per_pane": sum(p.batches for p in panes) / len(panes) / seconds,
        "p99_ms": percentile(latencies, 0.99) or 0.0,
        "hub_cpu_percent": hub_cpu / seconds * 100,
        "cpu_percent_per_pane": cpu / seconds * 100 / len(panes),
    }


async def in_process(sim: SimProcess, rate: float, seconds: float) -> dict[str, float]:
    """One session and its engine in this process (``--no-hub``)."""
    config = bench_config(sim)
    session = Session(
        SessionOptions(
            config=config,
            keys=Keys(insightsentry_api_key=Secret(BENCH_KEY)),
            symbols=QUOTE_CODES,
            persist=False,
            engine_settings=EngineSettings(newsfeed=False, stocknews=False),
        )
    )
    pane = HeadlessPane(session)
    task = asyncio.create_task(session.run(pane.on_batch))
    while len(pane.mirror.quotes) < len(QUOTE_CODES):
        await asyncio.sleep(0.05)
    figures = await _measure(sim, [pane], rate, seconds, None)
    await session.close()
    task.cancel()
    return figures


async def through_hub(
    sim: SimProcess, rate: float, seconds: float, counts: tuple[int, ...]
) -> dict[int, dict[str, float]]:
    """A hub process, and 1, 4, 16 panes attached (each its own 50-symbol watchlist slice)."""
    out: dict[int, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        config = bench_config(sim)
        config_path = home / "config.toml"
        save_config(config, config_path)
        runtime = home / "run"
        runtime.mkdir(mode=0o700)
        env = dict(os.environ)
        env.update(
            XDG_RUNTIME_DIR=str(runtime),
            MARKETPANE_STATE_DIR=str(home / "state"),
            INSIGHTSENTRY_API_KEY=BENCH_KEY,
        )
        keys = Keys(insightsentry_api_key=Secret(BENCH_KEY))
        account = account_id(config, keys, demo=False)
        place = HubPlace(account, runtime / "marketpane")
        hub = subprocess.Popen(
            [sys.executable, "-m", "tui", "hub", "serve", "--config", str(config_path)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            while not hub_alive(place.socket):
                await asyncio.sleep(0.05)
            for count in counts:
                panes, tasks = [], []
                for _ in range(count):
                    remote = RemoteSession(
                        place, Hello(PROTOCOL, __version__, account, QUOTE_CODES)
                    )
                    panes.append(HeadlessPane(remote))
                    tasks.append(asyncio.create_task(remote.run(panes[-1].on_batch)))
                while any(len(p.mirror.quotes) < len(QUOTE_CODES) for p in panes):
                    await asyncio.sleep(0.05)
                out[count] = await _measure(sim, panes, rate, seconds, hub.pid)
                for pane in panes:
                    pane.session.stop()
                for task in tasks:
                    task.cancel()
                await asyncio.sleep(0.5)
        finally:
            stop_hub(place)
            hub.wait(10)
    return out


LADDER = (5_000, 10_000, 20_000, 30_000, 40_000, 60_000)
"""Offered rates for the sustained figure."""


def kept_up(figures: dict[str, float], rate: float) -> bool:
    """Delivered what was offered (within 5 %) and dropped nothing."""
    return figures["dropped"] == 0 and figures["delivered_per_s"] >= 0.95 * rate


async def sustained(sim: SimProcess, seconds: float) -> tuple[float, float]:
    """The highest rung of :data:`LADDER` kept up with (climbing until one is not):
    in-process, and through the hub with one pane."""
    best_local = best_hub = 0.0
    for rate in LADDER:
        if not kept_up(await in_process(sim, rate, seconds), rate):
            break
        best_local = rate
    for rate in LADDER:
        if not kept_up((await through_hub(sim, rate, seconds, (1,)))[1], rate):
            break
        best_hub = rate
    return best_local, best_hub


async def run(seconds: float, rate: float) -> None:
    print(f"hub benchmark — {os.cpu_count()} cores; 50 symbols at {rate:,.0f} msg/s offered")
    sim = SimProcess()
    try:
        local = await in_process(sim, rate, seconds)
        hubbed = await through_hub(sim, rate, seconds, (1, 4, 16))
        best_local, best_hub = await sustained(sim, seconds)
    finally:
        sim.stop()
    print(
        f"sustained (highest of {', '.join(f'{r:,}' for r in LADDER)} kept up with): "
        f"in-process {best_local:,.0f}/s, through the hub {best_hub:,.0f}/s"
    )
    print(
        f"{'mode':>16} | {'delivered/s':>11} {'dropped':>8} {'batches/s/pane':>14} "
        f"{'p99 ms':>7} {'hub CPU %':>9} {'CPU %/pane':>10}"
    )
    rows = [("in-process", local), *((f"hub, {n} pane(s)", f) for n, f in hubbed.items())]
    for name, f in rows:
        print(
            f"{name:>16} | {f['delivered_per_s']:>11,.0f} {f['dropped']:>8,.0f} "
            f"{f['batches_per_s_per_pane']:>14.1f} {f['p99_ms']:>7.0f} "
            f"{f['hub_cpu_percent']:>9.0f} {f['cpu_percent_per_pane']:>10.1f}"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--rate", type=float, default=5_000.0)
    args = parser.parse_args()
    asyncio.run(run(args.seconds, args.rate))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
