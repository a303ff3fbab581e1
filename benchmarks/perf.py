"""``python -m benchmarks.perf [--quick] [--check] [--json FILE]``: performance, honestly measured.

Method:

- a load generator in its own process (:mod:`benchmarks.loadgen`) writes pre-encoded full
  quotes (``--sparse`` for the short form) and reports its own CPU beside the clients';
- every client runs in its own process and is stepped up a ladder of rates, then bisected, to
  the highest rate it keeps up with: the generator achieved at least 97 % of the offer (TCP
  pushes back on a slow reader), the client received 97 % of what was sent, finished within
  half a second of the generator, and (the app, the hub's pane) drew at least 19 frames a
  second in steady state. Each figure is the median of three searches (one with ``--quick``)
  with its range;
- the ceilings are measured in the same run on the same generator: a bare ``websockets``
  reader that decodes every frame with msgspec (the library's limit, and the fair form of the
  vendor examples' loop: no UI message per frame) and ``picows`` doing the same (the fastest
  reader on the registry: the machine's limit). Figures are given as ratios to them, so they
  hold on a noisy machine. The old naive baseline (one Textual message per frame) is dropped
  in favour of these ceilings;
- micro figures: decode plus merge of one full quote, and composing a 160x48 frame;
- the terminal: the real console script in tmux at 160x48 and 80x24 with 10 and 50 symbols,
  each ticking once a second, bytes a second written to the terminal (``pipe-pane``) and the
  pane's CPU (the idle target is the 50-symbol, 160x48 case);
- first frame, and peak RSS with 100 quotes, 20 x 30,000 bars and 1,000 stories;
- the machine's load average before and after.

``--check`` prints every target with its figure, ratio and verdict, and exits 1 on a miss.
Nothing here is a unit test: the figures go to the README and the notes.
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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.readers import proc_cpu_seconds, run_reader

SYMBOLS = 50
LADDER = (2_500, 5_000, 10_000, 20_000, 40_000, 80_000, 160_000, 320_000)
"""Offered messages a second, climbed until a rate is not kept up with."""
MIN_FPS = 19.0


class LoadGen:
    """The generator process; one JSON line of figures per connection."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.loadgen"],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        self.port = int(self.proc.stdout.readline().split()[1])

    def url(self, rate: float, seconds: float, symbols: int, sparse: bool) -> str:
        kind = "sparse" if sparse else "full"
        return f"ws://127.0.0.1:{self.port}/r{rate:g}/s{seconds:g}/n{symbols}/{kind}"

    def result(self) -> dict[str, Any]:
        assert self.proc.stdout is not None
        return dict(json.loads(self.proc.stdout.readline()))

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(5)


@dataclass
class Step:
    kind: str
    offered: float
    gen: dict[str, Any]
    client: dict[str, Any]

    @property
    def kept_up(self) -> bool:
        sent = self.gen["sent"]
        fps = self.client.get("frames_per_s")
        return (
            self.gen["achieved"] >= 0.97 * self.offered
            and self.client["received"] >= 0.97 * sent
            and self.client["span"] <= self.gen["wall"] + 0.5
            and (fps is None or fps >= MIN_FPS)
        )

    @property
    def received_rate(self) -> float:
        return float(self.client["received"]) / max(float(self.gen["wall"]), 1e-6)


def measure(gen: LoadGen, kind: str, rate: float, seconds: float, sparse: bool) -> Step:
    client = run_reader(kind, gen.url(rate, seconds, SYMBOLS, sparse), seconds, SYMBOLS)
    return Step(kind, rate, gen.result(), client)


def search(gen: LoadGen, kind: str, seconds: float, sparse: bool, bisections: int) -> Step | None:
    """The step at the highest rate kept up with (ladder, then bisection)."""
    best: Step | None = None
    failed: float | None = None
    for ladder_rate in LADDER:
        rate = float(ladder_rate)
        step = measure(gen, kind, rate, seconds, sparse)
        print(f"    {kind:10} {rate:>9,.0f}/s  {'kept up' if step.kept_up else 'behind'}"
              f"{_fps(step)}", flush=True)  # fmt: skip
        if not step.kept_up:
            failed = rate
            break
        best = step
    low: float = best.offered if best else 0.0
    for _ in range(bisections if failed is not None else 0):
        assert failed is not None
        rate = float(round((low + failed) / 2, -2))
        if rate <= low or rate >= failed:
            break
        step = measure(gen, kind, rate, seconds, sparse)
        print(f"    {kind:10} {rate:>9,.0f}/s  {'kept up' if step.kept_up else 'behind'}"
              f"{_fps(step)}", flush=True)  # fmt: skip
        if step.kept_up:
            best, low = step, rate
        else:
            failed = rate
    return best


