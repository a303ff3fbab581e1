"""The session with no Textual at all: commands in, value batches out, against the simulator.

The test plays the view: it acknowledges each batch (``batch_done``) and keeps a
:class:`StoreMirror` from the batches alone, as a view in another process would.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import msgspec

from tests.enginehelp import wait_for
from tests.simhelp import fast_settings
from tui.cli.launch import demo_keys, demo_runtime_config
from tui.config import Config, load_config, preset_plan, save_config
from tui.engine.engine import EngineSettings
from tui.session.mirror import StoreMirror
from tui.session.session import Session, SessionOptions
from tui.session.values import (
    AddSymbol,
    CycleInterval,
    FocusSymbol,
    MoveSymbol,
    RemoveSymbol,
    SessionBatch,
    SwitchWatchlist,
    UndoRemove,
    ViewState,
)
from tui.sim.server import Simulator, run_simulator


class FakeView:
    """Applies batches to a mirror and acknowledges each, like the real view."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.mirror = StoreMirror()
        self.state: ViewState | None = None
        self.notices: list[str] = []
        self.batches = 0

    def on_batch(self, batch: SessionBatch) -> None:
        encoded = msgspec.msgpack.encode(batch)  # it must cross a process boundary
        batch = msgspec.msgpack.decode(encoded, type=SessionBatch)
        self.batches += 1
        self.mirror.apply_batch(batch)
        self.notices.extend(n.text for n in batch.notices)
        if batch.state is not None:
            self.state = batch.state
        asyncio.get_running_loop().call_soon(self.session.batch_done)

    def told(self, words: str) -> Callable[[], bool]:
        return lambda: any(words in n for n in self.notices)


def _session(sim: Simulator, config_path: Path) -> Session:
    config = Config(plan=preset_plan("mega"))  # the demo key's plan
    save_config(config, config_path)
    return Session(
        SessionOptions(
            config=config,
            config_path=config_path,
            keys=demo_keys(),
            runtime_config=demo_runtime_config(config, sim.urls),
            engine_settings=EngineSettings(debounce=0.05, stocknews=False),
        )
    )


def _sent_codes(sim: Simulator) -> set[str]:
    """The codes of the last subscription message the server saw."""
    record = sim.records_for("live")[-1]
    return {s.code for s in record.subscription_messages[-1]}


async def test_session_drives_watchlists_against_the_simulator(isolated_paths: Path) -> None:
    """Add, remove, undo, switch, interval, budget and saving, with no Textual imported."""
    config_path = isolated_paths / "config.toml"
    async with run_simulator(fast_settings()) as sim:
        session = _session(sim, config_path)
        view = FakeView(session)
        task = asyncio.create_task(session.run(view.on_batch))
        await wait_for(lambda: view.state is not None and len(view.mirror.quotes) == 9)
        assert view.state is not None and view.state.focused_code == "NASDAQ:AAPL"
        await wait_for(lambda: "NASDAQ:AAPL" in view.mirror.series)
        assert len(view.mirror.series["NASDAQ:AAPL"].bars) > 10  # history came as values

        session.send(AddSymbol("nyse:ibm"))
        await wait_for(lambda: view.state is not None and "NYSE:IBM" in view.state.codes)
        await wait_for(lambda: "NYSE:IBM" in view.mirror.quotes)
        assert "NYSE:IBM" in _sent_codes(sim)
        assert load_config(config_path)[0].watchlist().symbols[-1].code == "NYSE:IBM"

        session.send(AddSymbol("NOT A CODE"))
        await wait_for(view.told("is not a symbol code"))

        session.send(RemoveSymbol("NASDAQ:MSFT"))
        await wait_for(lambda: view.state is not None and "NASDAQ:MSFT" not in view.state.codes)
        await wait_for(lambda: "NASDAQ:MSFT" not in _sent_codes(sim))
        session.send(UndoRemove())
        await wait_for(lambda: view.state is not None and view.state.codes[1] == "NASDAQ:MSFT")
        await wait_for(lambda: "NASDAQ:MSFT" in _sent_codes(sim))

        sent_before = sim.records_for("live")[-1].subscription_messages
        count = len(sent_before)
        session.send(MoveSymbol("NASDAQ:MSFT", 1))
        await wait_for(lambda: view.state is not None and view.state.codes[2] == "NASDAQ:MSFT")
        await asyncio.sleep(0.3)
        assert len(sim.records_for("live")[-1].subscription_messages) == count  # order only

        session.send(FocusSymbol("BINANCE:BTCUSDT"))
        session.send(CycleInterval())
        await wait_for(lambda: view.state is not None and view.state.interval_label == "5m")
        saved = load_config(config_path)[0].watchlist()
        assert next(s for s in saved.symbols if s.code == "BINANCE:BTCUSDT").bar_interval == 5

        session.send(SwitchWatchlist(2))
        await wait_for(lambda: view.state is not None and view.state.watchlist_name == "crypto")
        await wait_for(lambda: _sent_codes(sim) >= {"BINANCE:SOLUSDT"})
        assert load_config(config_path)[0].active_watchlist == "crypto"
        session.send(SwitchWatchlist(7))
        await wait_for(view.told("There is no watchlist 7"))

        engine = session.engine
        assert engine is not None
        used = engine.budget.used()
        assert used == sum(len(r.subscription_messages) for r in sim.records_for("live"))
        assert f"budget {used}/" in engine.budget.describe()
        await session.close()
        await asyncio.wait_for(task, 5)
        assert all(r.close_code_received == 1000 for r in sim.records_for("live"))


