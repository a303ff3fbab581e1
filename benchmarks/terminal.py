"""What a user pays, measured on the real console script drawn in tmux.

Every scenario runs ``marketpane`` in a tmux server of its own (``tmux -L``, killed at the
end), in a home of its own (config, state, hub socket; removed at the end), against the load
generator of :mod:`benchmarks.loadgen`:

- :func:`pane_cost`: bytes a second written to the terminal (``pipe-pane``) and the pane's CPU;
- :func:`first_price`: launch to the first price drawn (``capture-pane`` polled);
- :func:`hub_panes`: N drawn panes on one hub, the hub's CPU and every pane's.
"""

from __future__ import annotations

import itertools
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import Any

from benchmarks.ladder import Generator
from benchmarks.readers import proc_cpu_seconds

SCRIPT = Path(sys.executable).with_name("marketpane")
WARMUP_SECONDS = 4.0
"""Start-up and the first full frames, left out of every figure."""


def codes(symbols: int) -> list[str]:
    return [f"SIM:T{n:04d}" for n in range(1, symbols + 1)]


_SERVERS = itertools.count(1)


class Tmux:
    """A tmux server of our own: nothing of the user's default server is touched."""

    def __init__(self) -> None:
        # One socket per scenario: a server just killed may still hold the last one's name.
        self.socket = f"mpbench{os.getpid()}-{next(_SERVERS)}"

    def __enter__(self) -> Tmux:
        return self

    def __exit__(self, *exc: object) -> None:
        self.run("kill-server", check=False)

    def run(self, *args: str, check: bool = True) -> str:
        done = subprocess.run(
            ["tmux", "-L", self.socket, "-f", "/dev/null", *args],
            capture_output=True, text=True, check=check,
        )  # fmt: skip
        return done.stdout

    def new(self, name: str, size: tuple[int, int], command: str) -> int:
        """A detached session of exactly ``size`` running ``command``; the pane's pid."""
        width, height = str(size[0]), str(size[1])
        self.run("new-session", "-d", "-s", name, "-x", width, "-y", height, command)
        self.run("set-option", "-t", name, "window-size", "manual", check=False)
        self.run("resize-window", "-t", name, "-x", width, "-y", height, check=False)
        return int(self.run("display", "-p", "-t", name, "#{pane_pid}").strip())

    def capture(self, name: str) -> str:
        return self.run("capture-pane", "-p", "-t", name, check=False)

    def pipe(self, name: str, path: Path | None) -> None:
        """Copy what the pane writes to the terminal into ``path`` (None: stop copying)."""
        if path is None:
            self.run("pipe-pane", "-t", name)
        else:
            self.run("pipe-pane", "-o", "-t", name, f"cat > {path}")

    def kill(self, name: str) -> None:
        self.run("kill-session", "-t", name, check=False)


class Home:
    """A config, state folder and hub socket of the scenario's own, removed on exit."""

    def __init__(self, live_url: str, symbols: int, row_hz: float | None = None) -> None:
        from tui.config import Config, Endpoints, WatchSymbol, save_config

        self.path = Path(tempfile.mkdtemp(prefix="mpt"))
        config = Config()
        config.endpoints = Endpoints(
            live_url=live_url, newsfeed_url="ws://127.0.0.1:9/", rest_url="http://127.0.0.1:9/"
        )
        config.plan.subscriptions = max(100, symbols)
        config.watchlists[0].symbols = [WatchSymbol(code) for code in codes(symbols)]
        if row_hz is not None:
            config.display.row_hz = row_hz
        save_config(config, self.path / "config.toml")

    def __enter__(self) -> Home:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.command("hub", "stop", check=False)  # a hub a scenario started ends with it
        shutil.rmtree(self.path, ignore_errors=True)

    @property
    def env(self) -> dict[str, str]:
        home = self.path
        return {
            "MARKETPANE_CONFIG": f"{home}/config.toml",
            "MARKETPANE_STATE_DIR": f"{home}/state",
            "MARKETPANE_SECRETS": f"{home}/secrets.toml",
            "INSIGHTSENTRY_API_KEY": "bench",
            "XDG_RUNTIME_DIR": str(home),
        }

    def shell(self, *args: str) -> str:
        """The console script with ``args`` as a shell command in this home."""
        env = " ".join(f"{k}={v}" for k, v in self.env.items())
        unset = "-u COLUMNS -u LINES -u COLORTERM -u PYTHONDONTWRITEBYTECODE"  # as a user's shell
        return f"exec env {unset} {env} {SCRIPT} {' '.join(args)}"

    def command(self, *args: str, check: bool = True) -> str:
        done = subprocess.run(
            [str(SCRIPT), *args], env={**os.environ, **self.env},
            capture_output=True, text=True, timeout=30, check=check,
        )  # fmt: skip
        return done.stdout

    def hub_pid(self) -> int | None:
        found = re.search(r"hub pid (\d+)", self.command("hub", "status", check=False))
        return int(found.group(1)) if found else None