def _fps(step: Step) -> str:
    fps = step.client.get("frames_per_s")
    return "" if fps is None else f"  {fps:.1f} frames/s"


@dataclass
class Sustained:
    kind: str
    rates: list[float]
    client_cpu: list[float]
    gen_cpu: list[float]
    extra_cpu: list[float]

    @property
    def median(self) -> float:
        return float(statistics.median(self.rates)) if self.rates else 0.0

    def range_text(self) -> str:
        if not self.rates:
            return "—"
        return f"{min(self.rates):,.0f}-{max(self.rates):,.0f}"


def sustained(gen: LoadGen, kind: str, runs: int, seconds: float, sparse: bool) -> Sustained:
    out = Sustained(kind, [], [], [], [])
    for run in range(runs):
        print(f"  {kind}: search {run + 1} of {runs}", flush=True)
        best = search(gen, kind, seconds, sparse, bisections=3 if runs > 1 else 2)
        if best is None:
            out.rates.append(0.0)
            continue
        wall = best.gen["wall"]
        out.rates.append(best.received_rate)
        window = best.client.get("window") or wall
        out.client_cpu.append(best.client["cpu_seconds"] / window * 100)
        out.gen_cpu.append(best.gen["cpu_seconds"] / wall * 100)
        if "hub_cpu_seconds" in best.client:
            out.extra_cpu.append(best.client["hub_cpu_seconds"] / window * 100)
    return out


# ---- micro figures ---------------------------------------------------------------------------


def decode_merge_us(repeats: int = 5, count: int = 20_000) -> float:
    """Median µs to decode one full-quote frame and merge it into the store."""
    from benchmarks.loadgen import build_frames
    from tui.engine.store import MarketStore
    from tui.protocol.live import QuoteUpdate, dispatch_live

    frames = [f[f.index(b"{") :] for f in build_frames(SYMBOLS, sparse=False)]
    timings = []
    for _ in range(repeats):
        store = MarketStore()
        start = time.perf_counter()
        for i in range(count):
            event = dispatch_live(frames[i % len(frames)])  # the feed's own path
            if isinstance(event, QuoteUpdate):
                for quote in event.data:
                    store.apply_quote(quote, event.last_update, 1_795_000_000.0)
        timings.append((time.perf_counter() - start) / count * 1e6)
    return float(statistics.median(timings))


async def frame_ms(repeats: int = 30) -> float:
    """Median ms to compose a full 160x48 frame of the dashboard: every widget's every line
    rendered afresh (caches dropped), then written as the terminal's text and escape codes."""
    from textual.widget import Widget

    from tests.uihelp import pinned_app
    from tui.ui.grid import QuoteGrid

    app = pinned_app()
    timings = []
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.pause(0.5)
        system = app.console._color_system
        widgets = [w for w in app.screen.query(Widget) if w.size.area]
        for _ in range(repeats):
            app.query_one(QuoteGrid).strips.clear()
            start = time.perf_counter()
            out: list[str] = []
            for widget in widgets:
                widget.refresh()
                for strip in widget.render_lines(widget.size.region):
                    out.extend(
                        seg.style.render(seg.text, color_system=system) if seg.style else seg.text
                        for seg in strip
                    )
            "".join(out)
            timings.append((time.perf_counter() - start) * 1000)
        await pilot.press("q")
    return float(statistics.median(timings))


# ---- terminal figures ------------------------------------------------------------------------


