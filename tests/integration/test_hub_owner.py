"""The hub as the account's single owner: one hub however it is started, nothing opening a
second upstream beside it, and no pane able to stall it (real sockets, the simulator)."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.enginehelp import wait_for
from tests.hubhelp import TASKS, PaneView, _env, attach, hello, running_hub, short_runtime_dir
from tests.integration.test_alerts_hub import cli
from tests.simhelp import fast_settings
from tui import __version__
from tui.cli.launch import demo_runtime_config
from tui.config import Config, save_config
from tui.engine.replay import read_recording
from tui.hub import pane as hub_pane
from tui.hub.client import (
    HubError,
    RemoteSession,
    ensure_hub,
    hub_alive,
    hub_status,
    request,
    stop_hub,
)
from tui.hub.owner import TAKEN_EXIT
from tui.hub.place import HubPlace, account_id, place_for
from tui.hub.server import Hub
from tui.hub.wire import (
    PROTOCOL,
    Ack,
    Hello,
    Refused,
    SearchRequest,
    StatusRequest,
    encode_frame,
    read_frame,
)
from tui.secrets import Keys, Secret
from tui.session.values import AddSymbol, Reconnect, RemoveSymbol, SwitchWatchlist
from tui.sim.server import Simulator, run_simulator
from tui.sim.settings import DEMO_KEY, PlanSpec, SimSettings


def _one_connection(settings: SimSettings) -> None:
    settings.plans["one-conn"] = PlanSpec("one-conn", units=12, max_dp=1000, connections=1)
    settings.key_plans[DEMO_KEY] = "one-conn"


def _serve_command(sim: Simulator) -> list[str]:
    assert sim.urls is not None
    return [
        sys.executable, "-m", "tui", "hub", "serve", "--linger", "0",
        "--live-url", sim.urls.live, "--newsfeed-url", sim.urls.newsfeed,
        "--stocknews-url", sim.urls.stocknews, "--rest-url", sim.urls.rest,
    ]  # fmt: skip


def _account(sim: Simulator) -> str:
    assert sim.urls is not None
    config = Config()
    config.endpoints.live_url, config.endpoints.newsfeed_url = sim.urls.live, sim.urls.newsfeed
    config.endpoints.rest_url = sim.urls.rest
    return account_id(config, Keys(insightsentry_api_key=Secret(DEMO_KEY)), demo=False)


async def test_two_hub_serve_at_once_and_one_after_another(
    isolated_paths: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two ``hub serve`` started together: one serves, the other exits 2 naming its pid; a
    third while it serves does the same; the simulator never sees a second ``/live``."""
    runtime = short_runtime_dir()
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(runtime))
    monkeypatch.setenv("INSIGHTSENTRY_API_KEY", DEMO_KEY)
    env = _env(runtime, isolated_paths) | {"INSIGHTSENTRY_API_KEY": DEMO_KEY}
    settings = fast_settings()
    _one_connection(settings)
    async with run_simulator(settings) as sim:
        place = place_for(_account(sim))
        command = _serve_command(sim)
        first, second = (
            subprocess.Popen(command, env=env, stderr=subprocess.PIPE, text=True) for _ in range(2)
        )
        try:
            await wait_for(lambda: first.poll() is not None or second.poll() is not None, 20)
            loser, winner = (first, second) if first.poll() is not None else (second, first)
            assert loser.wait(5) == TAKEN_EXIT
            assert loser.stderr is not None
            said = loser.stderr.read()
            assert f"pid {winner.pid}" in said and "Traceback" not in said, said
            status = await asyncio.to_thread(hub_status, place)
            assert status.pid == winner.pid
            pane = await attach_to(place, ["BINANCE:BTCUSDT"])
            await wait_for(lambda: "BINANCE:BTCUSDT" in pane.mirror.quotes, 15)
            third = await asyncio.to_thread(
                subprocess.run, command, env=env, capture_output=True, text=True, timeout=30
            )
            assert third.returncode == TAKEN_EXIT
            assert f"pid {winner.pid}" in third.stderr and len(third.stderr.splitlines()) == 1
            status = await asyncio.to_thread(hub_status, place)  # still reached: not unlinked
            assert status.pid == winner.pid and status.panes == 1
            assert len(sim.records_for("live")) == 1
            pane.session.stop()
        finally:
            with contextlib.suppress(HubError):
                await asyncio.to_thread(stop_hub, place)
            for process in (first, second):
                with contextlib.suppress(subprocess.TimeoutExpired):
                    process.wait(10)
                if process.poll() is None:
                    process.kill()
    assert all(r.close_code_received in (1000, None) for r in sim.records_for("live"))


