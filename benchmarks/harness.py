"""What the ``benchmarks.bench`` scenarios share: the simulator in a subprocess, the real app
pointed at it with a probe of its frames and latencies, and one step's figures."""

from __future__ import annotations

import asyncio
import resource
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx

from tui.config import Config, Endpoints
from tui.engine.engine import EngineSettings
from tui.protocol.live import Subscription
from tui.secrets import Keys, Secret
from tui.session.values import SessionBatch
from tui.sim.settings import BENCH_KEY

SIZE = (160, 48)
"""Terminal size of the headless app."""


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


def real_app(
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


async def until_stable(count: Any, quiet: float, timeout: float) -> None:
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


async def until(predicate: Any, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError("benchmark condition not met")
        await asyncio.sleep(0.02)


def messages_read(app: Any) -> int:
    """Messages the app's engine has read on every feed so far."""
    return sum(s.messages for s in engine_of(app).statuses()) if engine_of(app) else 0


def engine_of(app: Any) -> Any:
    """The in-process session's engine under the app (None until it has one)."""
    return getattr(app.session, "engine", None)
