"""The naive baseline client of ``benchmarks.bench``: what the vendor guides' examples do,
``json.loads`` per frame and one Textual update per message, in a ``DataTable``."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Sequence
from typing import Any

from textual.app import App, ComposeResult
from textual.message import Message
from textual.widgets import DataTable
from websockets.asyncio.client import connect

from benchmarks.harness import SIZE, Figures, SimProcess, percentile, until
from tui.sim.settings import BENCH_KEY


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
        await until(lambda: app.updates > 0)
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