async def attach_to(place: HubPlace, symbols: list[str] | None) -> PaneView:
    """A test pane on a hub in another process."""
    session = RemoteSession(place, Hello(PROTOCOL, __version__, place.account, symbols))
    view = PaneView(session)
    TASKS.add(asyncio.create_task(session.run(view.on_batch)))
    return view


async def test_a_record_pane_beside_a_hub_pane_records_through_the_hub(
    isolated_paths: Path, tmp_path: Path
) -> None:
    """``--record`` with a hub: the hub writes the pane's file; one ``/live``; it replays."""
    path = tmp_path / "pane.jsonl"
    async with run_simulator(fast_settings()) as sim, running_hub(sim, tmp_path) as hub:
        plain = await attach(hub, ["BINANCE:BTCUSDT"])
        await wait_for(lambda: "BINANCE:BTCUSDT" in plain.mirror.quotes)
        session = RemoteSession(
            hub.options.place,
            Hello(PROTOCOL, __version__, "test", ["BINANCE:ETHUSDT"], record=str(path)),
        )
        recorder = PaneView(session)
        TASKS.add(asyncio.create_task(session.run(recorder.on_batch)))
        await wait_for(lambda: "BINANCE:ETHUSDT" in recorder.mirror.quotes)
        await asyncio.sleep(1.0)
        recorder.session.stop()
        await wait_for(lambda: len(hub.panes) == 1)
        assert len(sim.records_for("live")) == 1
        plain.session.stop()
    rows = read_recording(path)
    assert rows and {feed for _t, feed, _f in rows} >= {"live"}
    assert any("BINANCE:ETHUSDT" in frame for _t, _feed, frame in rows)
    assert DEMO_KEY not in path.read_text()


async def _raw(
    place_socket: Path, limit: int = 2**16
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A client of the hub's socket that reads only when told (``limit``: what its reader
    buffers before it stops taking bytes from the socket)."""
    return await asyncio.open_unix_connection(str(place_socket), limit=limit)


async def _status_within(place: HubPlace, seconds: float = 2.0) -> None:
    started = time.monotonic()
    reply = await asyncio.to_thread(request, place, StatusRequest(), seconds)
    assert type(reply).__name__ == "HubStatus"
    assert time.monotonic() - started < seconds


@pytest.mark.long(12)
async def test_abusive_clients_do_not_stall_the_hub(
    isolated_paths: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A search flood, a 200,000-symbol Hello, a bad code, oversized first frames and a pane
    that never reads: each refused or paced or dropped, while ``status`` answers within 2 s
    and another pane's prices keep moving."""
    monkeypatch.setattr(hub_pane, "UNSENT_MAX", 64 * 1024)
    async with (
        run_simulator(fast_settings(step_seconds=0.02)) as sim,
        running_hub(sim, tmp_path) as hub,
    ):
        place = hub.options.place
        good = await attach(hub, ["BINANCE:BTCUSDT"])
        await wait_for(lambda: "BINANCE:BTCUSDT" in good.mirror.quotes)
        _all_panes(hub)

        async def moving() -> None:
            before = good.mirror.quotes["BINANCE:BTCUSDT"].updated_at
            await wait_for(lambda: good.mirror.quotes["BINANCE:BTCUSDT"].updated_at > before, 5)

        # A search flood: paced, one search in flight, the rest replaced.
        reader, writer = await _raw(place.socket)
        writer.write(encode_frame(hello(["BINANCE:ETHUSDT"])))
        await wait_for(lambda: len(_all_panes(hub)) == 2)
        for number in range(1, 1201):
            writer.write(encode_frame(SearchRequest(number, f"A{number}")))
        await writer.drain()
        await _status_within(place)
        await moving()
        await wait_for(lambda: len(hub.panes) == 1, 10)
        flooder = next(p for p in _all_panes(hub) if p.number != 1)
        assert flooder.dropped is not None and "faster than 20 a second" in flooder.dropped
        writer.close()

        # Hellos that cannot be served: refused with the reason, nothing attached.
        for bad, reason in (
            (hello([f"NASDAQ:S{i}" for i in range(200_000)]), "limit"),
            (hello([f"NASDAQ:S{i}" for i in range(501)]), "a pane may watch 500"),
            (hello(["NASDAQ:AAPL", "not a code"]), "'not a code'"),
        ):
            reader, writer = await _raw(place.socket)
            writer.write(encode_frame(bad))
            reply = await asyncio.wait_for(read_frame(reader), 2)
            assert isinstance(reply, Refused) and reason in reply.reason, reply
            writer.close()
        await _status_within(place)

        # Twenty connections each announcing a 32 MiB first frame: refused at the header.
        started = time.monotonic()
        pairs = [await _raw(place.socket) for _ in range(20)]
        for _reader, w in pairs:
            w.write((32 * 1024 * 1024).to_bytes(4, "big") + b"\0" * 1024)
        for r, _w in pairs:
            reply = await asyncio.wait_for(read_frame(r), 2)
            assert isinstance(reply, Refused) and "65,536" in reply.reason
        assert time.monotonic() - started < 3
        for _r, w in pairs:
            w.close()

        # A pane that acknowledges everything and reads nothing: dropped at the unsent cap.
        reader, writer = await _raw(place.socket, limit=1024)  # not 128 kB read into memory
        writer.write(encode_frame(hello(FIREHOSE)))
        await wait_for(lambda: len(_all_panes(hub)) == 3)
        # A small kernel buffer on the hub's side, so the unread bytes reach the hub's own
        # buffer in seconds rather than after the kernel's 200 kB.
        sock = _all_panes(hub)[-1].writer.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not any(
            p.dropped and "unread" in p.dropped for p in _all_panes(hub)
        ):
            writer.write(encode_frame(Ack()))
            with contextlib.suppress(ConnectionError):
                await asyncio.wait_for(writer.drain(), 0.2)
            await asyncio.sleep(0.005)
        await wait_for(lambda: len(hub.panes) == 1, 30)
        await _status_within(place)
        await moving()
        writer.close()
        good.session.stop()