def terminal_cost(
    gen: LoadGen, size: tuple[int, int], symbols: int, seconds: float
) -> dict[str, float]:
    """The real console script in tmux, ``symbols`` each ticking once a second: bytes a
    second written to the terminal and the process's CPU, over ``seconds`` after warm-up."""
    from tui.config import Config, Endpoints, save_config

    home = Path(tempfile.mkdtemp(prefix="mpt"))
    print("terminal bytes in", home, file=sys.stderr)
    config = Config()
    config.endpoints = Endpoints(
        live_url=gen.url(symbols, 3600, symbols, False), rest_url="http://127.0.0.1:9/"
    )
    config.plan.subscriptions = 100
    config.watchlists[0].symbols = []
    save_config(config, home / "config.toml")
    out = home / "pane.bytes"
    session = f"mpperf{os.getpid()}"
    codes = ",".join(f"SIM:T{n:04d}" for n in range(1, symbols + 1))
    script = Path(sys.executable).with_name("marketpane")
    env = (
        f"env -u COLUMNS -u LINES MARKETPANE_CONFIG={home}/config.toml "
        f"MARKETPANE_STATE_DIR={home}/state MARKETPANE_SECRETS={home}/s.toml "
        f"INSIGHTSENTRY_API_KEY=bench XDG_RUNTIME_DIR={home}"
    )
    width, height = size
    subprocess.run(
        ["tmux", "new-session", "-d", "-s", session, "-x", str(width), "-y", str(height),
         f"exec {env} {script} --no-hub --symbols {codes}"],
        check=True,
    )  # fmt: skip
    subprocess.run(["tmux", "set-option", "-t", session, "window-size", "manual"], check=False)
    subprocess.run(["tmux", "resize-window", "-t", session, "-x", str(width), "-y", str(height)])
    try:
        pid = int(
            subprocess.run(
                ["tmux", "display", "-p", "-t", session, "#{pane_pid}"],
                capture_output=True, text=True, check=True,
            ).stdout.strip()
        )  # fmt: skip
        time.sleep(4.0)  # start-up and the first full frames
        subprocess.run(["tmux", "pipe-pane", "-o", "-t", session, f"cat > {out}"], check=True)
        cpu0, start = proc_cpu_seconds(pid), time.monotonic()
        time.sleep(seconds)
        cpu1, wall = proc_cpu_seconds(pid), time.monotonic() - start
        subprocess.run(["tmux", "pipe-pane", "-t", session], check=True)
        time.sleep(0.2)
        written = out.stat().st_size if out.exists() else 0
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], check=False, capture_output=True)
    gen.result()  # the generator's line for this connection
    return {"bytes_per_s": written / wall, "cpu_percent": (cpu1 - cpu0) / wall * 100}


# ---- the run ---------------------------------------------------------------------------------


@dataclass
class Target:
    name: str
    measured: float | None
    limit: float
    unit: str
    higher_is_better: bool = False
    note: str = ""

    @property
    def met(self) -> bool:
        if self.measured is None:
            return False
        return self.measured >= self.limit if self.higher_is_better else self.measured <= self.limit

    def row(self) -> str:
        measured = "—" if self.measured is None else f"{self.measured:,.2f}"
        op = ">=" if self.higher_is_better else "<="
        verdict = "met" if self.met else "NOT MET"
        return (f"| {self.name} | {measured} {self.unit} | {op} {self.limit:g} {self.unit} | "
                f"{verdict} | {self.note} |")  # fmt: skip


def load_text() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load {one:.2f} {five:.2f} {fifteen:.2f} on {os.cpu_count()} cores"


