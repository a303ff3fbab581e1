"""The hub: many panes, one upstream, over a real Unix socket and the simulator.

The panes here are :class:`RemoteSession` objects with a test view that keeps a mirror from
the batches and acknowledges each, exactly as the Textual view does.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.enginehelp import wait_for
from tests.hubhelp import PaneView, _env, attach, hello, running_hub, short_runtime_dir
from tests.simhelp import fast_settings
from tui import __version__
from tui.config import Config
from tui.engine.engine import EngineSettings
from tui.engine.union import union_of
from tui.hub import server as hub_server
from tui.hub.client import HubError, RemoteSession, check_hello, ensure_hub, hub_alive, stop_hub
from tui.hub.place import account_id, place_for
from tui.hub.wire import PROTOCOL, Hello, encode_frame
from tui.protocol.live import Subscription
from tui.secrets import Keys, Secret
from tui.session.values import AddSymbol, SessionBatch
from tui.sim.server import run_simulator
from tui.sim.settings import DEMO_KEY, DEMO_STOCKNEWS_TOKEN, PlanSpec


def _sub(code: str, kind: str = "quote") -> Subscription:
    if kind == "quote":
        return Subscription(code=code, type="quote")
    return Subscription(code=code, bar_type="minute", bar_interval=1)


def test_union_puts_the_first_chart_then_every_row_in_turn_then_other_charts() -> None:
    one = [_sub("A:A"), _sub("A:B"), _sub("A:C"), _sub("A:A", "series")]
    two = [_sub("B:X"), _sub("A:B"), _sub("B:Y"), _sub("B:X", "series")]
    union = union_of([one, two])
    assert union[0] == _sub("A:A", "series")  # the oldest pane's chart
    assert [s.code for s in union[1:6]] == ["A:A", "B:X", "A:B", "A:C", "B:Y"]  # fair turns
    assert union[6:] == [_sub("B:X", "series")]  # a second chart gives way to rows


async def test_two_panes_share_one_upstream_and_spend_budget_per_union(
    isolated_paths: Path, tmp_path: Path
) -> None:
    async with run_simulator(fast_settings()) as sim, running_hub(sim, tmp_path) as hub:
        first = await attach(hub)
        second = await attach(hub, ["BINANCE:BTCUSDT", "NYSE:IBM"])
        await wait_for(lambda: first.state is not None and second.state is not None)
        await wait_for(lambda: "NASDAQ:AAPL" in first.mirror.quotes)
        await wait_for(lambda: "NYSE:IBM" in second.mirror.quotes)
        assert second.state is not None and second.state.codes == ["BINANCE:BTCUSDT", "NYSE:IBM"]
        await wait_for(lambda: "NASDAQ:AAPL" in first.mirror.series)  # its chart's history
        sent = hub.engine.feeds[0].status.subscriptions_sent
        second.session.send(AddSymbol("NASDAQ:MSFT"))  # already in the union: no message
        await wait_for(lambda: second.state is not None and "NASDAQ:MSFT" in second.state.codes)
        await asyncio.sleep(0.5)
        assert hub.engine.feeds[0].status.subscriptions_sent == sent
        second.session.send(AddSymbol("NASDAQ:AMZN"))  # new to the union: one message
        await wait_for(lambda: "NASDAQ:AMZN" in second.mirror.quotes)
        assert hub.engine.feeds[0].status.subscriptions_sent == sent + 1
        assert first.budget == second.budget != ""  # one budget, shown the same
        for endpoint in ("live", "newsfeed"):
            assert len(sim.records_for(endpoint)) == 1, endpoint
        first.session.stop()
        second.session.stop()


async def test_a_full_plan_is_shared_fairly_and_each_pane_sees_its_marks(
    isolated_paths: Path, tmp_path: Path
) -> None:
    """Ultra: 5 units. The first pane's chart takes 1 and four units of quotes cover both
    panes' 40 rows; the second chart gives way and says whose use fills the plan. A third
    pane of 10: rows are taken in turn (15, 15, 10), each pane's last rows marked on that
    pane only."""
    settings = fast_settings(synthetic_symbols=50)
    async with run_simulator(settings) as sim, running_hub(sim, tmp_path, "ultra") as hub:
        codes = [f"SIM:T{i:04d}" for i in range(1, 51)]
        first = await attach(hub, codes[:20])
        await wait_for(lambda: first.state is not None)
        second = await attach(hub, codes[20:40])
        await wait_for(lambda: second.state is not None and hub.engine.plan_use().used == 5)
        await wait_for(lambda: codes[20] in second.series_marks)
        assert not first.marks and not second.marks  # every row streams
        assert "in use by pane 1 (chart SIM:T0001, 20 rows)" in second.series_marks[codes[20]]
        third = await attach(hub, codes[40:])
        await wait_for(lambda: len(first.marks) == 5 and len(second.marks) == 5)
        assert set(first.marks) == set(codes[15:20])  # each pane's last five
        assert set(second.marks) == set(codes[35:40])
        assert not third.marks
        assert all("plan full, in use by" in why for why in first.marks.values())
        assert "pane 3 (10 rows)" in first.marks[codes[19]]
        assert hub.engine.plan_use().used == 5
        await wait_for(
            lambda: codes[0] in first.mirror.quotes and codes[20] in second.mirror.quotes
        )
        for pane in (first, second, third):
            pane.session.stop()


async def test_refusals_other_uid_and_other_version(
    isolated_paths: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with run_simulator(fast_settings()) as sim, running_hub(sim, tmp_path) as hub:
        place = hub.options.place
        with pytest.raises(HubError, match="protocol"):
            await asyncio.to_thread(check_hello, place, hello(protocol=PROTOCOL + 1))
        monkeypatch.setattr(hub_server, "peer_uid", lambda sock: os.getuid() + 1)
        with pytest.raises(HubError, match="its own user only"):
            await asyncio.to_thread(check_hello, place, hello())
        assert not hub.panes


def test_a_refusal_written_before_the_hello_is_read_still_reaches_the_pane(tmp_path: Path) -> None:
    """A hub refusing a connection at once (another user) writes why and closes without
    reading the hello: the pane still reads the reason, not "Broken pipe"."""
    from tui.hub.place import HubPlace
    from tui.hub.wire import Refused

    runtime = short_runtime_dir()
    place = HubPlace("refuse", runtime)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(place.socket))
    listener.listen(1)

    def refuse() -> None:
        conn, _ = listener.accept()
        conn.sendall(encode_frame(Refused("this hub serves its own user only")))
        conn.close()  # unread: the pane's hello is still arriving

    thread = threading.Thread(target=refuse)
    thread.start()
    big = hello([f"NASDAQ:S{i}" for i in range(50_000)])  # far past what a socket buffers
    try:
        with pytest.raises(HubError, match="its own user only"):
            check_hello(place, big)
    finally:
        thread.join(5)
        listener.close()


async def test_malformed_frames_drop_that_pane_only(isolated_paths: Path, tmp_path: Path) -> None:
    async with run_simulator(fast_settings()) as sim, running_hub(sim, tmp_path) as hub:
        good = await attach(hub, ["BINANCE:BTCUSDT"])
        await wait_for(lambda: "BINANCE:BTCUSDT" in good.mirror.quotes)
        rng = random.Random(7)
        for attempt in range(20):
            _reader, writer = await asyncio.open_unix_connection(str(hub.options.place.socket))
            writer.write(encode_frame(hello()))
            junk = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 64)))
            writer.write(len(junk).to_bytes(4, "big") + junk if attempt % 2 else junk)
            await writer.drain()
            await asyncio.sleep(0.05)
            writer.close()
        await wait_for(lambda: len(hub.panes) == 1)
        before = good.batches
        await wait_for(lambda: good.batches > before + 2)  # still served
        good.session.stop()


async def test_a_pane_that_never_acknowledges_is_dropped(
    isolated_paths: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(hub_server, "ACK_TIMEOUT_SECONDS", 4.0)
    async with run_simulator(fast_settings()) as sim, running_hub(sim, tmp_path) as hub:
        stuck = await attach(hub, ["BINANCE:BTCUSDT"], acks=False)
        fine = await attach(hub, ["BINANCE:ETHUSDT"])
        await wait_for(lambda: len(hub.panes) == 2)
        await wait_for(lambda: fine.batches >= 3)
        assert stuck.batches == 1  # the snapshot, and nothing more while it owes an ack
        await wait_for(lambda: stuck.session.attaches >= 2, timeout=8)  # dropped; reattached
        assert any("hub lost" in n for n in stuck.notices)
        before = fine.batches
        await wait_for(lambda: fine.batches > before + 2)  # the other pane never waited
        stuck.session.stop()
        fine.session.stop()


def test_two_panes_racing_start_one_hub_and_a_killed_hub_is_replaced(
    isolated_paths: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """flock: two starters at once, one hub. A stale socket (a hub killed with -9) is replaced
    by the next start, and the pane reattaches."""
    runtime = short_runtime_dir()
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(runtime))
    place = place_for("demo-pro-2")
    serve = ["--demo", "--linger", "0"]
    started: list[bool] = []
    threads = [
        threading.Thread(target=lambda: started.append(ensure_hub(place, serve))) for _ in range(2)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    try:
        assert sorted(started) == [False, True]
        status = subprocess.run(
            [sys.executable, "-m", "tui", "hub", "status", "--demo"],
            capture_output=True,
            text=True,
            env=_env(runtime, isolated_paths),
            timeout=20,
            check=False,
        )
        assert "panes 0" in status.stdout and "account demo-pro-2" in status.stdout, status
        pid = int(status.stdout.split()[2])
        os.kill(pid, 9)  # kill -9: the socket file stays behind, stale
        deadline = time.monotonic() + 5
        while hub_alive(place.socket) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert place.socket.exists() and not hub_alive(place.socket)
        assert ensure_hub(place, serve) is True  # replaced
    finally:
        with contextlib.suppress(HubError):
            stop_hub(place)


def test_hub_socket_is_private(tmp_path: Path) -> None:
    """The directory is 0700 and the socket 0600 (checked on a hub started here)."""

    async def main() -> None:
        async with run_simulator(fast_settings()) as sim, running_hub(sim, tmp_path) as hub:
            mode = os.stat(hub.options.place.socket).st_mode & 0o777
            assert mode == 0o600
            with socket.socket(socket.AF_UNIX) as sock:
                sock.connect(str(hub.options.place.socket))

    asyncio.run(main())


async def test_stop_closes_upstream_with_1000_and_tells_the_panes(
    isolated_paths: Path, tmp_path: Path
) -> None:
    async with run_simulator(fast_settings()) as sim:
        async with running_hub(sim, tmp_path) as hub:
            pane = await attach(hub, ["BINANCE:BTCUSDT"])
            await wait_for(lambda: "BINANCE:BTCUSDT" in pane.mirror.quotes)
        await wait_for(lambda: any("hub closed" in n for n in pane.notices))
        pane.session.stop()
        for endpoint in ("live", "newsfeed"):
            record = sim.records_for(endpoint)[-1]
            await wait_for(lambda r=record: r.closed_at is not None)  # type: ignore[misc]
            assert record.close_code_received == 1000, endpoint


async def test_a_pane_survives_kill_9_of_its_hub(
    isolated_paths: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A hub process on the test's simulator, killed with -9: the pane says so within 2 s,
    shows nothing as live, starts a new hub and is live again within 5 s; the simulator never
    sees two ``/live`` connections of the account at once for longer than the close timeout;
    SIGTERM to the new hub closes upstream with 1000."""
    runtime = short_runtime_dir()
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(runtime))
    monkeypatch.setenv("INSIGHTSENTRY_API_KEY", DEMO_KEY)
    monkeypatch.setenv("STOCKNEWS_TOKEN", DEMO_STOCKNEWS_TOKEN)
    async with run_simulator(fast_settings()) as sim:
        assert sim.urls is not None
        config = Config()
        flags = [
            "--live-url", sim.urls.live, "--newsfeed-url", sim.urls.newsfeed,
            "--stocknews-url", sim.urls.stocknews, "--rest-url", sim.urls.rest,
        ]  # fmt: skip
        config.endpoints.live_url, config.endpoints.newsfeed_url = sim.urls.live, sim.urls.newsfeed
        config.endpoints.rest_url = sim.urls.rest
        keys = Keys(insightsentry_api_key=Secret(DEMO_KEY))
        account = account_id(config, keys, demo=False)
        place = place_for(account)
        serve = [*flags, "--linger", "0"]
        await asyncio.to_thread(ensure_hub, place, serve)
        session = RemoteSession(
            place,
            Hello(PROTOCOL, __version__, account, ["BINANCE:BTCUSDT"]),
            restart=lambda: ensure_hub(place, serve),
        )
        view = PaneView(session)
        statuses: list[list[str]] = []
        original = view.on_batch

        def watch(batch: SessionBatch) -> None:
            statuses.append([f"{s.name}:{s.state.value}" for s in batch.statuses])
            original(batch)

        task = asyncio.create_task(session.run(watch))
        try:
            await wait_for(lambda: "BINANCE:BTCUSDT" in view.mirror.quotes, timeout=15)
            first_pid = session.hub_pid
            assert first_pid is not None
            os.kill(first_pid, 9)
            killed = time.monotonic()
            await wait_for(lambda: any("hub lost" in n for n in view.notices), timeout=2)
            assert time.monotonic() - killed <= 2.0
            assert all("live:live" not in s for s in statuses[-1:])  # nothing looks live
            await wait_for(lambda: session.attaches >= 2, timeout=5)
            assert session.hub_pid != first_pid
            before = view.mirror.quotes["BINANCE:BTCUSDT"].updated_at
            await wait_for(lambda: view.mirror.quotes["BINANCE:BTCUSDT"].updated_at > before)
            assert time.monotonic() - killed <= 5.0
            lives = sim.records_for("live")
            assert len(lives) == 2
            assert lives[0].closed_at is not None
            assert lives[0].closed_at <= lives[1].opened_at + EngineSettings().close_timeout
            second_pid = session.hub_pid
            assert second_pid is not None
            os.kill(second_pid, signal.SIGTERM)
            await wait_for(lambda: lives[1].closed_at is not None, timeout=5)
            assert lives[1].close_code_received == 1000
        finally:
            session.stop()
            task.cancel()
            with contextlib.suppress(HubError):
                stop_hub(place)