def pane_cost(
    gen: Generator, size: tuple[int, int], symbols: int, rate: float, seconds: float
) -> dict[str, float]:
    """One drawn pane (``--no-hub``) on ``rate`` msg/s: bytes a second to the terminal, CPU."""
    with Tmux() as tmux, Home(gen.url(rate, 3600, symbols, False), symbols) as home:
        out = home.path / "pane.bytes"
        pid = tmux.new("pane", size, home.shell("--no-hub"))
        time.sleep(WARMUP_SECONDS)
        tmux.pipe("pane", out)
        cpu0, start = proc_cpu_seconds(pid), time.monotonic()
        time.sleep(seconds)
        cpu1, wall = proc_cpu_seconds(pid), time.monotonic() - start
        tmux.pipe("pane", None)
        time.sleep(0.2)
        written = out.stat().st_size if out.exists() else 0
        tmux.kill("pane")
    gen.result()  # the generator's line for this connection
    return {"bytes_per_s": written / wall, "cpu_percent": (cpu1 - cpu0) / wall * 100}


PRICE = re.compile(r"SIM:T0001\s.*\d+\.\d\d")
"""The first symbol's row with a price drawn in it."""


def first_price(
    gen: Generator, symbols: int, hub: bool, size: tuple[int, int] = (160, 48)
) -> float:
    """Seconds from launching the console script to its first price on the screen; with
    ``hub`` the pane starts the account's hub (none runs before)."""
    with Tmux() as tmux, Home(gen.url(max(symbols, 100), 20, symbols, False), symbols) as home:
        tmux.new("terminal", size, "sleep 60")  # the user's terminal is running already
        start = time.monotonic()
        tmux.new("pane", size, home.shell("--hub" if hub else "--no-hub"))
        seen = None
        while time.monotonic() - start < 30:
            if PRICE.search(tmux.capture("pane")):
                seen = time.monotonic() - start
                break
            time.sleep(0.01)
        tmux.kill("pane")
    gen.result()
    if seen is None:
        raise RuntimeError("no price drawn within 30 s")
    return seen