_SEEN: list[hub_pane.Pane] = []
FIREHOSE = [
    "BINANCE:ETHUSDT", "BINANCE:SOLUSDT", "BINANCE:XRPUSDT", "BINANCE:DOGEUSDT",
    "FX:EURUSD", "FX:GBPUSD", "FX:USDJPY",
]  # fmt: skip


def _all_panes(hub: Hub) -> list[hub_pane.Pane]:
    """Every pane the hub holds now and held before (a dropped one leaves the dict)."""
    _SEEN.extend(p for p in hub.panes.values() if p not in _SEEN)
    return _SEEN


async def test_hub_stop_parks_the_panes_until_r(isolated_paths: Path, tmp_path: Path) -> None:
    """``hub stop`` with a pane open: the pane says who stopped it and starts nothing until
    ``r``; then it starts the hub again and reattaches."""
    starts: list[float] = []
    async with run_simulator(fast_settings()) as sim:
        async with running_hub(sim, tmp_path) as hub:
            place = hub.options.place
            pane = await attach(hub, ["BINANCE:BTCUSDT"])
            pane.session.restart = lambda: starts.append(time.monotonic())
            await wait_for(lambda: "BINANCE:BTCUSDT" in pane.mirror.quotes)
            await asyncio.to_thread(stop_hub, place)
            await wait_for(lambda: any("hub stopped by" in n for n in pane.notices))
        assert any("press r" in n for n in pane.notices)
        assert all(s.state.value == "stopped" for s in pane.statuses)
        await asyncio.sleep(2.0)
        assert starts == []  # not a restart in disguise
        pane.session.send(Reconnect())
        await wait_for(lambda: len(starts) == 1, 5)
        pane.session.stop()


