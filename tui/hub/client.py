"""The pane's side of the hub: a session behind a Unix socket, and starting the hub.

:class:`RemoteSession` is what the view drives when a hub serves it: commands, acks and
searches go out as frames, batches come back. If the hub goes away the pane says "hub lost,
reconnecting", shows every feed as reconnecting (so nothing pretends to be live), starts a new
hub if none comes back, and reattaches.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import itertools
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence

from tui import paths
from tui.engine.status import FeedState, FeedStatus, Notice
from tui.hub.owner import TAKEN_EXIT, unwritable
from tui.hub.owner import hub_alive as hub_alive  # the panes' and the CLI's probe
from tui.hub.place import HubPlace, place_for
from tui.hub.wire import (
    Ack,
    AlertReply,
    AlertRequest,
    BatchFrame,
    CommandFrame,
    Frame,
    Hello,
    HubClosing,
    HubStatus,
    Refused,
    SearchReply,
    SearchRequest,
    StatusRequest,
    StopRequest,
    Welcome,
    WireError,
    decode_frame,
    encode_frame,
    read_frame,
)
from tui.protocol.rest import SymbolInfo
from tui.session.early import StartsEarly
from tui.session.session import SearchError
from tui.session.values import Command, Reconnect, SessionBatch

START_SECONDS = 8.0
"""How long a pane waits for a hub it started to listen."""
RETRY_SECONDS = 0.5
"""Pause between reattach attempts after the hub was lost."""
SEARCH_SECONDS = 15.0
"""A search the hub has not answered by then fails."""
PARKED_POLL_SECONDS = 1.0
"""After ``hub stop``: how often a waiting pane looks for a hub another pane started."""


class HubError(Exception):
    """The hub refused, could not be reached, or could not be started: the text says why."""


def hub_place(account: str) -> HubPlace:
    """The account's hub files, or :class:`HubError` saying which folder cannot be written."""
    try:
        return place_for(account)
    except OSError as exc:
        raise HubError(f"cannot start a hub: {unwritable(exc, paths.state_dir())}") from None


def ensure_hub(
    place: HubPlace,
    serve_args: Sequence[str],
    timeout: float = START_SECONDS,
    while_starting: Callable[[], object] | None = None,
) -> bool:
    """Start a hub for ``place`` unless one answers; True if this call started it. A file lock
    makes two panes starting at once start one hub, and the hub's own lock (``owner``) keeps
    it one whoever else starts one; a socket no one answers (a crashed hub) is replaced by the
    new hub. Unwritable state is a :class:`HubError` that says which folder.
    ``while_starting`` is called once the hub's process is started, before waiting for it
    (the pane's own start-up work overlaps the hub's)."""
    if hub_alive(place.socket):
        return False
    try:
        return _start_hub(place, serve_args, timeout, while_starting)
    except OSError as exc:
        raise HubError(f"cannot start a hub: {unwritable(exc, place.directory)}") from None


def _start_hub(
    place: HubPlace,
    serve_args: Sequence[str],
    timeout: float,
    while_starting: Callable[[], object] | None,
) -> bool:
    place.lock.touch(mode=0o600, exist_ok=True)
    with place.lock.open("r+") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if hub_alive(place.socket):
            return False
        place.log.parent.mkdir(parents=True, exist_ok=True)
        with place.log.open("ab") as log:
            child = subprocess.Popen(
                [sys.executable, "-m", "tui", "hub", "serve", *serve_args],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                start_new_session=True,  # a dropped SSH session does not take the hub down
                close_fds=True,
            )
        # Reap it when it ends (no zombie per hub restart); the pane never waits for it.
        threading.Thread(target=child.wait, name="hub-reaper", daemon=True).start()
        deadline = time.monotonic() + timeout
        if while_starting is not None:
            while_starting()
        while time.monotonic() < deadline:
            if hub_alive(place.socket):
                return True
            code = child.poll()
            if code not in (None, 0, TAKEN_EXIT):
                raise HubError(f"the hub exited with status {code}; its log: {place.log}")
            time.sleep(0.01)  # a connect attempt on a Unix socket costs microseconds
    raise HubError(f"the hub did not start within {timeout:.0f} s; its log: {place.log}")


