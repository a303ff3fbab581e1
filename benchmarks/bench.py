"""``python -m benchmarks.bench`` (from a checkout): the real engine and app against the
simulator, side by side with a naive baseline client, on this machine.

The simulator runs in its own process (so its CPU is not ours). The real client is the full
app, headless (``run_test``), engine included. The naive baseline does what the vendor
guides' examples do: ``json.loads`` per frame and one UI update per message. Each scenario
prints its figures and the ratio of ours to the baseline. Nothing here is asserted: the
figures go to the README and the notes.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from benchmarks.harness import (
    QUOTE_CODES,
    SIZE,
    Figures,
    Probe,
    SimProcess,
    engine_of,
    messages_read,
    peak_rss_mb,
    percentile,
    real_app,
    sustained,
    until,
    until_stable,
)
from benchmarks.naive import NaiveApp, naive_rates
from tui.protocol.live import Subscription

RATES = (2_000, 5_000, 10_000, 20_000, 40_000, 50_000, 60_000, 80_000, 100_000, 120_000)
"""Offered quote messages per second in the rising-rate scenario."""


async def real_rates(
    sim: SimProcess, codes: list[str], rates: Sequence[float], seconds: float
) -> list[Figures]:
    """The real app at each offered rate."""
    probe = Probe()
    app = real_app(sim, codes, probe)
    results: list[Figures] = []
    async with app.run_test(size=SIZE) as pilot:
        await until(lambda: engine_of(app) is not None and len(app.store.quotes) == len(codes))
        live = engine_of(app).feeds[0].status
        for rate in rates:
            sim.control(firehose=rate)
            await pilot.pause(1.0)
            (sent, dropped), messages, cpu = sim.counters(), live.messages, time.process_time()
            probe.reset()
            await asyncio.sleep(seconds)
            messages = live.messages - messages
            cpu = time.process_time() - cpu
            sent_after, dropped_after = sim.counters()
            results.append(
                Figures(
                    offered=rate,
                    received=messages / seconds,
                    server_sent=(sent_after - sent) / seconds,
                    frames=probe.frames / seconds,
                    p50_ms=percentile(probe.latencies, 0.5),
                    p99_ms=percentile(probe.latencies, 0.99),
                    cpu_per_100k=cpu / max(1, messages) * 100_000,
                    dropped=dropped_after - dropped,
                )
            )
            sim.control(firehose=0)
            await pilot.pause(0.5)
        await pilot.press("q")
    return results


async def series_scenario(
    sim: SimProcess, bar_type: str, codes: list[str], seconds: float
) -> tuple[Figures, Figures]:
    """Second-bar or tick series: the real app, then the naive client, on the same feed."""
    series = [
        Subscription(
            code=c,
            type="series",
            bar_type=bar_type,  # type: ignore[arg-type]
            bar_interval=1,
            max_dp=100,
        )
        for c in codes
    ]
    probe = Probe()
    app = real_app(sim, codes[:1], probe, series=series)
    async with app.run_test(size=SIZE) as pilot:
        await until(lambda: engine_of(app) is not None and len(app.store.series) == len(codes))
        live = engine_of(app).feeds[0].status
        await pilot.pause(1.0)
        messages, cpu, probe.frames = live.messages, time.process_time(), 0
        await asyncio.sleep(seconds)
        ours = Figures(
            received=(live.messages - messages) / seconds,
            frames=probe.frames / seconds,
            cpu_per_100k=(time.process_time() - cpu) / max(1, live.messages - messages) * 100_000,
        )
        await pilot.press("q")
    subs = [
        {"code": c, "type": "series", "bar_type": bar_type, "bar_interval": 1, "max_dp": 100}
        for c in codes
    ]
    naive = NaiveApp(sim.urls["live"], subs, codes)
    async with naive.run_test(size=SIZE) as pilot:
        await until(lambda: naive.updates > len(codes))
        updates, cpu = naive.updates, time.process_time()
        await asyncio.sleep(seconds)
        theirs = Figures(
            received=(naive.updates - updates) / seconds,
            frames=(naive.updates - updates) / seconds,
            cpu_per_100k=(time.process_time() - cpu) / max(1, naive.updates - updates) * 100_000,
        )
        naive.exit()
    return ours, theirs


async def history_scenario(sim: SimProcess) -> dict[str, float]:
    """A 30,000-bar history: arrival of the frame to the chart drawn."""
    probe = Probe()
    code = "NASDAQ:AAPL"
    series = [Subscription(code=code, type="series", bar_type="minute", max_dp=30_000)]
    app = real_app(sim, [code], probe, series=series)
    arrived: list[float] = []
    async with app.run_test(size=SIZE) as pilot:
        await until(lambda: engine_of(app) is not None)

        def timed(feed: str, frame: str | bytes, now: float) -> None:
            if len(frame) > 1_000_000:
                arrived.append(time.time())

        engine_of(app).frame_observers.append(timed)
        await until(
            lambda: (
                code in app.store.series
                and len(app.store.series[code].bars) >= 30_000
                and probe.series_drawn_at is not None
                and bool(arrived)
            )
        )
        await pilot.pause(0.2)
        await pilot.press("q")
    assert probe.series_drawn_at is not None
    return {"history_ms": (probe.series_drawn_at - arrived[0]) * 1000}


async def news_scenario(sim: SimProcess) -> dict[str, float]:
    """1,000 news items published at once: time until all are in the store and drawn."""
    probe = Probe()
    app = real_app(sim, ["FX:EURUSD"], probe, news=True)
    async with app.run_test(size=SIZE) as pilot:
        await until(lambda: engine_of(app) is not None and len(app.store.news) >= 10)
        start_count = len(app.store.news)
        probe.news_drawn = 0
        cpu, started = time.process_time(), time.time()
        await asyncio.to_thread(sim.control, publish=1000)
        await until(lambda: probe.news_drawn >= 1000, 60)
        elapsed = time.time() - started
        cpu = time.process_time() - cpu
        await pilot.press("q")
    return {
        "news_ms": elapsed * 1000,
        "news_cpu_s": cpu,
        "news_kept": float(len(app.store.news) - start_count),
    }


async def idle_scenario(sim: SimProcess, codes: list[str], seconds: float) -> dict[str, float]:
    """50 symbols, one update a second each: CPU of this process.

    The simulator's own trading is paused for this scenario, so the firehose's one quote a
    second per symbol is the whole feed (with its natural trading on top the feed carries
    about three times that).
    """
    probe = Probe()
    app = real_app(sim, codes, probe)
    async with app.run_test(size=SIZE) as pilot:
        await until(lambda: engine_of(app) is not None and len(app.store.quotes) == len(codes))
        sim.control(firehose=len(codes), market="pause")
        await pilot.pause(2.0)
        received = messages_read(app)
        cpu, wall = time.process_time(), time.monotonic()
        await asyncio.sleep(seconds)
        elapsed = time.monotonic() - wall
        share = (time.process_time() - cpu) / elapsed * 100
        rate = (messages_read(app) - received) / elapsed
        sim.control(firehose=0, market="run")
        await pilot.press("q")
    return {"idle_cpu_percent": share, "idle_msgs_per_s": rate}


async def memory_scenario(sim: SimProcess) -> dict[str, float]:
    """100 quotes, 20 series of 30,000 bars, 1,000 news items: peak RSS."""
    probe = Probe()
    codes = [f"SIM:T{i:04d}" for i in range(1, 101)]
    series = [
        Subscription(code=f"SIM:T{i:04d}", type="series", bar_type="minute", max_dp=30_000)
        for i in range(1, 21)
    ]
    app = real_app(sim, codes, probe, series=series, news=True)
    async with app.run_test(size=SIZE) as pilot:
        await until(
            lambda: (
                engine_of(app) is not None
                and len(app.store.series) == 20
                and all(len(s.bars) >= 30_000 for s in app.store.series.values())
            ),
            120,
        )
        await asyncio.to_thread(sim.control, publish=1000)
        await until_stable(lambda: len(app.store.news), 2.0, 60)  # the same story told
        # twice within 15 minutes is one line: the count settles below 1,000
        await pilot.pause(1.0)
        await pilot.press("q")
    return {"peak_rss_mb": peak_rss_mb()}


def memory_in_fresh_process() -> dict[str, float]:
    """Run the memory scenario alone in a new interpreter, so earlier scenarios do not count."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "memory.json"
        subprocess.run(
            [sys.executable, "-m", "benchmarks.bench", "--only", "memory", "--json", str(out)],
            check=True,
            stdout=subprocess.DEVNULL,
            timeout=600,
        )
        return dict(json.loads(out.read_text()))


