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
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from textual.app import App, ComposeResult
from textual.message import Message
from textual.widgets import DataTable
from websockets.asyncio.client import connect

from tui.config import Config, Endpoints
from tui.engine.engine import EngineSettings
from tui.protocol.live import Subscription
from tui.secrets import Keys, Secret
from tui.session.values import SessionBatch
from tui.sim.settings import BENCH_KEY

SIZE = (160, 48)
"""Terminal size of the headless app."""
RATES = (2_000, 5_000, 10_000, 20_000, 40_000, 50_000, 60_000, 80_000, 100_000, 120_000)
"""Offered quote messages per second in the rising-rate scenario."""
QUOTE_CODES = [f"SIM:T{i:04d}" for i in range(1, 51)]
"""The 50 symbols of the quote and idle scenarios."""
KEEPS_UP_P99_MS = 250.0
"""A step is kept up with only if the p99 send-to-screen latency is at most this."""


@dataclass
class Figures:
    """One client's figures for one scenario step."""

    offered: float = 0.0
    received: float = 0.0
    server_sent: float = 0.0
    """Messages a second the server wrote to this client (its view of what the client read:
    a send waits while the client's socket is full)."""
    frames: float = 0.0
    p50_ms: float | None = None
    p99_ms: float | None = None
    cpu_per_100k: float | None = None
    dropped: int = 0
    extra: dict[str, float] = field(default_factory=dict)

    @property
    def keeps_up(self) -> bool:
        """Nothing dropped, at least 95 % processed, and the screen at most a quarter of a
        second behind the server (p99): a client whose backlog grows is falling behind even
        before the server starts dropping."""
        return (
            self.dropped == 0
            and self.received >= 0.95 * self.offered
            and self.p99_ms is not None
            and self.p99_ms <= KEEPS_UP_P99_MS
        )


def sustained(steps: Sequence[Figures]) -> float:
    """The rate received at the highest step kept up with, every lower step kept up too."""
    best = 0.0
    for figures in steps:
        if not figures.keeps_up:
            break
        best = figures.received
    return best


def percentile(samples: list[float], q: float) -> float | None:
    """The ``q`` quantile of ``samples`` (None when empty)."""
    if not samples:
        return None
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def peak_rss_mb() -> float:
    """Peak resident memory of this process in MB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class SimProcess:
    """``marketpane sim`` in a subprocess, controlled over its REST diagnostics."""

    def __init__(self, speed: float = 1.0) -> None:
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tui",
                "sim",
                "--port",
                "0",
                "--always-open",
                "--synthetic",
                "120",
                "--heartbeat",
                "1",
                "--speed",
                str(speed),
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        self.urls: dict[str, str] = {}
        for _ in range(6):
            name, _, value = self.proc.stdout.readline().partition(":")
            self.urls[name.strip()] = value.strip()
        self.rest = self.urls["rest"]

    def control(self, **params: Any) -> dict[str, Any]:
        """``/sim/control`` (firehose rate, publish N stories); returns the stats."""
        response = httpx.get(f"{self.rest}/sim/control", params=params, timeout=10)
        return dict(response.json())

    def dropped(self) -> int:
        """Messages dropped for slow consumers so far."""
        return sum(s["dropped"] for s in self.control()["live"])

    def counters(self) -> tuple[int, int]:
        """(messages the server has written to live clients, messages it dropped) so far."""
        sessions = self.control()["live"]
        return sum(s["sent"] for s in sessions), sum(s["dropped"] for s in sessions)

    def stop(self) -> None:
        """Terminate the process."""
        self.proc.terminate()
        self.proc.wait(5)


class Probe:
    """Collects frames and send-to-screen latency from the real app."""

    def __init__(self) -> None:
        self.frames = 0
        self.latencies: list[float] = []
        self.series_drawn_at: float | None = None
        self.news_drawn: int = 0

    def reset(self) -> None:
        self.frames = 0
        self.latencies = []

    def drawn(self, app: Any, batch: SessionBatch) -> None:
        now = time.time()
        self.frames += 1
        for quote in batch.quotes:
            if quote.server_ms:
                self.latencies.append(now * 1000 - quote.server_ms)
        if batch.series:
            self.series_drawn_at = now
        self.news_drawn += len(batch.news)


def bench_config(sim: SimProcess) -> Config:
    """A config pointed at the benchmark's simulator, with an unlimited plan."""
    config = Config()
    config.endpoints = Endpoints(
        live_url=sim.urls["live"],
        newsfeed_url=sim.urls["newsfeed"],
        stocknews_url=sim.urls["stocknews"].split("?")[0],
        rest_url=sim.rest,
        rapidapi_url=sim.rest,
    )
    config.plan.subscriptions = 10_000
    config.plan.max_dp = 30_000
    return config