def request(place: HubPlace, frame: Frame, timeout: float = 5.0) -> Frame:
    """One request and its reply over a fresh connection (hello checks, status, stop)."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        try:
            sock.connect(str(place.socket))
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                # A hub that refuses at once (another user) writes why and closes, maybe
                # before it read all of this: what it wrote is still there to read.
                sock.sendall(encode_frame(frame))
            head = _recv_exactly(sock, 4)
            body = _recv_exactly(sock, int.from_bytes(head, "big"))
        except OSError as exc:
            raise HubError(f"no hub answers on {place.socket} ({exc})") from None
    return decode_frame(body)


def _recv_exactly(sock: socket.socket, count: int) -> bytes:
    chunks = bytearray()
    while len(chunks) < count:
        chunk = sock.recv(count - len(chunks))
        if not chunk:
            raise OSError("the hub closed the connection")
        chunks.extend(chunk)
    return bytes(chunks)


def check_hello(place: HubPlace, hello: Hello) -> None:
    """Say hello once, synchronously: raise :class:`HubError` with the hub's reason if it
    refuses (another protocol version, another user)."""
    reply = request(place, hello)
    if isinstance(reply, Refused):
        raise HubError(f"the hub refused this pane: {reply.reason}")
    if not isinstance(reply, Welcome):
        raise HubError(f"the hub answered {type(reply).__name__} to hello")


def hub_status(place: HubPlace) -> HubStatus:
    reply = request(place, StatusRequest())
    if not isinstance(reply, HubStatus):
        raise HubError(f"the hub answered {type(reply).__name__} to a status request")
    return reply


def hub_alert_request(place: HubPlace, frame: AlertRequest) -> AlertReply:
    """An alert command to the running hub (``test`` waits for the channels)."""
    reply = request(place, frame, timeout=20.0 if frame.action == "test" else 5.0)
    if not isinstance(reply, AlertReply):
        raise HubError(f"the hub answered {type(reply).__name__} to an alert request")
    return reply


def stop_hub(place: HubPlace) -> None:
    request(place, StopRequest())


class RemoteSession(StartsEarly):
    """A session in the hub, as the view sees it (see :class:`~tui.ui.link.SessionLink`)."""

    def __init__(
        self,
        place: HubPlace,
        hello: Hello,
        restart: Callable[[], object] | None = None,
    ) -> None:
        self.place, self.hello, self.restart = place, hello, restart
        self.on_batch: Callable[[SessionBatch], None] | None = None
        self.writer: asyncio.StreamWriter | None = None
        self.pane: int | None = None
        self.hub_pid: int | None = None
        self.attaches = 0
        self._stopped = False
        self._ids = itertools.count(1)
        self._searches: dict[int, asyncio.Future[SearchReply]] = {}
        self._feeds: list[str] = []
        self._final = False
        """The hub said it was stopped by the user: do not start another by ourselves."""
        self._parked: asyncio.Event | None = None
        """Set by ``r`` while parked after a user's ``hub stop``."""

    # ---- what the view calls ------------------------------------------------------------------

    def send(self, command: Command) -> None:
        if isinstance(command, Reconnect) and self._parked is not None:
            self._parked.set()  # r after `hub stop`: start the hub again and reattach
            return
        self._write(CommandFrame(command))

    def batch_done(self) -> None:
        self._write(Ack())

    async def search(self, query: str) -> list[SymbolInfo]:
        number = next(self._ids)
        future: asyncio.Future[SearchReply] = asyncio.get_running_loop().create_future()
        self._searches[number] = future
        self._write(SearchRequest(number, query))
        try:
            reply = await asyncio.wait_for(future, SEARCH_SECONDS)
        finally:
            self._searches.pop(number, None)
        if reply.error:
            raise SearchError(reply.error)
        return reply.results

    def stop(self) -> None:
        self._stopped = True
        if self._parked is not None:
            self._parked.set()
        if self.writer is not None:
            self.writer.close()

    async def close(self, timeout: float = 1.0) -> None:
        """Leave the hub (it keeps serving the other panes; upstream stays open)."""
        self.stop()

    def _write(self, frame: Frame) -> None:
        if self.writer is not None and not self.writer.is_closing():
            self.writer.write(encode_frame(frame))

    # ---- running ------------------------------------------------------------------------------

    async def _run(self) -> None:
        """Attach, pass batches to ``on_batch``, and reattach (starting a hub) if it is
        lost."""
        while not self._stopped:
            reason = await self._attach_once()
            if self._stopped:
                return
            if self._final:
                await self._park(reason)
                continue
            self._lost(reason)
            await asyncio.sleep(RETRY_SECONDS)
            if self.restart is not None and not await asyncio.to_thread(
                hub_alive, self.place.socket
            ):
                with contextlib.suppress(HubError, OSError):
                    await asyncio.to_thread(self.restart)

    async def _park(self, reason: str) -> None:
        """The user stopped the hub: say so, show every feed stopped, and wait for ``r``."""
        self._final = False
        statuses = [
            FeedStatus(name, FeedState.STOPPED, detail="hub stopped")
            for name in (self._feeds or ["live", "newsfeed", "stocknews"])
        ]
        self._notify("warning", f"{reason}; press r to start it again", statuses)
        self._parked = parked = asyncio.Event()
        try:
            while not parked.is_set():  # r here, or a hub another pane started
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(parked.wait(), PARKED_POLL_SECONDS)
                if await asyncio.to_thread(hub_alive, self.place.socket):
                    return
        finally:
            self._parked = None
        if self._stopped:
            return
        if self.restart is not None and not await asyncio.to_thread(hub_alive, self.place.socket):
            try:
                await asyncio.to_thread(self.restart)
            except HubError as exc:
                self._notify("error", str(exc))

    async def _attach_once(self) -> str:
        """One attachment; returns why it ended."""
        try:
            reader, writer = await asyncio.open_unix_connection(str(self.place.socket))
        except OSError:
            return "hub lost, reconnecting"
        self.writer = writer
        try:
            writer.write(encode_frame(self.hello))
            while True:
                frame = await read_frame(reader)
                if frame is None:
                    return "hub lost, reconnecting"
                ended = self._on_frame(frame)
                if ended:
                    return ended
        except (WireError, OSError) as exc:
            return f"hub lost ({exc}), reconnecting"
        finally:
            writer.close()
            self.writer = None

    def _on_frame(self, frame: Frame) -> str | None:
        if isinstance(frame, BatchFrame):
            batch = frame.batch
            self._feeds = [s.name for s in batch.statuses] or self._feeds
            if self.on_batch is not None:
                self.on_batch(batch)
        elif isinstance(frame, SearchReply):
            future = self._searches.get(frame.id)
            if future is not None and not future.done():
                future.set_result(frame)
        elif isinstance(frame, Welcome):
            self.pane, self.hub_pid = frame.pane, frame.pid
            self.attaches += 1
        elif isinstance(frame, Refused):
            self._stopped = True
            self._notify("error", f"the hub refused this pane: {frame.reason}")
            return frame.reason
        elif isinstance(frame, HubClosing):
            if frame.final:
                self._final = True
                return frame.reason
            return f"hub closed ({frame.reason}), reconnecting"
        return None

    def _lost(self, reason: str) -> None:
        """Tell the view, and show every feed as reconnecting: nothing looks live."""
        for future in self._searches.values():
            if not future.done():
                future.set_result(SearchReply(0, error="the hub was lost"))
        statuses = [
            FeedStatus(name, FeedState.RECONNECTING, detail="hub lost")
            for name in (self._feeds or ["live", "newsfeed", "stocknews"])
        ]
        self._notify("warning", reason, statuses)

    def _notify(self, level: str, text: str, statuses: list[FeedStatus] | None = None) -> None:
        if self.on_batch is None:
            return
        notice = Notice(level, text, time.time())  # type: ignore[arg-type]
        self.on_batch(SessionBatch(notices=[notice], statuses=statuses or [], sent_at=time.time()))