SCALE = 6.0
"""The long-lived hub test runs every timer six times faster (heartbeats, pings, watchdog,
news), so its twenty seconds hold as many of each as two minutes do at the real timings."""


@pytest.mark.long(20)
async def test_two_then_eight_panes_for_two_minutes_on_a_one_connection_plan(
    isolated_paths: Path, tmp_path: Path
) -> None:
    """One connection per account (as the common plans allow): eight panes with different
    watchlists for two minutes' worth of heartbeats, pings and watchdog periods (every timer
    at 1/6: 20 s), and the simulator sees one ``/live`` and one ``/newsfeed`` connection the
    whole time; every pane keeps fresh prices; subscription messages go out once per change of
    the union, not per pane."""
    settings = fast_settings(
        step_seconds=0.1,
        speed=1.0,
        heartbeat_seconds=10.0 / SCALE,
        news_interval_seconds=30.0 / SCALE,
    )
    settings.plans["one-conn"] = PlanSpec("one-conn", units=12, max_dp=1000, connections=1)
    settings.key_plans[DEMO_KEY] = "one-conn"
    timers = EngineSettings(
        debounce=0.1,
        watchdog_seconds=30.0 / SCALE,
        keepalive_seconds=20.0 / SCALE,
        keepalive_timeout=20.0 / SCALE,
        ping_seconds=(20.0 / SCALE, 25.0 / SCALE),
        min_ping_gap=15.0 / SCALE,
        stocknews_ping_seconds=30.0 / SCALE,
    )
    lists = [
        ["BINANCE:BTCUSDT", "BINANCE:ETHUSDT"],
        ["BINANCE:SOLUSDT", "BINANCE:BTCUSDT"],
        ["BINANCE:XRPUSDT"],
        ["BINANCE:DOGEUSDT", "BINANCE:ETHUSDT"],
        ["FX:EURUSD", "BINANCE:BTCUSDT"],
        ["FX:GBPUSD"],
        ["FX:USDJPY", "BINANCE:SOLUSDT"],
        ["BINANCE:ETHUSDT", "FX:EURUSD"],
    ]
    async with (
        run_simulator(settings) as sim,
        running_hub(sim, tmp_path, "mega", stocknews=True, engine=timers) as hub,
    ):
        panes = [await attach(hub, lists[0]), await attach(hub, lists[1])]
        await wait_for(lambda: all(p.state is not None for p in panes))
        for symbols in lists[2:]:
            panes.append(await attach(hub, symbols))
        await wait_for(lambda: len(hub.panes) == 8)
        await wait_for(lambda: hub.engine.pending is None)
        sent_after_attach = hub.engine.feeds[0].status.subscriptions_sent
        assert sent_after_attach <= 8  # at most one per change of the union
        pings_before = sim.records_for("live")[0].pings
        started = time.monotonic()
        while time.monotonic() - started < 120 / SCALE:
            await asyncio.sleep(10 / SCALE)
            now = time.time()
            for pane, symbols in zip(panes, lists, strict=True):
                for code in symbols:
                    row = pane.mirror.quotes.get(code)
                    assert row is not None and now - row.updated_at < 30 / SCALE, (symbols, code)
            for endpoint in ("live", "newsfeed", "stocknews"):
                assert len(sim.records_for(endpoint)) == 1, endpoint
        assert hub.engine.feeds[0].status.subscriptions_sent == sent_after_attach
        # The scaled timers really ran: several pings went out on the one connection.
        assert sim.records_for("live")[0].pings - pings_before >= 3
        for pane in panes:
            pane.session.stop()