def _real_app(
    sim: SimProcess,
    codes: list[str],
    probe: Probe,
    *,
    series: list[Subscription] | None = None,
    news: bool = False,
) -> Any:
    from tui.session.session import Session, SessionOptions
    from tui.ui.app import MarketpaneApp, ViewOptions

    class SeriesSession(Session):
        """Subscribes ``series`` beside the watchlist's quotes (they replace its chart's)."""

        def desired_subscriptions(self) -> list[Subscription]:
            extra = list(series or [])
            replaced = {s.code for s in extra if s.type in (None, "series", "both")}
            own = [
                s for s in super().desired_subscriptions() if s.is_quote or s.code not in replaced
            ]
            return own + [s for s in extra if s not in own]

    config = bench_config(sim)
    keys = Keys(insightsentry_api_key=Secret(BENCH_KEY))
    options = SessionOptions(
        config=config,
        keys=keys,
        symbols=list(codes),
        persist=False,
        engine_settings=EngineSettings(newsfeed=news, stocknews=False),
    )
    return MarketpaneApp(SeriesSession(options), ViewOptions(display=config.display, probe=probe))


async def _until_stable(count: Any, quiet: float, timeout: float) -> None:
    """Until ``count()`` has not changed for ``quiet`` seconds (at most ``timeout``)."""
    deadline = time.monotonic() + timeout
    last, since = count(), time.monotonic()
    while time.monotonic() < deadline:
        await asyncio.sleep(0.1)
        now = count()
        if now != last:
            last, since = now, time.monotonic()
        elif last and time.monotonic() - since >= quiet:
            return


