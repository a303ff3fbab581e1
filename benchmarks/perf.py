"""``python -m benchmarks.perf [--quick] [--check] [--json FILE]``: performance, honestly measured.

Method:

- a load generator in its own process (:mod:`benchmarks.loadgen`) writes pre-encoded full
  quotes (``--sparse`` for the short form) and reports its own CPU beside the clients';
- sustained rates (:mod:`benchmarks.ladder`): four clients, each in its own process, climb one
  ladder of offered rates and bisect to the highest they keep up with, taking every step in
  turn so that all of them share the machine's load of the moment; three rounds (one with
  ``--quick``), the median and the range. The ceilings are measured in the same run on the same
  generator: a bare ``websockets`` reader decoding every frame with msgspec (the library's
  limit) and ``picows`` doing the same (the machine's); figures are ratios to them;
- what a user pays (:mod:`benchmarks.terminal`): the real console script drawn in tmux (a tmux
  server and a home of its own for every scenario, both removed after): bytes a second written
  to the terminal and the pane's CPU at 50 msg/s (each of 50 symbols once a second) and at
  5,000 msg/s beside a bare reader's CPU on the same feed, round by round; launch to the first
  price drawn, in-process and starting the hub; 1, 2, 4 and 8 drawn panes on one hub;
- micro figures: decode plus merge of one full quote, and composing a 160x48 frame;
- first frame, and peak RSS with 100 quotes, 20 x 30,000 bars and 1,000 stories;
- the machine's load average before and after.

``--check`` prints every target with its figure and verdict, and exits 1 on a miss. Nothing
here is a unit test: the figures go to the README and the notes.
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
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks import terminal
from benchmarks.ladder import SYMBOLS, sustained_all


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


# ---- micro figures ---------------------------------------------------------------------------


def decode_merge_us(repeats: int = 9, count: int = 20_000) -> tuple[float, float, float]:
    """µs to decode one full-quote frame and merge it into the store: the fastest of
    ``repeats`` runs, and the fastest and slowest. (The fastest, as ``timeit`` reads its runs:
    a slower one measures what else the machine did then, not this code; the range says how
    much that was.)"""
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
    return min(timings), min(timings), max(timings)


async def frame_ms(repeats: int = 30) -> float:
    """Median ms to compose a full 160x48 frame of the dashboard as a resize or a new screen
    makes it: every widget's every line rendered afresh (caches dropped), then written by the
    dashboard's compositor as the terminal's text and escape codes. In a terminal of more than
    16 colours, as users have (headless, Rich would assume 16 and add their filter)."""
    from textual.widget import Widget

    from tests.uihelp import pinned_app
    from tui.ui.grid import QuoteGrid

    os.environ["COLORTERM"] = "truecolor"
    app = pinned_app()
    timings = []
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.pause(0.5)
        widgets = [w for w in app.screen.query(Widget) if w.size.area]
        compositor = app.screen._compositor
        for _ in range(repeats):
            app.query_one(QuoteGrid).strips.clear()
            start = time.perf_counter()
            for widget in widgets:
                widget.refresh()
                widget._styles_cache.clear()
            compositor.update_widgets(set(widgets))
            compositor.render_full_update().render_segments(app.console)
            timings.append((time.perf_counter() - start) * 1000)
        await pilot.press("q")
    return float(statistics.median(timings))


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


KINDS = ["websockets", "picows", "app", "hub"]


def run(args: argparse.Namespace) -> tuple[list[Target], dict[str, Any]]:
    runs = 1 if args.quick else 3
    seconds = 2.0 if args.quick else 3.0
    report: dict[str, Any] = {"date": time.strftime("%Y-%m-%d %H:%M"), "load_before": load_text()}
    print(f"machine: {report['load_before']}", flush=True)
    # The micro figures first, on the quietest machine (the drawn panes leave load behind).
    micro_decode = decode_merge_us()
    micro_frame = asyncio.run(frame_ms())
    from benchmarks.bench import first_frame_seconds, memory_in_fresh_process

    first = statistics.median(first_frame_seconds() for _ in range(3))
    print(f"  decode + merge {micro_decode[0]:.2f} µs, frame {micro_frame:.1f} ms, first frame "
          f"{first:.2f} s", flush=True)  # fmt: skip
    rss = None
    if not args.quick:
        try:
            rss = memory_in_fresh_process()["peak_rss_mb"]
        except subprocess.CalledProcessError as exc:
            print(f"memory scenario failed: {exc}", flush=True)
    gen = LoadGen()
    try:
        results = sustained_all(gen, KINDS, runs, seconds, args.sparse)
        user: dict[str, Any] = {}
        if shutil.which("tmux") and not args.skip_terminal:
            user = terminal.terminal_figures(gen, args.quick)
    finally:
        gen.stop()
    report["load_after"] = load_text()
    bare = results["websockets"].median or 1.0
    app, hub = results["app"], results["hub"]
    report["sustained"] = {
        kind: {"median": r.median, "range": r.range_text(), "rates": r.rates,
               "client_cpu_percent": r.client_cpu, "generator_cpu_percent": r.gen_cpu,
               "hub_cpu_percent": r.extra_cpu, "generator_limited": r.generator_limited}
        for kind, r in results.items()
    }  # fmt: skip
    report["user"] = user
    report.update(decode_merge_us=micro_decode, frame_ms=micro_frame, first_frame_s=first,
                  peak_rss_mb=rss)  # fmt: skip
    return _targets(report, app.median / bare, hub.median / bare), report


def _targets(report: dict[str, Any], app_ratio: float, hub_ratio: float) -> list[Target]:
    user = report["user"]
    idle = user.get("idle", {}).get("160x48 50 symbols", {})
    busy = user.get("busy", [])
    busy_kb = _median_of(busy, lambda r: r["bytes_per_s"] / 1000)
    busy_ratio = _median_of(busy, lambda r: r["cpu_percent"] / max(r["bare_cpu_percent"], 0.1))
    first = user.get("first_price", {})
    four = next((r for r in user.get("hub_panes", []) if r["panes"] == 4), None)
    sus = report["sustained"]
    decode = report["decode_merge_us"]
    return [
        Target("in-process sustained / bare websockets", app_ratio, 0.6, "x", True,
               f"{sus['app']['median']:,.0f} vs {sus['websockets']['median']:,.0f} msg/s"),
        Target("through the hub / bare websockets", hub_ratio, 0.85, "x", True,
               f"{sus['hub']['median']:,.0f} msg/s, pane >= 19 frames/s"),
        Target("terminal at 5,000 msg/s (160x48, 50 symbols)", busy_kb, 40.0, "KB/s",
               note=_spread(busy, lambda r: r["bytes_per_s"] / 1000)),
        Target("pane CPU at 5,000 msg/s / bare reader's, same round", busy_ratio, 1.5, "x",
               note=_spread(busy, lambda r: r["cpu_percent"]) + " % pane; "
               + _spread(busy, lambda r: r["bare_cpu_percent"]) + " % bare"),
        Target("terminal at 50 msg/s (160x48, 50 symbols)",
               idle.get("bytes_per_s", 0) / 1000 or None, 7.0, "KB/s"),
        Target("pane CPU at 50 msg/s", idle.get("cpu_percent"), 2.0, "% core"),
        Target("first price drawn, in-process", first.get("in-process", {}).get("median"), 0.4,
               "s", note=_values(first.get("in-process"))),
        Target("first price drawn, starting the hub",
               first.get("starting the hub", {}).get("median"), 0.6, "s",
               note=_values(first.get("starting the hub"))),
        Target("4 drawn panes on one hub at 5,000 msg/s, hub + panes",
               four["total_cpu_percent"] if four else None, 60.0, "% core"),
        Target("decode + merge of a full quote", decode[0], 3.0, "µs",
               note=f"{decode[1]:.2f}-{decode[2]:.2f} over 9 runs"),
        Target("compose a 160x48 frame", report["frame_ms"], 6.0, "ms"),
        Target("first frame (headless demo)", report["first_frame_s"], 0.5, "s"),
        Target("peak RSS (100 quotes, 20 x 30,000 bars, 1,000 news)", report["peak_rss_mb"],
               200.0, "MB", note="skipped with --quick" if report["peak_rss_mb"] is None else ""),
    ]  # fmt: skip


def _median_of(rows: list[dict[str, Any]], pick: Any) -> float | None:
    return float(statistics.median(pick(r) for r in rows)) if rows else None


def _spread(rows: list[dict[str, Any]], pick: Any) -> str:
    values = [pick(r) for r in rows]
    return f"{min(values):.1f}-{max(values):.1f}" if values else ""


def _values(entry: dict[str, Any] | None) -> str:
    return ", ".join(f"{v:.2f}" for v in entry["values"]) if entry else ""


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
    for kind in KINDS:
        r = sus[kind]
        cpu = statistics.median(r["client_cpu_percent"]) if r["client_cpu_percent"] else 0.0
        gen = statistics.median(r["generator_cpu_percent"]) if r["generator_cpu_percent"] else 0.0
        if r["hub_cpu_percent"]:
            cpu_text = f"pane {cpu:.0f} %, hub {statistics.median(r['hub_cpu_percent']):.0f} %"
        else:
            cpu_text = f"{cpu:.0f} %"
        print(f"| {kind} | {r['median']:,.0f} | {r['range']} | {r['median'] / bare:.2f} | "
              f"{r['median'] / fast:.2f} | {cpu_text} | {gen:.0f} % |")  # fmt: skip
    user = report["user"]
    if user:
        print()
        print("| drawn pane in tmux (console script) | written | pane CPU | bare reader CPU |")
        print("| --- | --- | --- | --- |")
        for key, figures in user["idle"].items():
            print(f"| {key}, each once a second | {figures['bytes_per_s'] / 1000:.1f} KB/s | "
                  f"{figures['cpu_percent']:.1f} % | |")  # fmt: skip
        for n, row in enumerate(user["busy"], 1):
            print(f"| 160x48 50 symbols at 5,000 msg/s, round {n} | "
                  f"{row['bytes_per_s'] / 1000:.1f} KB/s | {row['cpu_percent']:.1f} % | "
                  f"{row['bare_cpu_percent']:.1f} % |")  # fmt: skip
        print()
        print("| drawn panes on one hub, 5,000 msg/s | hub CPU | panes CPU | total | "
              "written per pane |")  # fmt: skip
        print("| --- | --- | --- | --- | --- |")
        for row in user["hub_panes"]:
            print(f"| {row['panes']} | {row['hub_cpu_percent']:.0f} % | "
                  f"{row['pane_cpu_percent']:.0f} % | {row['total_cpu_percent']:.0f} % | "
                  f"{row['bytes_per_s_per_pane'] / 1000:.1f} KB/s |")  # fmt: skip
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