def test_a_runtime_dir_too_deep_for_a_socket_falls_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    deep = tmp_path / ("d" * 60) / ("e" * 40)
    deep.mkdir(parents=True)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(deep))
    place = place_for("0123456789abcdef")
    assert len(os.fsencode(place.socket)) <= 100
    assert place.directory.stat().st_mode & 0o777 == 0o700


async def test_the_hub_records_what_it_receives(isolated_paths: Path, tmp_path: Path) -> None:
    """``marketpane hub serve --record FILE``: recording works in hub mode, keys masked."""
    path = tmp_path / "hub.jsonl"
    async with (
        run_simulator(fast_settings()) as sim,
        running_hub(sim, tmp_path, record_path=path) as hub,
    ):
        pane = await attach(hub, ["BINANCE:BTCUSDT"])
        await wait_for(lambda: "BINANCE:BTCUSDT" in pane.mirror.quotes)
        pane.session.stop()
    text = path.read_text()
    assert "BINANCE:BTCUSDT" in text and '"live"' in text
    assert DEMO_KEY not in text


def test_a_refusing_hub_is_reported_for_the_in_process_fallback(
    isolated_paths: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another marketpane's hub on the socket: hello is refused, and the launcher gets a
    :class:`HubError` naming why (``auto`` then runs in-process saying so; ``require`` exits 2)."""
    from tui.cli.launch import hub_session
    from tui.cli.main import parse_run_options
    from tui.hub.wire import Refused

    runtime = short_runtime_dir()
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(runtime))
    options = parse_run_options(["--demo"])
    place = place_for("demo-pro-2")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(place.socket))
    listener.listen(4)

    def refuse_all() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return  # closed: the test is over
            with conn, contextlib.suppress(OSError):
                if conn.recv(65536):  # a probe connects and hangs up; a hello gets refused
                    conn.sendall(encode_frame(Refused("marketpane 9.9 speaks protocol 99")))

    thread = threading.Thread(target=refuse_all, daemon=True)
    thread.start()
    try:
        with pytest.raises(HubError, match="protocol 99"):
            hub_session(options)
    finally:
        listener.close()