async def memory_only() -> dict[str, float]:
    """``--only memory``: the memory scenario on its own simulator."""
    sim = SimProcess()
    try:
        return await memory_scenario(sim)
    finally:
        sim.stop()


async def idle_only(seconds: float) -> dict[str, float]:
    """``--only idle``: the idle scenario on its own simulator (for profiling)."""
    sim = SimProcess()
    try:
        result = await idle_scenario(sim, QUOTE_CODES, seconds)
        print(
            f"idle: CPU {result['idle_cpu_percent']:.1f} % of one core "
            f"({result['idle_msgs_per_s']:.0f} msg/s)"
        )
        return result
    finally:
        sim.stop()


def first_frame_seconds() -> float:
    """From starting ``python -m tui --demo`` to its first drawn frame (headless), as a user
    starts it: with bytecode cached (this machine sets ``PYTHONDONTWRITEBYTECODE``, which
    makes every start compile about 460 modules, 0.13 s more); a first start writes it."""
    with tempfile.TemporaryDirectory() as tmp:
        marker = Path(tmp) / "frame"
        env = {
            **os.environ,
            "MARKETPANE_FIRST_FRAME_FILE": str(marker),
            "MARKETPANE_CONFIG": str(Path(tmp) / "c.toml"),
            "MARKETPANE_STATE_DIR": str(Path(tmp) / "state"),
        }
        for name in (
            "INSIGHTSENTRY_API_KEY",
            "INSIGHTSENTRY_RAPIDAPI_KEY",
            "STOCKNEWS_TOKEN",
            "PYTHONDONTWRITEBYTECODE",
        ):
            env.pop(name, None)
        for _ in range(2):  # the first start writes the bytecode cache; the second is timed
            started = time.time()
            subprocess.run(
                [sys.executable, "-m", "tui", "--demo", "--no-hub"],
                env=env,
                timeout=60,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                check=False,
            )
        return float(marker.read_text()) - started


