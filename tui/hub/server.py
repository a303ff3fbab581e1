"""The hub: one engine (the upstream sockets, keys, budget, store) serving many panes.

Each pane attached over the Unix socket gets a :class:`~tui.session.session.Session` of its
own (its watchlist, focus, chart interval) over the shared engine. The hub subscribes the union
of every pane's desired set (each pane's charted series first, then quotes round-robin across
panes, so a full plan is shared fairly), fans every engine batch out to every pane, and paces
each pane by its own acknowledgements: a slow pane gets fewer, bigger batches and never holds
the engine or another pane; one that stops acknowledging is dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path

import msgspec

from tui import __version__
from tui.alerts.model import AlertRule
from tui.config import Config, ConfigError, alert_rules_saved, load_config
from tui.engine.engine import Engine, EngineSettings
from tui.engine.recorder import Recorder
from tui.engine.status import Batch
from tui.engine.store import SeriesChange
from tui.engine.union import describe_use, union_of
from tui.fleet.node import FleetNode
from tui.hub.owner import claim
from tui.hub.pane import (
    FIRST_FRAME_MAX,
    PANE_FRAME_MAX,
    REQUESTS_PER_SECOND,
    SNAPSHOT_CODES_MAX,
    Pane,
    hello_problem,
)
from tui.hub.place import HubPlace, peer_uid
from tui.hub.requests import alert_request, quote_snapshot
from tui.hub.wire import (
    PROTOCOL,
    Ack,
    AlertRequest,
    CommandFrame,
    Frame,
    Hello,
    HubClosing,
    HubStatus,
    Refused,
    SearchReply,
    SearchRequest,
    SnapshotRequest,
    StatusRequest,
    StopRequest,
    Welcome,
    WireError,
    encode_frame,
    read_frame,
)
from tui.protocol.live import Subscription
from tui.secrets import Keys
from tui.session.session import SearchError, Session, SessionOptions

log = logging.getLogger("marketpane.hub")

HELLO_SECONDS = 5.0
"""A connection that has not said hello by then is closed."""
ACK_TIMEOUT_SECONDS = 30.0
"""A pane that has not acknowledged a batch for this long is dropped (it may reattach)."""
CLOSE_SECONDS = 1.0
"""How long a stopping hub waits for the upstream and pane closing handshakes."""


@dataclass
class HubOptions:
    """What a hub runs on."""

    config: Config
    config_path: Path | None
    keys: Keys
    place: HubPlace
    runtime_config: Config | None = None
    demo: bool = False
    linger_seconds: float = 60.0
    state_dir: Path | None = None
    record_path: Path | None = None
    engine_settings: EngineSettings = field(default_factory=EngineSettings)


class Hub:
    """Owns the engine and serves panes on the Unix socket until stopped or idle."""

    def __init__(self, options: HubOptions) -> None:
        self.options = options
        self.fleet: FleetNode | None = None
        """With ``[hub] broker``: this hub's part in the fleet (the lease decides whether the
        engine opens the upstream)."""
        self.engine = Engine(
            options.runtime_config or options.config,
            options.keys,
            settings=options.engine_settings,
            state_dir=options.state_dir,
            on_batch=self._on_engine_batch,
            record_path=options.record_path,
            upstream=options.config.hub.broker is None,
            persist_alerts=self._save_alerts,
            on_wanted=self._wanted_changed,
            on_budget_record=self._budget_recorded,
        )
        self.engine.capacity.in_order = True  # the union is in its fair order (union_of)
        if options.config.hub.broker is not None:
            self.fleet = FleetNode(
                self.engine,
                options.config.hub,
                options.keys,
                options.place.account,
                panes=lambda: len(self.panes),
            )
        self.panes: dict[int, Pane] = {}
        self.desired: dict[int, list[Subscription]] = {}
        self._next_pane = 1
        self._stop = asyncio.Event()
        self._closing = HubClosing("the hub stopped")
        self._idle_since: float | None = time.monotonic()
        self.started = time.time()
        self.server: asyncio.Server | None = None

    # ---- the shared engine --------------------------------------------------------------------

    def _on_engine_batch(self, batch: Batch) -> None:
        """Fan an engine batch out; the engine never waits for a pane."""
        for pane in list(self.panes.values()):
            pane.offer(batch)
        asyncio.get_running_loop().call_soon(self.engine.batch_done)

    def _wanted_changed(self) -> None:
        if self.fleet is not None:
            self.fleet.wanted_changed()

    def _budget_recorded(self) -> None:
        if self.fleet is not None:
            self.fleet.budget_recorded()

    def set_pane_desired(self, number: int, subs: list[Subscription]) -> str | None:
        """A pane's desired set changed: subscribe the union of every pane's."""
        self.desired[number] = list(subs)
        return self._set_desired()

    def _set_desired(self) -> str | None:
        """Subscribe the panes' union (in a fleet: ask the leader for it, or add it to the
        fleet's union when this hub leads)."""
        union = union_of(list(self.desired.values()))
        if self.fleet is not None:
            return self.fleet.set_local_desired(union)
        return self.engine.set_desired(union)

    def use_note(self, number: int) -> str:
        """Who uses a full plan, for pane ``number``'s marks: ``in use by pane 1 (chart
        NASDAQ:AAPL, 10 rows) and this pane (4 rows)``; empty with one pane."""
        if len(self.desired) < 2:
            return ""
        return describe_use(self.desired, self.engine.capacity.kept, number)

    def _save_alerts(self, rules: list[AlertRule]) -> str | None:
        return alert_rules_saved(self.options.config_path, rules)

    # ---- panes --------------------------------------------------------------------------------

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        sock = writer.get_extra_info("socket")
        uid = peer_uid(sock) if sock is not None else None
        if uid is not None and uid != os.getuid():
            log.warning("refused a connection from uid %s", uid)
            await self._refuse(writer, "this hub serves its own user only")
            return
        try:
            first = await asyncio.wait_for(read_frame(reader, FIRST_FRAME_MAX), HELLO_SECONDS)
        except WireError as exc:
            await self._refuse(writer, str(exc))
            return
        except (TimeoutError, OSError):
            writer.close()
            return
        if isinstance(first, StatusRequest):
            writer.write(encode_frame(self.status()))
            await _drain_and_close(writer)
            return
        if isinstance(first, SnapshotRequest):
            if len(first.codes) > SNAPSHOT_CODES_MAX:
                await self._refuse(
                    writer,
                    f"print asks for {len(first.codes):,} symbols; at most {SNAPSHOT_CODES_MAX}",
                )
                return
            writer.write(encode_frame(await quote_snapshot(self.engine, first.codes)))
            await _drain_and_close(writer)
            return
        if isinstance(first, AlertRequest):
            writer.write(encode_frame(await alert_request(self.engine, first, len(self.panes))))
            await _drain_and_close(writer)
            return
        if isinstance(first, StopRequest):
            writer.write(encode_frame(HubClosing("stopping: marketpane hub stop")))
            await _drain_and_close(writer)
            self.stop("hub stopped by `marketpane hub stop`", final=True)
            return
        if not isinstance(first, Hello):
            await self._refuse(writer, "a pane must say hello first")
            return
        if first.protocol != PROTOCOL or first.version != __version__:
            await self._refuse(
                writer,
                f"the hub speaks protocol {PROTOCOL} (marketpane {__version__}) and this pane "
                f"{first.protocol} (marketpane {first.version}): stop the hub "
                "(marketpane hub stop) or run with --no-hub",
            )
            return
        if first.account != self.options.place.account:
            await self._refuse(writer, "this hub serves another account")
            return
        problem = hello_problem(first)
        if problem is not None:
            await self._refuse(writer, problem)
            return
        try:
            recorder = Recorder(Path(first.record)) if first.record else None
        except OSError as exc:
            await self._refuse(writer, f"cannot record to {first.record}: {exc.strerror or exc}")
            return
        pane = self._attach(first, writer)
        if recorder is not None:
            pane.recorder = recorder
            self.engine.frame_observers.append(recorder.write)
        try:
            await self._serve_pane(pane, reader)
        finally:
            self._detach(pane)

    async def _refuse(self, writer: asyncio.StreamWriter, reason: str) -> None:
        with contextlib.suppress(OSError):
            writer.write(encode_frame(Refused(reason)))
        await _drain_and_close(writer)

    def _attach(self, hello: Hello, writer: asyncio.StreamWriter) -> Pane:
        number = self._next_pane
        self._next_pane += 1
        options = self.options
        try:
            config = load_config(options.config_path)[0] if options.config_path else None
        except ConfigError:
            config = None
        config = config or msgspec.structs.replace(options.config)
        session = Session(
            SessionOptions(
                config=config,
                keys=Keys(),
                config_path=options.config_path,
                symbols=hello.symbols,
                demo=options.demo,
            ),
            engine=self.engine,
            desired_sink=lambda subs: self.set_pane_desired(number, subs),
            mark_note=lambda: self.use_note(number),
        )
        pane = Pane(number, session, writer)
        self.panes[number] = pane
        self._idle_since = None
        writer.write(encode_frame(Welcome(number, __version__, os.getpid())))
        store = self.engine.store  # the snapshot: its quotes, its chart's history, the news
        codes = {s.code for s in session.watchlist().symbols}
        focused = session.focused_code
        pane.pending = Batch(
            quotes={c for c in codes if c in store.quotes},
            series={focused: SeriesChange(True, 0)} if focused in store.series else {},
            news=list(store.news)[-200:],
        )
        pane.flush()
        log.info("pane %d attached (%d panes)", number, len(self.panes))
        return pane

    async def _serve_pane(self, pane: Pane, reader: asyncio.StreamReader) -> None:
        """Read one pane's frames; its requests are paced by its own budget, so a flood only
        slows that pane's socket."""
        while True:
            try:
                frame = await read_frame(reader, PANE_FRAME_MAX)
            except WireError as exc:  # that pane only
                log.warning("pane %d dropped: %s", pane.number, exc)
                return
            except OSError:
                return
            if frame is None:
                return
            if isinstance(frame, CommandFrame | SearchRequest):
                wait = pane.pacer.delay()
                if pane.pacer.flooding():
                    pane.drop(f"requests faster than {REQUESTS_PER_SECOND:.0f} a second")
                    return
                if wait > 0:
                    await asyncio.sleep(wait)
            try:
                self._on_frame(pane, frame)
            except Exception:  # one pane's bad request never costs the hub
                log.exception("pane %d: a %s failed", pane.number, type(frame).__name__)

    def _on_frame(self, pane: Pane, frame: Frame) -> None:
        if isinstance(frame, Ack):
            pane.ack()
        elif isinstance(frame, CommandFrame):
            pane.session.send(frame.command)
        elif isinstance(frame, SearchRequest):
            if pane.search is not None:
                pane.search.cancel()  # the newest search replaces the older
            task = asyncio.get_running_loop().create_task(self._search(pane, frame))
            task.add_done_callback(lambda t: t.cancelled() or t.exception())
            pane.search = task
        else:
            log.warning("pane %d sent an unexpected %s", pane.number, type(frame).__name__)

    async def _search(self, pane: Pane, request: SearchRequest) -> None:
        try:
            reply = SearchReply(request.id, await pane.session.search(request.query))
        except SearchError as exc:
            reply = SearchReply(request.id, error=str(exc))
        except asyncio.CancelledError:
            pane.write(SearchReply(request.id, error="replaced by a newer search"))
            raise
        pane.write(reply)

    def _detach(self, pane: Pane) -> None:
        if pane.search is not None:
            pane.search.cancel()
        if pane.recorder is not None:
            self.engine.frame_observers.remove(pane.recorder.write)
            pane.recorder.close()
        self.panes.pop(pane.number, None)
        self.desired.pop(pane.number, None)
        pane.writer.close()
        self._set_desired()
        if not self.panes:
            self._idle_since = time.monotonic()
        log.info("pane %d detached (%d panes)", pane.number, len(self.panes))

    # ---- running ------------------------------------------------------------------------------

    def status(self) -> HubStatus:
        engine = self.engine
        feeds = [f"{s.name} {s.state.value}" for s in engine.statuses()]
        return HubStatus(
            pid=os.getpid(),
            version=__version__,
            uptime_seconds=time.time() - self.started,
            panes=len(self.panes),
            account=self.options.place.account,
            feeds=feeds,
            plan=engine.plan_use().describe(),
            budget=engine.budget_text(),
            demo=self.options.demo,
            alerts=self._alerts_line(),
            received=sum(s.messages for s in engine.statuses()),
            fleet=self.fleet.status_lines() if self.fleet is not None else [],
        )

    def _alerts_line(self) -> str:
        rules = self.engine.alerts.rules()
        if not rules:
            return ""
        live = len(self.engine.alerts.book.live_rules())
        return f"alerts: {len(rules)} ({live} live" + (
            ": the hub stays up for them)" if live else ")"
        )

    def stop(self, reason: str = "the hub stopped", *, final: bool = False) -> None:
        """Stop serving; ``final``: the user stopped it, so panes wait instead of restarting."""
        if not self._stop.is_set():
            self._closing = HubClosing(reason, final=final)
        self._stop.set()

    async def serve(self) -> None:
        """Listen, run the engine, and stop on :meth:`stop`, a signal, or when idle past the
        linger time; upstream sockets close with 1000 and every pane is told."""
        path = self.options.place.socket
        owner = claim(self.options.place)  # HubTaken if another hub serves the account
        with contextlib.suppress(FileNotFoundError):
            path.unlink()  # stale: nothing answers on it and no hub holds the lock
        self.server = await asyncio.start_unix_server(self._client, path=str(path))
        os.chmod(path, 0o600)
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(signum, self.stop)
        engine_task = loop.create_task(self.engine.run())
        watcher = loop.create_task(self._watch())
        fleet_task = loop.create_task(self.fleet.run()) if self.fleet is not None else None
        try:
            await self._stop.wait()
        finally:
            watcher.cancel()
            if self.fleet is not None and fleet_task is not None:
                await self.fleet.close()  # a leader closes its upstream and hands over
                fleet_task.cancel()
                await asyncio.gather(fleet_task, return_exceptions=True)
            self.server.close()
            for pane in list(self.panes.values()):
                pane.write(self._closing)
            with contextlib.suppress(TimeoutError):  # a pane that does not read is not waited
                await asyncio.wait_for(self._drain_panes(), CLOSE_SECONDS)
            for pane in list(self.panes.values()):
                pane.writer.transport.abort()
            await self.engine.close(CLOSE_SECONDS)
            engine_task.cancel()
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
            owner.close()  # the lock goes last: no second hub while this one closes

    async def _drain_panes(self) -> None:
        for pane in list(self.panes.values()):
            with contextlib.suppress(OSError, ConnectionError):
                await pane.writer.drain()

    async def _watch(self) -> None:
        """Drop panes that stopped acknowledging; stop after lingering with none."""
        linger = self.options.linger_seconds
        while True:
            await asyncio.sleep(0.5)
            now = time.monotonic()
            for pane in list(self.panes.values()):
                if (
                    pane.waiting_since is not None
                    and now - pane.waiting_since > ACK_TIMEOUT_SECONDS
                ):
                    pane.drop(f"no acknowledgement for {ACK_TIMEOUT_SECONDS:.0f} s")
            if self.engine.alerts.active() and self._idle_since is not None:
                self._idle_since = now  # alerts fire with no pane open: the linger waits
            if linger > 0 and self._idle_since is not None and now - self._idle_since > linger:
                log.info("no pane for %.0f s: stopping", linger)
                self.stop()


async def _drain_and_close(writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(OSError, ConnectionError):
        await writer.drain()
    writer.close()