def run(args: argparse.Namespace) -> tuple[list[Target], dict[str, Any]]:
    runs = 1 if args.quick else 3
    seconds = 2.0 if args.quick else 3.0
    report: dict[str, Any] = {"date": time.strftime("%Y-%m-%d %H:%M"), "load_before": load_text()}
    print(f"machine: {report['load_before']}", flush=True)
    gen = LoadGen()
    try:
        results = {
            kind: sustained(gen, kind, runs, seconds, args.sparse)
            for kind in ("websockets", "picows", "app", "hub")
        }
        terminal: dict[str, dict[str, float]] = {}
        if shutil.which("tmux") and not args.skip_terminal:
            for size in ((160, 48), (80, 24)):
                for count in (10, 50):
                    key = f"{size[0]}x{size[1]} {count} symbols"
                    terminal[key] = terminal_cost(gen, size, count, 6.0 if args.quick else 10.0)
                    print(f"  terminal {key}: {terminal[key]['bytes_per_s'] / 1000:.1f} KB/s, "
                          f"CPU {terminal[key]['cpu_percent']:.1f} %", flush=True)  # fmt: skip
    finally:
        gen.stop()
    micro_decode = decode_merge_us()
    micro_frame = asyncio.run(frame_ms())
    from benchmarks.bench import first_frame_seconds, memory_in_fresh_process

    first = statistics.median(first_frame_seconds() for _ in range(3))
    rss = None
    if not args.quick:
        try:
            rss = memory_in_fresh_process()["peak_rss_mb"]
        except subprocess.CalledProcessError as exc:
            print(f"memory scenario failed: {exc}", flush=True)
    report["load_after"] = load_text()
    bare = results["websockets"].median or 1.0
    app, hub = results["app"], results["hub"]
    report["sustained"] = {
        kind: {"median": r.median, "range": r.range_text(), "rates": r.rates,
               "client_cpu_percent": r.client_cpu, "generator_cpu_percent": r.gen_cpu,
               "hub_cpu_percent": r.extra_cpu}
        for kind, r in results.items()
    }  # fmt: skip
    report["terminal"] = terminal
    report.update(decode_merge_us=micro_decode, frame_ms=micro_frame, first_frame_s=first,
                  peak_rss_mb=rss)  # fmt: skip
    wide = terminal.get("160x48 50 symbols", {})
    targets = [
        Target("in-process sustained / bare websockets", app.median / bare, 0.6, "x",
               True, f"{app.median:,.0f} vs {bare:,.0f} msg/s at >= 19 frames/s"),
        Target("through the hub / bare websockets", hub.median / bare, 0.85, "x", True,
               f"{hub.median:,.0f} msg/s, pane >= 19 frames/s"),
        Target("decode + merge of a full quote", micro_decode, 3.0, "µs"),
        Target("compose a 160x48 frame", micro_frame, 6.0, "ms"),
        Target("terminal, 50 symbols at 160x48", wide.get("bytes_per_s", 0) / 1000 or None,
               12.0, "KB/s"),
        Target("idle pane (50 symbols, 1/s each)", wide.get("cpu_percent"), 2.0, "% core"),
        Target("first frame", first, 0.5, "s"),
        Target("peak RSS (100 quotes, 20 x 30,000 bars, 1,000 news)", rss, 200.0, "MB",
               note="skipped with --quick" if rss is None else ""),
    ]  # fmt: skip
    return targets, report


def print_report(targets: list[Target], report: dict[str, Any]) -> None:
    print()
    print(f"marketpane performance, {report['date']}; before: {report['load_before']}; "
          f"after: {report['load_after']}")  # fmt: skip
    print()
    print("| client (full quotes, 50 symbols) | sustained msg/s (median) | range | ratio to "
          "websockets | ratio to picows | client CPU | generator CPU |")  # fmt: skip
    print("| --- | --- | --- | --- | --- | --- | --- |")
    sus = report["sustained"]
    bare = sus["websockets"]["median"] or 1.0
    fast = sus["picows"]["median"] or 1.0
    for kind in ("websockets", "picows", "app", "hub"):
        r = sus[kind]
        cpu = statistics.median(r["client_cpu_percent"]) if r["client_cpu_percent"] else 0.0
        gen = statistics.median(r["generator_cpu_percent"]) if r["generator_cpu_percent"] else 0.0
        if r["hub_cpu_percent"]:
            cpu_text = f"pane {cpu:.0f} %, hub {statistics.median(r['hub_cpu_percent']):.0f} %"
        else:
            cpu_text = f"{cpu:.0f} %"
        print(f"| {kind} | {r['median']:,.0f} | {r['range']} | {r['median'] / bare:.2f} | "
              f"{r['median'] / fast:.2f} | {cpu_text} | {gen:.0f} % |")  # fmt: skip
    if report["terminal"]:
        print()
        print("| terminal (console script in tmux, each symbol once a second) | written | CPU |")
        print("| --- | --- | --- |")
        for key, figures in report["terminal"].items():
            print(f"| {key} | {figures['bytes_per_s'] / 1000:.1f} KB/s | "
                  f"{figures['cpu_percent']:.1f} % |")  # fmt: skip
    print()
    print("| target | measured | limit | verdict | note |")
    print("| --- | --- | --- | --- | --- |")
    for target in targets:
        print(target.row())


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.perf", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="one search per client, short runs")
    parser.add_argument("--check", action="store_true", help="exit 1 if a target is missed")
    parser.add_argument("--sparse", action="store_true", help="sparse quotes instead of full")
    parser.add_argument("--skip-terminal", action="store_true", help="no tmux scenarios")
    parser.add_argument("--json", metavar="FILE", help="write every figure as JSON")
    args = parser.parse_args()
    targets, report = run(args)
    print_report(targets, report)
    if args.json:
        report["targets"] = [
            {"name": t.name, "measured": t.measured, "limit": t.limit, "met": t.met}
            for t in targets
        ]
        Path(args.json).write_text(json.dumps(report, indent=2, default=str))
    missed = [t.name for t in targets if not t.met]
    if args.check and missed:
        print(f"\nmissed: {', '.join(missed)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