async def test_symbols_list_is_one_code_path_and_never_saved(isolated_paths: Path) -> None:
    """``--symbols`` is an unsaved watchlist that takes the same commands."""
    config_path = isolated_paths / "config.toml"
    async with run_simulator(fast_settings()) as sim:
        config = Config()
        save_config(config, config_path)
        before = config_path.read_text()
        session = Session(
            SessionOptions(
                config=config,
                config_path=config_path,
                keys=demo_keys(),
                runtime_config=demo_runtime_config(config, sim.urls),
                symbols=["NASDAQ:AAPL"],
                engine_settings=EngineSettings(debounce=0.05, stocknews=False, newsfeed=False),
            )
        )
        view = FakeView(session)
        task = asyncio.create_task(session.run(view.on_batch))
        await wait_for(lambda: view.state is not None and view.state.codes == ["NASDAQ:AAPL"])
        session.send(AddSymbol("NASDAQ:MSFT"))
        await wait_for(lambda: "NASDAQ:MSFT" in view.mirror.quotes)
        assert view.state is not None and view.state.watchlist_name == "--symbols"
        assert config_path.read_text() == before
        await session.close()
        await asyncio.wait_for(task, 5)


async def test_a_started_session_connects_before_its_view_and_hands_over_what_came(
    isolated_paths: Path,
) -> None:
    """``start`` runs the session with no view yet (the launcher imports the view
    meanwhile): the quotes come and are kept, the engine is not held behind a batch nobody
    drew, and ``run`` hands over every kept batch first, in order, then the live ones."""
    async with run_simulator(fast_settings()) as sim:
        session = _session(sim, isolated_paths / "config.toml")
        session.start()
        await wait_for(lambda: sum(len(b.quotes) for b in session._held) >= 9)
        assert len(session._held) >= 2  # the first batch (statuses) did not hold up the quotes
        assert session.engine is not None and not session.engine._ui_busy  # each one let go
        kept = [b.sent_at for b in session._held]
        view = FakeView(session)
        seen: list[float] = []

        def on_batch(batch: SessionBatch) -> None:
            seen.append(batch.sent_at)
            view.on_batch(batch)

        task = asyncio.create_task(session.run(on_batch))
        await wait_for(lambda: len(seen) > len(kept) + 2)  # and the live ones after them
        assert seen[: len(kept)] == kept and seen == sorted(seen)
        assert len(view.mirror.quotes) == 9 and not session._held
        assert len(sim.records_for("live")) == 1  # one connection, from start to the view
        await session.close()
        await asyncio.wait_for(task, 5)


def test_the_core_imports_no_textual() -> None:
    """The layering rule, checked in a fresh interpreter: protocol, engine, session, simulator,
    config, secrets, the launcher, the hub and the fleet bring in no Textual, and no Rich beyond
    what httpx itself loads (its command-line helper imports Rich when it is installed); and
    nats-py is loaded only by a hub with a broker."""
    code = (
        "import sys\n"
        "import httpx\n"
        "before = {m for m in sys.modules if m.split('.')[0] == 'rich'}\n"
        "import tui.protocol.live, tui.protocol.newsfeed, tui.protocol.stocknews\n"
        "import tui.engine.engine, tui.engine.replay, tui.session.session\n"
        "import tui.session.mirror, tui.sim.server, tui.config, tui.secrets, tui.cli.launch\n"
        "import tui.hub.server, tui.fleet.node\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('textual', 'rich')\n"
        "             and m not in before)\n"
        "nats = [m for m in sys.modules if m.split('.')[0] == 'nats']\n"
        "print(','.join(bad) + ('; nats loaded without a broker' if nats else ''))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "", result.stdout