async def _until(predicate: Any, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError("benchmark condition not met")
        await asyncio.sleep(0.02)


async def real_rates(
    sim: SimProcess, codes: list[str], rates: Sequence[float], seconds: float
) -> list[Figures]:
    """The real app at each offered rate."""
    probe = Probe()
    app = _real_app(sim, codes, probe)
    results: list[Figures] = []
    async with app.run_test(size=SIZE) as pilot:
        await _until(lambda: _engine(app) is not None and len(app.store.quotes) == len(codes))
        live = _engine(app).feeds[0].status
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


class NaiveUpdate(Message):
    """One decoded frame for the naive UI."""

    def __init__(self, data: dict[str, Any]) -> None:
        super().__init__()
        self.data = data


class NaiveApp(App[None]):
    """The guides' way: json.loads per frame, one UI update per message."""

    def __init__(self, url: str, subscriptions: list[dict[str, Any]], codes: list[str]) -> None:
        super().__init__()
        self.url, self.subscriptions, self.codes = url, subscriptions, codes
        self.received = 0
        self.updates = 0
        self.latencies: list[float] = []

    def compose(self) -> ComposeResult:
        yield DataTable()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_column("Symbol", key="symbol")
        table.add_column("Last", key="last")
        for code in self.codes:
            table.add_row(code, "", key=code)
        self.run_worker(self.read(), exit_on_error=False)

    async def read(self) -> None:
        async with connect(self.url, max_size=None) as ws:
            await ws.send(json.dumps({"api_key": BENCH_KEY, "subscriptions": self.subscriptions}))
            async for message in ws:
                if message == "pong":
                    continue
                data = json.loads(message)
                self.received += 1
                self.post_message(NaiveUpdate(data))

    def on_naive_update(self, message: NaiveUpdate) -> None:
        data = message.data
        table = self.query_one(DataTable)
        for quote in data.get("data", ()):
            if quote.get("code") in self.codes and "last_price" in quote:
                table.update_cell(quote["code"], "last", str(quote["last_price"]))
        if "series" in data and data.get("code") in self.codes:
            table.update_cell(data["code"], "last", str(data["series"][-1].get("close")))
        self.updates += 1
        if "last_update" in data:
            self.latencies.append(time.time() * 1000 - float(data["last_update"]))


async def naive_rates(
    sim: SimProcess, codes: list[str], rates: Sequence[float], seconds: float
) -> list[Figures]:
    """The naive baseline at each offered rate (stops once it has clearly fallen behind)."""
    app = NaiveApp(sim.urls["live"], [{"code": c, "type": "quote"} for c in codes], codes)
    results: list[Figures] = []
    async with app.run_test(size=SIZE) as pilot:
        await _until(lambda: app.updates > 0)
        for rate in rates:
            sim.control(firehose=rate)
            await pilot.pause(1.0)
            (sent, dropped), updates, cpu = sim.counters(), app.updates, time.process_time()
            app.latencies = []
            await asyncio.sleep(seconds)
            updates = app.updates - updates
            cpu = time.process_time() - cpu
            sent_after, dropped_after = sim.counters()
            figures = Figures(
                offered=rate,
                received=updates / seconds,
                server_sent=(sent_after - sent) / seconds,
                frames=updates / seconds,
                p50_ms=percentile(app.latencies, 0.5),
                p99_ms=percentile(app.latencies, 0.99),
                cpu_per_100k=cpu / max(1, updates) * 100_000,
                dropped=dropped_after - dropped,
            )
            results.append(figures)
            sim.control(firehose=0)
            backlog_deadline = time.monotonic() + 20
            while app.updates < app.received and time.monotonic() < backlog_deadline:
                await pilot.pause(0.2)  # let its queue drain before the next step
            if not figures.keeps_up and figures.received < 0.5 * rate:
                break
        app.exit()
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
    app = _real_app(sim, codes[:1], probe, series=series)
    async with app.run_test(size=SIZE) as pilot:
        await _until(lambda: _engine(app) is not None and len(app.store.series) == len(codes))
        live = _engine(app).feeds[0].status
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
        await _until(lambda: naive.updates > len(codes))
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
    app = _real_app(sim, [code], probe, series=series)
    arrived: list[float] = []
    async with app.run_test(size=SIZE) as pilot:
        await _until(lambda: _engine(app) is not None)

        def timed(feed: str, frame: str | bytes, now: float) -> None:
            if len(frame) > 1_000_000:
                arrived.append(time.time())

        _engine(app).frame_observers.append(timed)
        await _until(
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
    app = _real_app(sim, ["FX:EURUSD"], probe, news=True)
    async with app.run_test(size=SIZE) as pilot:
        await _until(lambda: _engine(app) is not None and len(app.store.news) >= 10)
        start_count = len(app.store.news)
        probe.news_drawn = 0
        cpu, started = time.process_time(), time.time()
        await asyncio.to_thread(sim.control, publish=1000)
        await _until(lambda: probe.news_drawn >= 1000, 60)
        elapsed = time.time() - started
        cpu = time.process_time() - cpu
        await pilot.press("q")
    return {
        "news_ms": elapsed * 1000,
        "news_cpu_s": cpu,
        "news_kept": float(len(app.store.news) - start_count),
    }


def _messages(app: Any) -> int:
    """Messages the app's engine has read on every feed so far."""
    return sum(s.messages for s in _engine(app).statuses()) if _engine(app) else 0


async def idle_scenario(sim: SimProcess, codes: list[str], seconds: float) -> dict[str, float]:
    """50 symbols, one update a second each: CPU of this process.

    The simulator's own trading is paused for this scenario, so the firehose's one quote a
    second per symbol is the whole feed (with its natural trading on top the feed carries
    about three times that).
    """
    probe = Probe()
    app = _real_app(sim, codes, probe)
    async with app.run_test(size=SIZE) as pilot:
        await _until(lambda: _engine(app) is not None and len(app.store.quotes) == len(codes))
        sim.control(firehose=len(codes), market="pause")
        await pilot.pause(2.0)
        received = _messages(app)
        cpu, wall = time.process_time(), time.monotonic()
        await asyncio.sleep(seconds)
        elapsed = time.monotonic() - wall
        share = (time.process_time() - cpu) / elapsed * 100
        rate = (_messages(app) - received) / elapsed
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
    app = _real_app(sim, codes, probe, series=series, news=True)
    async with app.run_test(size=SIZE) as pilot:
        await _until(
            lambda: (
                _engine(app) is not None
                and len(app.store.series) == 20
                and all(len(s.bars) >= 30_000 for s in app.store.series.values())
            ),
            120,
        )
        await asyncio.to_thread(sim.control, publish=1000)
        await _until_stable(lambda: len(app.store.news), 2.0, 60)  # the same story told
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


def _engine(app: Any) -> Any:
    """The in-process session's engine under the app (None until it has one)."""
    return getattr(app.session, "engine", None)


if __name__ == "__main__":
    raise SystemExit(bench_command(sys.argv[1:]))