def hub_panes(
    gen: Generator, panes: int, size: tuple[int, int], symbols: int, rate: float, seconds: float
) -> dict[str, float]:
    """``panes`` drawn panes on one hub fed ``rate`` msg/s: the hub's CPU, the panes' (summed)
    and the bytes they write, over ``seconds`` after warm-up."""
    url = gen.url(rate, 3600, symbols, False)
    with Tmux() as tmux, Home(url, symbols) as home:
        pids = [tmux.new(f"p{n}", size, home.shell("--hub")) for n in range(panes)]
        time.sleep(WARMUP_SECONDS + 0.5 * panes)
        hub = home.hub_pid()
        if hub is None:
            raise RuntimeError("the panes started no hub")
        outs = [home.path / f"p{n}.bytes" for n in range(panes)]
        for n, out in enumerate(outs):
            tmux.pipe(f"p{n}", out)
        pane0 = [proc_cpu_seconds(pid) for pid in pids]
        hub0, start = proc_cpu_seconds(hub), time.monotonic()
        time.sleep(seconds)
        pane1 = [proc_cpu_seconds(pid) for pid in pids]
        hub1, wall = proc_cpu_seconds(hub), time.monotonic() - start
        for n in range(panes):
            tmux.pipe(f"p{n}", None)
        time.sleep(0.2)
        written = sum(out.stat().st_size for out in outs if out.exists())
        for n in range(panes):
            tmux.kill(f"p{n}")
    gen.result()
    pane_cpu = sum(b - a for a, b in zip(pane0, pane1, strict=True)) / wall * 100
    hub_cpu = (hub1 - hub0) / wall * 100
    return {
        "panes": panes,
        "hub_cpu_percent": hub_cpu,
        "pane_cpu_percent": pane_cpu,
        "total_cpu_percent": hub_cpu + pane_cpu,
        "bytes_per_s_per_pane": written / wall / panes,
    }


BUSY_RATE = 5_000.0
"""The busy feed of the user-facing figures: 50 symbols, each a hundred times a second."""


def _median(values: list[float]) -> float:
    return float(statistics.median(values)) if values else 0.0


def terminal_figures(gen: Generator, quick: bool) -> dict[str, Any]:
    """Every user-facing figure, each scenario repeated round by round (so the two sides of a
    ratio share a round's load): the idle table, the busy pane beside a bare reader, the first
    price and the drawn panes on one hub."""
    from benchmarks.ladder import measure

    rounds = 1 if quick else 3
    seconds = 6.0 if quick else 10.0
    figures: dict[str, Any] = {"idle": {}, "busy": [], "first_price": {}, "hub_panes": []}
    for size in ((160, 48), (80, 24)):
        for count in (10, 50):
            key = f"{size[0]}x{size[1]} {count} symbols"
            figures["idle"][key] = cost = pane_cost(gen, size, count, float(count), seconds)
            print(f"  terminal {key}, each once a second: {cost['bytes_per_s'] / 1000:.1f} KB/s,"
                  f" CPU {cost['cpu_percent']:.1f} %", flush=True)  # fmt: skip
    for n in range(rounds):
        pane = pane_cost(gen, (160, 48), 50, BUSY_RATE, seconds)
        bare = measure(gen, "websockets", BUSY_RATE, seconds, False)
        window = bare.client.get("window") or bare.gen["wall"]
        bare_cpu = bare.client["cpu_seconds"] / window * 100
        figures["busy"].append({**pane, "bare_cpu_percent": bare_cpu})
        print(f"  busy round {n + 1}: pane {pane['bytes_per_s'] / 1000:.1f} KB/s, CPU "
              f"{pane['cpu_percent']:.1f} %; bare reader {bare_cpu:.1f} %", flush=True)  # fmt: skip
    first_price(gen, 50, hub=False)  # a first start writes the bytecode cache, as a user's did
    starts: dict[str, list[float]] = {"in-process": [], "starting the hub": []}
    for _ in range(rounds + 2):
        starts["in-process"].append(first_price(gen, 50, hub=False))
        starts["starting the hub"].append(first_price(gen, 50, hub=True))
    for key, values in starts.items():
        figures["first_price"][key] = {"median": _median(values), "values": values}
        print(f"  first price, {key}: {', '.join(f'{v:.2f}' for v in values)} s", flush=True)
    for panes in (1, 2, 4, 8):
        result = hub_panes(gen, panes, (160, 48), 50, BUSY_RATE, seconds)
        figures["hub_panes"].append(result)
        print(f"  {panes} drawn panes on one hub: hub {result['hub_cpu_percent']:.0f} %, panes "
              f"{result['pane_cpu_percent']:.0f} %", flush=True)  # fmt: skip
    return figures
