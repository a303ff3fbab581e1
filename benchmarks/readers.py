"""The clients the performance benchmark measures, each run in a process of its own:

- ``websockets``: the bare library reader, decoding every frame with msgspec (the library's
  limit; the fair form of the vendor examples' loop, without a UI message per frame);
- ``picows``: the fastest reader found on the registry, decoding the same way (the machine's
  limit);
- ``app``: the real dashboard, headless at 160x48, engine included (``--no-hub``);
- ``hub``: a ``marketpane hub serve`` process and a headless pane attached to it.

``python -m benchmarks.readers KIND URL SECONDS SYMBOLS`` prints one JSON line: messages
received, the time the last one came, frames drawn (app) or batches (hub pane), and CPU
seconds of this process (and of the hub, for ``hub``).
"""

from __future__ import annotations

import asyncio
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import msgspec

SUBSCRIBE = b'{"api_key":"bench","subscriptions":[]}'
WARMUP_SECONDS = 1.2
"""Frames and CPU are counted from this long after the first message (steady state)."""
GRACE_SECONDS = 1.5
"""How long a reader keeps reading after the offered run ends (what is in flight)."""


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def proc_cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Counter:
    def __init__(self) -> None:
        self.received = 0
        self.first: float | None = None
        self.last = 0.0

    def hit(self) -> None:
        now = time.monotonic()
        if self.first is None:
            self.first = now
        self.last = now
        self.received += 1

    def report(self, **extra: Any) -> dict[str, Any]:
        span = (self.last - self.first) if self.first is not None else 0.0
        return {"received": self.received, "span": span, **extra}


async def read_websockets(url: str, seconds: float) -> dict[str, Any]:
    from websockets.asyncio.client import connect

    decoder = msgspec.json.Decoder()
    counter = Counter()
    cpu0 = cpu_seconds()
    async with connect(url, max_size=None, compression=None, ping_interval=None) as ws:
        await ws.send(SUBSCRIBE.decode())

        async def consume() -> None:
            async for frame in ws:  # the library's own loop: no timeout object per frame
                decoder.decode(frame)
                counter.hit()

        task = asyncio.create_task(consume())
        await _until_quiet(counter, seconds)
        task.cancel()
    return counter.report(cpu_seconds=cpu_seconds() - cpu0)


async def _until_quiet(counter: Counter, seconds: float) -> None:
    """Return once no message came for :data:`GRACE_SECONDS` (or the run is long over)."""
    start = time.monotonic()
    while time.monotonic() - start < seconds + GRACE_SECONDS + 2:
        await asyncio.sleep(0.1)
        if counter.first is not None and time.monotonic() - counter.last > GRACE_SECONDS:
            return


async def read_picows(url: str, seconds: float) -> dict[str, Any]:
    import picows

    decoder = msgspec.json.Decoder()
    counter = Counter()
    idle = asyncio.Event()

    class Listener(picows.WSListener):
        def on_ws_connected(self, transport: Any) -> None:
            transport.send(picows.WSMsgType.TEXT, SUBSCRIBE)

        def on_ws_frame(self, transport: Any, frame: Any) -> None:
            if frame.msg_type == picows.WSMsgType.TEXT:
                decoder.decode(frame.get_payload_as_memoryview())
                counter.hit()
            elif frame.msg_type == picows.WSMsgType.CLOSE:
                idle.set()

    cpu0 = cpu_seconds()
    transport, _ = await picows.ws_connect(Listener, url)
    await _until_quiet(counter, seconds)
    transport.disconnect()
    return counter.report(cpu_seconds=cpu_seconds() - cpu0)


def _config(url: str) -> Any:
    from tui.config import Config, Endpoints

    config = Config()
    config.endpoints = Endpoints(live_url=url, rest_url="http://127.0.0.1:9/")
    config.plan.subscriptions = 10_000
    config.plan.max_dp = 30_000
    return config


def _codes(symbols: int) -> list[str]:
    return [f"SIM:T{n:04d}" for n in range(1, symbols + 1)]