def _fmt(value: float | None, digits: int = 0) -> str:
    return "—" if value is None else f"{value:,.{digits}f}"


def _ratio(ours: float | None, theirs: float | None, higher_is_better: bool = True) -> str:
    if not ours or not theirs:
        return "—"
    ratio = ours / theirs if higher_is_better else theirs / ours
    return f"{ratio:,.1f}x"


async def run(quick: bool) -> dict[str, Any]:
    """Every scenario; prints as it goes and returns all figures."""
    seconds = 2.0 if quick else 3.0
    rates = RATES[:4] if quick else RATES
    codes = QUOTE_CODES
    report: dict[str, Any] = {}
    print(f"marketpane bench — {os.cpu_count()} cores, python {sys.version.split()[0]}")
    sim = SimProcess()
    try:
        print("\n1. 50 symbols of quotes at rising rates (messages/s offered)")
        ours = await real_rates(sim, codes, rates, seconds)
        theirs = await naive_rates(sim, codes, rates, seconds)
        header = (
            f"{'offered':>8} | {'ours msg/s':>10} {'(server)':>9} {'frames/s':>8} {'p50 ms':>7} "
            f"{'p99 ms':>7} {'cpu s/100k':>10} {'drop':>6} | {'naive msg/s':>11} "
            f"{'(server)':>9} {'p99 ms':>8} {'cpu s/100k':>10}"
        )
        print(header)
        for index, mine in enumerate(ours):
            base = theirs[index] if index < len(theirs) else None
            print(
                f"{mine.offered:>8,.0f} | {mine.received:>10,.0f} {mine.server_sent:>9,.0f} "
                f"{mine.frames:>8.1f} {_fmt(mine.p50_ms):>7} {_fmt(mine.p99_ms):>7} "
                f"{_fmt(mine.cpu_per_100k, 2):>10} {mine.dropped:>6} | "
                f"{_fmt(base.received if base else None):>11} "
                f"{_fmt(base.server_sent if base else None):>9} "
                f"{_fmt(base.p99_ms if base else None):>8} "
                f"{_fmt(base.cpu_per_100k if base else None, 2):>10}"
            )
        best_ours, best_theirs = sustained(ours), sustained(theirs)
        print(
            f"sustained: ours {best_ours:,.0f}/s, naive {best_theirs:,.0f}/s, "
            f"ratio {_ratio(best_ours, best_theirs)}"
        )
        at_5k = next((f for f in ours if f.offered == 5_000), None)
        report["quotes"] = {
            "ours": [f.__dict__ for f in ours],
            "naive": [f.__dict__ for f in theirs],
            "sustained_ours": best_ours,
            "sustained_naive": best_theirs,
            "p99_at_5k_ms": at_5k.p99_ms if at_5k else None,
        }
        print("\n6. idle market: 50 symbols, one update a second each")
        idle = await idle_scenario(sim, codes, 5.0 if quick else 10.0)
        print(
            f"CPU {idle['idle_cpu_percent']:.1f} % of one core "
            f"({idle['idle_msgs_per_s']:.0f} msg/s)"
        )
        report.update(idle)
        print("\n4. a 30,000-bar history arriving")
        history = await history_scenario(sim)
        print(f"frame received -> decoded, stored, drawn: {history['history_ms']:.0f} ms")
        report.update(history)
        print("\n5. 1,000 news items")
        news = await news_scenario(sim)
        print(
            f"all 1,000 in the store and drawn after {news['news_ms']:.0f} ms "
            f"({news['news_cpu_s']:.2f} CPU s)"
        )
        report.update(news)
    finally:
        sim.stop()
    fast = SimProcess(speed=30.0)
    try:
        for title, bar_type, series_codes in (
            ("2. 10 second-bar series", "second", codes[:10]),
            ("3. 2 tick series", "tick", ["BINANCE:BTCUSDT", "CME_MINI:ES1!"]),
        ):
            print(f"\n{title} (simulator at 30x speed)")
            mine, base = await series_scenario(fast, bar_type, series_codes, seconds)
            print(
                f"ours {mine.received:,.0f} msg/s, {mine.frames:.1f} frames/s, "
                f"{_fmt(mine.cpu_per_100k, 2)} CPU s/100k | naive {base.received:,.0f} msg/s, "
                f"{_fmt(base.cpu_per_100k, 2)} CPU s/100k | CPU ratio "
                f"{_ratio(mine.cpu_per_100k, base.cpu_per_100k, higher_is_better=False)}"
            )
            report[bar_type] = {"ours": mine.__dict__, "naive": base.__dict__}
    finally:
        fast.stop()
    print("\n7. memory: 100 quotes, 20 series of 30,000 bars, 1,000 news items")
    memory = await asyncio.to_thread(memory_in_fresh_process)
    print(f"peak RSS {memory['peak_rss_mb']:.0f} MB (a fresh process running only this)")
    report.update(memory)
    first = first_frame_seconds()
    print(f"\n8. start to first drawn frame: {first:.2f} s")
    report["first_frame_s"] = first
    return report


def bench_command(argv: Sequence[str]) -> int:
    """Parse flags, run, optionally write JSON."""
    parser = argparse.ArgumentParser(prog="marketpane bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="shorter steps, fewer rates")
    parser.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    parser.add_argument(
        "--only", choices=["memory", "idle"], help="run one scenario alone (to profile it)"
    )
    args = parser.parse_args(list(argv))
    if args.only == "memory":
        report = asyncio.run(memory_only())
    elif args.only == "idle":
        report = asyncio.run(idle_only(5.0 if args.quick else 10.0))
    else:
        report = asyncio.run(run(args.quick))
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(bench_command(sys.argv[1:]))