def test_unwritable_state_is_one_line_never_a_traceback(
    isolated_paths: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A state folder that cannot be made: auto mode gets a HubError (the in-process
    fallback), and ``hub serve`` exits 2 with one line."""
    from tui.cli.launch import hub_session
    from tui.cli.main import parse_run_options

    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.delenv("XDG_RUNTIME_DIR", raising=False)
    monkeypatch.setenv("MARKETPANE_STATE_DIR", str(blocker / "state"))
    with pytest.raises(HubError, match="cannot start a hub"):
        hub_session(parse_run_options(["--demo"]))
    with pytest.raises(HubError, match="cannot start a hub"):
        ensure_hub(place_for_unwritable(blocker), ["--demo"])
    served = subprocess.run(
        [sys.executable, "-m", "tui", "hub", "serve", "--demo", "--linger", "0"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert served.returncode == 2, served
    assert "Traceback" not in served.stderr and len(served.stderr.strip().splitlines()) == 1
    assert "a-file" in served.stderr


def place_for_unwritable(blocker: Path) -> HubPlace:
    return HubPlace("demo-pro-2", blocker / "hub")


async def test_portfolio_import_and_alert_add_reach_an_open_pane(
    isolated_paths: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The CLI beside an open pane on a hub process: ``portfolio import`` and ``alert add``
    show in the pane within 2 s."""
    runtime = short_runtime_dir()
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(runtime))
    monkeypatch.setenv("INSIGHTSENTRY_API_KEY", DEMO_KEY)
    env = _env(runtime, isolated_paths) | {"INSIGHTSENTRY_API_KEY": DEMO_KEY}
    async with run_simulator(fast_settings()) as sim:
        assert sim.urls is not None
        config = demo_runtime_config(Config(), sim.urls)
        save_config(config, isolated_paths / "config.toml")
        place = place_for(_account(sim))
        await asyncio.to_thread(ensure_hub, place, ["--linger", "0"])
        try:
            pane = await attach_to(place, ["BINANCE:BTCUSDT"])
            await wait_for(lambda: pane.portfolio is not None and pane.alerts is not None, 15)
            csv = tmp_path / "lots.csv"
            csv.write_text(
                "symbol,quantity,price,date\nNASDAQ:AAPL,10,190,2026-01-05\n"
                "NASDAQ:MSFT,5,410,2026-02-03\nBINANCE:BTCUSDT,0.5,60000,2026-03-01\n"
            )
            done = await asyncio.to_thread(
                cli, "portfolio", "import", str(csv), "--no-check", env=env
            )
            assert done.returncode == 0 and "imported 3 lots" in done.stdout, done.stderr
            imported = time.monotonic()
            await wait_for(lambda: _lots(pane) == 3, 5)
            assert time.monotonic() - imported < 2.0
            done = await asyncio.to_thread(cli, "alert", "add", "BINANCE:BTCUSDT > 1", env=env)
            assert done.returncode == 0 and "by the running hub" in done.stdout, done.stderr
            added = time.monotonic()
            await wait_for(lambda: bool(pane.alerts), 5)
            assert time.monotonic() - added < 2.0
            # A watchlist edit in one pane reaches another on its next switch.
            other = await attach_to(place, None)
            await wait_for(lambda: other.state is not None, 10)
            other.session.send(AddSymbol("NASDAQ:AMZN"))
            await wait_for(lambda: _codes(other)[-1:] == ["NASDAQ:AMZN"])
            viewer = await attach_to(place, None)
            await wait_for(lambda: viewer.state is not None, 10)
            other.session.send(RemoveSymbol("NASDAQ:AAPL"))
            await wait_for(lambda: "NASDAQ:AAPL" not in _codes(other))
            assert "NASDAQ:AAPL" in _codes(viewer)  # not yet: its own copy until a switch
            viewer.session.send(SwitchWatchlist(2))
            viewer.session.send(SwitchWatchlist(1))
            await wait_for(lambda: _codes(viewer) == _codes(other), 5)
            for view in (pane, other, viewer):
                view.session.stop()
        finally:
            with contextlib.suppress(HubError):
                await asyncio.to_thread(stop_hub, place)


def _codes(pane: PaneView) -> list[str]:
    return pane.state.codes if pane.state is not None else []


def _lots(pane: PaneView) -> int:
    book = pane.portfolio
    return 0 if book is None else sum(len(p.lots) for p in book.portfolios)


async def test_sigterm_stops_a_hub_within_2_s_beside_a_pane_that_never_reads(
    isolated_paths: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A pane that says hello on a firehose and never reads (its bytes pile up in the hub):
    SIGTERM still ends the hub within 2 s, its ``/live`` closed with 1000."""
    runtime = short_runtime_dir()
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(runtime))
    monkeypatch.setenv("INSIGHTSENTRY_API_KEY", DEMO_KEY)
    env = _env(runtime, isolated_paths) | {"INSIGHTSENTRY_API_KEY": DEMO_KEY}
    async with run_simulator(fast_settings(firehose_rate=5000.0, market_paused=True)) as sim:
        place = place_for(_account(sim))
        hub = subprocess.Popen(_serve_command(sim), env=env, stderr=subprocess.DEVNULL)
        try:
            await wait_for(lambda: hub_alive(place.socket), 15)
            _reader, writer = await _raw(place.socket)
            writer.write(encode_frame(Hello(PROTOCOL, __version__, place.account, FIREHOSE)))
            await wait_for(lambda: bool(sim.records_for("live")), 10)
            live = sim.records_for("live")[0]
            await wait_for(lambda: live.sent > 5000, 10)
            for _ in range(200):  # acknowledge blindly, never read
                writer.write(encode_frame(Ack()))
                await asyncio.sleep(0.005)
            started = time.monotonic()
            hub.terminate()
            code = await asyncio.to_thread(hub.wait, 10)
            assert time.monotonic() - started < 2.0, time.monotonic() - started
            assert code == 0
            await wait_for(lambda: live.closed_at is not None, 5)
            assert live.close_code_received == 1000
            writer.close()
        finally:
            if hub.poll() is None:
                hub.kill()


def test_a_hub_a_pane_started_is_reaped_when_it_ends(
    isolated_paths: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The pane's process starts the hub; when the hub stops, it leaves no zombie behind."""
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(short_runtime_dir()))
    place = place_for("demo-pro-2")
    assert ensure_hub(place, ["--demo", "--linger", "0"]) is True
    pid = hub_status(place).pid
    stop_hub(place)
    deadline = time.monotonic() + 10
    while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not Path(f"/proc/{pid}").exists(), "the hub is a zombie of this process"