async def read_app(url: str, seconds: float, symbols: int) -> dict[str, Any]:
    """The real app, headless at 160x48, engine and view in this process."""
    from tui.cli.launch import build_app
    from tui.engine.engine import EngineSettings
    from tui.secrets import Keys, Secret
    from tui.session.session import SessionOptions
    from tui.session.values import SessionBatch

    frames = 0

    class Probe:
        def drawn(self, app: Any, batch: SessionBatch) -> None:
            nonlocal frames
            frames += 1

    app = build_app(
        SessionOptions(
            config=_config(url),
            keys=Keys(insightsentry_api_key=Secret("bench")),
            symbols=_codes(symbols),
            persist=False,
            engine_settings=EngineSettings(newsfeed=False, stocknews=False, debounce=0.05),
        ),
        probe=Probe(),
    )
    counter = Counter()
    async with app.run_test(size=(160, 48)):
        engine = getattr(app.session, "engine", None)  # the in-process session's
        while engine is None or not engine.feeds[0].status.messages:
            await asyncio.sleep(0.01)
        status = engine.feeds[0].status
        counter.first = time.monotonic()
        await asyncio.sleep(WARMUP_SECONDS)  # the publisher learns the rate in its first second
        cpu0, frames0, steady = cpu_seconds(), frames, time.monotonic()
        seen = status.messages
        deadline = counter.first + seconds + GRACE_SECONDS + 2
        while time.monotonic() < deadline:
            await asyncio.sleep(0.05)
            if status.messages != seen:
                seen = status.messages
                counter.last = time.monotonic()
                cpu1, frames1 = cpu_seconds(), frames
            elif time.monotonic() - counter.last > GRACE_SECONDS:
                break
        counter.received = status.messages
        window = max(1e-6, counter.last - steady)
        app.exit()
    return counter.report(
        cpu_seconds=cpu1 - cpu0, frames_per_s=(frames1 - frames0) / window, window=window
    )


async def read_hub(url: str, seconds: float, symbols: int) -> dict[str, Any]:
    """A hub process on the generator and a headless pane here (batches acknowledged)."""
    from tui import __version__
    from tui.config import save_config
    from tui.hub.client import RemoteSession, ensure_hub, hub_status, stop_hub
    from tui.hub.place import account_id, place_for
    from tui.hub.wire import PROTOCOL, Hello
    from tui.secrets import Keys, Secret

    home = Path(tempfile.mkdtemp(prefix="mpb"))
    os.environ["XDG_RUNTIME_DIR"] = str(home)
    os.environ["MARKETPANE_CONFIG"] = str(home / "config.toml")
    os.environ["MARKETPANE_STATE_DIR"] = str(home / "state")
    os.environ["INSIGHTSENTRY_API_KEY"] = "bench"
    config = _config(url)
    save_config(config, home / "config.toml")
    account = account_id(config, Keys(insightsentry_api_key=Secret("bench")), demo=False)
    place = place_for(account)
    await asyncio.to_thread(ensure_hub, place, ["--linger", "0"])
    status = hub_status(place)
    hub_pid = status.pid
    batches = 0
    session = RemoteSession(place, Hello(PROTOCOL, __version__, account, _codes(symbols)))

    def on_batch(batch: Any) -> None:
        nonlocal batches
        batches += 1
        asyncio.get_running_loop().call_soon(session.batch_done)

    task = asyncio.create_task(session.run(on_batch))
    counter = Counter()
    try:
        while not hub_status(place).received:
            await asyncio.sleep(0.01)
        counter.first = counter.last = time.monotonic()
        await asyncio.sleep(WARMUP_SECONDS)
        cpu0, hub0, batches0 = cpu_seconds(), proc_cpu_seconds(hub_pid), batches
        steady = time.monotonic()
        cpu1, hub1, batches1 = cpu0, hub0, batches0
        seen = 0
        deadline = counter.first + seconds + GRACE_SECONDS + 2
        while time.monotonic() < deadline:
            await asyncio.sleep(0.1)
            received = hub_status(place).received
            if received != seen:
                seen = received
                counter.last = time.monotonic()
                cpu1, hub1, batches1 = cpu_seconds(), proc_cpu_seconds(hub_pid), batches
            elif time.monotonic() - counter.last > GRACE_SECONDS:
                break
        counter.received = seen
        window = max(1e-6, counter.last - steady)
        report = counter.report(
            cpu_seconds=cpu1 - cpu0,
            hub_cpu_seconds=hub1 - hub0,
            frames_per_s=(batches1 - batches0) / window,
            window=window,
        )
    finally:
        session.stop()
        await session.close()
        task.cancel()
        await asyncio.to_thread(stop_hub, place)
        shutil.rmtree(home, ignore_errors=True)
    return report


def main() -> int:
    kind, url, seconds, symbols = sys.argv[1], sys.argv[2], float(sys.argv[3]), int(sys.argv[4])
    readers: dict[str, Callable[[], Coroutine[Any, Any, dict[str, Any]]]] = {
        "websockets": lambda: read_websockets(url, seconds),
        "picows": lambda: read_picows(url, seconds),
        "app": lambda: read_app(url, seconds, symbols),
        "hub": lambda: read_hub(url, seconds, symbols),
    }
    print(json.dumps(asyncio.run(readers[kind]())), flush=True)
    return 0


def run_reader(kind: str, url: str, seconds: float, symbols: int) -> dict[str, Any]:
    """Run one reader in its own process; its JSON report."""
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.readers", kind, url, str(seconds), str(symbols)],
        capture_output=True,
        text=True,
        timeout=seconds + 90,
        check=False,
    )
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        raise RuntimeError(f"{kind} reader failed: {done.stderr[-800:]}")
    return dict(json.loads(lines[-1]))


if __name__ == "__main__":
    sys.exit(main())
