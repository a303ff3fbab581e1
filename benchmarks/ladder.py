"""The sustained-rate search: every client climbs the same ladder of offered rates, then
bisects, to the highest rate it keeps up with; the clients take their steps in turn, so
every ratio between them is measured under the same load.

A step is kept up with when the generator achieved at least 97 % of the offer (TCP pushes back
on a slow reader), the client received 97 % of what was sent and finished within half a second
of the generator, and (the app, the hub's pane) drew at least 19 frames a second. Above the
ladder's top the rate keeps doubling until a step fails: a client that still keeps up when the
generator itself cannot offer more is reported as limited by the generator, not as its rate.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from typing import Any, Protocol

from benchmarks.readers import run_reader

SYMBOLS = 50
LADDER = (2_500, 5_000, 10_000, 20_000, 40_000, 80_000, 160_000, 320_000)
"""Offered messages a second, climbed until a rate is not kept up with (then doubled on)."""
CEILING = 5_120_000
"""Where doubling stops: far above what one loopback generator can offer."""
MIN_FPS = 19.0


class Generator(Protocol):
    def url(self, rate: float, seconds: float, symbols: int, sparse: bool) -> str: ...

    def result(self) -> dict[str, Any]: ...


@dataclass
class Step:
    kind: str
    offered: float
    gen: dict[str, Any]
    client: dict[str, Any]

    @property
    def generator_short(self) -> bool:
        """The generator could not offer the rate (whoever was reading)."""
        return bool(self.gen["achieved"] < 0.97 * self.offered)

    @property
    def kept_up(self) -> bool:
        sent = self.gen["sent"]
        fps = self.client.get("frames_per_s")
        return (
            not self.generator_short
            and self.client["received"] >= 0.97 * sent
            and self.client["span"] <= self.gen["wall"] + 0.5
            and (fps is None or fps >= MIN_FPS)
        )

    @property
    def client_kept_pace(self) -> bool:
        """The client read all that was sent, in time (the generator may have sent less)."""
        return bool(
            self.client["received"] >= 0.97 * self.gen["sent"]
            and self.client["span"] <= self.gen["wall"] + 0.5
        )

    @property
    def received_rate(self) -> float:
        return float(self.client["received"]) / max(float(self.gen["wall"]), 1e-6)


def measure(gen: Generator, kind: str, rate: float, seconds: float, sparse: bool) -> Step:
    client = run_reader(kind, gen.url(rate, seconds, SYMBOLS, sparse), seconds, SYMBOLS)
    step = Step(kind, rate, gen.result(), client)
    fps = step.client.get("frames_per_s")
    verdict = "kept up" if step.kept_up else "behind"
    if step.generator_short and step.client_kept_pace:
        verdict = "generator short"
    print(f"    {kind:10} {rate:>10,.0f}/s  {verdict}"
          f"{'' if fps is None else f'  {fps:.1f} frames/s'}", flush=True)  # fmt: skip
    return step


@dataclass
class Search:
    """One client's climb in one round."""

    kind: str
    best: Step | None = None
    failed: float | None = None
    generator_limited: bool = False
    bisections_left: int = 0

    @property
    def climbing(self) -> bool:
        return self.failed is None

    def next_rate(self, rung: int) -> float | None:
        if self.failed is None:
            return float(LADDER[rung]) if rung < len(LADDER) else float(LADDER[-1] * 2 ** (
                rung - len(LADDER) + 1))  # fmt: skip
        if self.bisections_left <= 0 or self.generator_limited:
            return None
        low = self.best.offered if self.best else 0.0
        rate = float(round((low + self.failed) / 2, -2))
        return rate if low < rate < self.failed else None

    def record(self, step: Step) -> None:
        if self.failed is not None:
            self.bisections_left -= 1
        if step.kept_up:
            self.best = step
        else:
            self.failed = step.offered
            if step.generator_short and step.client_kept_pace:  # the client read all there
                self.generator_limited = True  # was: what it received is its figure so far
                if self.best is None or step.received_rate > self.best.received_rate:
                    self.best = step
        if step.offered >= CEILING and self.failed is None:
            self.failed, self.generator_limited = step.offered * 2, True


def interleaved_round(
    gen: Generator, kinds: list[str], seconds: float, sparse: bool, bisections: int
) -> dict[str, Search]:
    """One round: each rung (and then each bisection) is taken by every client in turn,
    starting with a different client each time."""
    searches = {kind: Search(kind, bisections_left=bisections) for kind in kinds}
    rung = 0
    while True:
        todo: list[tuple[Search, float]] = []
        for search in searches.values():
            rate = search.next_rate(rung)
            if rate is not None:
                todo.append((search, rate))
        if not todo:
            return searches
        shift = rung % len(todo)
        for search, rate in todo[shift:] + todo[:shift]:
            search.record(measure(gen, search.kind, rate, seconds, sparse))
        rung += 1


@dataclass
class Sustained:
    kind: str
    rates: list[float] = field(default_factory=list)
    client_cpu: list[float] = field(default_factory=list)
    gen_cpu: list[float] = field(default_factory=list)
    extra_cpu: list[float] = field(default_factory=list)
    generator_limited: int = 0
    """Rounds in which the client still kept pace when the generator could offer no more."""

    @property
    def median(self) -> float:
        return float(statistics.median(self.rates)) if self.rates else 0.0

    def range_text(self) -> str:
        if not self.rates:
            return "—"
        text = f"{min(self.rates):,.0f}-{max(self.rates):,.0f}"
        if self.generator_limited:
            text += f" (generator's limit in {self.generator_limited})"
        return text

    def add(self, search: Search) -> None:
        self.generator_limited += search.generator_limited
        best = search.best
        if best is None:
            self.rates.append(0.0)
            return
        wall = best.gen["wall"]
        self.rates.append(best.received_rate)
        window = best.client.get("window") or wall
        self.client_cpu.append(best.client["cpu_seconds"] / window * 100)
        self.gen_cpu.append(best.gen["cpu_seconds"] / wall * 100)
        if "hub_cpu_seconds" in best.client:
            self.extra_cpu.append(best.client["hub_cpu_seconds"] / window * 100)


def sustained_all(
    gen: Generator, kinds: list[str], runs: int, seconds: float, sparse: bool
) -> dict[str, Sustained]:
    results = {kind: Sustained(kind) for kind in kinds}
    for run in range(runs):
        print(f"  round {run + 1} of {runs} ({', '.join(kinds)} in turn)", flush=True)
        round_ = interleaved_round(gen, kinds, seconds, sparse, bisections=3 if runs > 1 else 2)
        for kind, search in round_.items():
            results[kind].add(search)
    return results
